using System.Text;
using Docker.DotNet;
using LlmStack.Engine;
using LlmStack.Lifecycle;
using LlmStack.Pipeline;
using Serilog;

namespace LlmStack.Backup;

/// <summary>A member with nothing to back up: recorded as skipped, the set stays complete.</summary>
public sealed class MemberSkippedException(string reason) : Exception(reason);

/// <summary>
/// Runs a backup set: each member in dependency order into the environment's first tier, then the set's manifest.
/// A failing member (a stopped service, a tool error) is recorded and the others go on; the set is then incomplete
/// and the run fails naming the failed members, while the members that succeeded stay listed and restorable.
/// One restic process per part: a volume is one file snapshot, postgres its globals and one dump per database, redis
/// its rdb (or AOF), the configuration its files; then one for the manifest.
/// </summary>
public sealed class BackupRunner(BackupContext context)
{
    private readonly ILogger _log = context.Log;

    /// <param name="listing">
    /// The repository's snapshots of the environment as the run read them before (<see cref="BackupOperations"/>): a
    /// volume's newest file snapshot there is its parent. Without one, restic picks the parent itself (same host and path).
    /// </param>
    /// <returns>The set as the catalog will list it: its manifest and the manifest's snapshot.</returns>
    public async Task<CatalogEntry> RunAsync(BackupTrigger trigger, IReadOnlyList<BackupMember> members, CancellationToken cancellationToken, IReadOnlyList<ResticSnapshot>? listing = null)
    {
        var started = DateTimeOffset.UtcNow;
        var set = BackupSetManifest.NewSetId(started);
        _log.Information("Backup set {Set} of {Environment} ({Count} member(s)) into {Tier}: {Repository}", set, context.Environment.Name, members.Count, context.Repository.Tier.Name, context.Repository.Location);
        var results = new List<MemberResult>();
        foreach (var member in members)
        {
            try
            {
                results.Add(await BackupAsync(set, member, listing, cancellationToken));
            }
            catch (MemberSkippedException skipped)
            {
                _log.Information("Nothing to back up for {Member}: {Reason}", member.Key, skipped.Message);
                results.Add(new MemberResult(member.Service, member.Method, member.Type, member.Volume, MemberStatus.Skipped, skipped.Message, [], null));
            }
            catch (Exception e) when (e is PipelineException or DockerApiException or IOException && !cancellationToken.IsCancellationRequested)
            {
                context.Progress.Done();
                var message = e.Message.Split('\n')[0];
                _log.Error("Backup of {Member} failed: {Error}", member.Key, message);
                results.Add(new MemberResult(member.Service, member.Method, member.Type, member.Volume, MemberStatus.Failed, message, [], null));
            }
        }

        var status = results.All(r => r.Status != MemberStatus.Failed) ? SetStatus.Complete : SetStatus.Failed;
        var manifest = new BackupSetManifest(
            set, context.Environment.Name, context.Environment.Project, context.Repository.Tier.Name, trigger, started, DateTimeOffset.UtcNow, BackupContext.Version, status, results);
        var tags = BackupTags.Set(context.Environment.Name, set, BackupContext.Version, trigger, status, manifest.ToTag());
        var written = await context.Repository.BackupStreamAsync(
            manifest.Path,
            tags,
            context.Host,
            async (stream, ct) => await stream.WriteAsync(Encoding.UTF8.GetBytes(manifest.ToJson()), ct),
            null,
            cancellationToken);
        _log.Information("Backup set {Set}: {Status}, {Ok} of {Count} member(s), {Bytes} read, {Added} added to the repository",
            set, status.Word(), results.Count(r => r.Succeeded), results.Count, BackupProgress.Size(results.Sum(r => r.Bytes)), BackupProgress.Size(results.Sum(r => r.Added)));
        return new CatalogEntry(manifest, written.SnapshotId, tags);
    }

    private async Task<MemberResult> BackupAsync(string set, BackupMember member, IReadOnlyList<ResticSnapshot>? listing, CancellationToken cancellationToken)
    {
        var parts = new List<BackupPart>();
        IReadOnlyDictionary<string, long>? counts = null;
        string? digest = null;
        switch (member.Method)
        {
            case BackupMethod.Postgres:
                await PostgresAsync(set, member, parts, cancellationToken);
                break;
            case BackupMethod.Redis:
                digest = await RedisAsync(set, member, parts, cancellationToken);
                break;
            case BackupMethod.Volume:
                counts = await VolumeAsync(set, member, parts, Parent(listing, member), cancellationToken);
                break;
            case BackupMethod.Config:
                await ConfigAsync(set, member, parts, cancellationToken);
                break;
            default:
                throw new PipelineException($"service '{member.Service}': unknown backup method '{member.Method.Word()}'");
        }

        var result = new MemberResult(member.Service, member.Method, member.Type, member.Volume, MemberStatus.Ok, null, parts, counts) { Digest = digest };
        _log.Information("Backed up {Member} ({Type}): {Parts} part(s), {Bytes} read, {Added} added in {Seconds:0.0} s",
            member.Key, member.Type.Word(), parts.Count, BackupProgress.Size(result.Bytes), BackupProgress.Size(result.Added), parts.Sum(p => p.Seconds));
        return result;
    }

