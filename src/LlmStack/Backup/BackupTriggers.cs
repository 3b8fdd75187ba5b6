namespace LlmStack.Backup;

/// <summary>
/// What made a backup set (the manifest's <c>trigger</c>, also a tag of its manifest snapshot), and the one definition
/// of a <b>safety copy</b>: a set LlmStack took by itself of the data it was about to replace or remove — before a
/// restore (<c>pre-restore</c>) or a wipe (<c>pre-wipe</c>). A safety copy is the state the user just left; it is
/// restorable by its id or <c>--backup latest-safety</c>, but never what <c>latest</c>, verification, the restore
/// test or the schedule's status take.
/// </summary>
public static class BackupTriggers
{
    /// <summary>The current data of the members a restore replaces, taken just before.</summary>
    public const string PreRestore = "pre-restore";

    /// <summary>A BackupFull a wipe takes first (its dependency, or BackupBeforeNuclear).</summary>
    public const string PreWipe = "pre-wipe";

    /// <summary>The triggers of safety copies.</summary>
    public static IReadOnlyList<string> SafetyCopies { get; } = [PreRestore, PreWipe];

    public static bool IsSafetyCopy(string trigger) => SafetyCopies.Contains(trigger, StringComparer.Ordinal);
}
