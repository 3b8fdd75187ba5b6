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

/// <summary>What a Start did to each container.</summary>
public sealed record StartReport(IReadOnlyDictionary<string, ContainerAction> Actions)
{
    public int Count(ContainerAction action) => Actions.Values.Count(a => a == action);

    public override string ToString() =>
        string.Join(", ", Actions.Values.GroupBy(a => a).OrderBy(g => PlanText.Done(g.Key), StringComparer.Ordinal).Select(g => $"{g.Count()} {PlanText.Done(g.Key)}"));
}

/// <summary>What a Restart did: containers restarted in place, and what the Start that follows brought up that was down or missing.</summary>
public sealed record RestartReport(int Restarted, StartReport? Start)
{
    /// <summary>The containers the restart found down, missing or cut off, by what was done to them (an orphan the start removed is not one).</summary>
    public IReadOnlyDictionary<string, ContainerAction> Repaired =>
        Start?.Actions.Where(kv => kv.Value is not (ContainerAction.Unchanged or ContainerAction.Remove)).ToDictionary(kv => kv.Key, kv => kv.Value)
        ?? new Dictionary<string, ContainerAction>();

    public override string ToString() =>
        Repaired.Count == 0
            ? Restarted.ToString(System.Globalization.CultureInfo.InvariantCulture)
            : $"{Restarted}; brought back: {string.Join(", ", Repaired.Select(kv => $"{kv.Key} {PlanText.Done(kv.Value)}"))}";
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
    /// conflicts) before anything is created. What is done is <see cref="StartPlanner"/>'s plan of the stack, carried out by
    /// <see cref="ApplyAsync(ContainerStep, LiveEngineState, CancellationToken)"/> and its siblings — the steps Deploy
    /// takes one at a time through the change gate.
    /// </summary>
    public async Task<StartReport> StartAsync(string stack, SecretStore secrets, ImageMap images, Func<IReadOnlyList<ResolvedNetwork>, CancellationToken, Task>? beforeCreate, CancellationToken cancellationToken)
    {
        environment.Stack(stack);
        var services = environment.Services.Where(s => s.Stack == stack).ToList();

        await CheckExternalDependenciesAsync(stack, services, cancellationToken);

        var desired = ContainerSpecs.ForStack(environment, stack, images.Apply, secrets.Get, rootDirectory);

        if (beforeCreate is not null)
        {
            await beforeCreate([environment.NetworkOf(stack)], cancellationToken);
        }

        var state = new LiveEngineState(engine, _scope);
        var plan = await StartPlanner.StackAsync(environment, stack, desired, state, cancellationToken);
        if (plan.Problems.Count > 0)
        {
            throw new PipelineException(string.Join("; ", plan.Problems));
        }

        foreach (var network in plan.Networks)
        {
            await ApplyAsync(network, cancellationToken);
        }

        foreach (var volume in plan.Volumes)
        {
            await ApplyAsync(volume, cancellationToken);
        }

        var actions = new ConcurrentDictionary<string, ContainerAction>();
        foreach (var removal in plan.Containers.Where(c => c.Action == ContainerAction.Remove))
        {
            actions[removal.Name] = await ApplyAsync(removal, state, cancellationToken);
        }

        foreach (var level in plan.Containers.Where(c => c.Action != ContainerAction.Remove).GroupBy(c => c.Level).OrderBy(g => g.Key))
        {
            await Task.WhenAll(level.GroupBy(c => c.Service).Select(async replicas =>
            {
                await Task.WhenAll(replicas.Select(async step => actions[step.Name] = await ApplyAsync(step, state, cancellationToken)));
                log.Information("{Service} is {State}", replicas.Key, replicas.First().Desired!.Service.HasHealthcheck ? "healthy" : "running");
            }));
        }

        var report = new StartReport(actions.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToDictionary(kv => kv.Key, kv => kv.Value));
        log.Information("Stack {Stack} of {Environment} is up: {Report}", stack, environment.Name, report.ToString());
        return report;
    }

