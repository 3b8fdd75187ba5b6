using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using LlmStack.Pipeline;
using Serilog;
using LlmStack.Reporting;

namespace LlmStack.Backup;

/// <summary>A snapshot as restic lists it (<c>snapshots --json</c>).</summary>
public sealed record ResticSnapshot(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("short_id")] string ShortId,
    [property: JsonPropertyName("time")] DateTimeOffset Time,
    [property: JsonPropertyName("paths")] IReadOnlyList<string> Paths,
    [property: JsonPropertyName("tags")] IReadOnlyList<string>? Tags,
    [property: JsonPropertyName("hostname")] string Hostname)
{
    /// <summary>For a snapshot <c>restic copy</c> made: the id it has in the repository it came from.</summary>
    [JsonPropertyName("original")]
    public string? Original { get; init; }

    /// <summary>The id in the first tier: its own, or the one it was copied from.</summary>
    public string SourceId => Original ?? Id;

    /// <summary>The snapshot restic compared the files with (a file snapshot's parent), if any.</summary>
    [JsonPropertyName("parent")]
    public string? Parent { get; init; }

    public string? Tag(string key) => Tags?.FirstOrDefault(t => t.StartsWith(key + "=", StringComparison.Ordinal))?[(key.Length + 1)..];
}

/// <summary>
/// What one <c>restic backup</c> did: the snapshot, bytes read, bytes added to the repository, seconds; for files, how
/// many regular files were new, changed or unmodified (skipped against the parent) and how many directories there were
/// (the top one not counted; symbolic links and other special files are in neither count).
/// </summary>
public sealed record ResticBackupSummary(string SnapshotId, long BytesProcessed, long DataAdded, double Seconds)
{
    public long FilesNew { get; init; }

    public long FilesChanged { get; init; }

    public long FilesUnmodified { get; init; }

    public long Directories { get; init; }

    public long Files => FilesNew + FilesChanged + FilesUnmodified;
}

/// <summary>One entry of a file snapshot as <c>restic ls --json</c> lists it (a regular file's size; Go's mode bits).</summary>
public sealed record ResticNode(
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("path")] string Path,
    [property: JsonPropertyName("uid")] long Uid,
    [property: JsonPropertyName("gid")] long Gid,
    [property: JsonPropertyName("mode")] long Mode)
{
    [JsonPropertyName("size")]
    public long Size { get; init; }
}

/// <summary>The repository key: a file (<c>RESTIC_PASSWORD_FILE</c>) or a value (<c>RESTIC_PASSWORD</c>), never a command-line argument.</summary>
public sealed record BackupKey(string? File, string? Value, string Source);

/// <summary>Progress of one running backup or restore (bytes so far, percent and seconds left when restic knows them).</summary>
public sealed record ResticProgress(long BytesDone, long? TotalBytes, double? Percent, double? SecondsRemaining, double SecondsElapsed);

/// <summary>There is no repository at the location yet.</summary>
public sealed class MissingRepositoryException(string message) : PipelineException(message);

/// <summary>A tier cannot be reached (connection refused, DNS, TLS): that tier fails, the others go on.</summary>
public sealed class TierUnreachableException(string message) : PipelineException(message);

/// <summary>restic refused to save a snapshot of nothing (<c>backup .</c> in an empty directory): no snapshot was written.</summary>
public sealed class EmptySnapshotException(string message) : PipelineException(message);