    private IReadOnlyList<string> Tags(string set, BackupMember member, string part) =>
        BackupTags.Member(context.Environment.Name, set, BackupContext.Version, member.Service, member.Type, part, HelperContainers.RunId);

    /// <summary>Streams one part into the repository; the producer throws when its tool fails, and then nothing is saved.</summary>
    private async Task<BackupPart> StreamPartAsync(string set, BackupMember member, string part, Func<Stream, CancellationToken, Task> produce, CancellationToken cancellationToken)
    {
        var path = BackupTags.PartPath(member.Service, member.Type, part);
        var summary = await context.Repository.BackupStreamAsync(path, Tags(set, member, part), context.Host, produce, context.Progress.For($"{member.Key} {part}"), cancellationToken);
        context.Progress.Done();
        return new BackupPart(part, summary.SnapshotId, path, summary.BytesProcessed, summary.DataAdded, summary.Seconds);
    }

    private async Task PostgresAsync(string set, BackupMember member, List<BackupPart> parts, CancellationToken cancellationToken)
    {
        var (id, name) = await context.RunningContainerAsync(member.Service, cancellationToken);
        var user = context.ServiceVariable(member.Service, "POSTGRES_USER") ?? "postgres";
        var database = context.ServiceVariable(member.Service, "POSTGRES_DB") ?? user;
        var listed = await Exec.RunAsync(context.Engine, id,
            ["psql", "-U", user, "-d", database, "-AtX", "-c", "SELECT datname FROM pg_database WHERE NOT datistemplate AND datallowconn ORDER BY 1"], cancellationToken);
        if (listed.ExitCode != 0)
        {
            throw BackupContext.Failed("listing the databases", name, listed);
        }

        // The roles are a few kilobytes: docker exec's stream is quick enough for them.
        parts.Add(await StreamPartAsync(set, member, "globals.sql", Producer(id, name, ["pg_dumpall", "-U", user, "--globals-only"]), cancellationToken));
        var only = member.Type switch
        {
            BackupType.Schema => new[] { "--schema-only" },
            BackupType.Data => ["--data-only"],
            _ => [],
        };
        var dump = new PostgresDump(context);
        foreach (var db in listed.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var part = await StreamPartAsync(set, member, $"db-{BackupTags.SafeName(db)}.dump",
                (stdin, ct) => dump.WriteAsync(id, name, member.Service, user, db, only, stdin, ct), cancellationToken);
            parts.Add(part with { Source = db });
        }
    }

    private async Task<string?> RedisAsync(string set, BackupMember member, List<BackupPart> parts, CancellationToken cancellationToken)
    {
        var (id, name) = await context.RunningContainerAsync(member.Service, cancellationToken);
        var redis = new RedisCli(context.Engine, id, name);
        var directory = await redis.ConfigAsync("dir", cancellationToken);
        if (member.Type == BackupType.Aof)
        {
            if (await redis.ConfigAsync("appendonly", cancellationToken) != "yes")
            {
                throw new PipelineException($"redis ({name}) has appendonly off: there is no AOF to back up; use --backup-type rdb");
            }

            await redis.RewriteAofAsync(cancellationToken);
            var appendDirectory = await redis.ConfigAsync("appenddirname", cancellationToken);
            parts.Add(await StreamPartAsync(set, member, "appendonlydir.tar", Producer(id, name, ["tar", "-c", "-C", directory, appendDirectory]), cancellationToken));
            return null;
        }

        await redis.SaveAsync(cancellationToken);
        var file = await redis.ConfigAsync("dbfilename", cancellationToken);
        parts.Add(await StreamPartAsync(set, member, "dump.rdb", Producer(id, name, ["cat", $"{directory.TrimEnd('/')}/{file}"]), cancellationToken));
        return await RedisDigestAsync(redis, cancellationToken);
    }

    /// <summary>
    /// The digest of the dataset the rdb holds, for RestoreTest: taken right after the save, and kept only if Redis
    /// reports no change since the save both before and after (then the live data is exactly the file's). Skipped for
    /// very large datasets (the script blocks Redis while it runs).
    /// </summary>
    private async Task<string?> RedisDigestAsync(RedisCli redis, CancellationToken cancellationToken)
    {
        static bool Unchanged(IReadOnlyDictionary<string, string> info) => info.GetValueOrDefault("rdb_changes_since_last_save") == "0";
        if (!Unchanged(await redis.InfoAsync("persistence", cancellationToken)) || await redis.KeyCountAsync(cancellationToken) > 1_000_000)
        {
            return null;
        }

        var (keys, digest) = await redis.DigestAsync(cancellationToken);
        return Unchanged(await redis.InfoAsync("persistence", cancellationToken)) ? $"{keys}:{digest}" : null;
    }

