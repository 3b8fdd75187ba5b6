using LlmStack.Compose;
using LlmStack.Engine;
using LlmStack.Lifecycle;
using LlmStack.Schema;

namespace LlmStack.Tests.Lifecycle;

/// <summary>An engine in memory, for the planner: what it lists is what the tests put in it.</summary>
internal sealed class FakeEngineState : IEngineState
{
    public List<ContainerState> Containers { get; } = [];

    public List<NetworkState> Networks { get; } = [];

    public List<VolumeState> Volumes { get; } = [];

    public Dictionary<string, string> Images { get; } = new(StringComparer.Ordinal);

    /// <summary>The names the planner asked for by name (a foreign resource with one of them must be seen).</summary>
    public List<string> AskedNetworks { get; } = [];

    public Task<IReadOnlyList<ContainerState>> ContainersAsync(CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<ContainerState>>(Containers.ToList());

    public Task<IReadOnlyList<NetworkState>> NetworksAsync(IReadOnlyCollection<string> names, CancellationToken cancellationToken)
    {
        AskedNetworks.AddRange(names);
        return Task.FromResult<IReadOnlyList<NetworkState>>(Networks.ToList());
    }

    public Task<IReadOnlyList<VolumeState>> VolumesAsync(IReadOnlyCollection<string> names, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<VolumeState>>(Volumes.ToList());

    public Task<string?> ImageIdAsync(string image, CancellationToken cancellationToken) => Task.FromResult(Images.GetValueOrDefault(image));

    public static string IdOf(string image) => "sha256:" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(image)));

    /// <summary>An engine on which Start of every stack of <paramref name="environment"/> just ran with <paramref name="desired"/>.</summary>
    public static FakeEngineState Converged(ResolvedEnvironment environment, IReadOnlyDictionary<string, IReadOnlyDictionary<string, IReadOnlyList<ContainerPlan>>> desired)
    {
        var engine = new FakeEngineState();
        foreach (var network in environment.Networks)
        {
            engine.Networks.Add(new NetworkState("net-" + network.Stack, network.Name, Labels.Network(environment.Project, environment.Name, network.Stack), [network.Subnet.ToString()], 1));
        }

        foreach (var volume in environment.Volumes)
        {
            engine.Volumes.Add(new VolumeState(volume.Name, Labels.Volume(environment.Project, environment.Name, volume.Stacks[0], volume.Key)));
        }

        foreach (var plan in desired.Values.SelectMany(d => d.Values).SelectMany(p => p))
        {
            engine.Images[plan.Image] = IdOf(plan.Image);
            engine.Containers.Add(Made(plan));
        }

        return engine;
    }

    /// <summary>The container a create call makes, running, on its networks.</summary>
    public static ContainerState Made(ContainerPlan plan, ContainerRunState state = ContainerRunState.Running) =>
        new("id-" + plan.Name, plan.Name, plan.Image, IdOf(plan.Image), state, new SortedDictionary<string, string>(plan.Create.Labels, StringComparer.Ordinal), plan.Networks.ToList());

    public ContainerState Container(string name) => Containers.Single(c => c.Name == name);

    /// <summary>Puts <paramref name="container"/> in place of the one with its name.</summary>
    public void Replace(ContainerState container)
    {
        Containers.RemoveAll(c => c.Name == container.Name);
        Containers.Add(container);
    }
}