    /// <summary>A network step of a plan: created (a recreate removes the one whose subnet differs first); anything else is left alone.</summary>
    public async Task ApplyAsync(NetworkStep step, CancellationToken cancellationToken)
    {
        if (step.Action is not (ResourceAction.Create or ResourceAction.Recreate))
        {
            return;
        }

        var network = step.Desired!;
        if (step is { Action: ResourceAction.Recreate, Current: { } old })
        {
            await engine.CallAsync(ct => engine.Client.Networks.DeleteNetworkAsync(old.Id, ct), cancellationToken);
            log.Information("Removed network {Network} (subnet {Old} differs from the schema's {New})", network.Name, string.Join(",", old.Subnets), network.Subnet);
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

    /// <summary>A volume step of a plan: created when it is to be; anything else is left alone.</summary>
    public async Task ApplyAsync(VolumeStep step, CancellationToken cancellationToken)
    {
        if (step.Action != ResourceAction.Create)
        {
            return;
        }

        var volume = step.Desired!;
        var labels = Labels.Volume(environment.Project, environment.Name, volume.Stacks[0], volume.Key);
        await engine.Client.Volumes.CreateAsync(new VolumesCreateParameters { Name = volume.Name, Driver = volume.Driver, Labels = labels }, cancellationToken);
        log.Information("Created volume {Volume}", volume.Name);
    }

    /// <summary>
    /// A replica's step of a plan made from <paramref name="state"/>: removed, or brought to the schema's definition (created,
    /// recreated, started, unpaused, its networks repaired) and then waited for until ready, as its service's wait
    /// strategies say. Returns what was done.
    /// </summary>
    public async Task<ContainerAction> ApplyAsync(ContainerStep step, LiveEngineState state, CancellationToken cancellationToken)
    {
        if (step.Action == ContainerAction.Remove)
        {
            await _lifecycle.StopOneAsync(state.Listed(step.Current!.Id), remove: true, "orphan removed", cancellationToken);
            return step.Action;
        }

        var plan = step.Desired!;
        string id;
        if (step.Action is ContainerAction.Create or ContainerAction.Recreate)
        {
            if (step.Current is { } current)
            {
                await _lifecycle.StopOneAsync(state.Listed(current.Id), remove: true, $"recreating ({step.Why})", cancellationToken);
            }

            id = await CreateAsync(plan, cancellationToken);
            await StartContainerAsync(plan, id, cancellationToken);
            log.Information("{Action} {Container} ({Image})", step.Action == ContainerAction.Create ? "Created" : "Recreated", plan.Name, plan.Image);
        }
        else
        {
            id = step.Current!.Id;
            await RepairNetworksAsync(step, cancellationToken);
            if (step.Action == ContainerAction.Unpause)
            {
                await engine.CallAsync(ct => engine.Client.Containers.UnpauseContainerAsync(id, ct), cancellationToken);
                log.Information("Unpaused {Container}", plan.Name);
            }
            else if (step.Action == ContainerAction.Start)
            {
                await StartContainerAsync(plan, id, cancellationToken);
                log.Information("Started {Container}", plan.Name);
            }
        }

        await Health.WaitReadyAsync(engine, id, plan.Name, plan.Service, log, cancellationToken);
        return step.Action;
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
    /// An existing container's networks as its step says (the config hash covers the plan's list, not what the engine
    /// has): a network it lacks — a run stopped between create and connect, or a disconnect behind LlmStack's back —
    /// is connected with the service's aliases, and one of this environment's networks it should not be on is left.
    /// Networks that are not ours are never touched.
    /// </summary>
    private async Task RepairNetworksAsync(ContainerStep step, CancellationToken cancellationToken)
    {
        foreach (var network in step.Attach)
        {
            await ConnectAsync(network, step.Current!.Id, [step.Service], cancellationToken);
            log.Warning("Repaired {Container}: it was not attached to network {Network}", step.Name, network);
        }

        foreach (var network in step.Detach)
        {
            await engine.CallAsync(
                ct => engine.Client.Networks.DisconnectNetworkAsync(network, new NetworkDisconnectParameters { Container = step.Current!.Id, Force = true }, ct),
                cancellationToken);
            log.Warning("Repaired {Container}: it was attached to network {Network}, which the schema does not give it", step.Name, network);
        }
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
