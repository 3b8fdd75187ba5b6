using LlmStack.Orchestration;
using LlmStack.Pipeline;

/// <summary>The swarm the swarm orchestrator runs on: init, nodes, node labels, leave (docs/SWARM.md).</summary>
interface ISwarm : IHazEnvironment
{
    [Parameter("SwarmInit: the address (and port) the swarm listens on, e.g. 127.0.0.1 for a single node")]
    string SwarmListen => TryGetValue(() => SwarmListen) ?? "0.0.0.0:2377";

    [Parameter("SwarmInit: the address other nodes reach this one at (default: the listen address)")]
    string? SwarmAdvertise => TryGetValue(() => SwarmAdvertise);

    [Parameter("SwarmInit: label a swarm LlmStack did not create as LlmStack's (nothing else is changed)", Sources = ParameterSources.CommandLine)]
    bool SwarmAdopt => TryGetValue<bool?>(() => SwarmAdopt) ?? false;

    [Parameter("SwarmLeave: leave a swarm LlmStack did not create", Sources = ParameterSources.CommandLine)]
    bool SwarmForce => TryGetValue<bool?>(() => SwarmForce) ?? false;

    Target SwarmInit => _ => _
        .Description("Make this engine a single-node swarm manager (--swarm-listen, --swarm-advertise), its address pool outside every schema subnet, labelled as LlmStack's; refuses a swarm it did not create unless --swarm-adopt.")
        .Executes(async ct => ReportSummary("Swarm", await Session.SwarmInitAsync(new SwarmInitOptions(SwarmListen, SwarmAdvertise, SwarmAdopt), ct)));

    Target SwarmNodes => _ => _
        .Description("The swarm's nodes: role, state, availability, labels, CPUs, memory, engine (--json); non-zero when a node is not ready.")
        .Executes(async ct => Session.Options.Reports.Write(await (await Session.SwarmAsync(ct)).NodesAsync(ct)));

    Target SwarmLabelNodes => _ => _
        .Description("Set the node labels the environment's swarm.nodes names (placement: of services selects by them), through the change gate (--dry-run; --confirm <environment>).")
        .Executes(ct => Session.ChangeAsync(nameof(SwarmLabelNodes), async c => await (await Session.SwarmAsync(c)).LabelPlanAsync(Session.Environment, c), ct));

    Target SwarmLeave => _ => _
        .Description("This engine leaves the swarm (its services and overlay networks go; volumes stay), through the change gate; a swarm LlmStack did not create only with --swarm-force.")
        .Executes(ct => Session.ChangeAsync(nameof(SwarmLeave), async c => await (await Session.SwarmAsync(c)).LeavePlanAsync(SwarmForce, c), ct));
}
