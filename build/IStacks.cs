using LlmStack.Engine;
using LlmStack.Pipeline;
using LlmStack.Schema;

/// <summary>
/// Stack lifecycle: Start, Stop, Restart, Status and Logs of each of the schema's stacks, and SystemStatus. A stack
/// target declares only its name; the stack it is for and the targets it is ordered against come from the schema's
/// outline (<see cref="StackTargets"/>): Start&lt;Stack&gt; depends on the Starts of the stacks it needs,
/// Stop&lt;Stack&gt; on the Stops of the stacks that need it (dependents stop first), Restart&lt;Stack&gt; runs after
/// the Restarts of the stacks it needs, and Start, Stop and Restart depend on all of their kind. Targets are declared
/// before parameters are read (as in NUKE), so the outline is the schema's at its default path.
/// </summary>
interface IStacks : IHazEnvironment, IHazService
{
    [Parameter("Logs: lines per container from the end (a number, or all)")]
    string Tail => TryGetValue(() => Tail) ?? "100";

    [Parameter("Logs: only lines since a duration ago (10m, 1h30m) or a timestamp")]
    string? Since => TryGetValue(() => Since);

    [Parameter("Logs: keep streaming until Ctrl-C")]
    bool Follow => TryGetValue<bool?>(() => Follow) ?? false;

    Target StartCore => _ => StartStack(_, nameof(StartCore));
    Target StartInference => _ => StartStack(_, nameof(StartInference));
    Target StartAi => _ => StartStack(_, nameof(StartAi));
    Target StartUi => _ => StartStack(_, nameof(StartUi));
    Target StartTesting => _ => StartStack(_, nameof(StartTesting));
    Target StartMonitoring => _ => StartStack(_, nameof(StartMonitoring));

    Target Start => _ => AllStacks(_, StackTargets.Start, all => _
        .Description("Start every stack of the environment, in dependency order.")
        .DependsOn(all));

    Target StopUi => _ => StopStack(_, nameof(StopUi));
    Target StopAi => _ => StopStack(_, nameof(StopAi));
    Target StopInference => _ => StopStack(_, nameof(StopInference));
    Target StopTesting => _ => StopStack(_, nameof(StopTesting));
    Target StopMonitoring => _ => StopStack(_, nameof(StopMonitoring));
    Target StopCore => _ => StopStack(_, nameof(StopCore));

    Target Stop => _ => AllStacks(_, StackTargets.Stop, all => _
        .Description("Stop and remove every stack's containers (dependents first); volumes stay.")
        .DependsOn(all));

    // Restart: in place, health-gated; dependents keep running. In a full Restart, dependencies go first.
    Target RestartCore => _ => RestartStack(_, nameof(RestartCore));
    Target RestartInference => _ => RestartStack(_, nameof(RestartInference));
    Target RestartAi => _ => RestartStack(_, nameof(RestartAi));
    Target RestartUi => _ => RestartStack(_, nameof(RestartUi));
    Target RestartTesting => _ => RestartStack(_, nameof(RestartTesting));
    Target RestartMonitoring => _ => RestartStack(_, nameof(RestartMonitoring));

    Target Restart => _ => AllStacks(_, StackTargets.Restart, all => _
        .Description("Restart every running stack of the environment in dependency order, health-gated; stopped stacks are left alone.")
        .DependsOn(all)
        .Executes(() => Session.CheckRestarted()));

    Target StatusCore => _ => StatusStack(_, nameof(StatusCore));
    Target StatusInference => _ => StatusStack(_, nameof(StatusInference));
    Target StatusAi => _ => StatusStack(_, nameof(StatusAi));
    Target StatusUi => _ => StatusStack(_, nameof(StatusUi));
    Target StatusTesting => _ => StatusStack(_, nameof(StatusTesting));
    Target StatusMonitoring => _ => StatusStack(_, nameof(StatusMonitoring));

    Target SystemStatus => _ => _
        .Description("Every service of the environment, plus its networks and volumes (--json); non-zero exit when a started stack is partly down or unhealthy.")
        .Executes(ct => Session.SystemStatusAsync(ct));

    Target LogsCore => _ => LogsStack(_, nameof(LogsCore));
    Target LogsInference => _ => LogsStack(_, nameof(LogsInference));
    Target LogsAi => _ => LogsStack(_, nameof(LogsAi));
    Target LogsUi => _ => LogsStack(_, nameof(LogsUi));
    Target LogsTesting => _ => LogsStack(_, nameof(LogsTesting));
    Target LogsMonitoring => _ => LogsStack(_, nameof(LogsMonitoring));

