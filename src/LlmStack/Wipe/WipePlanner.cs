using LlmStack.ChangeControl;
using LlmStack.Compose;
using LlmStack.Engine;
using LlmStack.Schema;

namespace LlmStack.Wipe;

/// <summary>A volume a wipe removes, why, and its size when it could be measured.</summary>
public sealed record VolumeRemoval(string Name, string Why, long? Size);

/// <summary>
/// What a wipe removes, in the order it removes it — swarm services (dependents first; after the last one, waited for
/// until all their tasks' containers are gone), containers (dependents before what they depend on, helpers and unknown services first), then
/// volumes, then networks, then Swarm secrets, then the secrets file — what it keeps and why, and what it refuses (named
/// at the end: the wipe then exits non-zero after removing the rest).
/// </summary>
public sealed record WipePlan(
    string Summary,
    IReadOnlyList<WipeContainer> Containers,
    IReadOnlyList<VolumeRemoval> Volumes,
    IReadOnlyList<WipeNetwork> Networks,
    IReadOnlyList<KeptResource> Kept,
    IReadOnlyList<string> Refusals)
{
    /// <summary>The secrets file the wipe removes (<c>--wipe-secrets</c>), or null.</summary>
    public string? Secrets { get; init; }

    /// <summary>The swarm services the wipe removes first (their tasks' containers go with them), dependents first.</summary>
    public IReadOnlyList<WipeService> Services { get; init; } = [];

    /// <summary>The Swarm secrets the wipe removes (after the services that used them).</summary>
    public IReadOnlyList<WipeSecret> SwarmSecrets { get; init; } = [];

    /// <summary>The stacks whose services were running among the containers and swarm services removed (a data wipe starts them again).</summary>
    public IReadOnlyList<string> RunningStacks =>
        Services.Where(s => s.Replicas > 0 && s.Stack is not null).Select(s => s.Stack!)
            .Concat(Containers.Where(c => c.Running && c.Service is not null).Select(c => c.Stack!))
            .Distinct().ToList();

    /// <summary>Why a swarm service goes, as the table shows it.</summary>
    public static string Why(WipeService service) => $"swarm service {service.Service ?? service.Name} ({service.Replicas} replica(s)); its tasks' containers go with it";

    /// <summary>Why a Swarm secret goes, as the table shows it.</summary>
    public static string Why(WipeSecret secret) => $"Swarm secret of {secret.Labels.Value(Names.Secret) ?? "?"} (the secrets file keeps the value)";

    /// <summary>Why a container goes, as the table shows it.</summary>
    public static string Why(WipeContainer container) => container.Service is { } service ? $"service {service} ({container.State})" : $"helper ({container.State})";

    /// <summary>Why a network goes, as the table shows it.</summary>
    public static string Why(WipeNetwork network) => $"{network.Stack ?? "environment"} network";
}

