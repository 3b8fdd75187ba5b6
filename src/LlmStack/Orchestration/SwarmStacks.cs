using System.Net;
using Docker.DotNet;
using Docker.DotNet.Models;
using LlmStack.Compose;
using LlmStack.Engine;
using LlmStack.Pipeline;
using LlmStack.Reporting;
using LlmStack.Schema;
using Serilog;

using Health = LlmStack.Engine.Health;

namespace LlmStack.Orchestration;

/// <summary>What a swarm Start did to a service.</summary>
public enum ServiceAction
{
    Created,
    Updated,
    Unchanged,
}

/// <summary>The environment's secrets as a swarm Start needs them: the schema's secret names and each one's value (the session's secret store).</summary>
public sealed record SwarmSecretValues(IReadOnlySet<string> Names, Func<string, string?> Value);

/// <summary>
/// The stacks of one environment as services on a Docker swarm: overlay networks per stack (the schema's subnets,
/// attachable), services created or updated one dependency level at a time, each level waited for (running tasks ==
/// replicas, every task's container ready by the service's checks) before the next. Everything is found by our labels.
/// </summary>
public sealed class SwarmStacks(DockerEngine engine, ResolvedEnvironment environment, ILogger log)
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(500);

    /// <summary>How long an update may show no status of its own before it is taken as one that rolls out no new tasks.</summary>
    private static readonly TimeSpan NoRollout = TimeSpan.FromSeconds(5);
    private readonly Scope _scope = Scope.Of(environment);
    private string? _localNode;

    /// <summary>The swarm this engine is a manager of; one line when it is none (SwarmInit makes one).</summary>
    public static async Task<SwarmInspectResponse> SwarmAsync(DockerEngine engine, CancellationToken cancellationToken)
    {
        try
        {
            return await engine.CallAsync(ct => engine.Client.Swarm.InspectSwarmAsync(ct), cancellationToken);
        }
        catch (DockerApiException e) when (e.StatusCode is HttpStatusCode.ServiceUnavailable or HttpStatusCode.NotAcceptable)
        {
            throw new PipelineException($"the Docker engine at {engine.Endpoint} is not a swarm manager ({EngineImages.ApiMessage(e)}): run SwarmInit, or use --orchestrator containers");
        }
    }

    /// <summary>
    /// Start on the swarm: networks, volumes, then the stack's services level by level (<see cref="ServiceGraph.Levels"/>).
    /// <paramref name="plans"/> are the services' container plans (image after --image-map, secrets materialised).
    /// </summary>
    public async Task<IReadOnlyDictionary<string, ServiceAction>> StartAsync(
        string stack, IReadOnlyDictionary<string, IReadOnlyList<ContainerPlan>> plans, EndpointChoice endpoint, SwarmSecretValues secrets, CancellationToken cancellationToken)
    {
        var prepared = await PrepareAsync(stack, endpoint, secrets, cancellationToken);
        var actions = new Dictionary<string, ServiceAction>(StringComparer.Ordinal);
        await ByLevelsAsync(environment.Services.Where(s => s.Stack == stack).Select(s => s.Name), "started", async service =>
        {
            var action = await ApplyAsync(service, prepared.Spec(service, plans[service.Name][0]), cancellationToken);
            lock (actions)
            {
                actions[service.Name] = action;
            }
        });

        log.Information("Stack {Stack} of {Environment} is up on the swarm: {Summary}", stack, environment.Name, Summary(actions));
        await PruneSecretsAsync(cancellationToken);
        return actions;
    }

    /// <summary>
    /// Our ordering on top of Swarm: <paramref name="apply"/> for each service, one dependency level at a time (a level's
    /// services at once); a service that fails stops the rest, naming the services of the later levels as not
    /// <paramref name="done"/> ("started", "restarted").
    /// </summary>
    private async Task ByLevelsAsync(IEnumerable<string> services, string done, Func<ResolvedService, Task> apply)
    {
        var levels = environment.Graph.Levels(services);
        for (var i = 0; i < levels.Count; i++)
        {
            var later = levels.Skip(i + 1).SelectMany(l => l).ToList();
            await Task.WhenAll(levels[i].Select(async service =>
            {
                try
                {
                    await apply(service);
                }
                catch (ServiceFailedException e) when (later.Count > 0)
                {
                    throw new ServiceFailedException($"{e.Message.TrimEnd('.')}; not {done}, as they depend on it: {string.Join(", ", later.Select(b => b.Name))}");
                }
            }));
        }
    }

    /// <summary>
    /// What a stack's services need before any of them is created or updated: the swarm, its services in other stacks
    /// running, its networks, its named volumes and its Swarm secrets (created when missing). Start and Deploy both
    /// prepare a stack this way, then create or update each service with <see cref="ApplyServiceAsync"/>'s one path.
    /// </summary>
    public async Task<PreparedStack> PrepareAsync(string stack, EndpointChoice endpoint, SwarmSecretValues secrets, CancellationToken cancellationToken)
    {
        await SwarmAsync(engine, cancellationToken);
        var services = environment.Services.Where(s => s.Stack == stack).ToList();
        log.Information("Swarm endpoint mode: {Mode}", endpoint.Why);

        foreach (var dependency in services.SelectMany(s => s.DependsOn).Select(environment.Service).Where(d => d.Stack != stack).DistinctBy(d => d.Name))
        {
            if (await FindAsync(dependency, cancellationToken) is null)
            {
                throw new PipelineException($"service '{dependency.Name}' (stack {dependency.Stack}) is not running on the swarm for {environment.Name}: run Start{Health.Capitalize(dependency.Stack)} --orchestrator swarm first");
            }
        }

        foreach (var network in services.SelectMany(s => s.Networks).Distinct().Select(environment.NetworkOf))
        {
            await EnsureNetworkAsync(network, network.Stack == stack, cancellationToken);
        }

        foreach (var volume in environment.Volumes.Where(v => services.Any(s => s.Volumes.Any(m => m.Kind == MountKind.Volume && m.Source == v.Key))))
        {
            await EnsureVolumeAsync(volume, cancellationToken);
        }

        var mounts = new Dictionary<string, IReadOnlyList<SwarmSecretMount>>(StringComparer.Ordinal);
        foreach (var service in services)
        {
            mounts[service.Name] = await EnsureSecretsAsync(service, secrets, cancellationToken);
        }

        return new PreparedStack(environment, endpoint, mounts);
    }

    /// <summary>A stack made ready for its services (<see cref="PrepareAsync"/>): each service's spec with its Swarm secrets.</summary>
    public sealed class PreparedStack(ResolvedEnvironment environment, EndpointChoice endpoint, IReadOnlyDictionary<string, IReadOnlyList<SwarmSecretMount>> mounts)
    {
        public ServiceSpec Spec(ResolvedService service, ContainerPlan plan) => SwarmSpecs.Build(environment, service, plan, endpoint, mounts[service.Name]);
    }

    /// <summary>
    /// One service of a prepared stack created, updated (rolling, by its update policy) or left as it is, then waited
    /// for until healthy: the one create-or-update path, of Start (a level at a time) and Deploy (a change at a time).
    /// </summary>
    public Task<ServiceAction> ApplyServiceAsync(PreparedStack prepared, ResolvedService service, ContainerPlan plan, CancellationToken cancellationToken) =>
        ApplyAsync(service, prepared.Spec(service, plan), cancellationToken);

    /// <summary>
    /// The Swarm secrets of a service's <c>secret_files:</c> (<see cref="SwarmSecretPlan"/>), created when missing: named
    /// by a hash of the value (<see cref="SwarmSpecs.SecretName"/>; a secret is immutable, so a new value is a new
    /// secret), labelled as the environment's, the value sent in the request body from the secret store — never logged,
    /// never on a command line. A secret of that name that is not ours is refused.
    /// </summary>
    private async Task<IReadOnlyList<SwarmSecretMount>> EnsureSecretsAsync(ResolvedService service, SwarmSecretValues secrets, CancellationToken cancellationToken)
    {
        var plan = SwarmSecretPlan.For(environment.Project, service, service.SecretFiles, secrets.Names);
        if (plan.Files.Count == 0)
        {
            return [];
        }

        var mounts = new List<SwarmSecretMount>();
        foreach (var file in plan.Files)
        {
            var value = secrets.Value(file.Secret) is { Length: > 0 } found
                ? found
                : throw new PipelineException($"secret {file.Secret} of environment {environment.Name} has no value (service '{service.Name}' reads it from a Swarm secret): set it in the environment's secrets file");
            var name = SwarmSpecs.SecretName(file, value);
            var existing = (await engine.CallAsync(ct => engine.Client.Secrets.ListAsync(ct), cancellationToken)).FirstOrDefault(s => s.Spec?.Name == name);
            if (existing is not null && !_scope.Owns(existing.Spec!.Labels))
            {
                throw new PipelineException($"Swarm secret {name} exists but is not LlmStack's for {environment.Name}: remove or rename it (docker secret rm {name})");
            }

            var id = existing?.ID;
            if (id is null)
            {
                id = (await engine.CallAsync(ct => engine.Client.Secrets.CreateAsync(new SwarmSecretSpec
                {
                    Name = name,
                    Labels = Labels.SwarmSecret(environment.Project, environment.Name, file.Secret),
                    Data = System.Text.Encoding.UTF8.GetBytes(value),
                }, ct), cancellationToken)).ID;
                log.Information("Created Swarm secret {Secret} ({Variable} of {Service}, mounted at {Path})", name, file.Variable, service.Name, file.Path);
            }

            mounts.Add(new SwarmSecretMount(file, id!, name));
        }

        return mounts;
    }

    /// <summary>The environment's Swarm secrets (by our labels).</summary>
    public async Task<IReadOnlyList<Secret>> SecretsAsync(CancellationToken cancellationToken) =>
        (await engine.CallAsync(ct => engine.Client.Secrets.ListAsync(ct), cancellationToken))
        .Where(s => _scope.Owns(s.Spec?.Labels) && s.Spec!.Labels.Value(Names.Secret) is not null)
        .OrderBy(s => s.Spec!.Name, StringComparer.Ordinal)
        .ToList();

    /// <summary>The ids of the secrets any service on the swarm refers to, in its spec or its previous spec (a rollback needs those).</summary>
    public async Task<IReadOnlySet<string>> SecretsInUseAsync(CancellationToken cancellationToken) =>
        (await engine.CallAsync(ct => engine.Client.Swarm.ListServicesAsync(new ServiceListParameters(), ct), cancellationToken))
        .SelectMany(s => new[] { s.Spec, s.PreviousSpec })
        .SelectMany(spec => spec?.TaskTemplate?.ContainerSpec?.Secrets ?? [])
        .Select(r => r.SecretID)
        .ToHashSet(StringComparer.Ordinal);

    /// <summary>
    /// Removes the environment's Swarm secrets that no service uses (in its spec or previous spec): those of an old value,
    /// and those a Stop left unused (the secrets file keeps the value; the next Start creates the secret again).
    /// </summary>
    public async Task<int> PruneSecretsAsync(CancellationToken cancellationToken)
    {
        var used = await SecretsInUseAsync(cancellationToken);
        var removed = 0;
        foreach (var secret in (await SecretsAsync(cancellationToken)).Where(s => !used.Contains(s.ID)))
        {
            try
            {
                await engine.CallAsync(ct => engine.Client.Secrets.DeleteAsync(secret.ID, ct), cancellationToken);
                log.Information("Removed unused Swarm secret {Secret}", secret.Spec!.Name);
                removed++;
            }
            catch (DockerApiException e) when (e.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.Conflict or HttpStatusCode.NotFound)
            {
                log.Debug("Kept Swarm secret {Secret}: {Why}", secret.Spec!.Name, EngineImages.ApiMessage(e));
            }
        }

        return removed;
    }

    /// <summary>
    /// Removes one service of the environment (refused for one that is not ours); its tasks' containers go
    /// asynchronously (<see cref="WaitTasksGoneAsync"/>). Returns its stop grace period.
    /// </summary>
    public async Task<TimeSpan> RemoveServiceAsync(string id, CancellationToken cancellationToken)
    {
        var service = await engine.CallAsync(ct => engine.Client.Swarm.InspectServiceAsync(id, ct), cancellationToken);
        if (!_scope.Owns(service.Spec?.Labels))
        {
            throw new InvalidOperationException($"refusing to remove swarm service {service.Spec?.Name ?? id}: not in scope {_scope}");
        }

        await engine.CallAsync(ct => engine.Client.Swarm.RemoveServiceAsync(id, ct), cancellationToken);
        log.Information("Removed service {Service}", service.Spec!.Name);
        return service.Spec.TaskTemplate?.ContainerSpec?.StopGracePeriod ?? TimeSpan.FromSeconds(10);
    }

    /// <summary>
    /// Until no container on this engine is a task of the removed services (Swarm removes them asynchronously, about 5 s
    /// after the service here, in parallel for all; a volume or network they hold is free afterwards); one line when
    /// some are still there after <paramref name="grace"/> + 60 s.
    /// </summary>
    public async Task WaitTasksGoneAsync(IReadOnlyCollection<string> ids, TimeSpan grace, CancellationToken cancellationToken)
    {
        var limit = grace + TimeSpan.FromSeconds(60);
        var deadline = DateTime.UtcNow + limit;
        while (true)
        {
            var left = new List<ContainerListResponse>();
            foreach (var id in ids)
            {
                var filter = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"{Names.SwarmServiceId}={id}"] = true } };
                left.AddRange(await engine.CallAsync(ct => engine.Client.Containers.ListContainersAsync(new ContainersListParameters { All = true, Filters = filter }, ct), cancellationToken));
            }

            if (left.Count == 0)
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                var named = left.Select(c => c.Labels.Value(Names.Service) ?? c.Labels.Value("com.docker.swarm.service.name") ?? c.Names[0].TrimStart('/')).Distinct().Order(StringComparer.Ordinal);
                throw new PipelineException($"service(s) {string.Join(", ", named)} removed, but {left.Count} of their task container(s) are still there after {Duration.Format(limit)} ({string.Join(", ", left.Select(c => c.Names[0].TrimStart('/')))}): check them with docker ps, then run the target again");
            }

            await Task.Delay(Poll, cancellationToken);
        }
    }

    /// <summary>"2 created, 1 unchanged".</summary>
    public static string Summary(IReadOnlyDictionary<string, ServiceAction> actions) =>
        string.Join(", ", actions.Values.GroupBy(a => a).OrderBy(g => g.Key).Select(g => $"{g.Count()} {g.Key.ToString().ToLowerInvariant()}"));

    /// <summary>One service: created, updated (rolling, by its update policy) or left as it is, then waited for.</summary>
    private async Task<ServiceAction> ApplyAsync(ResolvedService service, ServiceSpec spec, CancellationToken cancellationToken)
    {
        var current = await FindAsync(service, cancellationToken);
        ServiceAction action;
        var since = DateTime.UtcNow.AddSeconds(-1);
        if (current is null)
        {
            await engine.CallAsync(ct => engine.Client.Swarm.CreateServiceAsync(new ServiceCreateParameters { Service = spec }, ct), cancellationToken);
            log.Information("Created service {Service} ({Replicas} replica(s), {Image})", spec.Name, service.Replicas, spec.TaskTemplate!.ContainerSpec!.Image);
            action = ServiceAction.Created;
        }
        else if (current.Spec!.Labels.Value(Names.SpecHash) == spec.Labels[Names.SpecHash])
        {
            action = ServiceAction.Unchanged;
        }
        else
        {
            await engine.CallAsync(
                ct => engine.Client.Swarm.UpdateServiceAsync(current.ID, new ServiceUpdateParameters { Service = spec, Version = (long)current.Version!.Index!.Value }, ct),
                cancellationToken);
            log.Information("Updating service {Service} ({Order}, parallelism {Parallelism}, monitor {Monitor}, on failure {FailureAction})",
                spec.Name, spec.UpdateConfig!.Order, spec.UpdateConfig.Parallelism, Duration.Format(spec.UpdateConfig.Monitor!.Value), spec.UpdateConfig.FailureAction);
            await WaitForUpdateAsync(service, current.ID, current.UpdateStatus?.StartedAt, cancellationToken);
            action = ServiceAction.Updated;
        }

        await WaitHealthyAsync(service, spec.Name!, since, cancellationToken);
        log.Information("{Service} is {State} on the swarm", service.Name, service.HasHealthcheck ? "healthy" : "running");
        return action;
    }

    /// <summary>
    /// Until the update ends: completed, or rolled back — then one line naming the service and why, the previous
    /// definition serving again.
    /// </summary>
    private async Task WaitForUpdateAsync(ResolvedService service, string id, DateTime? previousStart, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + Health.Deadline(service) + SwarmSpecs.Update(service).Monitor!.Value + TimeSpan.FromMinutes(1);
        var started = DateTime.UtcNow + NoRollout;
        while (true)
        {
            var inspected = await engine.CallAsync(ct => engine.Client.Swarm.InspectServiceAsync(id, ct), cancellationToken);

            // Right after the update call the status may still be none, or the previous update's ("completed"): only a
            // status with another start time is this update's. None within a few seconds: the change needed no new
            // tasks (labels only), so there is no rollout to wait for.
            if (inspected.UpdateStatus is not { } status || status.StartedAt == previousStart)
            {
                if (DateTime.UtcNow > started)
                {
                    return;
                }

                await Task.Delay(Poll, cancellationToken);
                continue;
            }

            var state = status.State;
            switch (state)
            {
                case null or "completed":
                    return;
                case "rollback_completed":
                    throw new ServiceFailedException(
                        $"service '{service.Name}': the update failed and was rolled back ({inspected.UpdateStatus!.Message}{await LastTaskErrorAsync(id, cancellationToken)}); the previous definition is serving: fix the image or definition and start again");
                case "paused" or "rollback_paused":
                    throw new ServiceFailedException(
                        $"service '{service.Name}': the update is {state?.Replace('_', ' ')} ({inspected.UpdateStatus!.Message}{await LastTaskErrorAsync(id, cancellationToken)}): fix it and start again (docker service update --rollback undoes it)");
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new ServiceFailedException($"service '{service.Name}': the update did not end within {(deadline - DateTime.UtcNow).Duration():mm\\:ss} (state {state})");
            }

            await Task.Delay(Poll, cancellationToken);
        }
    }

    /// <summary>
    /// Until running tasks == replicas and each one's container is ready (<see cref="Health.WaitReadyAsync"/>: the
    /// healthcheck probed, the ready checks); tasks that keep failing end it early, naming the task's error.
    /// </summary>
    private async Task WaitHealthyAsync(ResolvedService service, string name, DateTime since, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + Health.Deadline(service) + TimeSpan.FromSeconds(30);
        var ready = new HashSet<string>(StringComparer.Ordinal);
        while (true)
        {
            var tasks = await TasksAsync(service, cancellationToken);
            var running = tasks.Where(t => t.DesiredState == TaskState.Running && t.Status?.State == TaskState.Running && t.Status.ContainerStatus?.ContainerID is { Length: > 0 }).ToList();
            // A task that ended since: failed, rejected, or complete — Swarm stops a task whose healthcheck fails, and a
            // process that exits 0 on SIGTERM (postgres, the stand-in) leaves it "complete", not "failed".
            var failed = tasks.Where(t => t.Status?.State is TaskState.Failed or TaskState.Rejected or TaskState.Complete && t.CreatedAt > since).OrderByDescending(t => t.CreatedAt).ToList();
            var here = await LocalNodeAsync(cancellationToken);
            foreach (var task in running.Where(t => !ready.Contains(t.ID)))
            {
                var container = $"{name}.{task.Slot}";
                if (!ProbedHere(task.NodeID, here))
                {
                    // Its container is another node's: no engine call here can reach it. Swarm marks a task running only
                    // once Docker's healthcheck passed (a service with one), which is what this node would have probed.
                    log.Information(
                        "{Task} runs on node {Node}: {How}; its ready: checks run only on this node's tasks",
                        container, await NodeNameAsync(task.NodeID!, cancellationToken), service.HasHealthcheck ? "healthy by Swarm's own healthcheck state" : "running (the service has no healthcheck)");
                    ready.Add(task.ID);
                    continue;
                }

                try
                {
                    await Health.WaitReadyAsync(engine, task.Status!.ContainerStatus!.ContainerID!, container, service, log, cancellationToken);
                }
                catch (ServiceFailedException e)
                {
                    throw new ServiceFailedException($"{e.Message.TrimEnd('.')}{await LastTaskErrorAsync(service, cancellationToken)}");
                }

                ready.Add(task.ID);
            }

            if (ready.Count >= service.Replicas && running.Count(t => ready.Contains(t.ID)) >= service.Replicas)
            {
                return;
            }

            if (failed.Count >= 3 || DateTime.UtcNow > deadline)
            {
                var why = failed.FirstOrDefault() is { } last
                    ? last.Status!.State == TaskState.Complete
                        ? $"{failed.Count} task(s) ended, the last {name}.{last.Slot} {(service.HasHealthcheck ? "stopped (its healthcheck failed, or its process exited)" : "exited")}"
                        : $"task {name}.{last.Slot} {last.Status.State.ToString()!.ToLowerInvariant()}: {last.Status.Err ?? last.Status.Message}"
                    : $"{running.Count}/{service.Replicas} task(s) running";
                throw new ServiceFailedException($"service '{service.Name}' did not come up on the swarm: {why}");
            }

            await Task.Delay(Poll, cancellationToken);
        }
    }

    /// <summary>
    /// Whether a task's container is this engine's (so its readiness can be probed here: the healthcheck run, the ready:
    /// checks): a task of another node is not — its container is on that node's engine.
    /// </summary>
    public static bool ProbedHere(string? taskNode, string localNode) =>
        string.IsNullOrEmpty(taskNode) || string.IsNullOrEmpty(localNode) || string.Equals(taskNode, localNode, StringComparison.Ordinal);

    /// <summary>
    /// The hostnames of the nodes other than this engine's that a service's tasks are on or were on (Swarm keeps a few
    /// ended tasks per slot): a node-local volume of the service may be there, out of this engine's reach.
    /// </summary>
    public async Task<IReadOnlyList<string>> OtherNodesAsync(string serviceId, CancellationToken cancellationToken)
    {
        var here = await LocalNodeAsync(cancellationToken);
        var names = new List<string>();
        foreach (var node in (await TasksOfAsync(serviceId, cancellationToken)).Select(t => t.NodeID).Where(n => !ProbedHere(n, here)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            names.Add(await NodeNameAsync(node!, cancellationToken));
        }

        return names;
    }

    /// <summary>A node's hostname (its id when the swarm does not say).</summary>
    private async Task<string> NodeNameAsync(string node, CancellationToken cancellationToken) =>
        (await engine.CallAsync(ct => engine.Client.Swarm.InspectNodeAsync(node, ct), cancellationToken)).Description?.Hostname ?? node;

    /// <summary>This engine's node id in the swarm.</summary>
    private async Task<string> LocalNodeAsync(CancellationToken cancellationToken) =>
        _localNode ??= (await engine.CallAsync(ct => engine.Client.System.GetSystemInfoAsync(ct), cancellationToken)).Swarm?.NodeID ?? string.Empty;

    private async Task<string> LastTaskErrorAsync(ResolvedService service, CancellationToken cancellationToken) =>
        LastTaskError(await TasksAsync(service, cancellationToken));

    private async Task<string> LastTaskErrorAsync(string serviceId, CancellationToken cancellationToken) =>
        LastTaskError(await TasksOfAsync(serviceId, cancellationToken));

    private static string LastTaskError(IEnumerable<TaskResponse> tasks) =>
        tasks.Where(t => !string.IsNullOrEmpty(t.Status?.Err)).OrderByDescending(t => t.CreatedAt).FirstOrDefault() is { } task ? $"; task error: {task.Status!.Err}" : string.Empty;

    /// <summary>A service's tasks, by our labels on the service.</summary>
    private async Task<IList<TaskResponse>> TasksAsync(ResolvedService service, CancellationToken cancellationToken) =>
        await FindAsync(service, cancellationToken) is { } found ? await TasksOfAsync(found.ID, cancellationToken) : [];

    /// <summary>The tasks of the swarm service with this id.</summary>
    private Task<IList<TaskResponse>> TasksOfAsync(string serviceId, CancellationToken cancellationToken) =>
        engine.CallAsync(
            ct => engine.Client.Tasks.ListAsync(new TasksListParameters { Filters = new Dictionary<string, IDictionary<string, bool>> { ["service"] = new Dictionary<string, bool> { [serviceId] = true } } }, ct),
            cancellationToken);

    /// <summary>The service of the environment with this schema name, by labels; null when there is none.</summary>
    public async Task<SwarmService?> FindAsync(ResolvedService service, CancellationToken cancellationToken) =>
        (await ServicesAsync(null, cancellationToken, service.Name)).SingleOrDefault();

    /// <summary>The environment's swarm services (of a stack), by labels.</summary>
    public async Task<IList<SwarmService>> ServicesAsync(string? stack, CancellationToken cancellationToken, string? service = null) =>
        (await engine.CallAsync(ct => engine.Client.Swarm.ListServicesAsync(new ServiceListParameters { Filters = _scope.ServiceFilter(stack, service), Status = true }, ct), cancellationToken))
        .Where(s => _scope.Owns(s.Spec?.Labels)
            && (stack is null || s.Spec!.Labels.Value(Names.Stack) == stack)
            && (service is null || s.Spec!.Labels.Value(Names.Service) == service))
        .ToList();

    private async Task EnsureNetworkAsync(ResolvedNetwork network, bool own, CancellationToken cancellationToken)
    {
        var existing = (await engine.CallAsync(ct => engine.Client.Networks.ListNetworksAsync(new NetworksListParameters { Filters = _scope.Filter(network.Stack) }, ct), cancellationToken))
            .Where(n => n.Name == network.Name).ToList();
        if (existing.FirstOrDefault() is { } found)
        {
            if (found.Driver != "overlay")
            {
                throw new PipelineException($"network {network.Name} is a {found.Driver} network (the containers orchestrator's): stop the {network.Stack} stack with --orchestrator containers first");
            }

            return;
        }

        if (!own)
        {
            throw new PipelineException($"network {network.Name} of stack {network.Stack} does not exist on the swarm: run Start{Health.Capitalize(network.Stack)} --orchestrator swarm first");
        }

        try
        {
            await engine.CallAsync(ct => engine.Client.Networks.CreateNetworkAsync(new NetworksCreateParameters
            {
                Name = network.Name,
                Driver = "overlay",
                Attachable = true,
                Scope = "swarm",
                Labels = Labels.Network(environment.Project, environment.Name, network.Stack),
                IPAM = new IPAM { Driver = "default", Config = [new IPAMConfig { Subnet = network.Subnet.ToString(), Gateway = network.Gateway.ToString() }] },
            }, ct), cancellationToken);
        }
        catch (DockerApiException e)
        {
            throw new PipelineException($"Docker refused to create overlay network {network.Name} ({network.Subnet}): {EngineImages.ApiMessage(e)}");
        }

        log.Information("Created overlay network {Network} ({Subnet}, gateway {Gateway}, attachable)", network.Name, network.Subnet, network.Gateway);
    }

    private async Task EnsureVolumeAsync(ResolvedVolume volume, CancellationToken cancellationToken)
    {
        try
        {
            var found = await engine.Client.Volumes.InspectAsync(volume.Name, cancellationToken);
            if (!_scope.Owns(found.Labels))
            {
                throw new PipelineException($"volume {volume.Name} exists but is not LlmStack's for {environment.Name}: rename or remove it");
            }

            return;
        }
        catch (DockerApiException e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
        }

        await engine.Client.Volumes.CreateAsync(new VolumesCreateParameters { Name = volume.Name, Driver = volume.Driver, Labels = Labels.Volume(environment.Project, environment.Name, volume.Stacks[0], volume.Key) }, cancellationToken);
        log.Information("Created volume {Volume}", volume.Name);
    }

    /// <summary>Stop on the swarm: the stack's services removed (by labels), dependents first, their tasks gone; volumes stay; the stack's network goes once unused.</summary>
    public async Task<int> StopAsync(string stack, CancellationToken cancellationToken)
    {
        await SwarmAsync(engine, cancellationToken);
        var services = await ServicesAsync(stack, cancellationToken);
        var order = environment.Graph.InOrder(services.Select(s => s.Spec!.Labels.Value(Names.Service)!).Where(n => environment.Services.Any(s => s.Name == n))).Reverse().ToList();
        // The one way to remove a service (the wipe's): each removed (ours only), then one wait until every removed
        // service's task containers are gone — the network and the volumes are free once they are; a timeout names them.
        var grace = TimeSpan.Zero;
        foreach (var service in services.OrderBy(s => order.IndexOf(s.Spec!.Labels.Value(Names.Service)!) is var i and >= 0 ? i : -1))
        {
            var own = await RemoveServiceAsync(service.ID, cancellationToken);
            grace = own > grace ? own : grace;
        }

        if (services.Count > 0)
        {
            await WaitTasksGoneAsync(services.Select(s => s.ID).ToList(), grace, cancellationToken);
        }

        foreach (var network in await engine.CallAsync(ct => engine.Client.Networks.ListNetworksAsync(new NetworksListParameters { Filters = _scope.Filter(stack) }, ct), cancellationToken))
        {
            if (network.Driver != "overlay")
            {
                continue;
            }

            try
            {
                await engine.CallAsync(ct => engine.Client.Networks.DeleteNetworkAsync(network.ID, ct), cancellationToken);
                log.Information("Removed network {Network}", network.Name);
            }
            catch (DockerApiException e) when (e.StatusCode is HttpStatusCode.Forbidden or HttpStatusCode.Conflict)
            {
                log.Warning("Kept network {Network}: {Why}", network.Name, EngineImages.ApiMessage(e));
            }
        }

        await PruneSecretsAsync(cancellationToken);
        log.Information("Stack {Stack} of {Environment} is down on the swarm: {Count} service(s) removed, volumes kept", stack, environment.Name, services.Count);
        return services.Count;
    }

    /// <summary>
    /// Restart on the swarm: a rolling restart of the stack's services (Swarm's force-update counter bumped, under each
    /// service's own update policy; a service scaled away from its replicas is set back to them), one dependency level
    /// at a time, each waited for as Start waits (the update ended, running tasks == replicas, every task ready). Returns
    /// how many services were restarted (0: none of the stack is on the swarm); the names of the schema's services
    /// of the stack that are missing are in <paramref name="missing"/>, for a Start to bring up.
    /// </summary>
    public async Task<int> RestartAsync(string stack, ICollection<string> missing, CancellationToken cancellationToken)
    {
        await SwarmAsync(engine, cancellationToken);
        var existing = (await ServicesAsync(stack, cancellationToken)).ToDictionary(s => s.Spec!.Labels.Value(Names.Service)!, StringComparer.Ordinal);
        var services = environment.Services.Where(s => s.Stack == stack).ToList();
        foreach (var name in services.Where(s => !existing.ContainsKey(s.Name)).Select(s => s.Name))
        {
            missing.Add(name);
        }

        var present = services.Where(s => existing.ContainsKey(s.Name)).ToList();
        if (present.Count == 0)
        {
            return 0;
        }

        await ByLevelsAsync(present.Select(s => s.Name), "restarted", service => ForceUpdateAsync(service, existing[service.Name].ID, cancellationToken));

        log.Information("Stack {Stack} of {Environment} restarted on the swarm: {Count} service(s)", stack, environment.Name, present.Count);
        return present.Count;
    }

    /// <summary>One service's rolling restart (<c>docker service update --force</c>), waited for until it ended and its tasks are ready.</summary>
    private async Task ForceUpdateAsync(ResolvedService service, string id, CancellationToken cancellationToken)
    {
        var current = await engine.CallAsync(ct => engine.Client.Swarm.InspectServiceAsync(id, ct), cancellationToken);
        if (!_scope.Owns(current.Spec?.Labels))
        {
            throw new InvalidOperationException($"refusing to restart swarm service {current.Spec?.Name ?? id}: not in scope {_scope}");
        }

        var spec = current.Spec!;
        spec.TaskTemplate!.ForceUpdate++;
        if (spec.Mode?.Replicated is { } replicated && replicated.Replicas != (ulong)service.Replicas)
        {
            log.Information("Service {Service} is at {Replicas} replica(s): back to {Wanted}", spec.Name, replicated.Replicas, service.Replicas);
            replicated.Replicas = (ulong)service.Replicas;
        }

        var since = DateTime.UtcNow.AddSeconds(-1);
        await engine.CallAsync(
            ct => engine.Client.Swarm.UpdateServiceAsync(id, new ServiceUpdateParameters { Service = spec, Version = (long)current.Version!.Index!.Value }, ct),
            cancellationToken);
        log.Information("Restarting service {Service} (rolling: {Order}, parallelism {Parallelism})", spec.Name, spec.UpdateConfig?.Order, spec.UpdateConfig?.Parallelism);
        await WaitForUpdateAsync(service, id, current.UpdateStatus?.StartedAt, cancellationToken);
        await WaitHealthyAsync(service, spec.Name!, since, cancellationToken);
        log.Information("{Service} is {State} on the swarm again", service.Name, service.HasHealthcheck ? "healthy" : "running");
    }

    /// <summary>
    /// Logs on the swarm: each service's logs through the Engine API's service logs (every task, whichever node runs it),
    /// demultiplexed and prefixed by service and task slot (<c>postgres-1 | …</c>), as the containers' are; --tail,
    /// --since and --follow as there.
    /// </summary>
    public async Task LogsAsync(string stack, LogOptions options, TextWriter output, CancellationToken cancellationToken)
    {
        await SwarmAsync(engine, cancellationToken);
        LogStream.CheckService(environment, stack, options.Service);
        var services = (await ServicesAsync(stack, cancellationToken, options.Service)).OrderBy(s => s.Spec!.Name, StringComparer.Ordinal).ToList();
        if (services.Count == 0)
        {
            throw new PipelineException($"no services of {(options.Service is null ? $"stack {stack}" : $"service {options.Service}")} on the swarm for {environment.Name}: start it first (Start{Health.Capitalize(stack)} --orchestrator swarm)");
        }

        var since = LogStream.Since(options.Since);
        var slots = new Dictionary<string, string>(StringComparer.Ordinal);
        async Task LoadSlotsAsync(CancellationToken ct)
        {
            foreach (var service in services)
            {
                var name = service.Spec!.Labels.Value(Names.Service)!;
                foreach (var task in await TasksOfAsync(service.ID, ct))
                {
                    slots[task.ID] = $"{name}-{task.Slot}";
                }
            }
        }

        await LoadSlotsAsync(cancellationToken);
        var width = Math.Max(slots.Values.DefaultIfEmpty(string.Empty).Max(p => p.Length), services.Max(s => s.Spec!.Labels.Value(Names.Service)!.Length + 2));
        var gate = new Lock();
        var refresh = new SemaphoreSlim(1, 1);
        await Task.WhenAll(services.Select(async service =>
        {
            var name = service.Spec!.Labels.Value(Names.Service)!;
            var parameters = new ServiceLogsParameters
            {
                ShowStdout = true,
                ShowStderr = true,
                Follow = options.Follow,
                Tail = options.TailLines,
                Since = since,
                Details = true,
            };
            try
            {
                using var stream = await engine.Client.Swarm.GetServiceLogsAsync(service.ID, false, parameters, cancellationToken);
                await LogStream.PumpAsync(stream, line =>
                {
                    var (task, text) = SwarmLogLine.Parse(line);
                    if (task is not null && !slots.ContainsKey(task) && refresh.Wait(0))
                    {
                        try
                        {
                            LoadSlotsAsync(cancellationToken).GetAwaiter().GetResult();
                        }
                        finally
                        {
                            refresh.Release();
                        }
                    }

                    var prefix = (task is not null && slots.TryGetValue(task, out var slot) ? slot : name).PadRight(width) + " | ";
                    lock (gate)
                    {
                        output.WriteLine(prefix + text);
                    }
                }, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested && options.Follow)
            {
                // Ctrl-C ends a follow: not an error of this service.
            }
        }));

        cancellationToken.ThrowIfCancellationRequested();
    }

    /// <summary>
    /// Plan on the swarm: for every service of <paramref name="stacks"/> (dependency order), the spec Start would give it
    /// (<paramref name="plans"/>, the Swarm secrets it would mount as they are now — a secret not created yet reads as
    /// new) compared with the service's <c>io.llmstack.spec-hash</c>: create, update (naming what differs) or unchanged;
    /// and every service of ours on the swarm that no enabled stack has any more: remove (<paramref name="inSchema"/>
    /// tells a service the schema still has, in a stack the environment does not enable, from one it dropped). Reads only.
    /// </summary>
    public async Task<SwarmPlan> PlanAsync(
        IReadOnlyList<string> stacks, IReadOnlyDictionary<string, IReadOnlyDictionary<string, IReadOnlyList<ContainerPlan>>> plans, EndpointChoice endpoint, SwarmSecretValues secrets,
        Func<string, bool> inSchema, CancellationToken cancellationToken)
    {
        await SwarmAsync(engine, cancellationToken);
        var existing = await ServicesAsync(null, cancellationToken);
        var ours = await SecretsAsync(cancellationToken);
        var steps = new List<SwarmPlanStep>();
        var wanted = new HashSet<string>(StringComparer.Ordinal);
        // Dependency levels across the stacks: a Deploy applies the steps in this order, so what a service needs in another
        // stack is there before it.
        var enabled = environment.Services.Where(s => stacks.Contains(s.Stack)).ToList();
        foreach (var service in environment.Graph.Levels(enabled.Select(s => s.Name)).SelectMany(l => l))
        {
            var stack = service.Stack;
            wanted.Add(service.Name);
            var mounts = SwarmSecretPlan.For(environment.Project, service, service.SecretFiles, secrets.Names).Files.Select(file =>
            {
                var name = SwarmSpecs.SecretName(file, secrets.Value(file.Secret) ?? string.Empty);
                return new SwarmSecretMount(file, ours.FirstOrDefault(s => s.Spec!.Name == name)?.ID ?? "(to create)", name);
            }).ToList();
            var spec = SwarmSpecs.Build(environment, service, plans[stack][service.Name][0], endpoint, mounts);
            var current = existing.FirstOrDefault(s => s.Spec!.Labels.Value(Names.Service) == service.Name);
            steps.Add(current is null
                ? new SwarmPlanStep(stack, service.Name, spec.Name!, SwarmPlanAction.Create, "not on the swarm", null)
                : current.Spec!.Labels.Value(Names.SpecHash) == spec.Labels[Names.SpecHash]
                    ? new SwarmPlanStep(stack, service.Name, spec.Name!, SwarmPlanAction.Unchanged, null, current.ID)
                    : new SwarmPlanStep(stack, service.Name, spec.Name!, SwarmPlanAction.Update, Differences(current.Spec, spec), current.ID));
        }

        foreach (var gone in existing.Where(s => !wanted.Contains(s.Spec!.Labels.Value(Names.Service) ?? string.Empty)).OrderBy(s => s.Spec!.Name, StringComparer.Ordinal))
        {
            var service = gone.Spec!.Labels.Value(Names.Service) ?? gone.Spec.Name!;
            var why = inSchema(service) ? "its stack is not enabled in the environment" : "not in the schema any more";
            steps.Insert(0, new SwarmPlanStep(gone.Spec.Labels.Value(Names.Stack) ?? "-", service, gone.Spec.Name!, SwarmPlanAction.Remove, why, gone.ID));
        }

        return new SwarmPlan(environment.Name, endpoint.Api, steps);
    }

    /// <summary>What differs between a service's spec on the swarm and the one Start would give it, in words.</summary>
    internal static string Differences(ServiceSpec current, ServiceSpec desired)
    {
        var what = new List<string>();
        if (current.TaskTemplate?.ContainerSpec?.Image != desired.TaskTemplate?.ContainerSpec?.Image)
        {
            what.Add($"image {current.TaskTemplate?.ContainerSpec?.Image} → {desired.TaskTemplate?.ContainerSpec?.Image}");
        }

        if (current.Mode?.Replicated?.Replicas != desired.Mode?.Replicated?.Replicas)
        {
            what.Add($"replicas {current.Mode?.Replicated?.Replicas} → {desired.Mode?.Replicated?.Replicas}");
        }

        // A variable whose value changed, that is new, or that is gone: named, never its value.
        IList<string> currentEnv = current.TaskTemplate?.ContainerSpec?.Env ?? [], desiredEnv = desired.TaskTemplate?.ContainerSpec?.Env ?? [];
        var changedEnv = desiredEnv.Except(currentEnv, StringComparer.Ordinal).Concat(currentEnv.Except(desiredEnv, StringComparer.Ordinal))
            .Select(e => e.Split('=', 2)[0]).Distinct().Order(StringComparer.Ordinal).ToList();
        if (changedEnv.Count > 0)
        {
            what.Add($"environment {string.Join(", ", changedEnv)}");
        }

        var secretsNow = (current.TaskTemplate?.ContainerSpec?.Secrets ?? []).Select(r => r.SecretName).Order(StringComparer.Ordinal);
        var secretsWanted = (desired.TaskTemplate?.ContainerSpec?.Secrets ?? []).Select(r => r.SecretName).Order(StringComparer.Ordinal);
        if (!secretsNow.SequenceEqual(secretsWanted))
        {
            what.Add("Swarm secrets");
        }

        return what.Count > 0 ? string.Join("; ", what) : "definition (spec hash differs)";
    }

    /// <summary>Status on the swarm: per service of the stack, replicas running/desired, health of its tasks' containers, image, update state; fails unless all are up and healthy.</summary>
    public async Task<Report> StatusAsync(string stack, CancellationToken cancellationToken)
    {
        await SwarmAsync(engine, cancellationToken);
        var found = await ServicesAsync(stack, cancellationToken);
        var containers = await engine.ServiceContainersAsync(_scope, cancellationToken, stack);
        var table = new TextTable("SERVICE", "STACK", "REPLICAS", "HEALTH", "ENDPOINT", "IMAGE", "UPDATE");
        var rows = new List<object>();
        var problems = new List<string>();
        foreach (var service in environment.Services.Where(s => s.Stack == stack))
        {
            var swarm = found.FirstOrDefault(f => f.Spec!.Labels.Value(Names.Service) == service.Name);
            var running = swarm?.ServiceStatus?.RunningTasks ?? 0;
            var desired = swarm?.ServiceStatus?.DesiredTasks ?? 0;
            var health = containers.Where(c => c.Labels.Value(Names.Service) == service.Name && c.State == "running")
                .Select(c => c.Status!.Contains("(healthy)", StringComparison.Ordinal) ? "healthy" : c.Status!.Contains("unhealthy", StringComparison.Ordinal) ? "unhealthy" : c.Status!.Contains("health: starting", StringComparison.Ordinal) ? "starting" : "-")
                .ToList();
            var healthText = health.Count == 0 ? "-" : string.Join(",", health.Distinct());
            var image = swarm?.Spec!.TaskTemplate!.ContainerSpec!.Image ?? "-";
            table.Add(service.Name, stack, swarm is null ? "missing" : SwarmSpecs.Replicas(running, desired), healthText, swarm?.Spec!.EndpointSpec?.Mode ?? "-", image, swarm?.UpdateStatus?.State ?? "-");
            rows.Add(new { service = service.Name, stack, exists = swarm is not null, running, desired, health = healthText, endpointMode = swarm?.Spec!.EndpointSpec?.Mode, image, update = swarm?.UpdateStatus?.State, version = swarm?.Version?.Index });
            if (swarm is null || running < desired || desired == 0 || (service.HasHealthcheck && health.Any(h => h != "healthy")))
            {
                problems.Add(service.Name);
            }
        }

        return new Report { Document = new { environment = environment.Name, stack, orchestrator = "swarm", services = rows } }
            .Table(table)
            .FailWhen(problems, p => $"stack {stack} of {environment.Name} on the swarm is not fully up and healthy: {string.Join(", ", p)}");
    }
}

/// <summary>What a swarm plan does to a service.</summary>
public enum SwarmPlanAction
{
    Create,
    Update,
    Unchanged,
    Remove,
}

/// <summary>One service of a swarm plan: its stack, schema name, swarm name, action, why (what differs), and its id on the swarm when it has one.</summary>
public sealed record SwarmPlanStep(string Stack, string Service, string Name, SwarmPlanAction Action, string? Why, string? Id);

/// <summary>The swarm plan of an environment (<see cref="SwarmStacks.PlanAsync"/>).</summary>
public sealed record SwarmPlan(string Environment, string EndpointMode, IReadOnlyList<SwarmPlanStep> Steps)
{
    public bool HasChanges => Steps.Any(s => s.Action != SwarmPlanAction.Unchanged);

    public int Count(SwarmPlanAction action) => Steps.Count(s => s.Action == action);

    public string Summary => $"{Count(SwarmPlanAction.Create)} to create, {Count(SwarmPlanAction.Update)} to update, {Count(SwarmPlanAction.Remove)} to remove, {Count(SwarmPlanAction.Unchanged)} unchanged";
}

/// <summary>A line of a service's logs with details (<c>com.docker.swarm.node.id=…,com.docker.swarm.service.id=…,com.docker.swarm.task.id=… text</c>): the task and the text.</summary>
public static class SwarmLogLine
{
    private const string TaskKey = "com.docker.swarm.task.id=";

    public static (string? Task, string Text) Parse(string line)
    {
        var space = line.IndexOf(' ', StringComparison.Ordinal);
        if (space < 0 || !line.AsSpan(0, space).Contains(TaskKey, StringComparison.Ordinal))
        {
            return (null, line);
        }

        var task = line[..space].Split(',').FirstOrDefault(a => a.StartsWith(TaskKey, StringComparison.Ordinal))?[TaskKey.Length..];
        return (task, line[(space + 1)..]);
    }
}
