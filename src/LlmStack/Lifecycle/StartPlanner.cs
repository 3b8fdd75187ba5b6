using System.Text.Json.Serialization;
using LlmStack.Compose;
using LlmStack.Engine;
using LlmStack.Schema;

namespace LlmStack.Lifecycle;

/// <summary>What Start does (or would do) to a service replica.</summary>
public enum ContainerAction
{
    /// <summary>Its config hash and image match and it runs on the networks it should.</summary>
    Unchanged,

    /// <summary>Unchanged, but attached to a network it lacks or taken off one of the environment's it should not be on.</summary>
    Repair,

    /// <summary>Unchanged and paused: unpaused.</summary>
    Unpause,

    /// <summary>Unchanged and not running: started.</summary>
    Start,

    /// <summary>No container: created and started.</summary>
    Create,

    /// <summary>Its definition or image differs: removed, created again and started.</summary>
    Recreate,

    /// <summary>Ours, but no longer in the schema (its service, replica or stack is gone): stopped and removed.</summary>
    Remove,
}

/// <summary>What Start does (or would do) to a network or volume.</summary>
public enum ResourceAction
{
    Unchanged,
    Create,

    /// <summary>A network whose subnet differs from the schema's and that no container uses: removed and created again.</summary>
    Recreate,

    /// <summary>Ours, but not in the schema for this environment: a plan names it; nothing removes it (CleanupNetworks, a wipe do).</summary>
    Orphaned,
}

/// <summary>How one environment variable differs.</summary>
public enum KeyChange
{
    Changed,
    Added,
    Removed,
}

public sealed record KeyDifference(string Key, KeyChange Change);

/// <summary>One aspect of a replica that differs from the schema, with the variables that do (by name only) or a detail (an image).</summary>
public sealed record Difference(Aspect Aspect)
{
    public IReadOnlyList<KeyDifference> Keys { get; init; } = [];

    public string? Detail { get; init; }
}

/// <summary>One replica's step: what Start does to it and why; for a recreate, what differs.</summary>
public sealed record ContainerStep(string Stack, string Service, int Number, string Name, ContainerAction Action)
{
    public string? Why { get; init; }

    public IReadOnlyList<Difference> Differences { get; init; } = [];

    /// <summary>Networks it will be attached to (it lacks them).</summary>
    public IReadOnlyList<string> Attach { get; init; } = [];

    /// <summary>The environment's networks it will be taken off (the schema does not give it them).</summary>
    public IReadOnlyList<string> Detach { get; init; } = [];

    /// <summary>The container now (none for a create).</summary>
    public string? Id => Current?.Id;

    /// <summary>The level of its service in the stack's dependency graph (a level needs only earlier ones).</summary>
    [JsonIgnore]
    public int Level { get; init; }

    [JsonIgnore]
    public ContainerState? Current { get; init; }

    /// <summary>The create call it gets (none for a remove).</summary>
    [JsonIgnore]
    public ContainerPlan? Desired { get; init; }

    [JsonIgnore]
    public bool IsChange => Action != ContainerAction.Unchanged;
}

public sealed record NetworkStep(string Name, string? Stack, ResourceAction Action)
{
    public string? Why { get; init; }

    [JsonIgnore]
    public ResolvedNetwork? Desired { get; init; }

    [JsonIgnore]
    public NetworkState? Current { get; init; }
}

public sealed record VolumeStep(string Name, string? Stack, ResourceAction Action)
{
    public string? Why { get; init; }

    [JsonIgnore]
    public ResolvedVolume? Desired { get; init; }
}

/// <summary>An image a plan needs that the engine does not have (Start pulls it first).</summary>
/// <summary>An image the engine lacks: pulled, or (<paramref name="Built"/>) built from a service's context.</summary>
public sealed record ImagePull(string Image, IReadOnlyList<string> Services, bool Built = false);

/// <summary>
/// What Start of one stack does, in the order it does it: its networks and volumes, the removals, then the replicas level
/// by level. <see cref="Problems"/> are what makes Start refuse before changing anything (one line each, with the fix).
/// </summary>
public sealed record StackPlan(string Stack, IReadOnlyList<NetworkStep> Networks, IReadOnlyList<VolumeStep> Volumes, IReadOnlyList<ContainerStep> Containers, IReadOnlyList<string> Problems)
{
    public bool HasChanges => Containers.Any(c => c.IsChange) || Networks.Any(n => n.Action != ResourceAction.Unchanged) || Volumes.Any(v => v.Action != ResourceAction.Unchanged);
}

