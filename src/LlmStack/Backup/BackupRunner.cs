using System.Text;
using Docker.DotNet;
using LlmStack.Engine;
using LlmStack.Lifecycle;
using LlmStack.Pipeline;
using LlmStack.Schema;
using Serilog;

namespace LlmStack.Backup;

/// <summary>A member with nothing to back up: recorded as skipped, the set stays complete.</summary>
public sealed class MemberSkippedException(string reason) : Exception(reason);

/// <summary>
/// Runs a backup set: each member in dependency order into the environment's first tier, then the set's manifest.
/// A failing member (a stopped service, a tool error) is recorded and the others go on; the set is then incomplete
/// and the run fails naming the failed members, while the members that succeeded stay listed and restorable.
/// </summary>
public sealed class BackupRunner(BackupContext context)
{
    private readonly ILogger _log = context.Log;

    public async Task<BackupSetManifest> RunAsync(BackupTrigger trigger, IReadOnlyList<BackupMember> members, CancellationToken cancellationToken)
    {
        var started = DateTimeOffset.UtcNow;
        var set = BackupSetManifest.NewSetId(started);
        _log.Information("Backup set {Set} of {Environment} ({Count} member(s)) into {Tier}: {Repository}", set, context.Environment.Name, members.Count, context.Repository.Tier.Name, context.Repository.Location);
        var results = new List<MemberResult>();
        foreach (var member in members)
        {
            try
            {
                results.Add(await BackupAsync(set, member, cancellationToken));
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
        await context.Repository.BackupStreamAsync(
            manifest.Path,
            BackupTags.Set(context.Environment.Name, set, BackupContext.Version, trigger, status),
            context.Host,
            async (stream, ct) => await stream.WriteAsync(Encoding.UTF8.GetBytes(manifest.ToJson()), ct),
            null,
            cancellationToken);
        context.Catalog.Remember(manifest);
        _log.Information("Backup set {Set}: {Status}, {Ok} of {Count} member(s), {Bytes} read, {Added} added to the repository",
            set, status.Word(), results.Count(r => r.Succeeded), results.Count, BackupProgress.Size(results.Sum(r => r.Bytes)), BackupProgress.Size(results.Sum(r => r.Added)));
        return manifest;
    }

    private async Task<MemberResult> BackupAsync(string set, BackupMember member, CancellationToken cancellationToken)
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
                (counts, digest) = await VolumeAsync(set, member, parts, cancellationToken);
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

    /// <summary>Streams one part into the repository; the producer throws when its tool fails, and then nothing is saved.</summary>
    private async Task<BackupPart> StreamPartAsync(string set, BackupMember member, string part, Func<Stream, CancellationToken, Task> produce, CancellationToken cancellationToken)
    {
        var path = BackupTags.PartPath(member.Service, member.Type, part);
        var summary = await context.Repository.BackupStreamAsync(
            path,
            BackupTags.Member(context.Environment.Name, set, BackupContext.Version, member.Service, member.Type, part, HelperContainers.RunId),
            context.Host,
            produce,
            context.Progress.For($"{member.Key} {part}"),
            cancellationToken);
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

        parts.Add(await StreamPartAsync(set, member, "globals.sql", Producer(id, name, ["pg_dumpall", "-U", user, "--globals-only"]), cancellationToken));
        var only = member.Type switch
        {
            BackupType.Schema => new[] { "--schema-only" },
            BackupType.Data => ["--data-only"],
            _ => [],
        };
        foreach (var db in listed.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var part = await StreamPartAsync(set, member, $"db-{BackupTags.SafeName(db)}.dump",
                Producer(id, name, ["pg_dump", "-U", user, "--format=custom", .. only, "-d", db]), cancellationToken);
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

    private async Task<(IReadOnlyDictionary<string, long> Counts, string Digest)> VolumeAsync(string set, BackupMember member, List<BackupPart> parts, CancellationToken cancellationToken)
    {
        if (await context.OwnedVolumeAsync(member.Volume!, cancellationToken) is null)
        {
            throw new MemberSkippedException($"volume {member.VolumeName} does not exist (its stack has never run)");
        }

        TreeListing? listing = null;
        parts.Add(await StreamPartAsync(set, member, $"{member.Volume}.tar", async (stdin, ct) =>
        {
            // The services that write the volume are paused (or stopped) only while it is read, and always come back.
            await using var suspended = member.Writers.Count == 0
                ? null
                : await context.Lifecycle.SuspendAsync(member.Writers, member.Mode, ct, includeDependents: member.Mode == SuspendMode.Stop);
            var spec = new HelperSpec
            {
                Purpose = "volume-backup",
                Image = context.HelperImage,
                Entrypoint = ["/bin/sh", "-c"],
                Command = ["find /volume -mindepth 1 | wc -l"],
                Mounts = [new HelperMount(member.VolumeName!, "/volume", ReadOnly: true)],
            };

            // The tar goes to restic and, on the way, through a reader that counts its entries and hashes every file.
            await using var tee = new TarListingTee(stdin);
            await context.Helpers.ReadArchiveAsync(spec, "/volume/.", tee, ct);
            listing = await tee.CompleteAsync(ct);
        }, cancellationToken));

        // The tree's sha256 listing is a part of its own: RestoreTest compares a restored tree with it file by file.
        var text = listing!.Text;
        parts.Add(await StreamPartAsync(set, member, $"{member.Volume}.sha256", async (stdin, ct) => await stdin.WriteAsync(System.Text.Encoding.UTF8.GetBytes(text), ct), cancellationToken));
        return (new Dictionary<string, long> { ["entries"] = listing.Entries, ["files"] = listing.Files }, listing.Digest);
    }

    private async Task ConfigAsync(string set, BackupMember member, List<BackupPart> parts, CancellationToken cancellationToken)
    {
        var paths = context.ConfigPaths.Where(p => File.Exists(p) || Directory.Exists(p)).ToList();
        var summary = await context.Repository.BackupFilesAsync(
            paths,
            BackupTags.Member(context.Environment.Name, set, BackupContext.Version, member.Service, member.Type, "files", HelperContainers.RunId),
            context.Host,
            context.Progress.For("config"),
            cancellationToken);
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