/// <summary>
/// One restic repository (an environment on a tier). LlmStack never writes its own archive or crypto format: restic
/// encrypts (AES-256-CTR + Poly1305), compresses (zstd), deduplicates and locks. The key reaches restic through its
/// environment, never a command line. Every call is one restic process with its output parsed (<c>--json</c>).
/// </summary>
public sealed class ResticRepository(
    ResolvedTier tier, string environment, BackupKey key, string cacheDirectory, ILogger log, IReadOnlyDictionary<string, string>? credentials = null)
{
    private readonly ResticProcess _restic = new(tier, environment, key, cacheDirectory, credentials);

    public static readonly Version MinimumVersion = new(0, 14, 0);

    public ResolvedTier Tier => tier;

    public string Location => tier.Repository;

    /// <summary>restic on PATH and at least 0.14, or one line naming the package.</summary>
    public static async Task<Version> RequireAsync(CancellationToken cancellationToken)
    {
        ProcessResult result;
        try
        {
            result = await ProcessRunner.RunAsync("restic", ["version"], Directory.GetCurrentDirectory(), null, cancellationToken);
        }
        catch (PipelineException)
        {
            throw new PipelineException("restic is not installed: apt-get install restic (0.14 or later); backups are restic repositories");
        }

        var words = string.Join(' ', result.Output).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var text = words.Length > 1 ? words[1] : string.Empty;
        if (result.ExitCode != 0 || !Version.TryParse(text, out var version))
        {
            throw new PipelineException($"restic did not report its version ('{string.Join(' ', result.Output)}'): reinstall it (apt-get install restic)");
        }

        if (version < MinimumVersion)
        {
            throw new PipelineException($"restic {version} is too old: LlmStack needs {MinimumVersion} or later (apt-get install restic from Debian 12 or newer)");
        }

        return version;
    }

    /// <summary>
    /// Opens the repository, creating it on first use (format 2: compressed), and removes stale locks. A path tier whose
    /// config file is there costs no restic run (every run derives the key again, ~0.6 s): its key is checked by the
    /// first command that reads it, and <c>restic unlock</c> runs only when the repository has locks. Any other tier is
    /// read (<c>cat config</c>) and unlocked here.
    /// </summary>
    public async Task OpenAsync(CancellationToken cancellationToken, ResticRepository? chunkerSource = null)
    {
        if (tier.IsPath && File.Exists(Path.Combine(Location, "config")))
        {
            var locks = Path.Combine(Location, "locks");
            if (Directory.Exists(locks) && Directory.EnumerateFiles(locks).Any())
            {
                await UnlockStaleAsync(cancellationToken);
            }

            return;
        }

        if (!await ExistsAsync(cancellationToken))
        {
            if (tier.IsPath)
            {
                if (Directory.Exists(Location) && Directory.EnumerateFileSystemEntries(Location).Any())
                {
                    throw new PipelineException($"{Location} is not a restic repository (no config file) but is not empty: move it away or point tier '{tier.Name}' elsewhere");
                }

                Directory.CreateDirectory(Location);
            }

            // A copy target takes the first tier's chunker parameters, so what is copied deduplicates there too.
            await _restic.RunAsync(
                chunkerSource is null ? ["init", "--repository-version", "2"] : ["init", "--repository-version", "2", "--copy-chunker-params", "--from-repo", chunkerSource.Location],
                cancellationToken,
                chunkerSource?._restic.FromEnvironment());
            log.Information("Created backup repository {Repository} (tier {Tier}, environment {Environment})", Location, tier.Name, environment);
            return;
        }

        // A restic killed mid-operation leaves its lock; restic itself removes it once it finds it stale.
        await UnlockStaleAsync(cancellationToken);
    }

    /// <summary>
    /// Backs up what <paramref name="produce"/> writes, as one file named <paramref name="path"/>. The snapshot is
    /// committed only when the producer returns: if it throws, restic is killed before it sees the end of its input,
    /// so a failed producer never leaves a truncated snapshot.
    /// </summary>
    public async Task<ResticBackupSummary> BackupStreamAsync(
        string path, IReadOnlyList<string> tags, string host, Func<Stream, CancellationToken, Task> produce, Action<ResticProgress>? progress, CancellationToken cancellationToken)
    {
        using var process = _restic.Start(["backup", "--stdin", "--stdin-filename", path, "--host", host, "--json", .. TagArguments(tags)], redirectInput: true, binaryOutput: false);
        var reading = ResticProcess.ReadBackupOutputAsync(process, progress);
        try
        {
            await produce(process.StandardInput.BaseStream, cancellationToken);
        }
        catch (Exception e)
        {
            ResticProcess.Kill(process);
            await process.WaitForExitAsync(CancellationToken.None);
            var (_, errors) = await reading;
            if (e is IOException && errors.Count > 0)
            {
                // restic stopped reading first (a wrong key, a full disk): its reason is the real one.
                throw _restic.Classify("backup", process.ExitCode, errors);
            }

            throw;
        }

        process.StandardInput.Close();
        await ResticProcess.WaitAsync(process, cancellationToken);
        var (summary, stderr) = await reading;
        if (process.ExitCode != 0 || summary is null)
        {
            throw _restic.Classify("backup", process.ExitCode, stderr);
        }

        return summary;
    }

    /// <summary>
    /// Backs up a volume's files as a file snapshot (restic reads them itself, where <paramref name="site"/> says, as
    /// <c>.</c>: the snapshot's tree is the volume's). With <paramref name="parent"/>, restic skips the files whose size,
    /// times and inode are unchanged since that snapshot.
    /// </summary>
    public async Task<ResticBackupSummary> BackupTreeAsync(
        VolumeSite site, IReadOnlyList<string> tags, string host, string? parent, Action<ResticProgress>? progress, CancellationToken cancellationToken)
    {
        var output = new BackupOutput(progress);
        await _restic.RunAtAsync(site, writable: false,
            ["backup", "--host", host, "--json", .. TagArguments(tags), .. parent is null ? Array.Empty<string>() : ["--parent", parent], "."], output.Line, cancellationToken);
        return output.Summary ?? throw new PipelineException($"restic backup on {tier.Name} for {environment} ended without a summary: no snapshot was reported");
    }

    /// <summary>
    /// Restores a file snapshot into a volume (where <paramref name="site"/> says): owners, modes, times, links and empty
    /// directories as restic stored them; <paramref name="verify"/> reads every restored file back against the snapshot.
    /// </summary>
    public Task RestoreTreeAsync(VolumeSite site, string snapshotId, bool verify, CancellationToken cancellationToken) =>
        _restic.RunAtAsync(site, writable: true, ["restore", snapshotId, "--target", ".", .. verify ? new[] { "--verify" } : []], _ => { }, cancellationToken);

    /// <summary>Every entry of a file snapshot (<c>restic ls --json</c>), one at a time as restic prints them: nothing is kept.</summary>
    public async Task ListAsync(string snapshotId, Action<ResticNode> entry, CancellationToken cancellationToken)
    {
        using var process = _restic.Start(["ls", "--json", snapshotId], redirectInput: false, binaryOutput: false);
        var errors = ResticProcess.CollectErrorsAsync(process);
        var reading = Task.Run(async () =>
        {
            while (await process.StandardOutput.ReadLineAsync(CancellationToken.None) is { } line)
            {
                if (line.Contains("\"struct_type\":\"node\"", StringComparison.Ordinal) && JsonSerializer.Deserialize<ResticNode>(line, JsonDefaults.Foreign) is { } node)
                {
                    entry(node);
                }
            }
        }, CancellationToken.None);
        await ResticProcess.WaitAsync(process, cancellationToken);
        await reading;
        if (process.ExitCode != 0)
        {
            throw _restic.Classify("ls", process.ExitCode, await errors);
        }
    }

    /// <summary>Backs up files and directories of this machine (the configuration member).</summary>
    public async Task<ResticBackupSummary> BackupFilesAsync(IReadOnlyList<string> paths, IReadOnlyList<string> tags, string host, Action<ResticProgress>? progress, CancellationToken cancellationToken)
    {
        using var process = _restic.Start(["backup", "--host", host, "--json", .. TagArguments(tags), "--", .. paths], redirectInput: false, binaryOutput: false);
        var reading = ResticProcess.ReadBackupOutputAsync(process, progress);
        await ResticProcess.WaitAsync(process, cancellationToken);
        var (summary, stderr) = await reading;
        if (process.ExitCode != 0 || summary is null)
        {
            throw _restic.Classify("backup", process.ExitCode, stderr);
        }

        return summary;
    }

    /// <summary>Whether a repository is there: its config file (paths), or restic can read its config (anything else).</summary>
    private async Task<bool> ExistsAsync(CancellationToken cancellationToken)
    {
        if (tier.IsPath)
        {
            if (!File.Exists(Path.Combine(Location, "config")))
            {
                return false;
            }

            await _restic.RunAsync(["cat", "config"], cancellationToken);
            return true;
        }

        try
        {
            await _restic.RunAsync(["cat", "config"], cancellationToken);
            return true;
        }
        catch (MissingRepositoryException)
        {
            return false;
        }
    }

    /// <summary>
    /// Copies snapshots (by the first tier's ids) from <paramref name="source"/>; restic skips what it copied before.
    /// Returns how many it copied now.
    /// </summary>
    public async Task<int> CopyFromAsync(ResticRepository source, IReadOnlyList<string> snapshotIds, CancellationToken cancellationToken)
    {
        if (snapshotIds.Count == 0)
        {
            return 0;
        }

        var output = await _restic.RunAsync(["copy", "--from-repo", source.Location, .. snapshotIds], cancellationToken, source._restic.FromEnvironment());
        return output.Count(l => l.StartsWith("snapshot ", StringComparison.Ordinal) && l.Contains(" saved", StringComparison.Ordinal));
    }

    /// <summary><c>restic check</c>, reading back a subset of the data (<c>1/10</c>, <c>5%</c>) or all of it (<c>100%</c>).</summary>
    public Task<IReadOnlyList<string>> CheckAsync(string? readDataSubset, CancellationToken cancellationToken) =>
        _restic.RunAsync(readDataSubset is null ? ["check"] : readDataSubset == "100%" ? ["check", "--read-data"] : ["check", $"--read-data-subset={readDataSubset}"], cancellationToken);

    /// <summary>Adds tags to snapshots (restic gives them new ids: only ever used on set manifests, which are found by tag).</summary>
    public Task TagAsync(IReadOnlyList<string> snapshotIds, IReadOnlyList<string> add, CancellationToken cancellationToken) =>
        _restic.RunAsync(["tag", .. add.SelectMany(t => new[] { "--add", t }), .. snapshotIds], cancellationToken);

    /// <summary>The snapshots carrying every one of <paramref name="tags"/>, oldest first.</summary>
    public async Task<IReadOnlyList<ResticSnapshot>> SnapshotsAsync(IReadOnlyList<string> tags, CancellationToken cancellationToken)
    {
        var output = await _restic.RunAsync(["snapshots", "--json", .. tags.Count == 0 ? [] : new[] { "--tag", string.Join(',', tags) }], cancellationToken);
        return JsonSerializer.Deserialize<List<ResticSnapshot>>(string.Concat(output), JsonDefaults.Foreign)?.OrderBy(s => s.Time).ToList() ?? [];
    }

    /// <summary>Streams one file of a snapshot (<c>restic dump</c>) into <paramref name="consume"/>; both must succeed.</summary>
    public Task DumpAsync(string snapshotId, string path, Func<Stream, CancellationToken, Task> consume, CancellationToken cancellationToken) =>
        DumpAsync(["dump", snapshotId, path], consume, cancellationToken);

    /// <summary>Streams a whole snapshot as a tar (<c>restic dump --archive tar ID /</c>).</summary>
    public Task DumpArchiveAsync(string snapshotId, Func<Stream, CancellationToken, Task> consume, CancellationToken cancellationToken) =>
        DumpAsync(["dump", "--archive", "tar", snapshotId, "/"], consume, cancellationToken);

    private async Task DumpAsync(IReadOnlyList<string> arguments, Func<Stream, CancellationToken, Task> consume, CancellationToken cancellationToken)
    {
        using var process = _restic.Start(arguments, redirectInput: false, binaryOutput: true);
        var stderr = ResticProcess.CollectErrorsAsync(process);
        try
        {
            await consume(process.StandardOutput.BaseStream, cancellationToken);

            // A reader may stop at its format's end (a tar's first end-of-archive block) while restic still writes
            // the rest: read it, or restic dies of SIGPIPE (exit 141) and a good dump looks like a failure.
            try
            {
                await process.StandardOutput.BaseStream.CopyToAsync(Stream.Null, cancellationToken);
            }
            catch (ObjectDisposedException)
            {
                // The reader closed the stream itself (it read to the end, as Docker's archive upload does).
            }
        }
        catch (Exception e)
        {
            if (e is not OperationCanceledException && !process.HasExited)
            {
                // The reader may have hit the end of a stream restic cut short (damaged data): let restic exit with its reason.
                using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                try
                {
                    await process.WaitForExitAsync(grace.Token);
                }
                catch (OperationCanceledException)
                {
                }
            }

            var failedByItself = process.HasExited && process.ExitCode != 0;
            ResticProcess.Kill(process);
            await process.WaitForExitAsync(CancellationToken.None);
            if (failedByItself && e is not OperationCanceledException)
            {
                // restic stopped first (damaged data, a wrong key): its reason, not the reader's "unexpected end".
                throw _restic.Classify(arguments[0], process.ExitCode, await stderr);
            }

            throw;
        }

        await ResticProcess.WaitAsync(process, cancellationToken);
        if (process.ExitCode != 0)
        {
            throw _restic.Classify("dump", process.ExitCode, await stderr);
        }
    }

    /// <summary>Restores a snapshot of files into <paramref name="target"/> (restic keeps the original absolute paths below it).</summary>
    public Task RestoreAsync(string snapshotId, string target, CancellationToken cancellationToken) =>
        _restic.RunAsync(["restore", snapshotId, "--target", target], cancellationToken);

    /// <summary>Removes these snapshots (<c>restic forget ID…</c>; by id only, never by a policy of restic's own).</summary>
    public Task ForgetAsync(IReadOnlyList<string> snapshotIds, CancellationToken cancellationToken) =>
        snapshotIds.Count == 0 ? Task.CompletedTask : _restic.RunAsync(["forget", .. snapshotIds], cancellationToken);

    /// <summary>Frees the space of forgotten snapshots (<c>restic prune --max-unused</c>).</summary>
    public Task PruneAsync(string maxUnused, CancellationToken cancellationToken) =>
        _restic.RunAsync(["prune", "--max-unused", maxUnused], cancellationToken);

    /// <summary>The repository's size on disk (<c>stats --mode raw-data</c>).</summary>
    public async Task<long> SizeAsync(CancellationToken cancellationToken)
    {
        var output = await _restic.RunAsync(["stats", "--mode", "raw-data", "--json"], cancellationToken);
        using var json = JsonDocument.Parse(string.Concat(output));
        return json.RootElement.TryGetProperty("total_size", out var size) ? size.GetInt64() : 0;
    }

    /// <summary>Removes stale locks only: restic decides (the holder's process is gone, or the lock is old).</summary>
    public async Task UnlockStaleAsync(CancellationToken cancellationToken)
    {
        await _restic.RunAsync(["unlock"], cancellationToken);
        log.Debug("Removed stale restic locks of {Repository}, if any", Location);
    }

    private static IReadOnlyList<string> TagArguments(IReadOnlyList<string> tags) => tags.SelectMany(t => new[] { "--tag", t }).ToList();
}
