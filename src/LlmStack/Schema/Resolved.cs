using System.Net;

namespace LlmStack.Schema;

/// <summary>
/// One environment of the schema, fully resolved: overrides merged, variables substituted (strings are in
/// compose form: secrets stay <c>${NAME}</c> references, a literal <c>$</c> is <c>$$</c>), names computed.
/// Compose generation and the Docker engine both work from this.
/// </summary>
public sealed record ResolvedEnvironment
{
    public required string Name { get; init; }

    /// <summary>Compose project name: prefix of every resource name and the <c>com.docker.compose.project</c> label.</summary>
    public required string Project { get; init; }

    public required bool Gpu { get; init; }

    /// <summary>The schema's <c>orchestrator:</c> (default containers); a run's --orchestrator overrides it.</summary>
    public Orchestrator Orchestrator { get; init; } = Orchestrator.Containers;

    /// <summary>The schema's <c>swarm:</c> settings (defaults when absent).</summary>
    public ResolvedSwarm Swarm { get; init; } = new();

    /// <summary>Enabled stacks, dependencies first.</summary>
    public required IReadOnlyList<ResolvedStack> Stacks { get; init; }

    /// <summary>Services of the enabled stacks, dependencies first.</summary>
    public required IReadOnlyList<ResolvedService> Services { get; init; }

    public required IReadOnlyList<ResolvedNetwork> Networks { get; init; }

    public required IReadOnlyList<ResolvedVolume> Volumes { get; init; }

    /// <summary>The environment's variables (the schema's, with its overrides).</summary>
    public required IReadOnlyDictionary<string, string> Variables { get; init; }

    /// <summary>Secret definitions the services of this environment reference.</summary>
    public required IReadOnlyDictionary<string, SecretDefinition> Secrets { get; init; }

    public ResolvedStack Stack(string name) =>
        Stacks.FirstOrDefault(s => s.Name == name)
        ?? throw new SchemaException($"stack '{name}' is not enabled in environment '{Name}' (enabled: {string.Join(", ", Stacks.Select(s => s.Name))})");

    public ResolvedService Service(string name) =>
        Services.FirstOrDefault(s => s.Name == name)
        ?? throw new SchemaException($"service '{name}' is not part of environment '{Name}'");

    public ResolvedNetwork NetworkOf(string stack) => Networks.Single(n => n.Stack == stack);

    /// <summary>The service dependency graph: order, levels, dependencies and dependents.</summary>
    public ServiceGraph Graph => new(Services);

    /// <summary>The enabled stacks that depend on <paramref name="stack"/>, directly or not.</summary>
    public IReadOnlyList<ResolvedStack> Dependents(string stack) =>
        Stacks.Where(s => s.Name != stack && s.AllDependencies.Contains(stack)).ToList();
}

public sealed record ResolvedStack
{
    public required string Name { get; init; }

    public string? Description { get; init; }

    /// <summary>Direct dependencies (enabled ones).</summary>
    public required IReadOnlyList<string> DependsOn { get; init; }

    /// <summary>Transitive dependencies.</summary>
    public required IReadOnlySet<string> AllDependencies { get; init; }

    /// <summary>Its services in this environment, dependencies first.</summary>
    public required IReadOnlyList<string> Services { get; init; }
}

public sealed record ResolvedNetwork
{
    /// <summary>Docker name: <c>&lt;project&gt;_&lt;stack&gt;</c> (what compose would name it).</summary>
    public required string Name { get; init; }

    public required string Stack { get; init; }

    public required string Driver { get; init; }

    public required IPNetwork Subnet { get; init; }

    public required IPAddress Gateway { get; init; }
}

public sealed record ResolvedVolume
{
    /// <summary>The key in the schema (<c>postgres_data</c>).</summary>
    public required string Key { get; init; }

    /// <summary>Docker name: <c>&lt;project&gt;_&lt;key&gt;</c>.</summary>
    public required string Name { get; init; }

    public required string Driver { get; init; }

    /// <summary>Stacks whose services mount it.</summary>
    public required IReadOnlyList<string> Stacks { get; init; }

    /// <summary>What it holds (<see cref="DataTypes"/>).</summary>
    public string Holds { get; init; } = DataTypes.AppData;

    /// <summary>Whether a wipe may remove it (the schema's <c>wipe</c>, default true).</summary>
    public bool Wipeable { get; init; } = true;
}

