using System.Net.Sockets;
using System.Text.RegularExpressions;
using Docker.DotNet.Models;
using LlmStack.Schema;
using Serilog;

namespace LlmStack.Engine;

/// <summary>What one probe of a wait strategy found: ready, not yet (with what it saw), or failed for good.</summary>
public sealed record ProbeOutcome(bool Ready, string Detail, bool Failed = false)
{
    public static ProbeOutcome Yes(string detail = "ready") => new(true, detail);

    public static ProbeOutcome NotYet(string detail) => new(false, detail);
}

/// <summary>The container a probe looks at, inspected just before.</summary>
public sealed record ProbeTarget(DockerEngine Engine, string ContainerId, string ContainerName, ContainerInspectResponse Container, DateTime WaitStarted);

/// <summary>
/// One small way to tell that a container is ready, with its own cadence and its own time limit: the healthcheck
/// command (the default), a command, a TCP port, an HTTP status, a log line. <see cref="Readiness"/> composes them
/// per service from the schema's <c>ready:</c> list; all must pass, in order.
/// </summary>
public interface IWaitStrategy
{
    /// <summary>How messages name it (<c>healthcheck</c>, <c>tcp 5432</c>, …).</summary>
    string Name { get; }

    TimeSpan Interval { get; }

    TimeSpan Timeout { get; }

    /// <summary>One attempt; the container is running and not paused. Never throws for "not yet".</summary>
    Task<ProbeOutcome> ProbeAsync(ProbeTarget target, CancellationToken cancellationToken);

    /// <summary>The one line when <see cref="Timeout"/> passed without success.</summary>
    string TimedOut(ResolvedService service, string container, string lastDetail);
}

/// <summary>
/// The service's healthcheck: its command run in the container right away and every half second (not Docker's first
/// probe one interval after start), Docker's verdict counting too — healthy passes, a fresh unhealthy fails, and an
/// unhealthy from before the wait (probes that failed while the container was paused) keeps the wait going until
/// Docker's next probe agrees. The time limit is the healthcheck's own: start_period + (interval + timeout) × (retries + 1).
/// </summary>
public sealed class HealthcheckStrategy(ResolvedService service, ILogger log) : IWaitStrategy
{
    private readonly ResolvedHealthcheck _check = service.Healthcheck!;
    private bool _staleVerdict;

    public string Name => "healthcheck";

    public TimeSpan Interval => TimeSpan.FromMilliseconds(500);

    public TimeSpan Timeout => Health.Deadline(service);

    public async Task<ProbeOutcome> ProbeAsync(ProbeTarget target, CancellationToken cancellationToken)
    {
        var state = target.Container.State!;
        if (state.Health() == HealthState.Healthy)
        {
            return ProbeOutcome.Yes();
        }

        var (passed, output) = await Health.ProbeAsync(target.Engine, target.ContainerId, _check, cancellationToken);
        if (passed && state.Health() != HealthState.Unhealthy)
        {
            log.Debug("{Container}: healthcheck passed", target.ContainerName);
            return ProbeOutcome.Yes();
        }

        if (passed && !_staleVerdict)
        {
            _staleVerdict = true;
            log.Information("{Container} answers its healthcheck; waiting for Docker's next probe to clear its earlier 'unhealthy'", target.ContainerName);
        }

        // Docker's verdict counts only when it is about now: one reached before this wait is stale, and our own probe decides.
        if (state.Health() == HealthState.Unhealthy && state.Health!.Log?.LastOrDefault() is { } last && last.End.ToUniversalTime() > target.WaitStarted)
        {
            return new ProbeOutcome(false, Health.Unhealthy(service, target.ContainerName, last.Output ?? output, "Docker reports it unhealthy"), Failed: true);
        }

        return ProbeOutcome.NotYet(output);
    }

    public string TimedOut(ResolvedService service, string container, string lastDetail) =>
        Health.Unhealthy(service, container, lastDetail, $"not healthy within {Timeout.TotalSeconds:0}s (the healthcheck's own timing)");
}

/// <summary>No healthcheck and no <c>ready:</c>: ready once the container has been running for a second.</summary>
public sealed class RunningStrategy : IWaitStrategy
{
    public string Name => "running";

    public TimeSpan Interval => TimeSpan.FromMilliseconds(500);

