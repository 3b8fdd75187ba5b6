using System.Collections.Concurrent;
using Docker.DotNet.Models;
using Docker.DotNet;
using LlmStack.Compose;
using LlmStack.Engine;
using LlmStack.Pipeline;
using LlmStack.Schema;
using LlmStack.Security;
using Serilog;

using Health = LlmStack.Engine.Health;

namespace LlmStack.Lifecycle;

/// <summary>What a Start did to a container.</summary>
public enum StartAction
{
    Unchanged,
    Repaired,
    Unpaused,
    Started,
    Created,
    Recreated,
}

/// <summary>What a Start did to each container.</summary>
public sealed record StartReport(IReadOnlyDictionary<string, StartAction> Actions)
{
    public int Count(StartAction action) => Actions.Values.Count(a => a == action);

    public override string ToString() =>
        string.Join(", ", Actions.Values.GroupBy(a => a).OrderBy(g => Text(g.Key), StringComparer.Ordinal).Select(g => $"{g.Count()} {Text(g.Key)}"));

    public static string Text(StartAction action) => action.ToString().ToLowerInvariant();
}

/// <summary>What a Restart did: containers restarted in place, and what the Start that follows brought up that was down or missing.</summary>
public sealed record RestartReport(int Restarted, StartReport? Start)
{
    /// <summary>The containers the restart found down, missing or cut off, by what was done to them.</summary>
    public IReadOnlyDictionary<string, StartAction> Repaired =>
        Start?.Actions.Where(kv => kv.Value != StartAction.Unchanged).ToDictionary(kv => kv.Key, kv => kv.Value) ?? new Dictionary<string, StartAction>();

    public override string ToString() =>
        Repaired.Count == 0
            ? Restarted.ToString(System.Globalization.CultureInfo.InvariantCulture)
            : $"{Restarted}; brought back: {string.Join(", ", Repaired.Select(kv => $"{kv.Key} {StartReport.Text(kv.Value)}"))}";
}

/// <summary>
/// Start, stop and restart one stack of one environment on a Docker engine. Everything is selected by labels
/// (<see cref="Scope"/>); resources without our labels are never modified.
/// </summary>
public sealed class StackOperations(DockerEngine engine, ResolvedEnvironment environment, string rootDirectory, ILogger log)
{
    private readonly Scope _scope = Scope.Of(environment);
    private readonly ServiceLifecycle _lifecycle = new(engine, environment, log);

    public DockerEngine Engine => engine;

    /// <summary>
    /// Creates what is missing (networks, volumes, containers) and starts the stack's services level by level,
    /// a level's services in parallel once their dependencies are ready. Idempotent: unchanged containers are
    /// kept; a changed definition recreates that service only. Secrets and bind sources are checked, then
    /// <paramref name="beforeCreate"/> runs (the session's: the stack's images built or pulled, its network checked for
    /// conflicts) before anything is created.
    /// </summary>
    public async Task<StartReport> StartAsync(string stack, SecretStore secrets, ImageMap images, Func<IReadOnlyList<ResolvedNetwork>, CancellationToken, Task>? beforeCreate, CancellationToken cancellationToken)
    {
        environment.Stack(stack);
        var services = environment.Services.Where(s => s.Stack == stack).ToList();

        await CheckExternalDependenciesAsync(stack, services, cancellationToken);

        var plans = services.ToDictionary(
            s => s.Name,
            s => Enumerable.Range(1, s.Replicas)
                .Select(n => ContainerSpecs.Build(environment, s, n, images.Apply(s.Image), secrets.Get, rootDirectory))
                .ToList());

        var own = environment.NetworkOf(stack);
        if (beforeCreate is not null)
        {
            await beforeCreate([own], cancellationToken);
        }

        await EnsureNetworkAsync(own, cancellationToken);
        foreach (var network in services.SelectMany(s => s.Networks).Distinct().Where(n => n != stack).Select(environment.NetworkOf))
        {
            await RequireNetworkAsync(network, cancellationToken);
        }

        foreach (var volume in environment.Volumes.Where(v => services.Any(s => s.Volumes.Any(m => m.Kind == MountKind.Volume && m.Source == v.Key))))
        {
            await EnsureVolumeAsync(volume, cancellationToken);
        }

        var existing = await RemoveOrphansAsync(await ContainersAsync(stack, cancellationToken), plans, cancellationToken);

        var actions = new ConcurrentDictionary<string, StartAction>();
        foreach (var level in _lifecycle.Graph.Levels(services.Select(s => s.Name)))
        {
            await Task.WhenAll(level.Select(service => ReconcileAsync(service, plans[service.Name], existing, actions, cancellationToken)));
        }

        var report = new StartReport(actions.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToDictionary(kv => kv.Key, kv => kv.Value));
        log.Information("Stack {Stack} of {Environment} is up: {Report}", stack, environment.Name, report.ToString());
        return report;
    }

