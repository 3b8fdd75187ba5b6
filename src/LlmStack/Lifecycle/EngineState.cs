using System.Globalization;
using System.Text.Json.Serialization;
using Docker.DotNet;
using Docker.DotNet.Models;
using LlmStack.Compose;
using LlmStack.Engine;

namespace LlmStack.Lifecycle;

/// <summary>A service container as a plan sees it: its labels say whose it is and what it was made from.</summary>
public sealed record ContainerState(
    string Id, string Name, string Image, string ImageId, ContainerRunState State, IReadOnlyDictionary<string, string> Labels, IReadOnlyList<string> Networks)
{
    [JsonIgnore]
    public string? Service => Labels.GetValueOrDefault(Names.Service);

    [JsonIgnore]
    public string? Stack => Labels.GetValueOrDefault(Names.Stack);

    /// <summary>The replica number (compose's label); 0 when it has none.</summary>
    [JsonIgnore]
    public int Number => int.TryParse(Labels.GetValueOrDefault(Names.ComposeContainerNumber), NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : 0;

    [JsonIgnore]
    public string? ConfigHash => Labels.GetValueOrDefault(Names.ConfigHash);
}

/// <summary>A network with its labels (whether it is ours is the planner's question), subnets and how many containers use it.</summary>
public sealed record NetworkState(string Id, string Name, IReadOnlyDictionary<string, string> Labels, IReadOnlyList<string> Subnets, int Containers);

/// <summary>A volume with its labels.</summary>
public sealed record VolumeState(string Name, IReadOnlyDictionary<string, string> Labels);

/// <summary>
/// What a plan reads of an engine: the live one (<see cref="LiveEngineState"/>) or an exported snapshot of it
/// (<see cref="StateSnapshot"/>). Everything is selected by the environment's labels, except a network or volume looked
/// up by one of the schema's names (a foreign one there makes Start refuse, so a plan must see it).
/// </summary>
public interface IEngineState
{
    /// <summary>The environment's service containers, all states (never its helpers).</summary>
    Task<IReadOnlyList<ContainerState>> ContainersAsync(CancellationToken cancellationToken);

    /// <summary>The environment's networks, and any network with one of these names.</summary>
    Task<IReadOnlyList<NetworkState>> NetworksAsync(IReadOnlyCollection<string> names, CancellationToken cancellationToken);

    /// <summary>The environment's volumes, and any volume with one of these names.</summary>
    Task<IReadOnlyList<VolumeState>> VolumesAsync(IReadOnlyCollection<string> names, CancellationToken cancellationToken);

    /// <summary>The ID of an image as this engine has it; null when it is not there.</summary>
    Task<string?> ImageIdAsync(string image, CancellationToken cancellationToken);
}

/// <summary>
/// The engine as a plan reads it, through the environment's label filter (<see cref="Scope"/>). Keeps what Docker listed
/// of each container, for the steps that stop or remove it (<see cref="ServiceLifecycle.StopOneAsync"/> takes that).
/// </summary>
public sealed class LiveEngineState(DockerEngine engine, Scope scope) : IEngineState
{
    private readonly Dictionary<string, ContainerListResponse> _listed = new(StringComparer.Ordinal);

    /// <summary>What Docker listed of a container this state returned.</summary>
    public ContainerListResponse Listed(string id)
    {
        lock (_listed)
        {
            return _listed[id];
        }
    }

    public async Task<IReadOnlyList<ContainerState>> ContainersAsync(CancellationToken cancellationToken)
    {
        var listed = await engine.ServiceContainersAsync(scope, cancellationToken);
        lock (_listed)
        {
            foreach (var container in listed)
            {
                _listed[container.ID] = container;
            }
        }

        return listed.Select(c => new ContainerState(
                c.ID,
                c.Names[0].TrimStart('/'),
                c.Image,
                c.ImageID,
                c.RunState(),
                new SortedDictionary<string, string>(c.Labels ?? new Dictionary<string, string>(), StringComparer.Ordinal),
                c.NetworkSettings?.Networks?.Keys.Order(StringComparer.Ordinal).ToList() ?? []))
            .ToList();
    }

    public async Task<IReadOnlyList<NetworkState>> NetworksAsync(IReadOnlyCollection<string> names, CancellationToken cancellationToken)
    {
        var ours = await engine.CallAsync(ct => engine.Client.Networks.ListNetworksAsync(new NetworksListParameters { Filters = scope.Filter() }, ct), cancellationToken);
        var found = ours.ToDictionary(n => n.ID, StringComparer.Ordinal);
        foreach (var name in names)
        {
            var candidates = await engine.CallAsync(
                ct => engine.Client.Networks.ListNetworksAsync(
                    new NetworksListParameters { Filters = new Dictionary<string, IDictionary<string, bool>> { ["name"] = new Dictionary<string, bool> { [name] = true } } }, ct),
                cancellationToken);
            foreach (var match in candidates.Where(n => n.Name == name)) // the name filter matches substrings
            {
                found.TryAdd(match.ID, match);
            }
        }

        var result = new List<NetworkState>();
        foreach (var network in found.Values)
        {
            // The list leaves out the attached containers; inspect has them.
            NetworkResponse detail;
            try
            {
                detail = await engine.CallAsync(ct => engine.Client.Networks.InspectNetworkAsync(network.ID, ct), cancellationToken);
            }
            catch (DockerNetworkNotFoundException)
            {
                continue;
            }

            result.Add(new NetworkState(
                detail.ID,
                detail.Name,
                new SortedDictionary<string, string>(detail.Labels ?? new Dictionary<string, string>(), StringComparer.Ordinal),
                detail.IPAM?.Config?.Select(c => c.Subnet).Where(s => !string.IsNullOrEmpty(s)).ToList() ?? [],
                detail.Containers?.Count ?? 0));
        }

        return result.OrderBy(n => n.Name, StringComparer.Ordinal).ToList();
    }

    public async Task<IReadOnlyList<VolumeState>> VolumesAsync(IReadOnlyCollection<string> names, CancellationToken cancellationToken)
    {
        var ours = (await engine.CallAsync(ct => engine.Client.Volumes.ListAsync(new VolumesListParameters { Filters = scope.Filter() }, ct), cancellationToken)).Volumes ?? [];
        var found = ours.ToDictionary(v => v.Name, v => (IDictionary<string, string>?)v.Labels, StringComparer.Ordinal);
        foreach (var name in names.Where(n => !found.ContainsKey(n)))
        {
            try
            {
                found[name] = (await engine.CallAsync(ct => engine.Client.Volumes.InspectAsync(name, ct), cancellationToken)).Labels;
            }
            catch (DockerApiException e) when (e.StatusCode == System.Net.HttpStatusCode.NotFound)
            {
            }
        }

        return found.OrderBy(v => v.Key, StringComparer.Ordinal)
            .Select(v => new VolumeState(v.Key, new SortedDictionary<string, string>(v.Value ?? new Dictionary<string, string>(), StringComparer.Ordinal)))
            .ToList();
    }

    public Task<string?> ImageIdAsync(string image, CancellationToken cancellationToken) => EngineImages.FindIdAsync(engine, image, cancellationToken);
}