    public TimeSpan Timeout => TimeSpan.FromSeconds(30);

    public Task<ProbeOutcome> ProbeAsync(ProbeTarget target, CancellationToken cancellationToken) =>
        Task.FromResult(DateTime.TryParse(target.Container.State!.StartedAt, null, System.Globalization.DateTimeStyles.AdjustToUniversal, out var started)
                        && DateTime.UtcNow - started >= TimeSpan.FromSeconds(1)
            ? ProbeOutcome.Yes()
            : ProbeOutcome.NotYet("just started"));

    public string TimedOut(ResolvedService service, string container, string lastDetail) =>
        $"service '{service.Name}' ({container}) is not running after {Timeout.TotalSeconds:0}s";
}

/// <summary>A command in the container (<c>ready: [{exec: [CMD, …]}]</c>) that exits 0.</summary>
public sealed class ExecStrategy(ResolvedReadyCheck check) : IWaitStrategy
{
    public string Name => check.ToString();

    public TimeSpan Interval => check.Interval;

    public TimeSpan Timeout => check.Timeout;

    public async Task<ProbeOutcome> ProbeAsync(ProbeTarget target, CancellationToken cancellationToken)
    {
        var command = check.Exec[0] == "CMD-SHELL" ? ["/bin/sh", "-c", check.Exec[1]] : check.Exec.Skip(1).ToList();
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(Interval < TimeSpan.FromSeconds(10) ? TimeSpan.FromSeconds(10) : Interval);
        try
        {
            var result = await Exec.RunAsync(target.Engine, target.ContainerId, command, limit.Token);
            return result.ExitCode == 0 ? ProbeOutcome.Yes() : ProbeOutcome.NotYet($"exit {result.ExitCode}: {(result.Output + result.Error).Trim()}");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return ProbeOutcome.NotYet("the command did not finish");
        }
        catch (Docker.DotNet.DockerApiException e)
        {
            return ProbeOutcome.NotYet(EngineImages.ApiMessage(e));
        }
    }

    public string TimedOut(ResolvedService service, string container, string lastDetail) => Readiness.NotReady(service, container, this, lastDetail);
}

/// <summary>
/// A container port that accepts a TCP connection, or answers HTTP with a status (<c>ready: [{tcp: 5432}]</c>,
/// <c>[{http: {port: 6333, path: /readyz}}]</c>), reached from LlmStack at the container's address on its first network.
/// That needs the engine's container networks to be routable from where LlmStack runs (a local engine).
/// </summary>
public sealed class NetworkStrategy(ResolvedReadyCheck check) : IWaitStrategy
{
    private static readonly HttpClient Http = new(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false });

    public string Name => check.ToString();

    public TimeSpan Interval => check.Interval;

    public TimeSpan Timeout => check.Timeout;

    public async Task<ProbeOutcome> ProbeAsync(ProbeTarget target, CancellationToken cancellationToken)
    {
        var address = target.Container.NetworkSettings?.Networks?.Values.Select(n => n.IPAddress).FirstOrDefault(a => !string.IsNullOrEmpty(a));
        if (address is null)
        {
            return ProbeOutcome.NotYet("the container has no network address yet");
        }

        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        attempt.CancelAfter(TimeSpan.FromSeconds(5));
        try
        {
            if (check.Kind == ReadyKind.Tcp)
            {
                using var socket = new TcpClient();
                await socket.ConnectAsync(address, check.Port, attempt.Token);
                return ProbeOutcome.Yes();
            }

            using var response = await Http.GetAsync($"http://{address}:{check.Port}{check.Path}", HttpCompletionOption.ResponseHeadersRead, attempt.Token);
            return (int)response.StatusCode == check.Status
                ? ProbeOutcome.Yes()
                : ProbeOutcome.NotYet($"HTTP {(int)response.StatusCode} from {address}:{check.Port}{check.Path}");
        }
        catch (Exception e) when (e is SocketException or HttpRequestException or IOException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return ProbeOutcome.NotYet($"{address}:{check.Port}: {(e is OperationCanceledException ? "no answer within 5s" : e.Message.Split('\n')[0])}");
        }
    }

    public string TimedOut(ResolvedService service, string container, string lastDetail) => Readiness.NotReady(service, container, this, lastDetail);
}