/// <summary>
/// The wipes' plans, pure over <see cref="IWipeInventory"/> and the resolved environment (its volumes with their
/// <c>holds</c> and <c>wipe</c> flags, its stacks and their dependents, its service order). Everything is selected by
/// the environment's labels; a volume that is not ours, or declared <c>wipe: false</c>, is kept; one a container that is
/// not ours also mounts is refused.
/// </summary>
public static class WipePlanner
{
    /// <summary>
    /// Wipe&lt;Stack&gt;: the stack's containers and those of the stacks that depend on it, the volumes only this stack
    /// mounts (and our other containers that mount them, such as a helper a killed run left), and its network.
    /// </summary>
    public static async Task<WipePlan> StackAsync(ResolvedEnvironment environment, string stack, IWipeInventory inventory, CancellationToken cancellationToken)
    {
        var stacks = Stacks(environment, stack);
        var containers = new List<WipeContainer>();
        foreach (var name in stacks)
        {
            containers.AddRange(await inventory.ServiceContainersAsync(name, cancellationToken));
        }

        // Every service of the environment once (each read costs its tasks' nodes): the stacks' are among them.
        var all = await inventory.ServicesAsync(cancellationToken);
        var services = all.Where(s => s.Stack is { } owner && stacks.Contains(owner)).ToList();

        var kept = new List<KeptResource>();
        var volumes = environment.Volumes.Where(v => v.Stacks.Contains(stack)).ToList();
        foreach (var shared in volumes.Where(v => v.Stacks.Any(s => s != stack)).ToList())
        {
            kept.Add(new KeptResource(ChangeKind.Volume, shared.Name, $"also mounted by stack {string.Join(", ", shared.Stacks.Where(s => s != stack))}: an environment wipe removes it"));
            volumes.Remove(shared);
        }

        foreach (var user in await OwnedMountersAsync(environment, volumes.Select(v => v.Name), inventory, cancellationToken))
        {
            if (containers.All(c => c.Id != user.Id))
            {
                containers.Add(user);
            }
        }

        var refusals = new List<string>();
        var removals = await VolumesAsync(environment, volumes.Select(v => (v.Name, (ResolvedVolume?)v)).ToList(), inventory, kept, refusals, cancellationToken);
        var networks = await NetworksAsync(environment, stack, inventory, cancellationToken);
        var others = stacks.Where(s => s != stack).ToList();
        var (swarm, rest) = WithServices(environment, services, containers, services);
        OnOtherNodes(environment, volumes.Select(v => v.Name), all, kept, refusals);
        var remaining = all.Where(s => swarm.All(w => w.Id != s.Id)).ToList();
        return new WipePlan($"wipe stack {stack} (its {(swarm.Count > 0 ? "services" : "containers")}{(others.Count > 0 ? $" and those of {string.Join(", ", others)}" : string.Empty)}, volumes and network)",
            Order(environment, rest), removals, networks, kept, refusals)
        {
            Services = swarm,
            SwarmSecrets = await UnusedSecretsAsync(environment, remaining, inventory, cancellationToken),
        };
    }

    /// <summary>The stack and the stacks that depend on it, whose containers its wipe removes.</summary>
    public static IReadOnlyList<string> Stacks(ResolvedEnvironment environment, string stack) =>
        environment.Dependents(stack).Select(s => s.Name).Append(stack).Distinct().ToList();

    /// <summary>
    /// WipeDb, WipeCache, …: the environment's volumes that hold <paramref name="dataType"/> and our containers that mount
    /// them (afterwards, <see cref="WipePlan.RunningStacks"/> are started again).
    /// </summary>
    public static async Task<WipePlan> DataAsync(ResolvedEnvironment environment, string dataType, IWipeInventory inventory, CancellationToken cancellationToken)
    {
        var kept = new List<KeptResource>();
        var refusals = new List<string>();
        var volumes = environment.Volumes.Where(v => v.Holds == dataType).ToList();
        var users = await OwnedMountersAsync(environment, volumes.Select(v => v.Name), inventory, cancellationToken);
        var removals = await VolumesAsync(environment, volumes.Select(v => (v.Name, (ResolvedVolume?)v)).ToList(), inventory, kept, refusals, cancellationToken);
        if (volumes.Count == 0)
        {
            kept.Add(new KeptResource(ChangeKind.Volume, "-", $"no volume of environment {environment.Name} holds {dataType} (schema: volumes.<name>.holds)"));
        }

        var services = await inventory.ServicesAsync(cancellationToken);
        OnOtherNodes(environment, volumes.Select(v => v.Name), services, kept, refusals);
        var (swarm, rest) = users.Any(u => u.SwarmService is not null) ? WithServices(environment, [], users, services) : ([], users);
        return new WipePlan($"wipe the {dataType} volumes ({string.Join(", ", volumes.Select(v => v.Key).DefaultIfEmpty("none"))}), then start what was running again",
            Order(environment, rest), removals, [], kept, refusals) { Services = swarm };
    }

