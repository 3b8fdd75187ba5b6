using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using LlmStack.Engine;
using LlmStack.Pipeline;

namespace LlmStack.Backup;

/// <summary>
/// How <see cref="ResticRepository"/> runs restic: one process per call with only the environment we set (the
/// repository, the cache, the key as a file or a value, a cloud tier's credentials; never an inherited <c>RESTIC_*</c>),
/// its JSON progress and summary read as they come, its standard error kept (without terminal escapes), and its
/// failures classified into one line each (wrong key, lock, missing repository, unreachable tier).
/// </summary>
internal sealed class ResticProcess(ResolvedTier tier, string environment, BackupKey key, string cacheDirectory, IReadOnlyDictionary<string, string>? credentials)
{
    /// <summary>How another restic process reads this repository as its source (<c>--from-repo</c>), without the key on a command line.</summary>
    public IReadOnlyDictionary<string, string> FromEnvironment() => key.File is { } file
        ? new Dictionary<string, string> { ["RESTIC_FROM_PASSWORD_FILE"] = file }
        : new Dictionary<string, string> { ["RESTIC_FROM_PASSWORD_COMMAND"] = "printenv LLMSTACK_RESTIC_FROM_KEY", ["LLMSTACK_RESTIC_FROM_KEY"] = key.Value! };