    /// <summary>Stops (graceful timeout) and removes the stack's containers, dependents first; volumes stay; the stack's network goes once unused.</summary>
    public async Task<int> StopAsync(string stack, CancellationToken cancellationToken)
    {
        var containers = await ContainersAsync(stack, cancellationToken);
        await _lifecycle.StopAsync(containers, remove: true, "stopped", cancellationToken);

        var networks = await engine.CallAsync(ct => engine.Client.Networks.ListNetworksAsync(new NetworksListParameters { Filters = _scope.Filter(stack) }, ct), cancellationToken);
        foreach (var network in networks)
        {
            var detail = await engine.CallAsync(ct => engine.Client.Networks.InspectNetworkAsync(network.ID, ct), cancellationToken);
            if (detail.Containers is { Count: > 0 } users)
            {
                log.Warning("Kept network {Network}: still used by {Containers}", network.Name, string.Join(", ", users.Values.Select(u => u.Name)));
                continue;
            }

            await engine.CallAsync(ct => engine.Client.Networks.DeleteNetworkAsync(network.ID, ct), cancellationToken);
            log.Information("Removed network {Network}", network.Name);
        }

        log.Information("Stack {Stack} of {Environment} is down: {Count} container(s) removed, volumes kept", stack, environment.Name, containers.Count);
        return containers.Count;
    }

    /// <summary>
    /// Restarts the stack's running services in dependency order, each level health-gated; dependents keep running.
    /// A stack with nothing running is an error when <paramref name="required"/> (the user named it), otherwise skipped.
    /// Returns how many containers were restarted.
    /// </summary>
    public async Task<int> RestartAsync(string stack, bool required, CancellationToken cancellationToken)
    {
        environment.Stack(stack);
        var containers = await ContainersAsync(stack, cancellationToken);
        if (containers.All(c => c.RunState() != ContainerRunState.Running))
        {
            if (required)
            {
                throw new PipelineException($"stack {stack} is not running in environment {environment.Name}: use Start{Health.Capitalize(stack)}");
            }

            log.Information("Stack {Stack} is not running in {Environment}: nothing to restart", stack, environment.Name);
            return 0;
        }

        return await _lifecycle.RestartAsync(environment.Stack(stack).Services, cancellationToken);
    }

    /// <summary>The stack's service containers (all states), by label.</summary>
    public Task<IList<ContainerListResponse>> ContainersAsync(string? stack, CancellationToken cancellationToken) =>
        engine.ServiceContainersAsync(_scope, cancellationToken, stack);

    private async Task CheckExternalDependenciesAsync(string stack, List<ResolvedService> services, CancellationToken cancellationToken)
    {
        foreach (var dependency in services.SelectMany(s => s.DependsOn.Select(d => (Service: s, Dependency: environment.Service(d)))).Where(x => x.Dependency.Stack != stack))
        {
            var running = (await engine.ServiceContainersAsync(_scope, cancellationToken, service: dependency.Dependency.Name, all: false))
                .Where(c => c.RunState() == ContainerRunState.Running)
                .ToList();
            if (running.Count == 0)
            {
                throw new PipelineException(
                    $"service '{dependency.Service.Name}' needs '{dependency.Dependency.Name}' (stack {dependency.Dependency.Stack}), which is not running in {environment.Name}: run Start{Health.Capitalize(dependency.Dependency.Stack)} first");
            }

            foreach (var container in running)
            {
                await Health.WaitReadyAsync(engine, container.ID, container.Names[0].TrimStart('/'), dependency.Dependency, log, cancellationToken);
            }
        }
    }