/// <summary>
/// What Start of every enabled stack of an environment would do now (<see cref="Stacks"/>, in dependency order), the
/// containers of stacks the environment no longer has (<see cref="Removed"/>), what is ours but orphaned, and the images
/// to pull first. <see cref="Notes"/> say what the plan could not know (a secret not generated yet).
/// </summary>
public sealed record EnvironmentPlan(
    string Environment,
    IReadOnlyList<StackPlan> Stacks,
    IReadOnlyList<ContainerStep> Removed,
    IReadOnlyList<NetworkStep> OrphanedNetworks,
    IReadOnlyList<VolumeStep> OrphanedVolumes,
    IReadOnlyList<ImagePull> Pulls)
{
    public IReadOnlyList<string> Notes { get; init; } = [];

    public IReadOnlyList<string> Problems => Stacks.SelectMany(s => s.Problems).ToList();

    /// <summary>Every replica's step: removals of gone stacks first, then stack by stack.</summary>
    public IReadOnlyList<ContainerStep> Containers => [.. Removed, .. Stacks.SelectMany(s => s.Containers)];

    /// <summary>Whether Start of every stack (and the removals) would change anything. Orphaned networks and volumes do not count: nothing removes them.</summary>
    public bool HasChanges => Removed.Count > 0 || Stacks.Any(s => s.HasChanges);
}

/// <summary>
/// The one decision of what Start does: pure over what an engine holds (<see cref="IEngineState"/>: the live engine, or
/// a snapshot) and the desired create calls (<see cref="ContainerSpecs"/>). <c>Start&lt;Stack&gt;</c> plans its stack and
/// carries the plan out; <c>Plan</c> shows the environment's plan; <c>Deploy</c> carries that out through the change gate
/// with Start's steps. A replica is unchanged when its config hash and image id match; what differs is read from its
/// per-aspect digests (<see cref="ConfigDigests"/>).
/// </summary>
public static class StartPlanner
{
    /// <summary>The digests of a replica made before LlmStack wrote per-aspect digests: it can only say the whole definition changed.</summary>
    public const string MadeBeforeDigests = "definition changed (made before per-aspect digests)";

    /// <summary>Start of one stack: its networks, volumes and replicas. Another stack's network it needs must exist already.</summary>
    public static async Task<StackPlan> StackAsync(
        ResolvedEnvironment environment, string stack, IReadOnlyDictionary<string, IReadOnlyList<ContainerPlan>> desired, IEngineState state, CancellationToken cancellationToken)
    {
        var observed = await ObserveAsync(environment, [desired], state, cancellationToken);
        return Decide(environment, stack, desired, observed, new HashSet<string>(StringComparer.Ordinal));
    }

    /// <summary>Start of every enabled stack, in dependency order, and the removal of the containers of stacks the environment does not have.</summary>
    public static async Task<EnvironmentPlan> EnvironmentAsync(
        ResolvedEnvironment environment, IReadOnlyDictionary<string, IReadOnlyDictionary<string, IReadOnlyList<ContainerPlan>>> desired, IEngineState state,
        CancellationToken cancellationToken)
    {
        var observed = await ObserveAsync(environment, desired.Values.ToList(), state, cancellationToken);
        var scope = Scope.Of(environment);

        // What earlier stacks create is there for later ones (a dependency's network, a shared volume).
        var planned = new HashSet<string>(StringComparer.Ordinal);
        var stacks = environment.Stacks.Select(s => Decide(environment, s.Name, desired[s.Name], observed, planned)).ToList();

        var enabled = environment.Stacks.Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
        var removed = observed.Containers
            .Where(c => c.Stack is null || !enabled.Contains(c.Stack))
            .OrderBy(c => c.Stack, StringComparer.Ordinal).ThenBy(c => c.Name, StringComparer.Ordinal)
            .Select(c => new ContainerStep(c.Stack ?? "-", c.Service ?? "-", c.Number, c.Name, ContainerAction.Remove)
            {
                Why = c.Stack is null ? "it has no stack label" : $"stack {c.Stack} is not in environment {environment.Name}",
                Current = c,
            })
            .ToList();

        var orphanedNetworks = Orphaned(observed.Networks, scope, environment.Networks.Select(n => n.Name), n => n.Labels)
            .Select(n => new NetworkStep(n.Name, n.Labels.GetValueOrDefault(Names.Stack), ResourceAction.Orphaned)
            {
                Why = $"not in the schema for {environment.Name}{(n.Containers > 0 ? $"; {n.Containers} container(s) use it" : string.Empty)}: CleanupNetworks removes it once unused",
                Current = n,
            })
            .ToList();

        var orphanedVolumes = Orphaned(observed.Volumes, scope, environment.Volumes.Select(v => v.Name), v => v.Labels)
            .Select(v => new VolumeStep(v.Name, v.Labels.GetValueOrDefault(Names.Stack), ResourceAction.Orphaned)
            {
                Why = $"not used by the schema in {environment.Name}: its data stays; a wipe removes it",
            })
            .ToList();

        var pulls = desired.Values.SelectMany(d => d.Values).SelectMany(p => p)
            .Where(p => observed.ImageIds[p.Image] is null)
            .GroupBy(p => p.Image, StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => new ImagePull(g.Key, g.Select(p => p.Service.Name).Distinct().ToList(), Built: g.Any(p => p.Service.Build is not null)))
            .ToList();

        return new EnvironmentPlan(environment.Name, stacks, removed, orphanedNetworks, orphanedVolumes, pulls);
    }

