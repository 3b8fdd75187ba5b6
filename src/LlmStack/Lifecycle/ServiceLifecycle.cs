using Docker.DotNet.Models;
using Docker.DotNet;
using LlmStack.Compose;
using LlmStack.Engine;
using LlmStack.Pipeline;
using LlmStack.Reporting;
using LlmStack.Schema;
using Serilog;

using Health = LlmStack.Engine.Health;

namespace LlmStack.Lifecycle;

/// <summary>How services are taken out of the way: paused (frozen, quick to resume) or stopped (processes end cleanly).</summary>
public enum SuspendMode
{
    Pause,
    Stop,
}

/// <summary>
/// A container that was running and has been paused or stopped, to be brought back; or (with
/// <paramref name="SwarmService"/>) a swarm service scaled to 0 from <paramref name="Replicas"/>. A swarm replaces a task
/// whose container stops, and a pause only reaches containers on the engine LlmStack talks to (measured on 20.10: a
/// paused task is left running, marked unhealthy, not replaced), so a swarm service's writers are suspended by scaling,
/// whichever node their tasks run on.
/// </summary>
public sealed record SuspendedContainer(string Id, string Name, string Service, SuspendMode Mode, string? SwarmService = null, ulong? Replicas = null);

/// <summary>
/// Services taken out of the way by <see cref="ServiceLifecycle.SuspendAsync"/>. Disposing brings them back (in
/// dependency order, health-gated) if that has not happened yet, so a failing or cancelled operation never leaves
/// them down: <c>await using var paused = await lifecycle.SuspendAsync(...)</c>.
/// </summary>
public sealed class SuspendedServices(ServiceLifecycle lifecycle, IReadOnlyList<SuspendedContainer> containers, string? journal) : IAsyncDisposable
{
    private int _resumed;

    public IReadOnlyList<SuspendedContainer> Containers => containers;

    /// <summary>The services affected (those asked for and their running dependents), dependencies first.</summary>
    public IReadOnlyList<string> Services => lifecycle.Graph.InOrder(containers.Select(c => c.Service));

    public async Task ResumeAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _resumed, 1) == 0)
        {
            try
            {
                await lifecycle.ResumeAsync(containers, cancellationToken);
            }
            finally
            {
                ServiceLifecycle.DeleteJournal(journal);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        // Not the run's token: after a Ctrl-C the services still come back (each bounded by its healthcheck deadline);
        // a second Ctrl-C (a CI runner's SIGTERM 7.5 s after its SIGINT) only stops the waiting for their health.
        await ResumeAsync(CancellationToken.None);
    }
}

/// <summary>
/// Stopping, pausing, restarting and bringing back services of one environment, in dependency order, in one place:
/// dependents go down before what they need, come back after it, a level at a time (in parallel within a level), each
/// gated by its health. Stack start/stop/restart use it, and so does every feature that must take services out of the
/// way (backups, restores, wipes, secret rotation).
/// </summary>
/// <remarks>
/// With a <c>journalBase</c> (the environment lock's path), every suspension is written down before it happens
/// (<c>&lt;base&gt;.&lt;id&gt;.suspended</c>) and forgotten once resumed, so services left paused or stopped by a run that was
/// killed are brought back by <see cref="RecoverAsync"/> when the next run takes the lock. <c>stopWaiting</c> (the run's
/// cleanup token: a second Ctrl-C) ends the health waits of a resume: what is left is still brought back, unawaited, so a
/// run stopped twice — a CI runner's cancel, whose SIGTERM follows its SIGINT after 7.5 s and a kill 2.5 s later — never
/// leaves a service paused or stopped.
/// </remarks>
public sealed class ServiceLifecycle(DockerEngine engine, ResolvedEnvironment environment, ILogger log, string? journalBase = null, CancellationToken stopWaiting = default)
{

    private readonly Scope _scope = Scope.Of(environment);
    private readonly ServiceGraph _graph = environment.Graph;

