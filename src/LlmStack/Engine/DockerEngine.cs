using System.Net.Http;
using System.Net.Sockets;
using Docker.DotNet;
using LlmStack.Pipeline;
using Polly;
using Polly.Retry;
using Serilog;

namespace LlmStack.Engine;

/// <summary>The Docker engine is not there: one line naming the endpoint and the fix.</summary>
public sealed class EngineUnreachableException(string endpoint, Exception? inner = null)
    : PipelineException($"Docker engine not reachable at {endpoint}: start dockerd there, or point --docker-host (or DOCKER_HOST) at a running engine", inner);

/// <summary>
/// A connection to a Docker engine (Docker.DotNet, API 1.41). Idempotent calls go through a bounded retry for
/// transient failures (connection resets, timeouts, 502/503/504); creates are not retried.
/// </summary>
public sealed class DockerEngine : IDisposable
{
    public const string DefaultEndpoint = "unix:///var/run/docker.sock";
    public static readonly System.Version ApiVersion = new(1, 41);

    private readonly ResiliencePipeline _retry;

    private DockerEngine(DockerClient client, string endpoint, ILogger log)
    {
        Client = client;
        Endpoint = endpoint;
        Log = log;
        _retry = new ResiliencePipelineBuilder()
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<Exception>(IsTransient),
                MaxRetryAttempts = 3,
                Delay = TimeSpan.FromMilliseconds(200),
                BackoffType = DelayBackoffType.Exponential,
                OnRetry = args =>
                {
                    log.Debug("Docker call failed ({Error}); retry {Attempt} of 3", args.Outcome.Exception?.Message, args.AttemptNumber + 1);
                    return default;
                },
            })
            .Build();
    }

    public DockerClient Client { get; }

    public string Endpoint { get; }

    public ILogger Log { get; }

    /// <summary>
    /// The engine runs on this host (a unix socket): its volumes' mountpoints and a bind mount's source are paths here.
    /// Over TCP (<c>tcp://</c>, <c>ssh://</c>) they are the engine host's paths, not ours.
    /// </summary>
    public bool IsLocal => Endpoint.StartsWith("unix://", StringComparison.Ordinal);

    /// <summary>The endpoint a run uses: <paramref name="endpoint"/> (--docker-host), else DOCKER_HOST, else the default socket.</summary>
    public static string ResolveEndpoint(string? endpoint) =>
        string.IsNullOrWhiteSpace(endpoint)
            ? Environment.GetEnvironmentVariable("DOCKER_HOST") is { Length: > 0 } host ? host : DefaultEndpoint
            : endpoint;

    /// <summary>Connects to <paramref name="endpoint"/> (or DOCKER_HOST, or the default socket) and checks the engine answers.</summary>
    public static async Task<DockerEngine> ConnectAsync(string? endpoint, ILogger log, CancellationToken cancellationToken)
    {
        endpoint = ResolveEndpoint(endpoint);
        if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri))
        {
            throw new PipelineException($"Docker endpoint '{endpoint}' is not a URI: use unix:///var/run/docker.sock or tcp://host:2375");
        }

        var client = new DockerClientBuilder().WithEndpoint(uri).WithApiVersion(ApiVersion).WithTimeout(TimeSpan.FromMinutes(10)).Build();
        var engine = new DockerEngine(client, endpoint, log);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(10));
            var version = await client.System.GetVersionAsync(timeout.Token);
            log.Debug("Docker engine {Version} (API {Api}) at {Endpoint}", version.Version, version.APIVersion, endpoint);
            if (System.Version.TryParse(version.APIVersion, out var api) && api < ApiVersion)
            {
                throw new PipelineException($"Docker engine at {endpoint} speaks API {version.APIVersion}; LlmStack needs {ApiVersion} or later: upgrade Docker");
            }
        }
        catch (Exception e) when (IsUnreachable(e) || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            engine.Dispose();
            throw new EngineUnreachableException(endpoint, e);
        }

        return engine;
    }

    /// <summary>An idempotent call (inspect, list, start, stop, remove), retried on transient failures.</summary>
    public async Task<T> CallAsync<T>(Func<CancellationToken, Task<T>> call, CancellationToken cancellationToken) =>
        await _retry.ExecuteAsync(async ct => await call(ct), cancellationToken);

    public async Task CallAsync(Func<CancellationToken, Task> call, CancellationToken cancellationToken) =>
        await _retry.ExecuteAsync(async ct => await call(ct), cancellationToken);

    /// <summary>
    /// A failure to reach the engine at all: the socket or TCP connection failed. Docker.DotNet wraps a refused TCP
    /// connection in an AggregateException, so the whole chain is searched.
    /// </summary>
    public static bool IsUnreachable(Exception e) => e switch
    {
        HttpRequestException or SocketException or TimeoutException => true,
        IOException { InnerException: SocketException } => true,
        AggregateException aggregate => aggregate.InnerExceptions.Any(IsUnreachable),
        _ => e.InnerException is { } inner && IsUnreachable(inner),
    };

    internal static bool IsTransient(Exception e) => e switch
    {
        DockerApiException api => (int)api.StatusCode is 502 or 503 or 504,
        HttpRequestException or IOException or TimeoutException => true,
        _ => false,
    };

    public void Dispose() => Client.Dispose();
}

