using System.Text.Json;
using System.Text.Json.Serialization;

namespace LlmStack.Backup;

/// <summary>The kinds of <see cref="BackupTrigger"/>.</summary>
public enum BackupTriggerKind
{
    /// <summary>A <c>BackupFull</c> the user (or a schedule, or a cleanup) asked for.</summary>
    BackupFull,

    /// <summary>A <c>BackupService</c>.</summary>
    BackupService,

    /// <summary>The current data of the members a restore replaces, taken just before.</summary>
    PreRestore,

    /// <summary>A BackupFull a wipe takes first (its dependency, or BackupBeforeNuclear).</summary>
    PreWipe,

    /// <summary>Any other word (a tool's own, or one an older or newer LlmStack wrote): kept as it is.</summary>
    Other,
}

/// <summary>
/// What made a backup set (the manifest's <c>trigger</c>, also a tag of its manifest snapshot), and the one definition
/// of a <b>safety copy</b>: a set LlmStack took by itself of the data it was about to replace or remove — before a
/// restore (<c>pre-restore</c>) or a wipe (<c>pre-wipe</c>). A safety copy is the state the user just left; it is
/// restorable by its id or <c>--backup latest-safety</c>, but never what <c>latest</c>, verification, the restore
/// test or the schedule's status take. On disk it stays the word it always was (<see cref="Text"/>): a word this
/// version does not know reads as <see cref="BackupTriggerKind.Other"/> and is written back unchanged.
/// </summary>
[JsonConverter(typeof(BackupTriggerJsonConverter))]
public readonly record struct BackupTrigger
{
    private readonly string? _text;

    private BackupTrigger(BackupTriggerKind kind, string text)
    {
        Kind = kind;
        _text = text;
    }

    public static BackupTrigger BackupFull { get; } = new(BackupTriggerKind.BackupFull, "BackupFull");

    public static BackupTrigger BackupService { get; } = new(BackupTriggerKind.BackupService, "BackupService");

    public static BackupTrigger PreRestore { get; } = new(BackupTriggerKind.PreRestore, "pre-restore");

    public static BackupTrigger PreWipe { get; } = new(BackupTriggerKind.PreWipe, "pre-wipe");

    /// <summary>The triggers of safety copies.</summary>
    public static IReadOnlyList<BackupTrigger> SafetyCopies { get; } = [PreRestore, PreWipe];

    public BackupTriggerKind Kind { get; }

    /// <summary>The word on disk and in every text.</summary>
    public string Text => _text ?? string.Empty;

    public bool IsSafetyCopy => Kind is BackupTriggerKind.PreRestore or BackupTriggerKind.PreWipe;

    /// <summary>The trigger a word names (mapped once, where manifests and tags come in); an unknown word is <see cref="BackupTriggerKind.Other"/>.</summary>
    public static BackupTrigger Of(string text) => text switch
    {
        "BackupFull" => BackupFull,
        "BackupService" => BackupService,
        "pre-restore" => PreRestore,
        "pre-wipe" => PreWipe,
        _ => new BackupTrigger(BackupTriggerKind.Other, text),
    };

    public override string ToString() => Text;
}

/// <summary>A trigger is its word in JSON (manifests, <c>--json</c> documents).</summary>
public sealed class BackupTriggerJsonConverter : JsonConverter<BackupTrigger>
{
    public override BackupTrigger Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType == JsonTokenType.String ? BackupTrigger.Of(reader.GetString()!) : throw new JsonException("a backup trigger is a string");

    public override void Write(Utf8JsonWriter writer, BackupTrigger value, JsonSerializerOptions options) => writer.WriteStringValue(value.Text);
}
