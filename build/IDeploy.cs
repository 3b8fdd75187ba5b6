using LlmStack.Deploy;
using LlmStack.Pipeline;

/// <summary>
/// Plan, Deploy and ExportState: what Start of every enabled stack of the environment would do now (the one planner
/// Start itself uses), carried out through the change gate, and the engine's state as a file to plan against elsewhere.
/// </summary>
interface IDeploy : IHazEnvironment, IHazArtifacts
{
    [Parameter("Plan: compare with a snapshot file ExportState wrote instead of the live engine (a plan computed off the host)")]
    string? Against => TryGetValue(() => Against);

    [Parameter("ExportState: the snapshot file to write (default artifacts/state/<environment>.json)")]
    string? Snapshot => TryGetValue(() => Snapshot);

    DeployOperations Deployments => new(Session, Log);

    Target Plan => _ => _
        .Description("What Start of every enabled stack would do now, per replica: create, recreate (naming what differs: image, command, environment by name, ports, mounts, networks, resources, labels, settings), remove, start, unchanged; networks and volumes to create or orphaned (--json; --against FILE reads a snapshot instead of the engine). Exit 0 no changes, 2 changes, 1 error. Reads only: no lock.")
        .Executes(async ct => ExitCode = (int)await Deployments.PlanAsync(Against, ct));

    Target Deploy => _ => _
        .Description("Plan, then converge every enabled stack in dependency order through the change gate (the plan as its table; --dry-run, --confirm <environment>, audited, under the environment lock): removes what the plan removes, recreates only what differs, each replica health-gated; a failing one stops the deploy naming it. Nothing to change: says so and takes no lock. Refused before anything changes when the environment's GPU services cannot run on this engine.")
        .DependsOn<IImages>(x => x.CheckGpu)
        .Executes(async ct => ReportSummary("Deployed", await Deployments.DeployAsync(nameof(Deploy), ct)));

    Target CheckDrift => _ => _
        .Description("The scheduled drift check: Plan against the engine, failing (naming what differs) when what runs is not what the schema says; reads only, no lock.")
        .Executes(ct => Deployments.CheckDriftAsync(ct));

    Target ExportState => _ => _
        .Description("Write the environment's state for Plan --against: its containers (labels, image ids, states, networks), networks, volumes and the ids of the images the schema uses; no secret value.")
        .Executes(async ct => ReportSummary("Exported", await Deployments.ExportStateAsync(Snapshot ?? Path.Combine(ArtifactsDirectory, "state", $"{Session.Environment.Name}.json"), ct)));
}