    private async Task EnsureNetworkAsync(ResolvedNetwork network, CancellationToken cancellationToken)
    {
        var found = await FindNetworkAsync(network.Name, cancellationToken);
        if (found is not null)
        {
            if (!_scope.Owns(found.Labels))
            {
                throw new PipelineException($"network '{network.Name}' exists but is not LlmStack's for {environment.Name} (labels differ): rename or remove it, or change the project name");
            }

            var subnets = found.IPAM?.Config?.Select(c => c.Subnet).ToList() ?? [];
            if (subnets.Contains(network.Subnet.ToString()))
            {
                return;
            }

            if (found.Containers is { Count: > 0 })
            {
                throw new PipelineException(
                    $"network '{network.Name}' has subnet {string.Join(",", subnets)} but the schema says {network.Subnet}, and containers use it: run Stop{Health.Capitalize(network.Stack)}, then start again");
            }

            await engine.CallAsync(ct => engine.Client.Networks.DeleteNetworkAsync(found.ID, ct), cancellationToken);
            log.Information("Removed network {Network} (subnet {Old} differs from the schema's {New})", network.Name, string.Join(",", subnets), network.Subnet);
        }

        await engine.Client.Networks.CreateNetworkAsync(
            new NetworksCreateParameters
            {
                Name = network.Name,
                Driver = network.Driver,
                Labels = Labels.Network(environment.Project, environment.Name, network.Stack),
                IPAM = new IPAM
                {
                    Driver = "default",
                    Config = [new IPAMConfig { Subnet = network.Subnet.ToString(), Gateway = network.Gateway.ToString() }],
                },
            },
            cancellationToken);
        log.Information("Created network {Network} ({Subnet}, gateway {Gateway})", network.Name, network.Subnet, network.Gateway);
    }

    private async Task RequireNetworkAsync(ResolvedNetwork network, CancellationToken cancellationToken)
    {
        var found = await FindNetworkAsync(network.Name, cancellationToken);
        if (found is null || !_scope.Owns(found.Labels))
        {
            throw new PipelineException($"network '{network.Name}' of stack {network.Stack} does not exist: run Start{Health.Capitalize(network.Stack)} first");
        }
    }

    private async Task<NetworkResponse?> FindNetworkAsync(string name, CancellationToken cancellationToken)
    {
        var candidates = await engine.CallAsync(
            ct => engine.Client.Networks.ListNetworksAsync(
                new NetworksListParameters { Filters = new Dictionary<string, IDictionary<string, bool>> { ["name"] = new Dictionary<string, bool> { [name] = true } } },
                ct),
            cancellationToken);
        var match = candidates.FirstOrDefault(n => n.Name == name); // the name filter matches substrings
        return match is null ? null : await engine.CallAsync(ct => engine.Client.Networks.InspectNetworkAsync(match.ID, ct), cancellationToken);
    }

    private async Task EnsureVolumeAsync(ResolvedVolume volume, CancellationToken cancellationToken)
    {
        try
        {
            var found = await engine.CallAsync(ct => engine.Client.Volumes.InspectAsync(volume.Name, ct), cancellationToken);
            if (!_scope.Owns(found.Labels))
            {
                throw new PipelineException($"volume '{volume.Name}' exists but is not LlmStack's for {environment.Name} (labels differ): LlmStack will not use data it does not own");
            }
        }
        catch (DockerApiException e) when (e.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            var labels = Labels.Volume(environment.Project, environment.Name, volume.Stacks[0], volume.Key);
            await engine.Client.Volumes.CreateAsync(new VolumesCreateParameters { Name = volume.Name, Driver = volume.Driver, Labels = labels }, cancellationToken);
            log.Information("Created volume {Volume}", volume.Name);
        }
    }

