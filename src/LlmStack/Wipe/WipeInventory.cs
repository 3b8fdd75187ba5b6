using Docker.DotNet.Models;
using Docker.DotNet;
using LlmStack.Compose;
using LlmStack.Engine;
using LlmStack.Lifecycle;
using LlmStack.Orchestration;
using LlmStack.Schema;
using LlmStack.Sessions;
using Serilog;

namespace LlmStack.Wipe;

/// <summary>A container as a wipe sees it: its name (without Docker's leading slash), state, and labels.</summary>
public sealed record WipeContainer(string Id, string Name, string State, bool Running, IDictionary<string, string>? Labels)
{
    public string? Service => Labels.Value(Names.Service);

    public string? Stack => Labels.Value(Names.Stack);

    /// <summary>The swarm service this container is a task of (Docker's label), or null for a plain container.</summary>
    public string? SwarmService => Labels.Value(Names.SwarmServiceId);
}

/// <summary>A swarm service as a wipe sees it: its name, labels, desired replicas and the Swarm secrets it refers to (spec and previous spec).</summary>
public sealed record WipeService(string Id, string Name, IDictionary<string, string>? Labels, ulong Replicas, IReadOnlyList<string> SecretIds)
{
    public string? Service => Labels.Value(Names.Service);

    public string? Stack => Labels.Value(Names.Stack);

    /// <summary>The named volumes its tasks mount (spec).</summary>
    public IReadOnlyList<string> Volumes { get; init; } = [];

    /// <summary>The nodes other than this engine's its tasks are or were on (hostnames): its node-local volumes may be there.</summary>
    public IReadOnlyList<string> OtherNodes { get; init; } = [];
}

/// <summary>A Swarm secret with its labels (whether it is ours is the planner's question).</summary>
public sealed record WipeSecret(string Id, string Name, IDictionary<string, string>? Labels);

/// <summary>A volume that exists, with its labels (whether it is ours is the planner's question).</summary>
public sealed record WipeVolume(string Name, IDictionary<string, string>? Labels);

/// <summary>A network with its labels and first subnet.</summary>
public sealed record WipeNetwork(string Id, string Name, string? Subnet, IDictionary<string, string>? Labels)
{
    public string? Stack => Labels.Value(Names.Stack);
}

/// <summary>
/// What a wipe reads of the engine (the real one: <see cref="LiveWipeInventory"/>), always selected by the environment's
/// labels except where it must see everyone's: the containers that mount a volume, and a volume looked up by its name.
/// </summary>
public interface IWipeInventory
{
    /// <summary>The environment's service containers of one stack (all states).</summary>
    Task<IReadOnlyList<WipeContainer>> ServiceContainersAsync(string stack, CancellationToken cancellationToken);

    /// <summary>Every container with the environment's labels (services and helpers, all states).</summary>
    Task<IReadOnlyList<WipeContainer>> ContainersAsync(CancellationToken cancellationToken);

    /// <summary>The names of every volume with the environment's labels.</summary>
    Task<IReadOnlyList<string>> VolumesAsync(CancellationToken cancellationToken);

    /// <summary>A volume by its name, whoever's it is; null when it does not exist.</summary>
    Task<WipeVolume?> VolumeAsync(string name, CancellationToken cancellationToken);

    /// <summary>Every container (all states, anyone's) that mounts the volume.</summary>
    Task<IReadOnlyList<WipeContainer>> MountersAsync(string volume, CancellationToken cancellationToken);

    /// <summary>The networks with the environment's labels: of one stack, or all of them.</summary>
    Task<IReadOnlyList<WipeNetwork>> NetworksAsync(string? stack, CancellationToken cancellationToken);

    /// <summary>The volumes' sizes in bytes; a volume whose size could not be measured is absent.</summary>
    Task<IReadOnlyDictionary<string, long>> SizesAsync(IReadOnlyList<string> volumes, CancellationToken cancellationToken);

    /// <summary>
    /// The environment's swarm services, by its labels; none when the run does not use the swarm orchestrator or the
    /// engine is no swarm manager.
    /// </summary>
    Task<IReadOnlyList<WipeService>> ServicesAsync(CancellationToken cancellationToken);

    /// <summary>The environment's Swarm secrets, by its labels; none as for <see cref="ServicesAsync"/>.</summary>
    Task<IReadOnlyList<WipeSecret>> SwarmSecretsAsync(CancellationToken cancellationToken);
}

/// <summary>
/// The engine as a wipe reads it: Docker's lists with the environment's label filter (<see cref="Scope"/>), Docker's own
/// volume filter for the mounters, and the sizes from one read-only helper that mounts every volume. Keeps what Docker
/// listed of each container for the apply step (<see cref="ServiceLifecycle.StopAsync"/> takes it).
/// </summary>
public sealed class LiveWipeInventory(EnvironmentSession session, DockerEngine engine, string helperImage, ILogger log) : IWipeInventory
{
    private readonly Dictionary<string, ContainerListResponse> _listed = new(StringComparer.Ordinal);

    private Scope Scope => Scope.Of(session.Environment);

    /// <summary>What Docker listed of a container this inventory returned.</summary>
    public ContainerListResponse Listed(string id) => _listed[id];

    public async Task<IReadOnlyList<WipeContainer>> ServiceContainersAsync(string stack, CancellationToken cancellationToken) =>
        Map(await engine.ServiceContainersAsync(Scope, cancellationToken, stack: stack));

    public async Task<IReadOnlyList<WipeContainer>> ContainersAsync(CancellationToken cancellationToken) =>
        Map(await engine.CallAsync(c => engine.Client.Containers.ListContainersAsync(new ContainersListParameters { All = true, Filters = Scope.Filter() }, c), cancellationToken));