    /// <summary>
    /// Wipe&lt;Environment&gt;: every container (helpers included), volume and network with the environment's labels,
    /// whether or not the schema still names it; the secrets file (when it exists) only with <paramref name="wipeSecrets"/>.
    /// </summary>
    public static async Task<WipePlan> EnvironmentAsync(
        ResolvedEnvironment environment, IWipeInventory inventory, string secretsFile, bool secretsExist, bool wipeSecrets, CancellationToken cancellationToken)
    {
        var kept = new List<KeptResource>();
        var refusals = new List<string>();
        var containers = await inventory.ContainersAsync(cancellationToken);
        var volumes = (await inventory.VolumesAsync(cancellationToken)).Select(name => (name, environment.Volumes.FirstOrDefault(r => r.Name == name))).ToList();
        var removals = await VolumesAsync(environment, volumes, inventory, kept, refusals, cancellationToken);
        var networks = await NetworksAsync(environment, null, inventory, cancellationToken);
        if (secretsExist && !wipeSecrets)
        {
            kept.Add(new KeptResource(ChangeKind.Secrets, secretsFile, "kept (--wipe-secrets removes them): a new start initialises its databases with the same passwords"));
        }

        var services = await inventory.ServicesAsync(cancellationToken);
        OnOtherNodes(environment, services.SelectMany(s => s.Volumes), services, kept, refusals);
        var (swarm, rest) = WithServices(environment, services, containers, services);
        return new WipePlan($"wipe everything of environment {environment.Name}", Order(environment, rest), removals, networks, kept, refusals)
        {
            Secrets = secretsExist && wipeSecrets ? secretsFile : null,
            Services = swarm,
            SwarmSecrets = await UnusedSecretsAsync(environment, [], inventory, cancellationToken),
        };
    }

    /// <summary>
    /// The swarm services to remove: <paramref name="planned"/>, plus the service of any container that is a task of one
    /// of <paramref name="known"/> (removing the task's container alone would only make Swarm start another). Those task
    /// containers leave the container list: they go with their service. Only services with the environment's labels.
    /// </summary>
    private static (List<WipeService> Services, List<WipeContainer> Containers) WithServices(
        ResolvedEnvironment environment, IEnumerable<WipeService> planned, IEnumerable<WipeContainer> containers, IReadOnlyList<WipeService> known)
    {
        var scope = Scope.Of(environment);
        var services = new Dictionary<string, WipeService>(StringComparer.Ordinal);
        foreach (var service in planned.Where(s => scope.Owns(s.Labels)))
        {
            services.TryAdd(service.Id, service);
        }

        var rest = new List<WipeContainer>();
        foreach (var container in containers)
        {
            if (container.SwarmService is { } id && (services.ContainsKey(id) || known.FirstOrDefault(s => s.Id == id && scope.Owns(s.Labels)) is { } owner && services.TryAdd(id, owner)))
            {
                continue;
            }

            rest.Add(container);
        }

        var order = environment.Services.Select((s, i) => (s.Name, i)).ToDictionary(x => x.Name, x => x.i, StringComparer.Ordinal);
        var ordered = services.Values
            .OrderByDescending(s => s.Service is { } name && order.TryGetValue(name, out var index) ? index : int.MaxValue)
            .ThenBy(s => s.Name, StringComparer.Ordinal)
            .ToList();
        return (ordered, rest);
    }

    /// <summary>The environment's Swarm secrets that none of <paramref name="remaining"/> (the services a wipe leaves) refers to.</summary>
    private static async Task<IReadOnlyList<WipeSecret>> UnusedSecretsAsync(ResolvedEnvironment environment, IReadOnlyList<WipeService> remaining, IWipeInventory inventory, CancellationToken cancellationToken)
    {
        var scope = Scope.Of(environment);
        var used = remaining.SelectMany(s => s.SecretIds).ToHashSet(StringComparer.Ordinal);
        return (await inventory.SwarmSecretsAsync(cancellationToken)).Where(s => scope.Owns(s.Labels) && !used.Contains(s.Id)).OrderBy(s => s.Name, StringComparer.Ordinal).ToList();
    }

    /// <summary>
    /// The copies of <paramref name="volumes"/> this engine cannot reach: a named volume is node-local, and a swarm service
    /// of the environment whose tasks run (or ran) on another node has its copy there. Each is kept and refused, naming
    /// the node and the fix, so a wipe never reports done while the data lives on elsewhere; the copy on this engine's
    /// node, if any, is wiped as usual.
    /// </summary>
    private static void OnOtherNodes(ResolvedEnvironment environment, IEnumerable<string> volumes, IReadOnlyList<WipeService> services, List<KeptResource> kept, List<string> refusals)
    {
        var scope = Scope.Of(environment);
        var wanted = volumes.ToHashSet(StringComparer.Ordinal);
        foreach (var service in services.Where(s => scope.Owns(s.Labels) && s.OtherNodes.Count > 0).OrderBy(s => s.Name, StringComparer.Ordinal))
        {
            foreach (var volume in service.Volumes.Where(wanted.Contains))
            {
                foreach (var node in service.OtherNodes)
                {
                    var why = $"on swarm node {node}, where service {service.Service ?? service.Name}'s tasks run or ran: out of this engine's reach; wipe it with --docker-host set to {node}'s engine";
                    kept.Add(new KeptResource(ChangeKind.Volume, volume, why));
                    refusals.Add($"volume {volume} {why}");
                }
            }
        }
    }

