namespace LlmStack.Schema;

/// <summary>Where something is in a YAML file: <c>file:line:col</c> (1-based).</summary>
public readonly record struct SourceLocation(string File, int Line, int Column)
{
    public override string ToString() => $"{File}:{Line}:{Column}";
}

/// <summary>
/// A mapping of the schema. The binder records where each of its keys, list items and nested map keys are
/// (paths like <c>ports[1]</c> or <c>environment.POSTGRES_USER</c>) so every diagnostic can point at the source.
/// </summary>
public abstract class SchemaNode
{
    public SourceLocation Location { get; internal set; }

    internal Dictionary<string, SourceLocation> Locations { get; } = new(StringComparer.Ordinal);

    /// <summary>The keys written in the YAML mapping (snake_case), in order.</summary>
    public List<string> Keys { get; } = [];

    /// <summary>The location of a key, list item or map entry path, or of the nearest ancestor that has one.</summary>
    public SourceLocation Locate(string path)
    {
        while (true)
        {
            if (Locations.TryGetValue(path, out var location))
            {
                return location;
            }

            var cut = Math.Max(path.LastIndexOf('.'), path.LastIndexOf('['));
            if (cut <= 0)
            {
                return Location;
            }

            path = path[..cut];
        }
    }

    public bool Has(string key) => Keys.Contains(key);
}

public sealed class ComposeSchema : SchemaNode
{
    public ProjectSettings? Project { get; set; }

    public Dictionary<string, string> Variables { get; set; } = new();

    public Dictionary<string, SecretDefinition> Secrets { get; set; } = new();

    public Dictionary<string, HealthcheckDefinition> HealthcheckTemplates { get; set; } = new();

    public Dictionary<string, VolumeDefinition> Volumes { get; set; } = new();

    public Dictionary<string, StackDefinition> Stacks { get; set; } = new();

    public Dictionary<string, ServiceDefinition> Services { get; set; } = new();

    public Dictionary<string, EnvironmentDefinition> Environments { get; set; } = new();

    /// <summary>The file it was read from, as given.</summary>
    public string File { get; internal set; } = string.Empty;

    /// <summary>The stack a service belongs to (first listing), or null.</summary>
    public string? StackOf(string service) =>
        Stacks.FirstOrDefault(s => s.Value.Services.Contains(service)).Key;
}

public sealed class ProjectSettings : SchemaNode
{
    public string? Name { get; set; }

    public string? Restart { get; set; }
}

public sealed class SecretDefinition : SchemaNode
{
    public string? Description { get; set; }

    public int? Length { get; set; }

    public string? Prefix { get; set; }

    public string? Charset { get; set; }

    /// <summary>The variable holding the account this secret is the password of (ValidateCredentials: never contains it).</summary>
    public string? Account { get; set; }

    /// <summary>The service this secret logs in to (a PostgreSQL service): ValidateCredentials and RotateSecret log in with it.</summary>
    public string? Login { get; set; }

    /// <summary>Must stay stable for the data it protects: RotateSecret refuses it.</summary>
    public bool Stable { get; set; }
}

public sealed class VolumeDefinition : SchemaNode
{
    public string? Driver { get; set; }

    /// <summary>What the volume holds (<see cref="DataTypes"/>): the data-type wipes select by it.</summary>
    public string? Holds { get; set; }

    /// <summary>Whether any wipe may remove it (default true); false keeps it through every wipe.</summary>
    public bool? Wipe { get; set; }
}

/// <summary>The kinds of data a volume can hold; each has a wipe target of its own (WipeDb, WipeCache, …).</summary>
public static class DataTypes
{
    public const string Db = "db";
    public const string Cache = "cache";
    public const string Models = "models";
    public const string Logs = "logs";
    public const string TestResults = "test_results";
    public const string Metrics = "metrics";
    public const string AppData = "app_data";

    public static readonly IReadOnlyList<string> All = [Db, Cache, Models, Logs, TestResults, Metrics, AppData];
}

public sealed class StackDefinition : SchemaNode
{
    public string? Description { get; set; }

    public List<string> DependsOn { get; set; } = [];

    public List<string> Services { get; set; } = [];

    public StackNetwork? Network { get; set; }
}