    public ServiceGraph Graph => _graph;

    /// <summary>How long Docker waits after SIGTERM: the service's stop_grace_period, else Docker's 10 s.</summary>
    public static uint GraceSeconds(ResolvedService? service) => (uint)(service?.StopGracePeriod ?? TimeSpan.FromSeconds(10)).TotalSeconds;

    /// <summary>
    /// Stops (and with <paramref name="remove"/>, removes) containers: dependents first, a level at a time, each level in
    /// parallel; containers of services the environment no longer has go last.
    /// </summary>
    public async Task StopAsync(IEnumerable<ContainerListResponse> containers, bool remove, string action, CancellationToken cancellationToken)
    {
        var list = containers.ToList();
        var known = list.Where(c => IsKnown(c.Labels.Value(Names.Service))).ToList();
        var levels = _graph.Levels(known.Select(c => c.Labels.Value(Names.Service)!));
        foreach (var level in levels.Reverse())
        {
            var names = level.Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
            await Task.WhenAll(known.Where(c => names.Contains(c.Labels.Value(Names.Service)!)).Select(c => StopOneAsync(c, remove, action, cancellationToken)));
        }

        await Task.WhenAll(list.Except(known).Select(c => StopOneAsync(c, remove, action, cancellationToken)));
    }

    /// <summary>Stops (graceful timeout) and, if asked, removes one container of this environment.</summary>
    public async Task StopOneAsync(ContainerListResponse container, bool remove, string action, CancellationToken cancellationToken)
    {
        if (!_scope.Owns(container.Labels))
        {
            throw new InvalidOperationException($"refusing to touch {container.ID}: not in scope {_scope}");
        }

        var name = NameOf(container);
        var service = IsKnown(container.Labels.Value(Names.Service)) ? _graph[container.Labels.Value(Names.Service)!] : null;
        if (container.RunState() is ContainerRunState.Running or ContainerRunState.Restarting or ContainerRunState.Paused)
        {
            if (container.RunState() == ContainerRunState.Paused)
            {
                await engine.CallAsync(ct => engine.Client.Containers.UnpauseContainerAsync(container.ID, ct), cancellationToken);
            }

            await engine.CallAsync(
                ct => engine.Client.Containers.StopContainerAsync(container.ID, new ContainerStopParameters { WaitBeforeKillSeconds = GraceSeconds(service) }, ct),
                cancellationToken);
        }

        if (remove)
        {
            try
            {
                await engine.CallAsync(ct => engine.Client.Containers.RemoveContainerAsync(container.ID, new ContainerRemoveParameters { Force = true }, ct), cancellationToken);
            }
            catch (DockerContainerNotFoundException)
            {
            }
        }

        log.Information("{Action}: {Container}", Health.Capitalize(action), name);
    }

    /// <summary>Restarts the running containers of the services in place, in dependency order, each level health-gated. Returns how many.</summary>
    public async Task<int> RestartAsync(IEnumerable<string> services, CancellationToken cancellationToken)
    {
        var restarted = 0;
        foreach (var level in _graph.Levels(services))
        {
            var work = new List<Task>();
            foreach (var service in level)
            {
                foreach (var container in (await engine.ServiceContainersAsync(_scope, cancellationToken, service: service.Name)).Where(c => c.RunState() == ContainerRunState.Running))
                {
                    restarted++;
                    work.Add(RestartOneAsync(container, service, cancellationToken));
                }
            }

            await Task.WhenAll(work);
        }

        return restarted;
    }

