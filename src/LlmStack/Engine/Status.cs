using System.Globalization;
using Docker.DotNet.Models;
using LlmStack.Compose;
using LlmStack.Pipeline;
using LlmStack.Reporting;
using LlmStack.Schema;

namespace LlmStack.Engine;

/// <summary>A service as a whole: all replicas running, some, none (then the first container's state), or no container at all.</summary>
public enum ServiceState
{
    Running,
    Partial,
    Missing,
    Orphan,
    Created,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
    Unknown,
}

/// <summary>
/// One service's status. <see cref="Health"/> is what the report shows (Docker's verdict of every running replica:
/// <c>healthy</c>, <c>starting</c>, <c>healthy/starting</c> when they differ, <c>-</c> without a healthcheck);
/// <see cref="Healths"/> the typed verdicts behind it.
/// </summary>
public sealed record ServiceStatus(
    string Service,
    string Stack,
    ServiceState State,
    string Health,
    string? Uptime,
    string Image,
    IReadOnlyList<string> Ports,
    int Running,
    int Desired,
    IReadOnlyList<string> Containers)
{
    [System.Text.Json.Serialization.JsonIgnore]
    public IReadOnlyList<HealthState> Healths { get; init; } = [];
}

public sealed record NetworkStatus(string Name, string Stack, string Subnet, IReadOnlyList<string> Containers);

public sealed record VolumeStatus(string Name, string Stack, IReadOnlyList<string> UsedBy);

public sealed record SystemStatus(string Environment, string Project, IReadOnlyList<ServiceStatus> Services, IReadOnlyList<NetworkStatus> Networks, IReadOnlyList<VolumeStatus> Volumes);

/// <summary>What runs, per service: state, health, uptime, image, ports, replicas running/desired (by label).</summary>
public static class StatusReport
{
    /// <summary>
    /// Each service of the environment (of <paramref name="stack"/>, or all) and each labelled container the schema no longer
    /// has. The image is the running container's, else the one Start would run (after <paramref name="images"/>, --image-map).
    /// </summary>
    public static async Task<IReadOnlyList<ServiceStatus>> ServicesAsync(DockerEngine engine, ResolvedEnvironment environment, string? stack, ImageMap images, CancellationToken cancellationToken)
    {
        var scope = Scope.Of(environment);
        var containers = await engine.ServiceContainersAsync(scope, cancellationToken, stack);
        var details = new List<ContainerInspectResponse>();
        foreach (var container in containers)
        {
            details.Add(await engine.CallAsync(ct => engine.Client.Containers.InspectContainerAsync(container.ID, ct), cancellationToken));
        }

        var result = new List<ServiceStatus>();
        var expected = environment.Services.Where(s => stack is null || s.Stack == stack).ToList();
        var names = expected.Select(s => s.Name)
            .Concat(details.Select(d => d.Config!.Labels.Value(Names.Service) ?? "?"))
            .Distinct()
            .ToList();
        foreach (var name in names)
        {
            var service = expected.FirstOrDefault(s => s.Name == name);
            var mine = details.Where(d => d.Config!.Labels.Value(Names.Service) == name).OrderBy(d => d.Name, StringComparer.Ordinal).ToList();
            var running = mine.Where(d => d.State!.RunState() == ContainerRunState.Running).ToList();
            var desired = service?.Replicas ?? 0;
            var state = mine.Count == 0 ? ServiceState.Missing
                : service is null ? ServiceState.Orphan
                : running.Count == desired ? ServiceState.Running
                : running.Count == 0 ? Whole(mine[0].State!.RunState())
                : ServiceState.Partial;
            var healths = new List<HealthState>();
            foreach (var container in running)
            {
                healths.Add(await HealthOfAsync(engine, container, service, cancellationToken));
            }

            healths = running.Count == 0 || (service is not null && !service.HasHealthcheck) ? [] : healths.Where(h => h != HealthState.None).Distinct().ToList();
            var health = healths.Count == 0 ? "-" : string.Join("/", healths.Select(h => h.Text()));
            var started = running
                .Select(d => DateTime.TryParse(d.State!.StartedAt, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal, out var t) ? t : (DateTime?)null)
                .Where(t => t is not null)
                .Min();
            var ports = mine.SelectMany(d => d.HostConfig?.PortBindings ?? new Dictionary<string, IList<PortBinding>>())
                .SelectMany(kv => kv.Value.Select(b => $"{(string.IsNullOrEmpty(b.HostIP) ? "0.0.0.0" : b.HostIP)}:{b.HostPort}->{kv.Key}"))
                .Distinct()
                .ToList();
            result.Add(new ServiceStatus(
                name,
                service?.Stack ?? mine.FirstOrDefault()?.Config!.Labels.Value(Names.Stack) ?? "?",
                state,
                health,
                started is { } s ? Uptime(DateTime.UtcNow - s) : null,
                mine.FirstOrDefault()?.Config!.Image ?? (service is null ? "?" : images.Apply(service.Image)),
                ports,
                running.Count,
                desired,
                mine.Select(d => d.Name.TrimStart('/')).ToList()) { Healths = healths });
        }

        return result;
    }