    /// <summary>
    /// The newest earlier file snapshot of this member's volume in the repository (same host, environment, service,
    /// volume): restic compares the files with it and reads only what changed. Chosen here, so the parent does not
    /// depend on where restic ran (this host's mountpoint or a helper's <c>/data/&lt;volume&gt;</c>).
    /// </summary>
    internal string? Parent(IReadOnlyList<ResticSnapshot>? listing, BackupMember member) =>
        ParentOf(listing, context.Host, context.Environment.Name, member);

    internal static string? ParentOf(IReadOnlyList<ResticSnapshot>? listing, string host, string environment, BackupMember member)
    {
        if (member.Volume is null || listing is null)
        {
            return null;
        }

        // Only members of sets that got their manifest: an orphan of a stopped run is forgotten by the sweep before this
        // backup reads anything, and a parent that no longer exists fails restic ("no matching ID found").
        var manifested = listing.Where(s => s.Tag("kind") == "set").Select(s => s.Tag("set")).OfType<string>().ToHashSet(StringComparer.Ordinal);
        return listing
            .Where(s => s.Hostname == host && s.Tag("env") == environment && s.Tag("kind") == "member" && s.Tag("service") == member.Service
                        && s.Tag("type") == BackupType.Volume.Word() && s.Tag("part") == member.Volume && s.Tag("set") is { } set && manifested.Contains(set))
            .MaxBy(s => s.Time)?.Id;
    }

    /// <summary>
    /// A volume as a file snapshot: restic reads its files itself, next to the data (on this host at the volume's
    /// mountpoint, or in a helper that mounts it read-only), with the volume's writers paused or stopped meanwhile. An
    /// unchanged file costs a stat against the parent snapshot, not a read. Nothing per file passes through this process.
    /// </summary>
    private async Task<IReadOnlyDictionary<string, long>> VolumeAsync(string set, BackupMember member, List<BackupPart> parts, string? parent, CancellationToken cancellationToken)
    {
        if (await context.OwnedVolumeAsync(member.Volume!, cancellationToken) is null)
        {
            throw new MemberSkippedException($"volume {member.VolumeName} does not exist (its stack has never run)");
        }

        var site = await context.VolumeSiteAsync(member.VolumeName!, cancellationToken);
        ResticBackupSummary summary;
        try
        {
            // The services that write the volume are paused (or stopped) only while it is read, and always come back.
            await using var suspended = member.Writers.Count == 0
                ? null
                : await context.Lifecycle.SuspendAsync(member.Writers, member.Mode, cancellationToken, includeDependents: member.Mode == SuspendMode.Stop);
            summary = await context.Repository.BackupTreeAsync(site, Tags(set, member, member.Volume!), context.Host, parent, context.Progress.For(member.Key), cancellationToken);
        }
        catch (EmptySnapshotException)
        {
            // An empty volume (a fresh minio, a cache never filled): restic saves no snapshot of nothing. The member is
            // recorded without a part, and restoring it empties the volume — the state it had.
            context.Progress.Done();
            _log.Information("Read {Volume} with restic {Where}: the volume is empty, recorded as empty (no snapshot)",
                member.VolumeName, site.Reader == VolumeReader.Host ? "on this host" : "in a helper");
            return new Dictionary<string, long> { ["files"] = 0, ["directories"] = 0 };
        }

        context.Progress.Done();
        _log.Information("Read {Volume} with restic {Where}{Parent}: {New} new, {Changed} changed, {Unmodified} unmodified file(s), {Directories} directories",
            member.VolumeName, site.Reader == VolumeReader.Host ? "on this host" : "in a helper", parent is null ? string.Empty : $" against {parent[..8]}",
            summary.FilesNew, summary.FilesChanged, summary.FilesUnmodified, summary.Directories);
        parts.Add(new BackupPart(member.Volume!, summary.SnapshotId, "/", summary.BytesProcessed, summary.DataAdded, summary.Seconds) { Layout = PartLayout.Files });
        return new Dictionary<string, long> { ["files"] = summary.Files, ["directories"] = summary.Directories };
    }

    private async Task ConfigAsync(string set, BackupMember member, List<BackupPart> parts, CancellationToken cancellationToken)
    {
        var paths = context.ConfigPaths.Where(p => File.Exists(p) || Directory.Exists(p)).ToList();
        var summary = await context.Repository.BackupFilesAsync(paths, Tags(set, member, "files"), context.Host, context.Progress.For("config"), cancellationToken);
        context.Progress.Done();
        parts.Add(new BackupPart("files", summary.SnapshotId, string.Join(',', paths), summary.BytesProcessed, summary.DataAdded, summary.Seconds));
    }

    /// <summary>A tool in the service's container whose standard output is the part (never staged in a file or in memory).</summary>
    private Func<Stream, CancellationToken, Task> Producer(string id, string name, IReadOnlyList<string> command) => async (stdin, ct) =>
    {
        var result = await Exec.StreamAsync(context.Engine, id, command, ct, stdout: stdin);
        if (result.ExitCode != 0)
        {
            throw BackupContext.Failed(command[0], name, result);
        }
    };
}
