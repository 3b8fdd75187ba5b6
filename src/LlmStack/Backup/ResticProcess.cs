using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
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

    public Process Start(IReadOnlyList<string> arguments, bool redirectInput, bool binaryOutput, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo("restic")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = redirectInput,
            UseShellExecute = false,
        };
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

    public static async Task<(ResticBackupSummary? Summary, IReadOnlyList<string> Errors)> ReadBackupOutputAsync(Process process, Action<ResticProgress>? progress)
    {
        var errors = CollectErrorsAsync(process);
        ResticBackupSummary? summary = null;
        while (await process.StandardOutput.ReadLineAsync(CancellationToken.None) is { } line)
        {
            if (!line.StartsWith('{'))
            {
                continue;
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
                    summary = new ResticBackupSummary(
                        root.GetProperty("snapshot_id").GetString()!,
                        Long(root, "total_bytes_processed") ?? 0,
                        Long(root, "data_added") ?? 0,
                        root.TryGetProperty("total_duration", out var d) ? d.GetDouble() : 0);
                }
            }
            catch (JsonException)
            {
            }
        }

        return (summary, await errors);
    }

    private static long? Long(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number ? value.GetInt64() : null;

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