    /// <summary>
    /// Takes the services out of the way, and (unless <paramref name="includeDependents"/> is false) every running service
    /// that depends on them: dependents first, a level at a time. Only containers that were running are touched, and
    /// only those come back. Dispose the result (or call ResumeAsync) to bring them back.
    /// </summary>
    public async Task<SuspendedServices> SuspendAsync(IEnumerable<string> services, SuspendMode mode, CancellationToken cancellationToken, bool includeDependents = true)
    {
        var names = services.ToList();
        foreach (var name in names)
        {
            _ = _graph[name]; // unknown service: one clear error before anything is touched
        }

        var affected = includeDependents ? _graph.WithDependents(names) : _graph.InOrder(names);
        var running = new List<(ContainerListResponse Container, string Service)>();
        foreach (var service in affected)
        {
            running.AddRange((await engine.ServiceContainersAsync(_scope, cancellationToken, service: service)).Where(c => c.RunState() == ContainerRunState.Running).Select(c => (c, service)));
        }

        var swarmServices = await SwarmEntriesAsync(running, cancellationToken);
        var done = new List<SuspendedContainer>();
        var journal = journalBase is null ? null : $"{journalBase}.{Guid.NewGuid():N}.suspended";
        var suspended = new SuspendedServices(this, done, journal);
        try
        {
            foreach (var level in _graph.Levels(running.Select(r => r.Service)).Reverse())
            {
                var members = level.Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
                var entries = running.Where(r => members.Contains(r.Service) && SwarmServiceOf(r.Container) is null)
                    .Select(r => new SuspendedContainer(r.Container.ID, NameOf(r.Container), r.Service, mode))
                    .Concat(swarmServices.Where(e => members.Contains(e.Service)));
                await Task.WhenAll(entries.Select(async entry =>
                {
                    lock (done)
                    {
                        // Written down before it happens: a run killed right after still knows what to bring back.
                        WriteJournal(journal, [.. done, entry]);
                    }

                    try
                    {
                        // Not the run's token: a stop cancelled half-way goes on in the engine (the container dies at
                        // the end of its grace period), after this run would have brought it back. A Ctrl-C waits for
                        // the stop (bounded by the grace period), and then everything taken down comes back.
                        await SuspendOneAsync(entry, CancellationToken.None);
                    }
                    finally
                    {
                        // Also when it failed half-way: bringing back a container that still runs only waits for its health.
                        lock (done)
                        {
                            done.Add(entry);
                            WriteJournal(journal, done);
                        }
                    }
                }));
                cancellationToken.ThrowIfCancellationRequested();
            }
        }
        catch
        {
            // What was already taken down comes back before the failure is reported.
            await suspended.DisposeAsync();
            throw;
        }

        if (done.Count > 0)
        {
            log.Information("{Mode} {Count} container(s): {Names}", mode == SuspendMode.Pause ? "Paused" : "Stopped", done.Count(d => d.SwarmService is null), string.Join(", ", done.Where(d => d.SwarmService is null).Select(d => d.Name)));
        }

        if (done.Any(d => d.SwarmService is not null))
        {
            log.Information("Scaled {Count} swarm service(s) to 0: {Names}", done.Count(d => d.SwarmService is not null), string.Join(", ", done.Where(d => d.SwarmService is not null).Select(d => $"{d.Name} (from {d.Replicas})")));
        }
        return suspended;
    }

    /// <summary>Brings back what runs that were killed left paused or stopped (their journals), then forgets them.</summary>
    public async Task<int> RecoverAsync(CancellationToken cancellationToken)
    {
        if (journalBase is null || Path.GetDirectoryName(journalBase) is not { } directory || !Directory.Exists(directory))
        {
            return 0;
        }

        var count = 0;
        foreach (var file in Directory.GetFiles(directory, Path.GetFileName(journalBase) + ".*.suspended"))
        {
            List<SuspendedContainer> left;
            try
            {
                left = System.Text.Json.JsonSerializer.Deserialize<List<SuspendedContainer>>(await File.ReadAllTextAsync(file, cancellationToken), JsonDefaults.Line) ?? [];
            }
            catch (Exception e) when (e is IOException or System.Text.Json.JsonException)
            {
                // A run died with services suspended, but what it suspended is unreadable: what is paused can only be ours.
                log.Warning("A run that ended abruptly left an unreadable suspension journal {File} ({Error}): unpausing every paused service container", file, e.Message.Split('\n')[0]);
                left = (await engine.ServiceContainersAsync(_scope, cancellationToken))
                    .Where(c => c.RunState() == ContainerRunState.Paused && c.Labels.Value(Names.Service) is { } s && IsKnown(s))
                    .Select(c => new SuspendedContainer(c.ID, NameOf(c), c.Labels.Value(Names.Service)!, SuspendMode.Pause))
                    .ToList();
            }

            if (left.Count > 0)
            {
                log.Warning("A run that ended abruptly left {Count} container(s) paused or stopped ({Names}): bringing them back",
                    left.Count, string.Join(", ", left.Select(c => c.Name)));
                await ResumeAsync(left, cancellationToken);
                count += left.Count;
            }

            DeleteJournal(file);
        }

        return count;
    }

