using System.Text;
using Docker.DotNet.Models;
using LlmStack.Pipeline;
using LlmStack.Schema;
using Serilog;

namespace LlmStack.Engine;

/// <summary>A service did not come up: the message names it and what it last said.</summary>
public sealed class ServiceFailedException(string message) : PipelineException(message);

/// <summary>The healthcheck's pieces (its deadline, one probe, the last log lines) and the entry to <see cref="Readiness"/>.</summary>
public static class Health
{
    public static TimeSpan Deadline(ResolvedService service) =>
        service.Healthcheck is { Disabled: false } check
            ? check.StartPeriod + ((check.Interval + check.Timeout) * (check.Retries + 1))
            : TimeSpan.FromSeconds(30);

    /// <summary>Waits until the container is ready by the service's wait strategies (<see cref="Readiness"/>).</summary>
    public static Task WaitReadyAsync(DockerEngine engine, string containerId, string containerName, ResolvedService service, ILogger log, CancellationToken cancellationToken) =>
        Readiness.WaitAsync(engine, containerId, containerName, service, log, cancellationToken);

    /// <summary>Runs the healthcheck's test in the container, bounded by its timeout.</summary>
    public static async Task<(bool Passed, string Output)> ProbeAsync(DockerEngine engine, string containerId, ResolvedHealthcheck check, CancellationToken cancellationToken)
    {
        var command = check.Test[0] == "CMD-SHELL" ? ["/bin/sh", "-c", check.Test[1]] : check.Test.Skip(1).ToList();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(check.Timeout);
        try
        {
            var result = await Exec.RunAsync(engine, containerId, command, timeout.Token);
            return (result.ExitCode == 0, (result.Output + result.Error).Trim());
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (false, $"check timed out after {check.Timeout.TotalSeconds:0}s");
        }
        catch (Docker.DotNet.DockerApiException e)
        {
            // e.g. the container stopped between inspect and exec: the next round sees why.
            return (false, EngineImages.ApiMessage(e));
        }
    }

    public static async Task<IReadOnlyList<string>> TailAsync(DockerEngine engine, string containerId, int lines, CancellationToken cancellationToken)
    {
        using var stream = await engine.Client.Containers.GetContainerLogsAsync(
            containerId,
            new ContainerLogsParameters { ShowStdout = true, ShowStderr = true, Tail = lines.ToString(System.Globalization.CultureInfo.InvariantCulture) },
            cancellationToken);
        var (stdout, stderr) = await stream.ReadOutputToEndAsync(cancellationToken);
        return (stdout + stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries).TakeLast(lines).ToList();
    }

    internal static string Unhealthy(ResolvedService service, string container, string? output, string why)
    {
        var last = string.IsNullOrWhiteSpace(output) ? "no output" : OneLine(output);
        return $"service '{service.Name}' ({container}) is unhealthy: {why}; last check output: {last}";
    }

    private static string OneLine(string text)
    {
        var builder = new StringBuilder();
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            builder.Append(builder.Length == 0 ? line : " / " + line);
        }

        var result = builder.ToString();
        return result.Length > 300 ? result[..300] + "…" : result;
    }

    internal static string Capitalize(string text) => text.Length == 0 ? text : char.ToUpperInvariant(text[0]) + text[1..];
}

/// <summary>docker exec: run a command in a container, with its streams (stdin written, stdout streamed or collected).</summary>
public static class Exec
{
    public sealed record Result(long ExitCode, string Output, string Error)
    {
        public IReadOnlyList<string> ErrorLines => Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);

        /// <summary>The command closed its standard input before all of it was written (<see cref="StreamOutput.InputCut"/>).</summary>
        public bool InputCut { get; init; }
    }

    /// <summary>Runs and collects standard output and error.</summary>
    public static Task<Result> RunAsync(DockerEngine engine, string containerId, IReadOnlyList<string> command, CancellationToken cancellationToken) =>
        StreamAsync(engine, containerId, command, cancellationToken);

    /// <summary>
    /// Runs with <paramref name="stdin"/> written to the command's input (then closed) and its output copied to
    /// <paramref name="stdout"/> (collected when null). <paramref name="environment"/> (NAME=value) is passed through the
    /// API, never on a command line.
    /// </summary>
    public static async Task<Result> StreamAsync(
        DockerEngine engine,
        string containerId,
        IReadOnlyList<string> command,
        CancellationToken cancellationToken,
        Func<Stream, CancellationToken, Task>? stdin = null,
        Stream? stdout = null,
        IReadOnlyList<string>? environment = null,
        string? user = null)
    {
        var created = await engine.Client.Exec.CreateContainerExecAsync(
            containerId,
            new ContainerExecCreateParameters
            {
                Cmd = [.. command],
                AttachStdin = stdin is not null,
                AttachStdout = true,
                AttachStderr = true,
                Env = environment?.ToList()!,
                User = user!,
            },
            cancellationToken);
        using var stream = await engine.Client.Exec.StartContainerExecAsync(created.ID, new ContainerExecStartParameters(), cancellationToken);
        var output = await AttachedStreams.PumpAsync(stream, stdin, stdout, 200, cancellationToken);
        var inspect = await engine.CallAsync(ct => engine.Client.Exec.InspectContainerExecAsync(created.ID, ct), cancellationToken);
        return new Result(inspect.ExitCode ?? -1, output.Output, string.Join('\n', output.Errors)) { InputCut = output.InputCut };
    }
}
