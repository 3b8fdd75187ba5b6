using System.Globalization;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using LlmStack.Reporting;

namespace LlmStack.Backup;

/// <summary>
/// One snapshot of a member: a postgres database dump, the globals, an rdb, a volume's files (before file snapshots: its
/// tar and its sha256 listing), the config files. <see cref="Path"/> is the file inside a <see cref="PartLayout.Stream"/>
/// snapshot, the root (<c>/</c>) of a <see cref="PartLayout.Files"/> one.
/// </summary>
public sealed record BackupPart(string Name, string Snapshot, string Path, long Bytes, long Added, double Seconds)
{
    /// <summary>What the part is of, where its name cannot say it (a database's real name).</summary>
    public string? Source { get; init; }

    /// <summary>How the part is stored; manifests written before file snapshots have none (a stream).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public PartLayout Layout { get; init; }

    [JsonIgnore]
    public bool IsFiles => Layout == PartLayout.Files;
}

/// <summary>How one member of a set went: its parts when it succeeded, the reason when it failed; counts for the restore check.</summary>
public sealed record MemberResult(
    string Service,
    BackupMethod Method,
    BackupType Type,
    string? Volume,
    MemberStatus Status,
    string? Error,
    IReadOnlyList<BackupPart> Parts,
    IReadOnlyDictionary<string, long>? Counts)
{
    /// <summary>
    /// A digest of the data as backed up, for RestoreTest: redis — of every key's value, recorded only when no write
    /// happened between the save and the digest; volumes backed up as a tar (before file snapshots) — the sha256 of the
    /// tree's sha256 listing (its own part).
    /// </summary>
    public string? Digest { get; init; }

    /// <summary>The part restic read a volume's files into (a file snapshot), or null for a volume backed up as a tar.</summary>
    [JsonIgnore]
    public BackupPart? Tree => Parts.FirstOrDefault(p => p.IsFiles && Method == BackupMethod.Volume);

    /// <summary>
    /// A volume that was empty when it was backed up: restic saves no snapshot of nothing, so the member has no part.
    /// Restoring it empties the volume; verifying it has nothing to read.
    /// </summary>
    [JsonIgnore]
    public bool IsEmptyVolume => Method == BackupMethod.Volume && Status == MemberStatus.Ok && Parts.Count == 0;

    public bool Succeeded => Status == MemberStatus.Ok;

    public string Key => $"{Service}/{Volume ?? Type.Word()}";

    public long Bytes => Parts.Sum(p => p.Bytes);

    public long Added => Parts.Sum(p => p.Added);
}