    /// <summary>Removes containers whose service left the stack or whose replica number is beyond the count; returns the rest.</summary>
    private async Task<List<ContainerListResponse>> RemoveOrphansAsync(IList<ContainerListResponse> existing, Dictionary<string, List<ContainerPlan>> plans, CancellationToken cancellationToken)
    {
        var kept = new List<ContainerListResponse>();
        foreach (var container in existing)
        {
            var service = container.Labels.Value(Names.Service);
            var number = int.TryParse(container.Labels.Value(Names.ComposeContainerNumber), out var n) ? n : 0;
            if (service is null || !plans.TryGetValue(service, out var replicas) || number < 1 || number > replicas.Count)
            {
                await _lifecycle.StopOneAsync(container, remove: true, "orphan removed", cancellationToken);
            }
            else
            {
                kept.Add(container);
            }
        }

        return kept;
    }

    private async Task ReconcileAsync(ResolvedService service, List<ContainerPlan> plans, List<ContainerListResponse> existing, ConcurrentDictionary<string, StartAction> actions, CancellationToken cancellationToken)
    {
        var ready = new List<Task>();
        foreach (var plan in plans)
        {
            var current = existing.FirstOrDefault(c =>
                c.Labels.Value(Names.Service) == service.Name
                && c.Labels.Value(Names.ComposeContainerNumber) == plan.Number.ToString(System.Globalization.CultureInfo.InvariantCulture));
            var imageId = await EngineImages.IdAsync(engine, plan.Image, cancellationToken);
            string id;
            if (current is not null && current.Labels.Value(Names.ConfigHash) == plan.ConfigHash && current.ImageID == imageId)
            {
                id = current.ID;
                var repaired = await RepairNetworksAsync(plan, current, cancellationToken);
                if (current.RunState() == ContainerRunState.Running)
                {
                    actions[plan.Name] = repaired ? StartAction.Repaired : StartAction.Unchanged;
                }
                else if (current.RunState() == ContainerRunState.Paused)
                {
                    await engine.CallAsync(ct => engine.Client.Containers.UnpauseContainerAsync(id, ct), cancellationToken);
                    actions[plan.Name] = StartAction.Unpaused;
                    log.Information("Unpaused {Container}", plan.Name);
                }
                else
                {
                    await StartContainerAsync(plan, id, cancellationToken);
                    actions[plan.Name] = StartAction.Started;
                    log.Information("Started {Container}", plan.Name);
                }
            }
            else
            {
                if (current is not null)
                {
                    var why = current.ImageID != imageId ? "image changed" : "definition changed";
                    await _lifecycle.StopOneAsync(current, remove: true, $"recreating ({why})", cancellationToken);
                    actions[plan.Name] = StartAction.Recreated;
                }
                else
                {
                    actions[plan.Name] = StartAction.Created;
                }

                id = await CreateAsync(plan, cancellationToken);
                await StartContainerAsync(plan, id, cancellationToken);
                log.Information("{Action} {Container} ({Image})", actions[plan.Name] == StartAction.Created ? "Created" : "Recreated", plan.Name, plan.Image);
            }

            ready.Add(Health.WaitReadyAsync(engine, id, plan.Name, service, log, cancellationToken));
        }

        await Task.WhenAll(ready);
        log.Information("{Service} is {State}", service.Name, service.HasHealthcheck ? "healthy" : "running");
    }

