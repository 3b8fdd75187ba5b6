using System.Diagnostics;

namespace LlmStack.Pipeline;

/// <summary>The outcome of an external process.</summary>
public sealed record ProcessResult(int ExitCode, IReadOnlyList<string> Output);

/// <summary>
/// Runs external tools (dotnet test, helper scripts): arguments passed as a list (no shell), output streamed
/// line by line to a callback, the whole process tree killed on cancellation. By default stdout and stderr go to the
/// same callback and are collected; <c>onErrorLine</c> keeps stderr apart (out of the output), and <c>collect: false</c>
/// streams a large output without keeping it. Standard error is diagnostics: terminal control sequences (colours,
/// <c>ESC[2K</c>) are removed from its lines, so a tool's escapes never reach a message. Standard output is data
/// (<c>git ls-files -z</c>, <c>git log -p</c>) and passes unchanged; the log sinks clean what of it is logged.
/// </summary>
public static class ProcessRunner
{
    public static async Task<ProcessResult> RunAsync(
        string fileName,
        IEnumerable<string> arguments,
        string workingDirectory,
        Action<string>? onLine,
        CancellationToken cancellationToken,
        IReadOnlyDictionary<string, string>? environment = null,
        Action<string>? onErrorLine = null,
        bool collect = true)
    {
        var start = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        using var process = new Process { StartInfo = start };
        var lines = new List<string>();
        void Collect(string? line, Action<string>? callback)
        {
            if (line is null)
            {
                return;
            }

            lock (lines)
            {
                if (collect)
                {
                    lines.Add(line);
                }

                callback?.Invoke(line);
            }
        }

        process.OutputDataReceived += (_, e) => Collect(e.Data, onLine);
        if (onErrorLine is null)
        {
            process.ErrorDataReceived += (_, e) => Collect(e.Data is null ? null : TerminalText.Clean(e.Data), onLine);
        }
        else
        {
            process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is not null)
                {
                    lock (lines)
                    {
                        onErrorLine(TerminalText.Clean(e.Data));
                    }
                }
            };
        }
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new PipelineException($"Cannot start '{fileName}': {e.Message}. Is it installed and on PATH?");
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await process.WaitForExitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
            throw;
        }

        process.WaitForExit(); // drains the output callbacks
        lock (lines)
        {
            return new ProcessResult(process.ExitCode, lines.ToList());
        }
    }

    /// <summary>Runs and throws a <see cref="PipelineException"/> naming the command when it exits non-zero.</summary>
    public static async Task<ProcessResult> RunCheckedAsync(
        string fileName,
        IEnumerable<string> arguments,
        string workingDirectory,
        Action<string>? onLine,
        CancellationToken cancellationToken,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var list = arguments.ToList();
        var result = await RunAsync(fileName, list, workingDirectory, onLine, cancellationToken, environment);
        if (result.ExitCode != 0)
        {
            throw new PipelineException($"'{fileName} {string.Join(' ', list)}' exited with code {result.ExitCode}: see the output above.");
        }

        return result;
    }
}