/// <summary>
/// The record of one backup set, saved into the repository as its own snapshot once every member has run. A member
/// snapshot that no manifest names (a run killed half-way) is never listed, never restored: a backup exists only once
/// its manifest does. The set is complete only when every member succeeded.
/// </summary>
public sealed record BackupSetManifest(
    string Set,
    string Environment,
    string Project,
    string Tier,
    BackupTrigger Trigger,
    DateTimeOffset Started,
    DateTimeOffset Finished,
    string Version,
    SetStatus Status,
    IReadOnlyList<MemberResult> Members)
{
    public bool IsComplete => Status == SetStatus.Complete;

    /// <summary>A set LlmStack took before replacing or removing the data (<see cref="BackupTrigger"/>): never <c>latest</c>.</summary>
    [JsonIgnore]
    public bool IsSafetyCopy => Trigger.IsSafetyCopy;

    /// <summary>Stable path of the manifest inside its snapshot.</summary>
    public string Path => ManifestPath(Set);

    public static string ManifestPath(string set) => $"/llmstack/sets/{set}.json";

    /// <summary>
    /// The manifest as it is stored (its snapshot, the cache, a tape export): every word as it always was — enums
    /// camelCase through <see cref="JsonDefaults"/>, the trigger as its own word.
    /// </summary>
    public string ToJson() => JsonSerializer.Serialize(this, JsonDefaults.Document);

    public static BackupSetManifest FromJson(string json) => JsonSerializer.Deserialize<BackupSetManifest>(json, JsonDefaults.Document)!;

    /// <summary>
    /// The manifest as a snapshot tag (<c>manifest=</c> + base64 of its gzipped JSON: no comma, which restic splits tags
    /// on), so one <c>restic snapshots</c> reads every set's manifest; null when it would be too long for a command line
    /// (the catalog then reads the manifest's file, as for sets written before the tag).
    /// </summary>
    public string? ToTag()
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            gzip.Write(Encoding.UTF8.GetBytes(ToJson()));
        }

        var tag = BackupTags.ManifestTag + Convert.ToBase64String(buffer.GetBuffer(), 0, (int)buffer.Length);
        return tag.Length <= MaxTagLength ? tag : null;
    }

    /// <summary>The manifest a <see cref="ToTag"/> tag holds.</summary>
    public static BackupSetManifest FromTag(string tag)
    {
        using var gzip = new GZipStream(new MemoryStream(Convert.FromBase64String(tag[BackupTags.ManifestTag.Length..])), CompressionMode.Decompress);
        using var reader = new StreamReader(gzip, Encoding.UTF8);
        return FromJson(reader.ReadToEnd());
    }

    /// <summary>Well under Linux's limit of one command-line argument (128 KiB).</summary>
    private const int MaxTagLength = 64 * 1024;

    /// <summary>A set id (<see cref="NewSetId"/>) as an unanchored extended regular expression (.NET and bash's <c>=~</c> read it alike).</summary>
    public const string SetIdPattern = "[0-9]{8}T[0-9]{6}Z-[0-9a-f]{4}";

    /// <summary>A new set id: UTC time to the second and a random suffix, sortable (<c>20261129T201500Z-3fa2</c>).</summary>
    public static string NewSetId(DateTimeOffset now) =>
        now.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture) + "-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(2));
}

/// <summary>
/// The tag and naming scheme of snapshots. Every snapshot carries <c>llmstack</c>, <c>env=</c>, <c>set=</c> and
/// <c>version=</c>; a member part adds <c>kind=member</c>, <c>service=</c>, <c>type=</c>, <c>part=</c>, <c>run=</c>; a set manifest
/// <c>kind=set</c>, <c>trigger=</c>. Paths are stable (<c>/postgres/full/db-multimodal.dump</c>) and the host is the
/// compose project, so restic deduplicates one day's backup against the last.
/// </summary>
public static class BackupTags
{
    public const string Marker = "llmstack";

    /// <summary>The prefix of the tag that holds a set's manifest (<see cref="BackupSetManifest.ToTag"/>).</summary>
    public const string ManifestTag = "manifest=";

    /// <param name="run">The run writing it (<c>host/pid</c>): a set of a run that ended without its manifest is an orphan to remove (<see cref="BackupOrphans"/>).</param>
    public static IReadOnlyList<string> Member(string environment, string set, string version, string service, BackupType type, string part, string run) =>
        [Marker, "kind=member", $"env={environment}", $"set={set}", $"version={version}", $"service={service}", $"type={type.Word()}", $"part={part}", $"run={run}"];

    /// <param name="manifest">The manifest's own tag (<see cref="BackupSetManifest.ToTag"/>), when it fits.</param>
    public static IReadOnlyList<string> Set(string environment, string set, string version, BackupTrigger trigger, SetStatus status, string? manifest = null) =>
        [Marker, "kind=set", $"env={environment}", $"set={set}", $"version={version}", $"trigger={trigger.Text}", $"status={status.Word()}", .. manifest is null ? Array.Empty<string>() : [manifest]];

    /// <summary>Selects every snapshot of a set on a tier: its members' parts and its manifest (copies included, whatever their ids there).</summary>
    public static IReadOnlyList<string> OfSet(string environment, string set) => [Marker, $"env={environment}", $"set={set}"];

    /// <summary>Where a member part lives inside its snapshot.</summary>
    public static string PartPath(string service, BackupType type, string part) => $"/{service}/{type.Word()}/{part}";

    /// <summary>A part name safe as a file name (database names may hold anything).</summary>
    public static string SafeName(string name) =>
        new(name.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_').ToArray());
}