    public async Task<IReadOnlyList<string>> VolumesAsync(CancellationToken cancellationToken) =>
        ((await engine.CallAsync(c => engine.Client.Volumes.ListAsync(new VolumesListParameters { Filters = Scope.Filter() }, c), cancellationToken)).Volumes ?? [])
        .Select(v => v.Name).ToList();

    public async Task<WipeVolume?> VolumeAsync(string name, CancellationToken cancellationToken)
    {
        try
        {
            var found = await engine.CallAsync(ct => engine.Client.Volumes.InspectAsync(name, ct), cancellationToken);
            return new WipeVolume(name, found.Labels);
        }
        catch (DockerApiException e) when (e.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    public async Task<IReadOnlyList<WipeContainer>> MountersAsync(string volume, CancellationToken cancellationToken) =>
        Map(await engine.CallAsync(ct => engine.Client.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["volume"] = new Dictionary<string, bool> { [volume] = true } },
        }, ct), cancellationToken));

    public async Task<IReadOnlyList<WipeNetwork>> NetworksAsync(string? stack, CancellationToken cancellationToken) =>
        (await engine.CallAsync(ct => engine.Client.Networks.ListNetworksAsync(new NetworksListParameters { Filters = Scope.Filter(stack) }, ct), cancellationToken))
        .Select(n => new WipeNetwork(n.ID, n.Name, n.IPAM?.Config?.FirstOrDefault()?.Subnet, n.Labels))
        .ToList();

    /// <summary>
    /// From one helper container that mounts them all read-only (<c>du</c>); the engine's own disk usage does not reach
    /// this client on every API version.
    /// </summary>
    public async Task<IReadOnlyDictionary<string, long>> SizesAsync(IReadOnlyList<string> volumes, CancellationToken cancellationToken)
    {
        var sizes = new Dictionary<string, long>(StringComparer.Ordinal);
        if (volumes.Count == 0)
        {
            return sizes;
        }

        var helpers = await session.HelpersAsync(cancellationToken);
        var result = await helpers.RunAsync(new HelperSpec
        {
            Purpose = "wipe-size",
            Image = session.MapImage(helperImage),
            Entrypoint = ["/bin/sh", "-c"],
            Command = ["cd /v && du -sk -- *"],
            Mounts = volumes.Select((v, i) => new HelperMount(v, $"/v/{i}")).ToList(),
        }, cancellationToken);
        foreach (var line in result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = line.Split('\t');
            if (parts.Length == 2 && long.TryParse(parts[0], out var kib) && int.TryParse(parts[1], out var index) && index < volumes.Count)
            {
                sizes[volumes[index]] = kib * 1024;
            }
        }

        if (result.ExitCode != 0)
        {
            log.Warning("Volume sizes incomplete: du exited {Exit}", result.ExitCode);
        }

        return sizes;
    }

    public async Task<IReadOnlyList<WipeService>> ServicesAsync(CancellationToken cancellationToken)
    {
        if (await SwarmAsync(cancellationToken) is not { } swarm)
        {
            return [];
        }

        var services = new List<WipeService>();
        foreach (var s in await swarm.ServicesAsync(null, cancellationToken))
        {
            services.Add(new WipeService(
                s.ID,
                s.Spec!.Name ?? s.ID,
                s.Spec.Labels,
                s.Spec.Mode?.Replicated?.Replicas ?? 0,
                new[] { s.Spec, s.PreviousSpec }.SelectMany(spec => spec?.TaskTemplate?.ContainerSpec?.Secrets ?? []).Select(r => r.SecretID).Distinct().ToList())
            {
                Volumes = (s.Spec.TaskTemplate?.ContainerSpec?.Mounts ?? []).Where(m => m.Type == "volume" && !string.IsNullOrEmpty(m.Source)).Select(m => m.Source!).Distinct().ToList(),
                OtherNodes = await swarm.OtherNodesAsync(s.ID, cancellationToken),
            });
        }

        return services;
    }

    public async Task<IReadOnlyList<WipeSecret>> SwarmSecretsAsync(CancellationToken cancellationToken) =>
        await SwarmAsync(cancellationToken) is { } swarm
            ? (await swarm.SecretsAsync(cancellationToken)).Select(s => new WipeSecret(s.ID, s.Spec!.Name ?? s.ID, s.Spec.Labels)).ToList()
            : [];

    private bool? _swarm;
    private SwarmStacks? _stacks;

    /// <summary>The environment's stacks on the swarm, when this run uses the swarm orchestrator and the engine manages a swarm; else null.</summary>
    private async Task<SwarmStacks?> SwarmAsync(CancellationToken cancellationToken)
    {
        if (session.OrchestratorKind != Orchestrator.Swarm)
        {
            return null;
        }

        if (_swarm is null)
        {
            _swarm = (await engine.CallAsync(ct => engine.Client.System.GetSystemInfoAsync(ct), cancellationToken)).Swarm?.ControlAvailable == true;
            if (_swarm == false)
            {
                log.Information("The engine manages no swarm: no swarm services or secrets to wipe");
            }
        }

        return _swarm == true ? _stacks ??= new SwarmStacks(engine, session.Environment, log) : null;
    }

    private List<WipeContainer> Map(IEnumerable<ContainerListResponse> containers) => containers.Select(c =>
    {
        _listed[c.ID] = c;
        return new WipeContainer(c.ID, c.Names[0].TrimStart('/'), c.State, c.RunState() == ContainerRunState.Running, c.Labels);
    }).ToList();
}
