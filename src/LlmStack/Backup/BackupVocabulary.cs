using System.Text.Json;

namespace LlmStack.Backup;

/// <summary>How a member is backed up: a manifest's <c>method</c>. (configs/backup-strategies.yaml's <c>method:</c> also takes <c>none</c>: no member at all.)</summary>
public enum BackupMethod
{
    Postgres,
    Redis,
    Volume,
    Config,
}

/// <summary>What a member's backup holds: a manifest's <c>type</c>, the <c>type=</c> tag, a part's path, <c>--backup-type</c>.</summary>
public enum BackupType
{
    /// <summary>postgres: roles and every database, schema and rows.</summary>
    Full,

    /// <summary>postgres: <c>--schema-only</c>.</summary>
    Schema,

    /// <summary>postgres: <c>--data-only</c>.</summary>
    Data,

    /// <summary>redis: the rdb file after a <c>BGSAVE</c>.</summary>
    Rdb,

    /// <summary>redis: the AOF directory after a <c>BGREWRITEAOF</c>.</summary>
    Aof,

    /// <summary>a named volume's tree.</summary>
    Volume,

    /// <summary>the schema, <c>configs/</c> and the secrets file.</summary>
    Config,
}

/// <summary>Where a tier keeps its backups (<c>tiers.&lt;name&gt;.kind</c>).</summary>
public enum TierKind
{
    Local,
    Remote,
    Cloud,
    Tape,
}

/// <summary>How one member of a set went (a manifest member's <c>status</c>).</summary>
public enum MemberStatus
{
    Ok,
    Failed,

    /// <summary>Nothing to back up (a volume that was never created: its stack has not run yet).</summary>
    Skipped,
}

/// <summary>A set's <c>status</c> (manifest, <c>status=</c> tag): complete only when every member succeeded or was skipped.</summary>
public enum SetStatus
{
    Complete,
    Failed,
}

/// <summary>
/// Where restic reads (and, for a restore, fills) a named volume's files (<c>volume_reader</c>): restic sees the files
/// themselves, so an unchanged file is skipped against the parent snapshot.
/// </summary>
public enum VolumeReader
{
    /// <summary><see cref="Host"/> when the engine is local and the volume's mountpoint is readable here, else <see cref="Helper"/>.</summary>
    Auto,

    /// <summary>restic on this host, at the volume's <c>Mountpoint</c> (a local engine; root).</summary>
    Host,

    /// <summary>restic in a helper container (<c>restic_image</c>) that mounts the volume at <c>/data/&lt;volume&gt;</c>.</summary>
    Helper,
}

/// <summary>How a part is stored in its snapshot (a manifest part's <c>layout</c>; absent in manifests written before it: a stream).</summary>
public enum PartLayout
{
    /// <summary>One file read from restic's standard input (<c>backup --stdin</c>): a dump, an rdb, a volume's tar (sets before file snapshots).</summary>
    Stream,

    /// <summary>A tree of files restic read itself (a volume, the configuration): restored with <c>restic restore</c>.</summary>
    Files,
}

/// <summary>
/// The words of the backup enums, mapped once: the camelCase of the name, the rule <see cref="Reporting.JsonDefaults"/>
/// applies to enums, so manifests, tags, tables, messages and <c>--json</c> say the same (<c>BackupType.Rdb</c> →
/// "rdb"). Text that comes in (YAML, the command line) is parsed here, exactly (no other case, no numbers).
/// </summary>
public static class BackupWords
{
    /// <summary><c>method: none</c> in the configuration: the service's data needs no backup.</summary>
    public const string NoBackup = "none";

    /// <summary>What <c>services.&lt;service&gt;.method</c> takes.</summary>
    public static IReadOnlyList<string> ConfigMethods { get; } =
        [BackupMethod.Postgres.Word(), BackupMethod.Redis.Word(), BackupMethod.Volume.Word(), NoBackup];

    public static IReadOnlyList<TierKind> TierKinds { get; } = Enum.GetValues<TierKind>();

    public static string Word(this BackupMethod value) => Of(value);

    public static string Word(this BackupType value) => Of(value);

    public static string Word(this TierKind value) => Of(value);

    public static string Word(this MemberStatus value) => Of(value);

    public static string Word(this SetStatus value) => Of(value);

    public static string Word(this VolumeReader value) => Of(value);

    /// <summary>The types a method offers (the first is what <c>BackupFull</c> takes when the configuration lists none).</summary>
    public static IReadOnlyList<BackupType> TypesOf(BackupMethod method) => method switch
    {
        BackupMethod.Postgres => [BackupType.Full, BackupType.Schema, BackupType.Data],
        BackupMethod.Redis => [BackupType.Rdb, BackupType.Aof],
        BackupMethod.Volume => [BackupType.Volume],
        _ => [BackupType.Config],
    };

    /// <summary>The value whose word is <paramref name="word"/>, exactly.</summary>
    public static bool TryParse<T>(string? word, out T value)
        where T : struct, Enum
    {
        foreach (var candidate in Enum.GetValues<T>())
        {
            if (Of(candidate) == word)
            {
                value = candidate;
                return true;
            }
        }

        value = default;
        return false;
    }

    /// <summary>A word that was checked before (the configuration is validated first).</summary>
    public static T Parse<T>(string word)
        where T : struct, Enum =>
        TryParse<T>(word, out var value) ? value : throw new ArgumentException($"'{word}' is no {typeof(T).Name}", nameof(word));

    private static string Of<T>(T value)
        where T : struct, Enum => JsonNamingPolicy.CamelCase.ConvertName(value.ToString());
}