public enum ReadyKind
{
    Exec,
    Tcp,
    Http,
    Log,
}

/// <summary>One resolved readiness check: what it probes, how often (<see cref="Interval"/>) and for how long at most (<see cref="Timeout"/>).</summary>
public sealed record ResolvedReadyCheck(ReadyKind Kind, TimeSpan Interval, TimeSpan Timeout)
{
    public IReadOnlyList<string> Exec { get; init; } = [];

    public int Port { get; init; }

    public string Path { get; init; } = "/";

    public int Status { get; init; } = 200;

    public string Pattern { get; init; } = string.Empty;

    /// <summary>How messages name the check: <c>tcp 5432</c>, <c>http :6333/readyz → 200</c>, <c>log 'ready to accept'</c>.</summary>
    public override string ToString() => Kind switch
    {
        ReadyKind.Exec => $"exec {string.Join(' ', Exec.Skip(1))}",
        ReadyKind.Tcp => $"tcp {Port}",
        ReadyKind.Http => $"http :{Port}{Path} → {Status}",
        _ => $"log '{Pattern}'",
    };
}

public sealed class ResolvedHealthcheck
{
    /// <summary><c>[CMD, …]</c>, <c>[CMD-SHELL, "…"]</c> or <c>[NONE]</c> (disabled).</summary>
    public required IReadOnlyList<string> Test { get; init; }

    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(30);

    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);

    public int Retries { get; init; } = 3;

    public TimeSpan StartPeriod { get; init; } = TimeSpan.Zero;

    public bool Disabled => Test.Count > 0 && Test[0] == "NONE";

    /// <summary>The longest a failing check takes to mark a task unhealthy: start period + interval × retries.</summary>
    public TimeSpan Detection => Disabled ? TimeSpan.Zero : StartPeriod + (Interval * Retries);
}

public sealed class ResolvedResources
{
    public double? CpuLimit { get; init; }

    public long? MemoryLimit { get; init; }

    public double? CpuReservation { get; init; }

    public long? MemoryReservation { get; init; }

    /// <summary>As written (for compose output).</summary>
    public string? CpuLimitText { get; init; }

    public string? MemoryLimitText { get; init; }

    public string? CpuReservationText { get; init; }

    public string? MemoryReservationText { get; init; }
}

/// <summary>A service's <c>build:</c>, resolved: the context as written and as a path, the Dockerfile inside it, the arguments, the stage.</summary>
public sealed record ResolvedBuild
{
    /// <summary>The context as the schema writes it (variables substituted), for messages and compose files.</summary>
    public required string Context { get; init; }

    /// <summary>The context directory, absolute (a relative one is taken from the repository root).</summary>
    public required string ContextPath { get; init; }

    /// <summary>Whether the context directory exists (a missing one is a warning for ValidateSchema, an error for a target that needs the image).</summary>
    public bool ContextExists => Directory.Exists(ContextPath);

    /// <summary>The Dockerfile, relative to the context, with <c>/</c> separators.</summary>
    public string Dockerfile { get; init; } = DefaultDockerfile;

    /// <summary>The build arguments in compose form (no secret can be among them), in the schema's order.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Args { get; init; } = [];

    public string? Target { get; init; }

    /// <summary>Where the schema says <c>context:</c> (for the one line about a missing context).</summary>
    public SourceLocation Location { get; init; }

    public const string DefaultDockerfile = "Dockerfile";
}

public sealed class ResolvedGpu
{
    /// <summary>-1 means all GPUs.</summary>
    public int Count { get; init; }

    public IReadOnlyList<string> DeviceIds { get; init; } = [];
}

public sealed record ResolvedService
{
    public required string Name { get; init; }

    public required string Stack { get; init; }

    public required string Image { get; init; }

    /// <summary>How the image is built from sources; null: it is pulled.</summary>
    public ResolvedBuild? Build { get; init; }

    public string? Description { get; init; }

    public IReadOnlyList<string>? Command { get; init; }

    public IReadOnlyList<string>? Entrypoint { get; init; }

    /// <summary>In declaration order; values in compose form.</summary>
    public required IReadOnlyList<KeyValuePair<string, string>> Environment { get; init; }

    public required IReadOnlyList<PortMapping> Ports { get; init; }

    public required IReadOnlyList<VolumeMount> Volumes { get; init; }