    /// <summary>The word a report shows for a service's state (the JSON document has the same, camelCase).</summary>
    public static string StateText(ServiceState state) => state.ToString().ToLowerInvariant();

    private static ServiceState Whole(ContainerRunState state) => state switch
    {
        ContainerRunState.Created => ServiceState.Created,
        ContainerRunState.Paused => ServiceState.Paused,
        ContainerRunState.Restarting => ServiceState.Restarting,
        ContainerRunState.Removing => ServiceState.Removing,
        ContainerRunState.Exited => ServiceState.Exited,
        ContainerRunState.Dead => ServiceState.Dead,
        ContainerRunState.Running => ServiceState.Running,
        _ => ServiceState.Unknown,
    };

    /// <summary>Whether every service of the stack has all its replicas running (by label; health aside).</summary>
    public static async Task<bool> AllReplicasRunningAsync(DockerEngine engine, ResolvedEnvironment environment, string stack, CancellationToken cancellationToken)
    {
        var running = (await engine.ServiceContainersAsync(Scope.Of(environment), cancellationToken, stack, all: false))
            .Where(c => c.RunState() == ContainerRunState.Running)
            .GroupBy(c => c.Labels.Value(Names.Service) ?? string.Empty)
            .ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        return environment.Stack(stack).Services.All(s => running.GetValueOrDefault(s) >= environment.Service(s).Replicas);
    }

    /// <summary>
    /// Docker's health verdict, except that "starting" (Docker's first probe comes one interval after start) is settled by
    /// running the service's own check now, as Start does: a service Start reported healthy is not reported as starting.
    /// </summary>
    private static async Task<HealthState> HealthOfAsync(DockerEngine engine, ContainerInspectResponse container, ResolvedService? service, CancellationToken cancellationToken)
    {
        var docker = container.State!.Health();
        if (docker == HealthState.Starting && service?.HasHealthcheck == true)
        {
            var (passed, _) = await Health.ProbeAsync(engine, container.ID, service.Healthcheck!, cancellationToken);
            return passed ? HealthState.Healthy : HealthState.Starting;
        }

        return docker;
    }

    /// <summary>
    /// What makes a status check fail: a service of the schema that is missing, stopped, partly running, unhealthy or
    /// still starting. With <paramref name="onlyStartedStacks"/>, a stack with nothing at all running is fine (it is
    /// simply stopped) and only stacks that are partly up count.
    /// </summary>
    public static IReadOnlyList<string> Problems(IReadOnlyList<ServiceStatus> services, ResolvedEnvironment environment, bool onlyStartedStacks)
    {
        var expected = environment.Services.Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
        var problems = new List<string>();
        foreach (var stack in services.Where(s => expected.Contains(s.Service)).GroupBy(s => s.Stack))
        {
            if (onlyStartedStacks && stack.All(s => s.Running == 0))
            {
                continue;
            }

            foreach (var s in stack)
            {
                if (s.State != ServiceState.Running)
                {
                    problems.Add($"{s.Service} ({StateText(s.State)})");
                }
                else if (s.Healths.Any(h => h is HealthState.Unhealthy or HealthState.Starting))
                {
                    problems.Add($"{s.Service} ({s.Health})");
                }
            }
        }

        return problems;
    }