    private async Task<string> CreateAsync(ContainerPlan plan, CancellationToken cancellationToken)
    {
        // Created and attached as one step, so the create itself is not cancelled either: a Ctrl-C that lands while the
        // engine answers would leave a container the engine made and this run never attached. A time limit stands in
        // for the cancellation; the run stops right after the attachments.
        CreateContainerResponse created;
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        try
        {
            created = await engine.Client.Containers.CreateContainerAsync(plan.Create, limit.Token);
        }
        catch (OperationCanceledException) when (limit.IsCancellationRequested)
        {
            throw new PipelineException($"service '{plan.Service.Name}': Docker did not answer the create of {plan.Name} within a minute: check the engine (docker info), then start again");
        }
        catch (DockerApiException e) when (e.StatusCode == System.Net.HttpStatusCode.Conflict)
        {
            throw new PipelineException($"container name '{plan.Name}' is taken by a container that is not LlmStack's for {environment.Name}: rename or remove it");
        }
        catch (DockerApiException e)
        {
            throw Refused(plan, "create", e);
        }

        // The attachments (short, so they finish; a failing one takes the container away again).
        try
        {
            foreach (var (network, aliases) in plan.ExtraNetworks)
            {
                await ConnectAsync(network, created.ID, aliases, CancellationToken.None);
            }
        }
        catch (Exception e) when (e is DockerApiException or IOException or HttpRequestException)
        {
            await engine.CallAsync(ct => engine.Client.Containers.RemoveContainerAsync(created.ID, new ContainerRemoveParameters { Force = true }, ct), CancellationToken.None);
            throw e is DockerApiException api ? Refused(plan, "attach its networks to", api) : e;
        }

        cancellationToken.ThrowIfCancellationRequested();
        return created.ID;
    }

    /// <summary>
    /// An existing container's networks against its plan (the config hash covers the plan's list, not what the engine
    /// has): a network it lacks — a run stopped between create and connect, or a disconnect behind LlmStack's back —
    /// is connected with the service's aliases, and one of this environment's networks it should not be on is left.
    /// Networks that are not ours are never touched. Returns whether anything changed.
    /// </summary>
    private async Task<bool> RepairNetworksAsync(ContainerPlan plan, ContainerListResponse current, CancellationToken cancellationToken)
    {
        var attached = current.NetworkSettings?.Networks?.Keys.ToHashSet(StringComparer.Ordinal) ?? [];
        var ours = environment.Networks.Select(n => n.Name).ToHashSet(StringComparer.Ordinal);
        var missing = plan.Networks.Where(n => !attached.Contains(n)).ToList();
        var extra = attached.Where(n => ours.Contains(n) && !plan.Networks.Contains(n)).Order(StringComparer.Ordinal).ToList();
        var aliases = plan.Service.Name;
        foreach (var network in missing)
        {
            await ConnectAsync(network, current.ID, [aliases], cancellationToken);
            log.Warning("Repaired {Container}: it was not attached to network {Network}", plan.Name, network);
        }

        foreach (var network in extra)
        {
            await engine.CallAsync(
                ct => engine.Client.Networks.DisconnectNetworkAsync(network, new NetworkDisconnectParameters { Container = current.ID, Force = true }, ct),
                cancellationToken);
            log.Warning("Repaired {Container}: it was attached to network {Network}, which the schema does not give it", plan.Name, network);
        }

        return missing.Count + extra.Count > 0;
    }

    private Task ConnectAsync(string network, string container, IList<string> aliases, CancellationToken cancellationToken) =>
        engine.Client.Networks.ConnectNetworkAsync(
            network,
            new NetworkConnectParameters { Container = container, EndpointConfig = new EndpointSettings { Aliases = aliases } },
            cancellationToken);

    private async Task StartContainerAsync(ContainerPlan plan, string id, CancellationToken cancellationToken)
    {
        try
        {
            await engine.CallAsync(ct => engine.Client.Containers.StartContainerAsync(id, new ContainerStartParameters(), ct), cancellationToken);
        }
        catch (DockerApiException e)
        {
            throw Refused(plan, "start", e);
        }
    }

    private static PipelineException Refused(ContainerPlan plan, string what, DockerApiException e)
    {
        var message = EngineImages.ApiMessage(e);
        var hint = message.Contains("nvidia", StringComparison.OrdinalIgnoreCase) || message.Contains("device driver", StringComparison.OrdinalIgnoreCase)
            ? ": the service asks for a GPU; install the NVIDIA container runtime, or use an environment with gpu: false on CPU-only hosts"
            : string.Empty;
        return new PipelineException($"service '{plan.Service.Name}': Docker refused to {what} {plan.Name}: {message}{hint}");
    }
}