    public ResolvedHealthcheck? Healthcheck { get; init; }

    /// <summary>The schema's <c>ready:</c> checks, in order; empty: ready means the healthcheck passes (or running, without one).</summary>
    public IReadOnlyList<ResolvedReadyCheck> Ready { get; init; } = [];

    /// <summary>The schema's <c>smoke:</c> checks (SmokeTest), in order.</summary>
    public IReadOnlyList<SmokeCheck> Smoke { get; init; } = [];

    /// <summary>Direct service dependencies (any enabled stack).</summary>
    public required IReadOnlyList<string> DependsOn { get; init; }

    /// <summary>Stacks whose networks it joins: its own first, then its dependencies' stacks.</summary>
    public required IReadOnlyList<string> Networks { get; init; }

    public required string Restart { get; init; }

    public string? User { get; init; }

    public string? WorkingDir { get; init; }

    public long? ShmSize { get; init; }

    public string? ShmSizeText { get; init; }

    public TimeSpan? StopGracePeriod { get; init; }

    public ResolvedGpu? Gpu { get; init; }

    public ResolvedResources? Resources { get; init; }

    public int Replicas { get; init; } = 1;

    public required IReadOnlyList<KeyValuePair<string, string>> Labels { get; init; }

    public string? ContainerName { get; init; }

    /// <summary>Secrets referenced anywhere in the service.</summary>
    public required IReadOnlySet<string> SecretReferences { get; init; }

    public bool HasHealthcheck => Healthcheck is { Disabled: false };

    /// <summary>Swarm: node labels a node must carry to run its tasks (<c>placement.labels</c>).</summary>
    public IReadOnlyDictionary<string, string> Placement { get; init; } = new Dictionary<string, string>();

    /// <summary>Swarm: the rolling-update policy as written (<c>update:</c>); defaults are applied by the orchestrator.</summary>
    public ResolvedUpdatePolicy Update { get; init; } = new();

    /// <summary>Environment variables the image also reads from <c>NAME_FILE</c> (<c>secret_files:</c>).</summary>
    public IReadOnlyList<string> SecretFiles { get; init; } = [];

    /// <summary>Whether it mounts a named volume (its data lives on one node).</summary>
    public bool HasDataVolume => Volumes.Any(v => v.Kind == MountKind.Volume);
}

/// <summary>A resolved <c>smoke:</c> check: an HTTP request to the service by name and the status it must answer.</summary>
public sealed record SmokeCheck(string Name, SmokeMethod Method, string Path, int Port, int Status, string? BearerSecret);

/// <summary>The methods a smoke check may use.</summary>
public enum SmokeMethod
{
    Get,
    Head,
    Post,
    Put,
    Delete,
    Options,
}

/// <summary>What runs an environment's services: one engine's containers (today's), or services on a Docker swarm.</summary>
public enum Orchestrator
{
    Containers,
    Swarm,
}

/// <summary>How a swarm service is reached on its network: <c>auto</c> (dnsrr where the kernel has no IPVS), a virtual IP, or DNS round robin.</summary>
public enum EndpointMode
{
    Auto,
    Vip,
    Dnsrr,
}

/// <summary>A rolling update's order: the new task started before the old one stops, or after.</summary>
public enum UpdateOrder
{
    StartFirst,
    StopFirst,
}

/// <summary>What a swarm does when an updated task fails within the monitor period.</summary>
public enum UpdateFailureAction
{
    Rollback,
    Pause,
    Continue,
}

/// <summary>An environment's <c>swarm:</c> settings, resolved (defaults when the key is absent).</summary>
public sealed record ResolvedSwarm
{
    public EndpointMode EndpointMode { get; init; } = EndpointMode.Auto;

    public bool PublishAllInterfaces { get; init; }

    /// <summary>Node labels by node hostname (<c>self</c>: the node LlmStack talks to).</summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> Nodes { get; init; } = new Dictionary<string, IReadOnlyDictionary<string, string>>();
}

/// <summary>A service's <c>update:</c> as written, parsed; what is null takes the default (Orchestration's UpdatePolicies).</summary>
public sealed record ResolvedUpdatePolicy
{
    public int? Parallelism { get; init; }

    public UpdateOrder? Order { get; init; }

    public UpdateFailureAction? FailureAction { get; init; }

    public TimeSpan? Monitor { get; init; }

    public TimeSpan? Delay { get; init; }
}