public sealed class StackNetwork : SchemaNode
{
    public string? Driver { get; set; }
}

public sealed class HealthcheckDefinition : SchemaNode
{
    public List<string>? Test { get; set; }

    public string? Template { get; set; }

    public string? Interval { get; set; }

    public string? Timeout { get; set; }

    public int? Retries { get; set; }

    public string? StartPeriod { get; set; }

    public bool? Disable { get; set; }
}

/// <summary>One readiness check of a service (<c>ready:</c>): exactly one of exec, tcp, http, log; its own interval and timeout.</summary>
public sealed class ReadyCheckDefinition : SchemaNode
{
    /// <summary><c>[CMD, program, args…]</c> or <c>[CMD-SHELL, "command"]</c>, run in the container; ready when it exits 0.</summary>
    public List<string>? Exec { get; set; }

    /// <summary>A container port that accepts a TCP connection.</summary>
    public int? Tcp { get; set; }

    public HttpReadyDefinition? Http { get; set; }

    /// <summary>A regular expression a line of the container's output (since it started) matches.</summary>
    public string? Log { get; set; }

    public string? Interval { get; set; }

    public string? Timeout { get; set; }
}

/// <summary>One SmokeTest check: an HTTP request to the service by its name on its stack's network, and the status it must answer.</summary>
public sealed class SmokeCheckDefinition : SchemaNode
{
    /// <summary>What the check is called in the table and the JUnit file (default: method and path).</summary>
    public string? Name { get; set; }

    /// <summary>GET (default), HEAD, POST, PUT, DELETE or OPTIONS.</summary>
    public string? Method { get; set; }

    public string? Path { get; set; }

    /// <summary>The container port.</summary>
    public int? Port { get; set; }

    /// <summary>The status it must answer (default 200).</summary>
    public int? Status { get; set; }

    /// <summary>A secret of the schema sent as <c>Authorization: Bearer</c> (its value is never printed or put on a command line).</summary>
    public string? BearerSecret { get; set; }
}

public sealed class HttpReadyDefinition : SchemaNode
{
    public int? Port { get; set; }

    public string? Path { get; set; }

    public int? Status { get; set; }
}

public sealed class GpuDefinition : SchemaNode
{
    /// <summary><c>all</c> or a number.</summary>
    public string? Count { get; set; }

    public List<string>? DeviceIds { get; set; }
}

/// <summary>How a service's image is built from sources (<c>build:</c>): the image key stays the tag that is built.</summary>
public sealed class BuildDefinition : SchemaNode
{
    /// <summary>The directory sent to the engine; relative to the repository root (where LlmStack's build.sh is), like bind sources.</summary>
    public string? Context { get; set; }

    /// <summary>The Dockerfile, relative to the context and inside it (default <c>Dockerfile</c>).</summary>
    public string? Dockerfile { get; set; }

    /// <summary>Build arguments (<c>ARG</c>); variables allowed, secrets refused (an argument stays in the image's history).</summary>
    public Dictionary<string, string>? Args { get; set; }

    /// <summary>The stage of a multi-stage Dockerfile to build.</summary>
    public string? Target { get; set; }
}

public sealed class ResourceSet : SchemaNode
{
    public string? Cpus { get; set; }

    public string? Memory { get; set; }
}

public sealed class ResourcesDefinition : SchemaNode
{
    public ResourceSet? Limits { get; set; }

    public ResourceSet? Reservations { get; set; }
}

/// <summary>A service, or (under an environment) a partial service merged over the base one.</summary>
public sealed class ServiceDefinition : SchemaNode
{
    public string? Image { get; set; }

    /// <summary>Build the image from sources instead of pulling it (<see cref="BuildDefinition"/>).</summary>
    public BuildDefinition? Build { get; set; }

    public string? Description { get; set; }

    public List<string>? Command { get; set; }

    public List<string>? Entrypoint { get; set; }

    public Dictionary<string, string>? Environment { get; set; }

    public List<string>? Ports { get; set; }

    public List<string>? Volumes { get; set; }

    public HealthcheckDefinition? Healthcheck { get; set; }

    /// <summary>What "ready" means for LlmStack (default: the healthcheck passes): checks that must all pass, in order.</summary>
    public List<ReadyCheckDefinition>? Ready { get; set; }