/// <summary>A container's state, as LlmStack reasons about it (Docker's strings are mapped once, in <see cref="DockerStates"/>).</summary>
public enum ContainerRunState
{
    Unknown,
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
}

/// <summary>Docker's health verdict for a container with a healthcheck (<see cref="None"/>: it has none).</summary>
public enum HealthState
{
    None,
    Starting,
    Healthy,
    Unhealthy,
}

/// <summary>The one mapping of Docker's state and health strings (list and inspect responses) to <see cref="ContainerRunState"/> and <see cref="HealthState"/>.</summary>
public static class DockerStates
{
    public static ContainerRunState RunState(this Docker.DotNet.Models.ContainerListResponse container) => Parse(container.State);

    public static ContainerRunState RunState(this Docker.DotNet.Models.State state) =>
        state.Paused ? ContainerRunState.Paused : state.Restarting ? ContainerRunState.Restarting : state.Running ? ContainerRunState.Running : Parse(state.Status);

    /// <summary>
    /// Docker's verdict, read from its probes: Docker 20.10 marks a container <c>unhealthy</c> the moment it is paused,
    /// without a failing probe, and keeps that mark after the unpause until its next probe (one interval later). A
    /// container whose mark has no failing probe behind it (failing streak 0, its last probe passed) is read as healthy:
    /// a backup that paused it for seconds does not leave it "unhealthy" here (<c>docker ps</c> shows the mark until the
    /// next probe). Probes that really failed (a failing streak) are unhealthy as Docker says.
    /// </summary>
    public static HealthState Health(this Docker.DotNet.Models.State state) => state.Health?.Status switch
    {
        "starting" => HealthState.Starting,
        "healthy" => HealthState.Healthy,
        "unhealthy" when IsPauseMark(state.Health) => HealthState.Healthy,
        "unhealthy" => HealthState.Unhealthy,
        _ => HealthState.None,
    };

    private static bool IsPauseMark(Docker.DotNet.Models.Health health) =>
        health.FailingStreak == 0 && health.Log is { Count: > 0 } log && log[^1].ExitCode == 0;

    /// <summary>Docker's word for it (<c>running</c>, <c>exited</c>, …), as reports show it.</summary>
    public static string Text(this ContainerRunState state) => state.ToString().ToLowerInvariant();

    public static string Text(this HealthState state) => state.ToString().ToLowerInvariant();

    private static ContainerRunState Parse(string? state) => state switch
    {
        "created" => ContainerRunState.Created,
        "running" => ContainerRunState.Running,
        "paused" => ContainerRunState.Paused,
        "restarting" => ContainerRunState.Restarting,
        "removing" => ContainerRunState.Removing,
        "exited" => ContainerRunState.Exited,
        "dead" => ContainerRunState.Dead,
        _ => ContainerRunState.Unknown,
    };
}