    public static async Task<SystemStatus> SystemAsync(DockerEngine engine, ResolvedEnvironment environment, ImageMap images, CancellationToken cancellationToken)
    {
        var scope = Scope.Of(environment);
        var services = await ServicesAsync(engine, environment, null, images, cancellationToken);
        var networks = new List<NetworkStatus>();
        foreach (var network in await engine.CallAsync(ct => engine.Client.Networks.ListNetworksAsync(new NetworksListParameters { Filters = scope.Filter() }, ct), cancellationToken))
        {
            var detail = await engine.CallAsync(ct => engine.Client.Networks.InspectNetworkAsync(network.ID, ct), cancellationToken);
            networks.Add(new NetworkStatus(
                network.Name,
                network.Labels.Value(Names.Stack) ?? "?",
                string.Join(",", detail.IPAM?.Config?.Select(c => c.Subnet) ?? []),
                detail.Containers?.Values.Select(c => c.Name).Order(StringComparer.Ordinal).ToList() ?? []));
        }

        var volumes = new List<VolumeStatus>();
        var listed = await engine.CallAsync(ct => engine.Client.Volumes.ListAsync(new VolumesListParameters { Filters = scope.Filter() }, ct), cancellationToken);
        var all = await engine.ServiceContainersAsync(scope, cancellationToken);
        foreach (var volume in listed.Volumes ?? [])
        {
            volumes.Add(new VolumeStatus(
                volume.Name,
                volume.Labels.Value(Names.Stack) ?? "?",
                all.Where(c => c.Mounts?.Any(m => m.Name == volume.Name) == true).Select(c => c.Names[0].TrimStart('/')).Order(StringComparer.Ordinal).ToList()));
        }

        return new SystemStatus(environment.Name, environment.Project,
            services, networks.OrderBy(n => n.Name, StringComparer.Ordinal).ToList(), volumes.OrderBy(v => v.Name, StringComparer.Ordinal).ToList());
    }

    /// <summary>Status&lt;Stack&gt;: the stack's services (table or --json); fails when one of them is not running and healthy.</summary>
    public static Report ForStack(IReadOnlyList<ServiceStatus> services, ResolvedEnvironment environment, string stack)
    {
        var problems = Problems(services, environment, onlyStartedStacks: false);
        return new Report { Document = services }
            .Table(ServicesTable(services))
            .FailWhen(problems, p =>
                $"{p.Count} of {services.Count(s => environment.Services.Any(e => e.Name == s.Service))} service(s) of stack {stack} are not running and healthy in {environment.Name}: {string.Join(", ", p)}");
    }

    /// <summary>SystemStatus: every service, network and volume; fails when a stack that is up is only partly up or unhealthy.</summary>
    public static Report ForSystem(SystemStatus status, ResolvedEnvironment environment)
    {
        var networks = new TextTable("NETWORK", "STACK", "SUBNET", "CONTAINERS");
        foreach (var n in status.Networks)
        {
            networks.Add(n.Name, n.Stack, n.Subnet, n.Containers.Count.ToString(CultureInfo.InvariantCulture));
        }

        var volumes = new TextTable("VOLUME", "STACK", "USED BY");
        foreach (var v in status.Volumes)
        {
            volumes.Add(v.Name, v.Stack, v.UsedBy.Count == 0 ? "-" : string.Join(", ", v.UsedBy));
        }

        return new Report { Document = status }
            .Line($"Environment {status.Environment} (project {status.Project})")
            .Line()
            .Table(ServicesTable(status.Services))
            .Line()
            .Table(networks)
            .Line()
            .Table(volumes)
            .FailWhen(Problems(status.Services, environment, onlyStartedStacks: true), p =>
                $"{p.Count} service(s) of running stacks are not running and healthy in {environment.Name}: {string.Join(", ", p)}");
    }

    private static TextTable ServicesTable(IReadOnlyList<ServiceStatus> services)
    {
        var table = new TextTable("SERVICE", "STACK", "STATE", "HEALTH", "UPTIME", "REPLICAS", "IMAGE", "PORTS");
        foreach (var s in services)
        {
            table.Add(s.Service, s.Stack, StateText(s.State), s.Health, s.Uptime ?? "-", $"{s.Running}/{s.Desired}", s.Image, s.Ports.Count == 0 ? "-" : string.Join(", ", s.Ports));
        }

        return table;
    }

    internal static string Uptime(TimeSpan span) =>
        span.TotalDays >= 1 ? $"{(int)span.TotalDays}d{span.Hours}h"
        : span.TotalHours >= 1 ? $"{(int)span.TotalHours}h{span.Minutes}m"
        : span.TotalMinutes >= 1 ? $"{(int)span.TotalMinutes}m{span.Seconds}s"
        : $"{(int)span.TotalSeconds}s";
}