    public async Task<IReadOnlyList<string>> RunAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken, IReadOnlyDictionary<string, string>? environment = null)
    {
        using var process = Start(arguments, redirectInput: false, binaryOutput: false, environment);
        var output = new List<string>();
        var stdout = Task.Run(async () =>
        {
            while (await process.StandardOutput.ReadLineAsync(CancellationToken.None) is { } line)
            {
                output.Add(line);
            }
        }, CancellationToken.None);
        var stderr = CollectErrorsAsync(process);
        await WaitAsync(process, cancellationToken);
        await stdout;
        if (process.ExitCode != 0)
        {
            throw Classify(arguments[0], process.ExitCode, await stderr);
        }

        return output;
    }

    /// <param name="workingDirectory">Where restic runs (a volume's mountpoint, whose files it backs up as <c>.</c>); default: here.</param>
    public Process Start(IReadOnlyList<string> arguments, bool redirectInput, bool binaryOutput, IReadOnlyDictionary<string, string>? environment = null, string? workingDirectory = null)
    {
        var start = new ProcessStartInfo("restic")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = redirectInput,
            UseShellExecute = false,
        };
        if (workingDirectory is not null)
        {
            start.WorkingDirectory = workingDirectory;
        }

        if (tier.CaFile is { } ca)
        {
            start.ArgumentList.Add("--cacert");
            start.ArgumentList.Add(ca);
        }

        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        // Only what we set: an inherited RESTIC_* variable (another repository, another key) must never leak in.
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("RESTIC_", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(name);
        }

        start.Environment["RESTIC_REPOSITORY"] = tier.Repository;
        start.Environment["RESTIC_CACHE_DIR"] = cacheDirectory;
        start.Environment["RESTIC_PROGRESS_FPS"] = "1";
        if (key.File is { } file)
        {
            start.Environment["RESTIC_PASSWORD_FILE"] = file;
        }
        else
        {
            start.Environment["RESTIC_PASSWORD"] = key.Value;
        }

        foreach (var (name, value) in (credentials ?? new Dictionary<string, string>()).Concat(environment ?? new Dictionary<string, string>()))
        {
            start.Environment[name] = value;
        }

        _ = binaryOutput; // the caller reads StandardOutput.BaseStream for binary data
        try
        {
            return Process.Start(start) ?? throw new PipelineException("restic could not be started");
        }
        catch (System.ComponentModel.Win32Exception)
        {
            throw new PipelineException("restic is not installed: apt-get install restic (0.14 or later)");
        }
    }

    /// <summary>
    /// restic working on a volume's files where <paramref name="site"/> says: on this host in the volume's mountpoint,
    /// or in a helper container that mounts the volume (read-only unless <paramref name="writable"/>), the repository
    /// (a path tier, bind-mounted; any other tier over the host's network), the cache and a CA file. In a helper the key
    /// is the first line of restic's standard input (restic reads it there when that is not a terminal): never a command
    /// line, never the container's environment. Each line of standard output goes to <paramref name="line"/>; a failure
    /// is classified like any other restic failure. A helper is removed when done, failed or cancelled.
    /// </summary>
    public async Task RunAtAsync(VolumeSite site, bool writable, IReadOnlyList<string> arguments, Action<string> line, CancellationToken cancellationToken)
    {
        if (site.Helpers is null)
        {
            using var process = Start(arguments, redirectInput: false, binaryOutput: false, workingDirectory: site.Directory);
            var errors = CollectErrorsAsync(process);
            var reading = Task.Run(async () =>
            {
                while (await process.StandardOutput.ReadLineAsync(CancellationToken.None) is { } text)
                {
                    line(text);
                }
            }, CancellationToken.None);
            await WaitAsync(process, cancellationToken);
            await reading;
            if (process.ExitCode != 0)
            {
                throw Classify(arguments[0], process.ExitCode, await errors);
            }

            return;
        }

        const string cache = "/llmstack/cache";
        const string repositoryPath = "/llmstack/repository";
        const string caPath = "/llmstack/ca.pem";
        var mounts = new List<HelperMount> { new(site.Volume, site.Directory, ReadOnly: !writable), HelperMount.Bind(cacheDirectory, cache, readOnly: false) };
        var environment = new List<string> { $"RESTIC_CACHE_DIR={cache}", "RESTIC_PROGRESS_FPS=1" };
        if (tier.IsPath)
        {
            mounts.Add(HelperMount.Bind(tier.Repository, repositoryPath, readOnly: false));
            environment.Add($"RESTIC_REPOSITORY={repositoryPath}");
        }
        else
        {
            environment.Add($"RESTIC_REPOSITORY={tier.Repository}");
        }

        var command = new List<string>();
        if (tier.CaFile is { } ca)
        {
            mounts.Add(HelperMount.Bind(ca, caPath, readOnly: true));
            command.AddRange(["--cacert", caPath]);
        }

        command.AddRange(arguments);
        environment.AddRange((credentials ?? new Dictionary<string, string>()).Select(kv => $"{kv.Key}={kv.Value}"));
        Directory.CreateDirectory(cacheDirectory);
        var output = new LineWriter(line);
        var result = await site.Helpers.RunAsync(
            new HelperSpec
            {
                Purpose = "restic",
                Image = site.Image!,
                Entrypoint = ["/usr/bin/restic"],
                Command = command,
                Mounts = mounts,
                Environment = environment,
                WorkingDirectory = site.Directory,
                Network = tier.IsPath ? null : "host",
                Stdin = async (input, ct) => await input.WriteAsync(KeyLine(), ct),
                Stdout = output,
            },
            cancellationToken);
        output.Finish();
        if (result.ExitCode != 0)
        {
            throw Classify(arguments[0], (int)result.ExitCode, result.Errors.Select(TerminalText.Clean).ToList());
        }
    }

    /// <summary>The key as the first line of standard input: a key file's content as restic reads a password file (trimmed), or the value.</summary>
    private byte[] KeyLine() =>
        System.Text.Encoding.UTF8.GetBytes((key.File is { } file ? File.ReadAllText(file).Trim() : key.Value!) + "\n");

    public static async Task<(ResticBackupSummary? Summary, IReadOnlyList<string> Errors)> ReadBackupOutputAsync(Process process, Action<ResticProgress>? progress)
    {
        var errors = CollectErrorsAsync(process);
        var output = new BackupOutput(progress);
        while (await process.StandardOutput.ReadLineAsync(CancellationToken.None) is { } line)
        {
            output.Line(line);
        }

        return (output.Summary, await errors);
    }

    /// <summary>The last 50 lines restic wrote to standard error, without terminal escapes (its <c>ESC[2K</c> before "signal interrupt received").</summary>
    public static Task<IReadOnlyList<string>> CollectErrorsAsync(Process process) => Task.Run<IReadOnlyList<string>>(async () =>
    {
        var lines = new List<string>();
        while (await process.StandardError.ReadLineAsync(CancellationToken.None) is { } line)
        {
            lines.Add(TerminalText.Clean(line));
            if (lines.Count > 50)
            {
                lines.RemoveAt(0);
            }
        }

        return lines;
    });

    public static async Task WaitAsync(Process process, CancellationToken cancellationToken)
    {
        try
        {
            await process.WaitForExitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            Kill(process);
            await process.WaitForExitAsync(CancellationToken.None);
            throw;
        }
    }

    public static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // already gone
        }
    }

    public PipelineException Classify(string command, int exitCode, IReadOnlyList<string> stderr)
    {
        var text = string.Join('\n', stderr);
        if (text.Contains("wrong password or no key found", StringComparison.Ordinal))
        {
            return new PipelineException($"backup repository {tier.Name} for {environment} cannot be opened with the configured key ({key.Source}): use the key it was created with");
        }

        if (text.Contains("already locked", StringComparison.Ordinal))
        {
            return new PipelineException($"backup repository {tier.Name} for {environment} is locked by another restic process that is still running: {FirstFatal(stderr)}");
        }

        if (text.Contains("Is there a repository at the following location", StringComparison.Ordinal))
        {
            return new MissingRepositoryException($"backup repository {tier.Name} for {environment} does not exist at {tier.Repository}: run a backup first");
        }

        if (text.Contains("snapshot is empty", StringComparison.Ordinal))
        {
            return new EmptySnapshotException($"restic {command} on {tier.Name} for {environment} found nothing to save: {FirstFatal(stderr)}");
        }

        if (Unreachable(text))
        {
            return new TierUnreachableException($"tier {tier.Name} of {environment} is unreachable ({tier.Repository}): {FirstFatal(stderr)}");
        }

        return new PipelineException(string.Create(CultureInfo.InvariantCulture,
            $"restic {command} on {tier.Name} for {environment} failed (exit {exitCode}): {FirstFatal(stderr)}"));
    }

    private static bool Unreachable(string text) =>
        new[] { "connection refused", "no such host", "i/o timeout", "network is unreachable", "certificate", "x509", "EOF", "dial tcp" }
            .Any(marker => text.Contains(marker, StringComparison.OrdinalIgnoreCase));

    private static string FirstFatal(IReadOnlyList<string> stderr) =>
        stderr.FirstOrDefault(l => l.StartsWith("Fatal:", StringComparison.Ordinal))
        ?? stderr.LastOrDefault(l => l.Trim().Length > 0)
        ?? "no error output";
}