    ITargetDefinition StartStack(ITargetDefinition _, string target) => ForStack(_, target, StackTargets.Start, StackTargets.OfDependencies, (stack, needs) => _
        .Description($"Start the {stack} stack: create missing networks, volumes and containers (services on a swarm), level by level, each waited for until healthy.")
        .DependsOn(needs)
        .OnlyWhenStatic(() => Session.Wanted(stack, IsInvoked(target)), () => Session.NotEnabled(stack))
        .Executes(async ct =>
        {
            var started = await Session.Stacks.StartAsync(stack, ct);
            ReportSummary(started.Unit, started.Text);
        }));

    ITargetDefinition StopStack(ITargetDefinition _, string target) => ForStack(_, target, StackTargets.Stop, StackTargets.OfDependents, (stack, dependents) => _
        .Description($"Stop and remove the {stack} stack's containers (graceful timeout; its services on a swarm); volumes stay; its network goes once unused.")
        .DependsOn(dependents)
        .Executes(async ct => ReportSummary("Removed", (await Session.Stacks.StopAsync(stack, ct)).ToString())));

    ITargetDefinition RestartStack(ITargetDefinition _, string target) => ForStack(_, target, StackTargets.Restart, StackTargets.OfDependencies, (stack, needs) => _
        .Description($"Restart the {stack} stack's running services in place in dependency order, each level health-gated, then bring up what of it is down or missing (as Start does); ends with every service running and healthy or fails naming it (an error if named while the stack is stopped).")
        .After(needs)
        .OnlyWhenStatic(() => Session.Wanted(stack, IsInvoked(target)), () => Session.NotEnabled(stack))
        .Executes(async ct => ReportSummary("Restarted", await Session.Stacks.RestartAsync(stack, IsInvoked(target), ct))));

    ITargetDefinition StatusStack(ITargetDefinition _, string target) => ForStack(_, target, StackTargets.Status, null, (stack, none) => _
        .Description($"Per service of the {stack} stack: state, health, uptime, replicas, image, ports (--json); non-zero exit unless every service is running and healthy.")
        .Executes(ct => Session.Stacks.StatusAsync(stack, ct)));

    ITargetDefinition LogsStack(ITargetDefinition _, string target) => ForStack(_, target, StackTargets.Logs, null, (stack, none) => _
        .Description($"Logs of the {stack} stack, prefixed by container (--tail, --since, --follow, --service).")
        .Executes(ct => Session.Stacks.LogsAsync(stack, new LogOptions(Tail, Since, Follow, Service), ct)));

    /// <summary>
    /// A stack target: the stack its name is for, and the targets of <paramref name="verb"/> of the stacks
    /// <paramref name="related"/> names (its dependencies or dependents in the outline), for <paramref name="define"/>.
    /// </summary>
    ITargetDefinition ForStack(ITargetDefinition _, string target, string verb, Func<string, string, SchemaOutline, IReadOnlyList<string>>? related,
        Func<string, Target[], ITargetDefinition> define) =>
        FromSchema(_, () =>
        {
            var outline = SchemaFile.Outline();
            var stack = StackTargets.StackOf(target, verb, outline);
            return (Stack: stack, Related: Named(related?.Invoke(verb, stack, outline) ?? []));
        }, found => define(found.Stack, found.Related));

    /// <summary>An all-stacks target (Start, Stop, Restart): <paramref name="define"/> with the targets of <paramref name="verb"/> of every stack.</summary>
    ITargetDefinition AllStacks(ITargetDefinition _, string verb, Func<Target[], ITargetDefinition> define) =>
        FromSchema(_, () => Named(StackTargets.All(verb, SchemaFile.Outline())), define);

    /// <summary>
    /// The stack targets of these names (<see cref="StackTargets"/>' names for the schema's stacks) declared by
    /// <paramref name="component"/> (default IStacks); one line for a name none is declared with.
    /// </summary>
    Target[] Named(IEnumerable<string> names, Type? component = null) => names
        .Select(name => (component ?? typeof(IStacks)).GetProperty(name)?.GetMethod?.CreateDelegate<Func<Target>>(this)() // a delegate: no reflection invoke thunk compiled at start-up
            ?? throw new PipelineException($"the schema has a stack whose target {name} build/{(component ?? typeof(IStacks)).Name}.cs does not declare: declare it, or remove the stack"))
        .ToArray();

    bool IsInvoked(string target) => InvokedTargets.Any(t => t.Name == target);
}