    internal static void DeleteJournal(string? journal)
    {
        if (journal is null)
        {
            return;
        }

        try
        {
            File.Delete(journal);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    /// <summary>Written atomically (a temporary file, then a rename): a run killed mid-write leaves the previous journal.</summary>
    private static void WriteJournal(string? journal, IReadOnlyList<SuspendedContainer> containers)
    {
        if (journal is not null)
        {
            File.WriteAllText(journal + ".tmp", System.Text.Json.JsonSerializer.Serialize(containers, JsonDefaults.Line));
            File.Move(journal + ".tmp", journal, overwrite: true);
        }
    }

    /// <summary>Brings suspended containers back in dependency order, health-gated; every one is tried, failures are reported together.</summary>
    internal async Task ResumeAsync(IReadOnlyList<SuspendedContainer> containers, CancellationToken cancellationToken)
    {
        var failures = new List<string>();
        foreach (var level in _graph.Levels(containers.Select(c => c.Service)))
        {
            var members = level.Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
            await Task.WhenAll(containers.Where(c => members.Contains(c.Service)).Select(async c =>
            {
                try
                {
                    if (c.SwarmService is not null)
                    {
                        await ScaleBackAsync(c, cancellationToken);
                        return;
                    }

                    var state = (await engine.CallAsync(ct => engine.Client.Containers.InspectContainerAsync(c.Id, ct), cancellationToken)).State;
                    if (state?.Paused == true)
                    {
                        await engine.CallAsync(ct => engine.Client.Containers.UnpauseContainerAsync(c.Id, ct), cancellationToken);
                    }
                    else if (state?.Running != true)
                    {
                        await engine.CallAsync(ct => engine.Client.Containers.StartContainerAsync(c.Id, new ContainerStartParameters(), ct), cancellationToken);
                    }

                    using var waiting = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, stopWaiting);
                    try
                    {
                        await Health.WaitReadyAsync(engine, c.Id, c.Name, _graph[c.Service], log, waiting.Token);
                        log.Information("{Action} {Container}", c.Mode == SuspendMode.Pause ? "Resumed" : "Started", c.Name);
                    }
                    catch (OperationCanceledException) when (stopWaiting.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                    {
                        log.Warning("{Action} {Container} without waiting for its health (the run was stopped again)", c.Mode == SuspendMode.Pause ? "Resumed" : "Started", c.Name);
                    }
                }
                catch (DockerContainerNotFoundException)
                {
                    log.Warning("{Container} is gone: not brought back", c.Name);
                }
                catch (Exception e) when (e is PipelineException or DockerApiException)
                {
                    lock (failures)
                    {
                        failures.Add($"{c.Name}: {e.Message.Split('\n')[0]}");
                    }
                }
            }));
        }

        if (failures.Count > 0)
        {
            throw new PipelineException($"{failures.Count} service container(s) did not come back: {string.Join("; ", failures)}");
        }
    }

    private async Task SuspendOneAsync(SuspendedContainer entry, CancellationToken cancellationToken)
    {
        if (entry.SwarmService is not null)
        {
            await ScaleAsync(entry.SwarmService, 0, cancellationToken);
            await WaitSwarmContainersAsync(entry, 0, cancellationToken);
        }
        else if (entry.Mode == SuspendMode.Pause)
        {
            await engine.CallAsync(ct => engine.Client.Containers.PauseContainerAsync(entry.Id, ct), cancellationToken);
        }
        else
        {
            await engine.CallAsync(
                ct => engine.Client.Containers.StopContainerAsync(entry.Id, new ContainerStopParameters { WaitBeforeKillSeconds = GraceSeconds(_graph[entry.Service]) }, ct),
                cancellationToken);
        }
    }

    /// <summary>The swarm service a task container belongs to (the label the swarm executor sets), or null for a plain container.</summary>
    internal static string? SwarmServiceOf(ContainerListResponse container) => container.Labels.Value(Names.SwarmServiceId);


    /// <summary>One entry per swarm service among the running containers: its id, name and the replicas to scale back to.</summary>
    private async Task<IReadOnlyList<SuspendedContainer>> SwarmEntriesAsync(IEnumerable<(ContainerListResponse Container, string Service)> running, CancellationToken cancellationToken)
    {
        var entries = new List<SuspendedContainer>();
        foreach (var group in running.Where(r => SwarmServiceOf(r.Container) is not null).GroupBy(r => SwarmServiceOf(r.Container)!, StringComparer.Ordinal))
        {
            var service = await engine.CallAsync(ct => engine.Client.Swarm.InspectServiceAsync(group.Key, ct), cancellationToken);
            if (!_scope.Owns(service.Spec?.Labels))
            {
                throw new InvalidOperationException($"refusing to scale swarm service {service.Spec?.Name ?? group.Key}: not in scope {_scope}");
            }

            var replicas = service.Spec?.Mode?.Replicated?.Replicas
                ?? throw new PipelineException($"swarm service {service.Spec?.Name ?? group.Key} is not replicated: its writers cannot be suspended by scaling; stop it by hand");
            entries.Add(new SuspendedContainer(group.Key, service.Spec!.Name ?? group.Key, group.First().Service, SuspendMode.Stop, group.Key, replicas));
        }

        return entries;
    }

    /// <summary>Sets a swarm service's replica count (nothing else of its definition changes); retried when another update raced it.</summary>
    private async Task ScaleAsync(string serviceId, ulong replicas, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            var current = await engine.CallAsync(ct => engine.Client.Swarm.InspectServiceAsync(serviceId, ct), cancellationToken);
            var spec = current.Spec!;
            if (spec.Mode?.Replicated is null)
            {
                throw new PipelineException($"swarm service {spec.Name} is not replicated: it cannot be scaled");
            }

            if (spec.Mode.Replicated.Replicas == replicas)
            {
                return;
            }

            spec.Mode.Replicated.Replicas = replicas;
            try
            {
                await engine.CallAsync(
                    ct => engine.Client.Swarm.UpdateServiceAsync(serviceId, new ServiceUpdateParameters { Service = spec, Version = (long)current.Version!.Index!.Value }, ct),
                    cancellationToken);
                return;
            }
            catch (DockerApiException e) when (attempt < 5 && e.Message.Contains("out of sequence", StringComparison.OrdinalIgnoreCase))
            {
                await Task.Delay(TimeSpan.FromMilliseconds(200 * attempt), cancellationToken);
            }
        }
    }

    /// <summary>Until the service's running task containers on this engine number <paramref name="count"/>; bounded by the stop grace period or health deadline.</summary>
    private async Task<IReadOnlyList<ContainerListResponse>> WaitSwarmContainersAsync(SuspendedContainer entry, int count, CancellationToken cancellationToken)
    {
        var service = _graph[entry.Service];
        var deadline = DateTime.UtcNow + (count == 0 ? TimeSpan.FromSeconds(GraceSeconds(service)) : Health.Deadline(service)) + TimeSpan.FromSeconds(30);
        while (true)
        {
            var running = await engine.CallAsync(
                ct => engine.Client.Containers.ListContainersAsync(new ContainersListParameters
                {
                    Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"{Names.SwarmServiceId}={entry.SwarmService}"] = true } },
                }, ct),
                cancellationToken);
            if (running.Count == count)
            {
                return [.. running];
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new PipelineException($"swarm service {entry.Name}: {running.Count} task container(s) running after scaling to {count} (waited {(count == 0 ? "its stop grace period" : "its health deadline")} + 30 s): see `docker service ps {entry.Name}`");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(250), cancellationToken);
        }
    }

    /// <summary>
    /// Until the swarm counts the service's tasks as running (a task with a healthcheck is "starting" until its container
    /// is healthy; the swarm's own state follows the container's by a moment). Counts tasks on every node.
    /// </summary>
    private async Task WaitRunningTasksAsync(SuspendedContainer entry, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var tasks = await engine.CallAsync(
                ct => engine.Client.Tasks.ListAsync(new TasksListParameters
                {
                    Filters = new Dictionary<string, IDictionary<string, bool>>
                    {
                        ["service"] = new Dictionary<string, bool> { [entry.SwarmService!] = true },
                        ["desired-state"] = new Dictionary<string, bool> { ["running"] = true },
                    },
                }, ct),
                cancellationToken);
            var running = tasks.Count(t => t.Status?.State == TaskState.Running);
            if (running >= (int)(entry.Replicas ?? 1))
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new PipelineException($"swarm service {entry.Name}: {running} of {entry.Replicas} task(s) running 30 s after their containers were ready: see `docker service ps {entry.Name}`");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(250), cancellationToken);
        }
    }

    /// <summary>Scales a suspended swarm service back to its replicas and waits until each new task's container is ready.</summary>
    private async Task ScaleBackAsync(SuspendedContainer entry, CancellationToken cancellationToken)
    {
        try
        {
            await ScaleAsync(entry.SwarmService!, entry.Replicas ?? 1, cancellationToken);
        }
        catch (DockerApiException e) when (e.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            log.Warning("Swarm service {Service} is gone: not scaled back", entry.Name);
            return;
        }

        using var waiting = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, stopWaiting);
        try
        {
            // Every task runs on this engine on a single-node swarm; on more nodes, the tasks elsewhere are the swarm's to watch.
            var containers = await WaitSwarmContainersAsync(entry, (int)(entry.Replicas ?? 1), waiting.Token);
            foreach (var container in containers)
            {
                await Health.WaitReadyAsync(engine, container.ID, NameOf(container), _graph[entry.Service], log, waiting.Token);
            }

            await WaitRunningTasksAsync(entry, waiting.Token);
            log.Information("Scaled {Service} back to {Replicas}", entry.Name, entry.Replicas);
        }
        catch (OperationCanceledException) when (stopWaiting.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            log.Warning("Scaled {Service} back to {Replicas} without waiting for its health (the run was stopped again)", entry.Name, entry.Replicas);
        }
    }

    private async Task RestartOneAsync(ContainerListResponse container, ResolvedService service, CancellationToken cancellationToken)
    {
        var name = NameOf(container);
        await engine.CallAsync(
            ct => engine.Client.Containers.RestartContainerAsync(container.ID, new ContainerRestartParameters { WaitBeforeKillSeconds = GraceSeconds(service) }, ct),
            cancellationToken);
        await Health.WaitReadyAsync(engine, container.ID, name, service, log, cancellationToken);
        log.Information("Restarted {Container}", name);
    }

    private bool IsKnown(string? service) => service is not null && environment.Services.Any(s => s.Name == service);

    internal static string NameOf(ContainerListResponse container) => container.Names.FirstOrDefault()?.TrimStart('/') ?? container.ID[..12];
}