/// <summary>
/// Where restic works on a named volume's files: on this host in the volume's mountpoint (<see cref="Helpers"/> null),
/// or in a helper container of <see cref="Image"/> that mounts it at <c>/data/&lt;volume&gt;</c>. Either way restic backs
/// up <c>.</c> there, so a snapshot's tree is the volume's, whichever way it was read.
/// </summary>
public sealed record VolumeSite(string Volume, string Directory, HelperContainers? Helpers, string? Image)
{
    /// <summary>restic on this host, in the volume's mountpoint.</summary>
    public static VolumeSite OnHost(string volume, string mountpoint) => new(volume, mountpoint, null, null);

    /// <summary>restic in a helper container that mounts the volume at <c>/data/&lt;volume&gt;</c>.</summary>
    public static VolumeSite InHelper(string volume, HelperContainers helpers, string image) => new(volume, $"/data/{volume}", helpers, image);

    public VolumeReader Reader => Helpers is null ? VolumeReader.Host : VolumeReader.Helper;
}

/// <summary>restic's <c>backup --json</c> lines, one at a time: progress to a callback, the summary kept (counts of files and directories too).</summary>
internal sealed class BackupOutput(Action<ResticProgress>? progress)
{
    public ResticBackupSummary? Summary { get; private set; }

    public void Line(string line)
    {
        if (!line.StartsWith('{'))
        {
            return; // "reading repository password from stdin" and the like
        }

        try
        {
            using var json = JsonDocument.Parse(line);
            var root = json.RootElement;
            var type = root.TryGetProperty("message_type", out var t) ? t.GetString() : null;
            if (type == "status" && progress is not null)
            {
                progress(new ResticProgress(
                    Long(root, "bytes_done") ?? 0,
                    Long(root, "total_bytes") is > 0 and var total ? total : null,
                    root.TryGetProperty("percent_done", out var p) && p.GetDouble() > 0 ? p.GetDouble() : null,
                    root.TryGetProperty("seconds_remaining", out var r) ? r.GetDouble() : null,
                    root.TryGetProperty("seconds_elapsed", out var e) ? e.GetDouble() : 0));
            }
            else if (type == "summary")
            {
                Summary = new ResticBackupSummary(
                    root.GetProperty("snapshot_id").GetString()!,
                    Long(root, "total_bytes_processed") ?? 0,
                    Long(root, "data_added") ?? 0,
                    root.TryGetProperty("total_duration", out var d) ? d.GetDouble() : 0)
                {
                    FilesNew = Long(root, "files_new") ?? 0,
                    FilesChanged = Long(root, "files_changed") ?? 0,
                    FilesUnmodified = Long(root, "files_unmodified") ?? 0,
                    Directories = (Long(root, "dirs_new") ?? 0) + (Long(root, "dirs_changed") ?? 0) + (Long(root, "dirs_unmodified") ?? 0),
                };
            }
        }
        catch (JsonException)
        {
        }
    }

    private static long? Long(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number ? value.GetInt64() : null;
}

/// <summary>Bytes written to it become lines (UTF-8) handed to a callback; a line longer than 1 MiB is cut there (nothing is kept beyond one line).</summary>
internal sealed class LineWriter(Action<string> line) : WriteOnlyStream
{
    private const int MaxLine = 1 << 20;
    private readonly MemoryStream _current = new();

    public override void Write(byte[] buffer, int offset, int count)
    {
        for (var i = offset; i < offset + count; i++)
        {
            if (buffer[i] == (byte)'\n')
            {
                Emit();
            }
            else if (_current.Length < MaxLine)
            {
                _current.WriteByte(buffer[i]);
            }
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        Write(buffer, offset, count);
        return Task.CompletedTask;
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var array = buffer.ToArray();
        Write(array, 0, array.Length);
        return ValueTask.CompletedTask;
    }

    /// <summary>Hands over the last line when it had no newline.</summary>
    public void Finish()
    {
        if (_current.Length > 0)
        {
            Emit();
        }
    }

    private void Emit()
    {
        line(Encoding.UTF8.GetString(_current.GetBuffer(), 0, (int)_current.Length).TrimEnd('\r'));
        _current.SetLength(0);
    }
}