    /// <summary>Dependents before what they depend on (the environment's service order, reversed); helpers and unknown services first; then by name.</summary>
    private static List<WipeContainer> Order(ResolvedEnvironment environment, IEnumerable<WipeContainer> containers)
    {
        var order = environment.Services.Select((s, i) => (s.Name, i)).ToDictionary(x => x.Name, x => x.i, StringComparer.Ordinal);
        return containers
            .OrderByDescending(c => c.Service is { } service && order.TryGetValue(service, out var index) ? index : int.MaxValue)
            .ThenBy(c => c.Name, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>
    /// The volumes that exist, are ours and may be wiped; the others are kept with the reason, and a volume a container
    /// that is not ours mounts is refused.
    /// </summary>
    private static async Task<List<VolumeRemoval>> VolumesAsync(
        ResolvedEnvironment environment, IReadOnlyList<(string Name, ResolvedVolume? Resolved)> volumes, IWipeInventory inventory, List<KeptResource> kept, List<string> refusals,
        CancellationToken cancellationToken)
    {
        var scope = Scope.Of(environment);
        var removable = new List<(string Name, ResolvedVolume? Resolved)>();
        foreach (var (name, resolved) in volumes)
        {
            if (await inventory.VolumeAsync(name, cancellationToken) is not { } found)
            {
                continue;
            }

            if (!scope.Owns(found.Labels))
            {
                kept.Add(new KeptResource(ChangeKind.Volume, name, $"not LlmStack's for {environment.Name} (labels differ): never touched"));
                continue;
            }

            if (resolved is { Wipeable: false })
            {
                kept.Add(new KeptResource(ChangeKind.Volume, name, "declared wipe: false in the schema"));
                continue;
            }

            var foreign = (await inventory.MountersAsync(name, cancellationToken)).Where(c => !scope.Owns(c.Labels)).Select(c => c.Name).ToList();
            if (foreign.Count > 0)
            {
                var why = $"also mounted by {string.Join(", ", foreign)}, which is not LlmStack's for {environment.Name}: refused";
                kept.Add(new KeptResource(ChangeKind.Volume, name, why));
                refusals.Add($"volume {name} {why}");
                continue;
            }

            removable.Add((name, resolved));
        }

        var sizes = await inventory.SizesAsync(removable.Select(v => v.Name).ToList(), cancellationToken);
        return removable
            .Select(v => new VolumeRemoval(v.Name, v.Resolved is null ? "ours, no longer in the schema" : $"holds {v.Resolved.Holds}", sizes.TryGetValue(v.Name, out var size) ? size : null))
            .ToList();
    }

    private static async Task<List<WipeNetwork>> NetworksAsync(ResolvedEnvironment environment, string? stack, IWipeInventory inventory, CancellationToken cancellationToken)
    {
        var scope = Scope.Of(environment);
        return (await inventory.NetworksAsync(stack, cancellationToken)).Where(n => scope.Owns(n.Labels)).OrderBy(n => n.Name, StringComparer.Ordinal).ToList();
    }

    /// <summary>Our containers (services and helpers, all states) that mount any of the volumes.</summary>
    private static async Task<List<WipeContainer>> OwnedMountersAsync(ResolvedEnvironment environment, IEnumerable<string> volumes, IWipeInventory inventory, CancellationToken cancellationToken)
    {
        var scope = Scope.Of(environment);
        var users = new Dictionary<string, WipeContainer>(StringComparer.Ordinal);
        foreach (var volume in volumes)
        {
            foreach (var container in await inventory.MountersAsync(volume, cancellationToken))
            {
                if (scope.Owns(container.Labels))
                {
                    users[container.Id] = container;
                }
            }
        }

        return users.Values.ToList();
    }
}