/// <summary>A line of the container's output since it started that matches a regular expression (<c>ready: [{log: "ready to accept"}]</c>).</summary>
public sealed class LogStrategy(ResolvedReadyCheck check) : IWaitStrategy
{
    private readonly Regex _pattern = new(check.Pattern, RegexOptions.CultureInvariant | RegexOptions.Multiline, TimeSpan.FromSeconds(1));

    public string Name => check.ToString();

    public TimeSpan Interval => check.Interval;

    public TimeSpan Timeout => check.Timeout;

    public async Task<ProbeOutcome> ProbeAsync(ProbeTarget target, CancellationToken cancellationToken)
    {
        var since = DateTimeOffset.TryParse(target.Container.State!.StartedAt, out var started) ? started.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture) : null;
        using var stream = await target.Engine.Client.Containers.GetContainerLogsAsync(
            target.ContainerId, new ContainerLogsParameters { ShowStdout = true, ShowStderr = true, Since = since! }, cancellationToken);
        var (stdout, stderr) = await stream.ReadOutputToEndAsync(cancellationToken);
        return _pattern.IsMatch(stdout) || _pattern.IsMatch(stderr) ? ProbeOutcome.Yes() : ProbeOutcome.NotYet("no matching line yet");
    }

    public string TimedOut(ResolvedService service, string container, string lastDetail) => Readiness.NotReady(service, container, this, lastDetail);
}

/// <summary>
/// Waits until a container is ready: the service's wait strategies one after the other (the schema's <c>ready:</c>,
/// else its healthcheck, else "running for a second"), each on its own cadence and within its own time limit. A
/// container that exits or keeps restarting fails at once, with its last lines.
/// </summary>
public static class Readiness
{
    public static IReadOnlyList<IWaitStrategy> For(ResolvedService service, ILogger log) =>
        service.Ready.Count > 0
            ? service.Ready.Select(check => check.Kind switch
            {
                ReadyKind.Exec => (IWaitStrategy)new ExecStrategy(check),
                ReadyKind.Log => new LogStrategy(check),
                _ => new NetworkStrategy(check),
            }).ToList()
            : service.HasHealthcheck ? [new HealthcheckStrategy(service, log)] : [new RunningStrategy()];

    public static async Task WaitAsync(DockerEngine engine, string containerId, string containerName, ResolvedService service, ILogger log, CancellationToken cancellationToken)
    {
        foreach (var strategy in For(service, log))
        {
            var started = DateTime.UtcNow;
            var last = "no answer yet";
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var container = await engine.CallAsync(ct => engine.Client.Containers.InspectContainerAsync(containerId, ct), cancellationToken);
                var state = container.State ?? throw new ServiceFailedException($"container {containerName} of service '{service.Name}' has no state: is the engine healthy?");
                if (state.RunState() is ContainerRunState.Restarting or ContainerRunState.Exited or ContainerRunState.Dead)
                {
                    foreach (var line in await Health.TailAsync(engine, containerId, 10, cancellationToken))
                    {
                        log.Error("{Container} | {Line}", containerName, line);
                    }

                    throw new ServiceFailedException(
                        $"service '{service.Name}' ({containerName}) {(state.RunState() == ContainerRunState.Restarting ? "keeps restarting" : "exited")} with code {state.ExitCode}: see its last lines above, or ./build.sh Logs{Health.Capitalize(service.Stack)} --service {service.Name}");
                }

                if (state.RunState() == ContainerRunState.Running)
                {
                    var outcome = await strategy.ProbeAsync(new ProbeTarget(engine, containerId, containerName, container, started), cancellationToken);
                    if (outcome.Ready)
                    {
                        break;
                    }

                    if (outcome.Failed)
                    {
                        throw new ServiceFailedException(outcome.Detail);
                    }

                    last = outcome.Detail;
                }

                if (DateTime.UtcNow - started > strategy.Timeout)
                {
                    throw new ServiceFailedException(strategy.TimedOut(service, containerName, last));
                }

                await Task.Delay(strategy.Interval, cancellationToken);
            }
        }
    }

    internal static string NotReady(ResolvedService service, string container, IWaitStrategy strategy, string lastDetail) =>
        $"service '{service.Name}' ({container}) is not ready: {strategy.Name} did not pass within {strategy.Timeout.TotalSeconds:0}s; last: {lastDetail}";
}
