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

    public string? Tag(string key) => Tags?.FirstOrDefault(t => t.StartsWith(key + "=", StringComparison.Ordinal))?[(key.Length + 1)..];
}

/// <summary>What one <c>restic backup</c> did: the snapshot, bytes read, bytes added to the repository, seconds.</summary>
public sealed record ResticBackupSummary(string SnapshotId, long BytesProcessed, long DataAdded, double Seconds);

/// <summary>The repository key: a file (<c>RESTIC_PASSWORD_FILE</c>) or a value (<c>RESTIC_PASSWORD</c>), never a command-line argument.</summary>
public sealed record BackupKey(string? File, string? Value, string Source);

/// <summary>Progress of one running backup or restore (bytes so far, percent and seconds left when restic knows them).</summary>
public sealed record ResticProgress(long BytesDone, long? TotalBytes, double? Percent, double? SecondsRemaining, double SecondsElapsed);

/// <summary>There is no repository at the location yet.</summary>
public sealed class MissingRepositoryException(string message) : PipelineException(message);

/// <summary>A tier cannot be reached (connection refused, DNS, TLS): that tier fails, the others go on.</summary>
public sealed class TierUnreachableException(string message) : PipelineException(message);

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
    /// Opens the repository, creating it on first use (format 2: compressed), and removes stale locks. A wrong key fails
    /// here, before anything is read from a service or written anywhere.
    /// </summary>
    public async Task OpenAsync(CancellationToken cancellationToken, ResticRepository? chunkerSource = null)
    {
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
