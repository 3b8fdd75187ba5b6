using LlmStack.Compose;

namespace LlmStack.Engine;

/// <summary>
/// The label selector of one environment: its compose project and our environment label. Every query and every
/// destructive operation goes through it, so resources without both labels are never seen, let alone touched.
/// </summary>
public sealed record Scope(string Project, string Environment)
{
    public static Scope Of(Schema.ResolvedEnvironment environment) => new(environment.Project, environment.Name);

    public IReadOnlyList<string> Labels(string? stack = null, string? service = null)
    {
        var labels = new List<string> { $"{Names.ComposeProject}={Project}", $"{Names.Environment}={Environment}" };
        if (stack is not null)
        {
            labels.Add($"{Names.Stack}={stack}");
        }

        if (service is not null)
        {
            labels.Add($"{Names.Service}={service}");
        }

        return labels;
    }

    /// <summary>The Docker API filter for these labels (all must match).</summary>
    public IDictionary<string, IDictionary<string, bool>> Filter(string? stack = null, string? service = null) =>
        new Dictionary<string, IDictionary<string, bool>>
        {
            ["label"] = Labels(stack, service).ToDictionary(l => l, _ => true),
        };

    /// <summary>The environment's service containers (never its helpers: those carry no service label).</summary>
    public IDictionary<string, IDictionary<string, bool>> ServiceFilter(string? stack = null, string? service = null)
    {
        var filter = Filter(stack, service);
        filter["label"][Names.Service] = true;
        return filter;
    }

    /// <summary>The environment's one-off helper containers.</summary>
    public IDictionary<string, IDictionary<string, bool>> HelperFilter()
    {
        var filter = Filter();
        filter["label"][Names.Helper] = true;
        return filter;
    }

    /// <summary>Whether a resource's labels put it in this scope.</summary>
    public bool Owns(IDictionary<string, string>? labels) =>
        labels is not null
        && labels.TryGetValue(Names.ComposeProject, out var project) && project == Project
        && labels.TryGetValue(Names.Environment, out var environment) && environment == Environment;
}

public static class LabelExtensions
{
    /// <summary>The scope's service containers (all states unless <paramref name="all"/> is false), optionally of one stack or service.</summary>
    public static async Task<IList<Docker.DotNet.Models.ContainerListResponse>> ServiceContainersAsync(
        this DockerEngine engine, Scope scope, CancellationToken cancellationToken, string? stack = null, string? service = null, bool all = true) =>
        await engine.CallAsync(
            ct => engine.Client.Containers.ListContainersAsync(new Docker.DotNet.Models.ContainersListParameters { All = all, Filters = scope.ServiceFilter(stack, service) }, ct),
            cancellationToken);

    /// <summary>The running container of a service (id, name), or one line saying it must run <paramref name="why"/> ("to back it up").</summary>
    public static async Task<(string Id, string Name)> RunningContainerAsync(
        this DockerEngine engine, Schema.ResolvedEnvironment environment, string service, string why, CancellationToken cancellationToken)
    {
        var running = (await engine.ServiceContainersAsync(Scope.Of(environment), cancellationToken, service: service, all: false))
            .Where(c => c.RunState() == ContainerRunState.Running)
            .OrderBy(c => c.Names[0], StringComparer.Ordinal)
            .FirstOrDefault();
        if (running is not null)
        {
            return (running.ID, running.Names[0].TrimStart('/'));
        }

        throw await SwarmNodeOfAsync(engine, environment, service, cancellationToken) is { } node
            ? new Pipeline.PipelineException(
                $"service '{service}' of {environment.Name} runs on swarm node {node}, not on this engine's node: run this with --docker-host set to {node}'s engine (a manager) {why} (docs/SWARM.md, Backups and restores on a swarm)")
            : new Pipeline.PipelineException($"service '{service}' is not running in {environment.Name}: start it (Start{Health.Capitalize(environment.Service(service).Stack)}) {why}");
    }

    /// <summary>
    /// The hostname of the swarm node a service's running task is on, when this engine is a manager of a swarm where the
    /// environment's service runs on another node (its container is not this engine's); otherwise null.
    /// </summary>
    private static async Task<string?> SwarmNodeOfAsync(DockerEngine engine, Schema.ResolvedEnvironment environment, string service, CancellationToken cancellationToken)
    {
        try
        {
            var info = await engine.CallAsync(ct => engine.Client.System.GetSystemInfoAsync(ct), cancellationToken);
            if (info.Swarm is not { LocalNodeState: "active", ControlAvailable: true })
            {
                return null;
            }

            var scope = Scope.Of(environment);
            var found = (await engine.CallAsync(ct => engine.Client.Swarm.ListServicesAsync(new Docker.DotNet.Models.ServiceListParameters { Filters = scope.ServiceFilter(null, service) }, ct), cancellationToken))
                .FirstOrDefault(s => scope.Owns(s.Spec?.Labels) && s.Spec!.Labels.Value(Names.Service) == service);
            if (found is null)
            {
                return null;
            }

            var tasks = await engine.CallAsync(
                ct => engine.Client.Tasks.ListAsync(new Docker.DotNet.Models.TasksListParameters { Filters = new Dictionary<string, IDictionary<string, bool>> { ["service"] = new Dictionary<string, bool> { [found.ID] = true } } }, ct),
                cancellationToken);
            var elsewhere = tasks.FirstOrDefault(t => t.Status?.State == Docker.DotNet.Models.TaskState.Running && !string.IsNullOrEmpty(t.NodeID) && t.NodeID != info.Swarm.NodeID);
            if (elsewhere is null)
            {
                return null;
            }

            var node = await engine.CallAsync(ct => engine.Client.Swarm.InspectNodeAsync(elsewhere.NodeID!, ct), cancellationToken);
            return node.Description?.Hostname ?? elsewhere.NodeID;
        }
        catch (Docker.DotNet.DockerApiException)
        {
            return null; // only a better message was sought: the plain one stands
        }
    }

    /// <summary>A label's value, or null (Docker gives label maps as IDictionary, possibly null).</summary>
    public static string? Value(this IDictionary<string, string>? labels, string key) =>
        labels is not null && labels.TryGetValue(key, out var value) ? value : null;
}
