using System.Text;
using Docker.DotNet.Models;
using LlmStack.Pipeline;
using LlmStack.Schema;
using Serilog;

namespace LlmStack.Engine;

/// <summary>A service did not come up: the message names it and what it last said.</summary>
public sealed class ServiceFailedException(string message) : PipelineException(message);

/// <summary>
/// Waits until a container is ready. With a healthcheck, LlmStack runs the service's own check command in the
/// container (docker exec) right away and then every half second, instead of waiting for Docker's first
/// scheduled probe one interval after start; Docker's own verdict counts too (healthy passes, unhealthy fails).
/// The deadline is the healthcheck's own timing: start_period + (interval + timeout) × (retries + 1). While Docker's
/// verdict is "unhealthy" from before the wait (probes that failed while the container was paused), a passing check
/// is not enough: the wait goes on until Docker's next probe agrees, so a resumed service is healthy for every reader.
/// Without a healthcheck a container is ready once it has been running for a second.
/// </summary>
public static class Health
{
    private static readonly TimeSpan Cadence = TimeSpan.FromMilliseconds(500);

    public static TimeSpan Deadline(ResolvedService service) =>
        service.Healthcheck is { Disabled: false } check
            ? check.StartPeriod + ((check.Interval + check.Timeout) * (check.Retries + 1))
            : TimeSpan.FromSeconds(30);

    public static async Task WaitReadyAsync(DockerEngine engine, string containerId, string containerName, ResolvedService service, ILogger log, CancellationToken cancellationToken)
    {
        var waitStarted = DateTime.UtcNow;
        var deadline = waitStarted + Deadline(service);
        var check = service.HasHealthcheck ? service.Healthcheck! : null;
        string? lastOutput = null;
        var staleVerdict = false;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var container = await engine.CallAsync(ct => engine.Client.Containers.InspectContainerAsync(containerId, ct), cancellationToken);
            var state = container.State ?? throw new ServiceFailedException($"container {containerName} of service '{service.Name}' has no state: is the engine healthy?");
            if (state.RunState() is ContainerRunState.Restarting or ContainerRunState.Exited or ContainerRunState.Dead)
            {
                var logs = await TailAsync(engine, containerId, 10, cancellationToken);
                foreach (var line in logs)
                {
                    log.Error("{Container} | {Line}", containerName, line);
                }

                throw new ServiceFailedException(
                    $"service '{service.Name}' ({containerName}) {(state.RunState() == ContainerRunState.Restarting ? "keeps restarting" : "exited")} with code {state.ExitCode}: see its last lines above, or ./build.sh Logs{Capitalize(service.Stack)} --service {service.Name}");
            }

            if (check is null)
            {
                if (state.Running && DateTime.TryParse(state.StartedAt, null, System.Globalization.DateTimeStyles.AdjustToUniversal, out var started)
                    && DateTime.UtcNow - started >= TimeSpan.FromSeconds(1))
                {
                    return;
                }
            }
            else
            {
                if (state.Health() == HealthState.Healthy)
                {
                    return;
                }

                if (state.Running && !state.Paused)
                {
                    var (passed, output) = await ProbeAsync(engine, containerId, check, cancellationToken);
                    lastOutput = output;
                    if (passed && state.Health() != HealthState.Unhealthy)
                    {
                        log.Debug("{Container}: healthcheck passed", containerName);
                        return;
                    }

                    if (passed && !staleVerdict)
                    {
                        // Docker still says unhealthy from probes that failed before this wait (while the container was
                        // paused, say): ready means ready for Docker too, so Status and `docker ps` agree. Its next
                        // probe (one interval at most) settles it.
                        staleVerdict = true;
                        log.Information("{Container} answers its healthcheck; waiting for Docker's next probe to clear its earlier 'unhealthy'", containerName);
                    }
                }

                // Docker's verdict counts only when it is about now: one reached before this wait (a probe that timed out
                // while the container was paused, say) is stale, and our own probe decides.
                if (state.Health() == HealthState.Unhealthy && state.Health!.Log?.LastOrDefault() is { } last && last.End.ToUniversalTime() > waitStarted)
                {
                    throw Unhealthy(service, containerName, last.Output ?? lastOutput, "Docker reports it unhealthy");
                }
            }

            if (DateTime.UtcNow > deadline)
            {
                throw check is null
                    ? new ServiceFailedException($"service '{service.Name}' ({containerName}) is not running after {Deadline(service).TotalSeconds:0}s")
                    : Unhealthy(service, containerName, lastOutput, $"not healthy within {Deadline(service).TotalSeconds:0}s (the healthcheck's own timing)");
            }

            await Task.Delay(Cadence, cancellationToken);
        }
    }

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
            return (false, Images.ApiMessage(e));
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

    private static ServiceFailedException Unhealthy(ResolvedService service, string container, string? output, string why)
    {
        var last = string.IsNullOrWhiteSpace(output) ? "no output" : OneLine(output);
        return new ServiceFailedException($"service '{service.Name}' ({container}) is unhealthy: {why}; last check output: {last}");
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
        return new Result(inspect.ExitCode ?? -1, output.Output, string.Join('\n', output.Errors));
    }
}