    /// <summary>SmokeTest's checks of the running service: HTTP requests from inside the environment's networks.</summary>
    public List<SmokeCheckDefinition>? Smoke { get; set; }

    public List<string>? DependsOn { get; set; }

    public string? Restart { get; set; }

    public string? User { get; set; }

    public string? WorkingDir { get; set; }

    public string? ShmSize { get; set; }

    public string? StopGracePeriod { get; set; }

    public GpuDefinition? Gpu { get; set; }

    public ResourcesDefinition? Resources { get; set; }

    public int? Replicas { get; set; }

    public Dictionary<string, string>? Labels { get; set; }

    public string? ContainerName { get; set; }

    /// <summary>Environments the service exists in (default: every environment that enables its stack).</summary>
    public List<string>? Environments { get; set; }

    /// <summary>Swarm only: the node labels a node must carry to run the service's tasks (<c>node.labels.K == V</c>).</summary>
    public PlacementDefinition? Placement { get; set; }

    /// <summary>Swarm only: how a changed service is rolled out (defaults in docs/SWARM.md).</summary>
    public UpdatePolicyDefinition? Update { get; set; }

    /// <summary>
    /// Environment variables whose value is a secret and which the image also reads from <c>NAME_FILE</c>: on Swarm they
    /// become Swarm secrets mounted under <c>/run/secrets/</c>, never environment values.
    /// </summary>
    public List<string>? SecretFiles { get; set; }
}

/// <summary>Where a service's tasks may run on a swarm: node labels, all of which a node must carry.</summary>
public sealed class PlacementDefinition : SchemaNode
{
    public Dictionary<string, string>? Labels { get; set; }
}

/// <summary>A service's rolling-update policy on a swarm (<c>update:</c>).</summary>
public sealed class UpdatePolicyDefinition : SchemaNode
{
    /// <summary>Tasks updated at once (default 1).</summary>
    public int? Parallelism { get; set; }

    /// <summary><c>start-first</c> or <c>stop-first</c> (default: stop-first for services with volumes, start-first otherwise).</summary>
    public string? Order { get; set; }

    /// <summary><c>rollback</c> (default), <c>pause</c> or <c>continue</c>.</summary>
    public string? FailureAction { get; set; }

    /// <summary>How long a new task is watched for failure (default and minimum: start period + interval × retries).</summary>
    public string? Monitor { get; set; }

    /// <summary>Pause between batches (default 0s).</summary>
    public string? Delay { get; set; }
}

/// <summary>An environment's swarm settings (<c>swarm:</c>), read when its orchestrator is <c>swarm</c>.</summary>
public sealed class SwarmSettings : SchemaNode
{
    /// <summary><c>auto</c> (default: dnsrr where the kernel has no IPVS), <c>vip</c> or <c>dnsrr</c>.</summary>
    public string? EndpointMode { get; set; }

    /// <summary>Acknowledges that Swarm publishes ports on every interface, so ports bound to a host IP are accepted (published on all).</summary>
    public bool? PublishAllInterfaces { get; set; }

    /// <summary>Node labels SwarmLabelNodes sets, by node hostname (<c>self</c>: the node LlmStack talks to).</summary>
    public Dictionary<string, SwarmNodeDefinition>? Nodes { get; set; }
}

public sealed class SwarmNodeDefinition : SchemaNode
{
    public Dictionary<string, string>? Labels { get; set; }
}

public sealed class NetworkSettings : SchemaNode
{
    public string? Subnet { get; set; }

    public string? Gateway { get; set; }
}

public sealed class EnvironmentDefinition : SchemaNode
{
    public string? Description { get; set; }

    public string? Project { get; set; }

    /// <summary>Enabled stacks; null means every stack.</summary>
    public List<string>? Stacks { get; set; }

    public bool? Gpu { get; set; }

    /// <summary><c>containers</c> (default: one engine, containers) or <c>swarm</c> (services on a Docker swarm).</summary>
    public string? Orchestrator { get; set; }

    public SwarmSettings? Swarm { get; set; }

    public Dictionary<string, string> Variables { get; set; } = new();

    public Dictionary<string, NetworkSettings> Networks { get; set; } = new();

    public Dictionary<string, ServiceDefinition> Services { get; set; } = new();
}