    /// <summary>What a plan reads, once: every service container, the networks and volumes by name, the images' ids.</summary>
    private sealed record Observed(
        IReadOnlyList<ContainerState> Containers,
        IReadOnlyDictionary<string, NetworkState> Networks,
        IReadOnlyDictionary<string, VolumeState> Volumes,
        IReadOnlyDictionary<string, string?> ImageIds);

    private static async Task<Observed> ObserveAsync(
        ResolvedEnvironment environment, IReadOnlyList<IReadOnlyDictionary<string, IReadOnlyList<ContainerPlan>>> desired, IEngineState state, CancellationToken cancellationToken)
    {
        var containers = await state.ContainersAsync(cancellationToken);
        var networks = await state.NetworksAsync(environment.Networks.Select(n => n.Name).ToList(), cancellationToken);
        var volumes = await state.VolumesAsync(environment.Volumes.Select(v => v.Name).ToList(), cancellationToken);
        var ids = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var image in desired.SelectMany(d => d.Values).SelectMany(p => p).Select(p => p.Image).Distinct())
        {
            ids[image] = await state.ImageIdAsync(image, cancellationToken);
        }

        // By name; a foreign network or volume with one of our names is seen here too (the first of a name wins, as Docker's lookup by name).
        return new Observed(
            containers,
            networks.GroupBy(n => n.Name, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal),
            volumes.GroupBy(v => v.Name, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal),
            ids);
    }

    /// <summary>
    /// Start of one stack over what was observed. <paramref name="planned"/>: networks and volumes earlier steps of the same
    /// plan create (an environment plan's earlier stacks); this stack's are added to it.
    /// </summary>
    private static StackPlan Decide(
        ResolvedEnvironment environment, string stack, IReadOnlyDictionary<string, IReadOnlyList<ContainerPlan>> desired, Observed observed, HashSet<string> planned)
    {
        var scope = Scope.Of(environment);
        var problems = new List<string>();
        var services = environment.Services.Where(s => s.Stack == stack).ToList();

        var networks = new List<NetworkStep>();
        var own = environment.NetworkOf(stack);
        networks.Add(OwnNetwork(environment, own, observed, scope, problems));
        planned.Add(own.Name);
        foreach (var other in services.SelectMany(s => s.Networks).Distinct().Where(n => n != stack).Select(environment.NetworkOf))
        {
            var found = observed.Networks.GetValueOrDefault(other.Name);
            if ((found is null || !Owns(scope, found.Labels)) && !planned.Contains(other.Name))
            {
                problems.Add($"network '{other.Name}' of stack {other.Stack} does not exist: run Start{Health.Capitalize(other.Stack)} first");
            }
        }

        var volumes = new List<VolumeStep>();
        foreach (var volume in environment.Volumes.Where(v => services.Any(s => s.Volumes.Any(m => m.Kind == MountKind.Volume && m.Source == v.Key))))
        {
            var found = observed.Volumes.GetValueOrDefault(volume.Name);
            if (found is not null && !Owns(scope, found.Labels))
            {
                problems.Add($"volume '{volume.Name}' exists but is not LlmStack's for {environment.Name} (labels differ): LlmStack will not use data it does not own");
            }
            else if (found is null && planned.Add(volume.Name))
            {
                volumes.Add(new VolumeStep(volume.Name, stack, ResourceAction.Create) { Why = "missing", Desired = volume });
            }
            else if (found is not null)
            {
                volumes.Add(new VolumeStep(volume.Name, stack, ResourceAction.Unchanged) { Desired = volume });
            }
        }

        var existing = observed.Containers.Where(c => c.Stack == stack).ToList();
        var containers = new List<ContainerStep>();
        var kept = new List<ContainerState>();
        foreach (var container in existing)
        {
            var replicas = container.Service is { } service && desired.TryGetValue(service, out var plans) ? plans.Count : (int?)null;
            if (replicas is null || container.Number < 1 || container.Number > replicas)
            {
                var count = existing.Count(c => c.Service == container.Service);
                containers.Add(new ContainerStep(stack, container.Service ?? "-", container.Number, container.Name, ContainerAction.Remove)
                {
                    Why = replicas is null ? $"service {container.Service} is not in stack {stack}" : $"replica {container.Number} beyond the {replicas} the schema asks for",
                    Differences = replicas is null ? [] : [new Difference(Aspect.Replicas) { Detail = $"{count} → {replicas}" }],
                    Current = container,
                });
            }
            else
            {
                kept.Add(container);
            }
        }

        var ours = environment.Networks.Select(n => n.Name).ToHashSet(StringComparer.Ordinal);
        var levels = environment.Graph.Levels(services.Select(s => s.Name));
        for (var level = 0; level < levels.Count; level++)
        {
            foreach (var service in levels[level].OrderBy(s => s.Name, StringComparer.Ordinal))
            {
                var have = kept.Count(c => c.Service == service.Name);
                foreach (var plan in desired[service.Name])
                {
                    var current = kept.FirstOrDefault(c => c.Service == service.Name && c.Number == plan.Number);
                    containers.Add(Replica(stack, level, plan, current, observed.ImageIds[plan.Image], have, ours));
                }
            }
        }

        return new StackPlan(stack, networks, volumes, containers, problems);
    }

    private static NetworkStep OwnNetwork(ResolvedEnvironment environment, ResolvedNetwork own, Observed observed, Scope scope, List<string> problems)
    {
        var found = observed.Networks.GetValueOrDefault(own.Name);
        if (found is null)
        {
            return new NetworkStep(own.Name, own.Stack, ResourceAction.Create) { Why = $"missing ({own.Subnet})", Desired = own };
        }

        if (!Owns(scope, found.Labels))
        {
            problems.Add($"network '{own.Name}' exists but is not LlmStack's for {environment.Name} (labels differ): rename or remove it, or change the project name");
            return new NetworkStep(own.Name, own.Stack, ResourceAction.Unchanged) { Desired = own, Current = found };
        }

        if (found.Subnets.Contains(own.Subnet.ToString()))
        {
            return new NetworkStep(own.Name, own.Stack, ResourceAction.Unchanged) { Desired = own, Current = found };
        }

        if (found.Containers > 0)
        {
            problems.Add(
                $"network '{own.Name}' has subnet {string.Join(",", found.Subnets)} but the schema says {own.Subnet}, and containers use it: run Stop{Health.Capitalize(own.Stack)}, then start again");
        }

        return new NetworkStep(own.Name, own.Stack, ResourceAction.Recreate)
        {
            Why = $"subnet {string.Join(",", found.Subnets)} differs from the schema's {own.Subnet}",
            Desired = own,
            Current = found,
        };
    }

    /// <summary>One replica: created, unchanged (maybe repaired, unpaused or started), or recreated naming what differs.</summary>
    private static ContainerStep Replica(string stack, int level, ContainerPlan plan, ContainerState? current, string? imageId, int have, IReadOnlySet<string> ours)
    {
        var step = new ContainerStep(stack, plan.Service.Name, plan.Number, plan.Name, ContainerAction.Create) { Level = level, Desired = plan, Current = current };
        if (current is null)
        {
            var differences = new List<Difference>();
            if (have > 0)
            {
                differences.Add(new Difference(Aspect.Replicas) { Detail = $"{have} → {plan.Service.Replicas}" });
            }

            if (imageId is null)
            {
                differences.Add(new Difference(Aspect.Image) { Detail = $"{plan.Image} not present here: {(plan.Service.Build is null ? "pulled" : "built")} first" });
            }

            return step with { Why = have > 0 ? $"replica {plan.Number} of {plan.Service.Replicas}" : "missing", Differences = differences };
        }

        if (current.ConfigHash == plan.ConfigHash && imageId is not null && current.ImageId == imageId)
        {
            var attach = plan.Networks.Where(n => !current.Networks.Contains(n)).ToList();
            var detach = current.Networks.Where(n => ours.Contains(n) && !plan.Networks.Contains(n)).Order(StringComparer.Ordinal).ToList();
            var repair = Repairs(attach, detach);
            step = step with { Attach = attach, Detach = detach };
            return current.State switch
            {
                ContainerRunState.Running when attach.Count + detach.Count > 0 => step with { Action = ContainerAction.Repair, Why = repair },
                ContainerRunState.Running => step with { Action = ContainerAction.Unchanged },
                ContainerRunState.Paused => step with { Action = ContainerAction.Unpause, Why = Join("paused", repair) },
                _ => step with { Action = ContainerAction.Start, Why = Join(current.State.Text(), repair) },
            };
        }

        var found = new List<Difference>();
        if (imageId is null)
        {
            found.Add(new Difference(Aspect.Image) { Detail = $"{plan.Image} not present here: {(plan.Service.Build is null ? "pulled" : "built")} first" });
        }
        else if (current.ImageId != imageId)
        {
            found.Add(new Difference(Aspect.Image)
            {
                Detail = current.Image == plan.Image ? $"{plan.Image}: id {Short(current.ImageId)} → {Short(imageId)}" : $"{current.Image} → {plan.Image}",
            });
        }

        string why;
        if (current.ConfigHash == plan.ConfigHash)
        {
            why = imageId is null ? "image not present here" : "image changed";
        }
        else if (ConfigDigests.Parse(current.Labels.GetValueOrDefault(Names.ConfigDigests)) is { } digests)
        {
            found.AddRange(Compare(plan.Digests, digests).Where(d => d.Aspect != Aspect.Image || found.All(f => f.Aspect != Aspect.Image)));
            why = "definition changed";
        }
        else
        {
            why = MadeBeforeDigests;
        }

        return step with { Action = ContainerAction.Recreate, Why = why, Differences = found };
    }

    /// <summary>The aspects whose digests differ; for the environment, each variable by name (its value never).</summary>
    public static IReadOnlyList<Difference> Compare(ConfigDigests desired, ConfigDigests current)
    {
        var differences = new List<Difference>();
        foreach (var (aspect, digest) in desired.Aspects.OrderBy(a => a.Key))
        {
            if (current.Aspects.GetValueOrDefault(aspect) == digest)
            {
                continue;
            }

            if (aspect != Aspect.Environment)
            {
                differences.Add(new Difference(aspect));
                continue;
            }

            var keys = desired.Environment.Keys.Union(current.Environment.Keys).Order(StringComparer.Ordinal)
                .Select(key => (Key: key, Desired: desired.Environment.GetValueOrDefault(key), Current: current.Environment.GetValueOrDefault(key)))
                .Where(k => k.Desired != k.Current)
                .Select(k => new KeyDifference(k.Key, k.Current is null ? KeyChange.Added : k.Desired is null ? KeyChange.Removed : KeyChange.Changed))
                .ToList();
            differences.Add(new Difference(Aspect.Environment) { Keys = keys, Detail = keys.Count == 0 ? "order" : null });
        }

        return differences;
    }

    private static bool Owns(Scope scope, IReadOnlyDictionary<string, string> labels) => scope.Owns(labels.ToDictionary());

    /// <summary>What is ours (by its labels) but has none of the schema's names, by name.</summary>
    private static IEnumerable<T> Orphaned<T>(
        IReadOnlyDictionary<string, T> found, Scope scope, IEnumerable<string> wanted, Func<T, IReadOnlyDictionary<string, string>> labels)
    {
        var names = wanted.ToHashSet(StringComparer.Ordinal);
        return found.Where(f => Owns(scope, labels(f.Value)) && !names.Contains(f.Key)).OrderBy(f => f.Key, StringComparer.Ordinal).Select(f => f.Value);
    }

    private static string? Repairs(IReadOnlyList<string> attach, IReadOnlyList<string> detach) =>
        attach.Count + detach.Count == 0
            ? null
            : string.Join("; ", attach.Select(n => $"not attached to network {n}").Concat(detach.Select(n => $"attached to network {n}, which the schema does not give it")));

    private static string Join(string first, string? second) => second is null ? first : $"{first}; {second}";

    private static string Short(string id) => (id.StartsWith("sha256:", StringComparison.Ordinal) ? id[7..] : id) is var hex && hex.Length > 12 ? hex[..12] : id;
}
