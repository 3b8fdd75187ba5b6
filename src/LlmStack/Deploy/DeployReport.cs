using LlmStack.ChangeControl;
using LlmStack.Lifecycle;
using LlmStack.Orchestration;
using LlmStack.Pipeline;
using LlmStack.Reporting;

namespace LlmStack.Deploy;

/// <summary>How a plan ends a run, as <c>terraform plan -detailed-exitcode</c>: 0 nothing to change, 2 changes; an error is the run's 1.</summary>
public enum PlanExit
{
    NoChanges = 0,
    Changes = 2,
}

/// <summary>How many replicas a plan does what to.</summary>
public sealed record PlanCounts(int Create, int Recreate, int Remove, int Start, int Unpause, int Repair, int Unchanged)
{
    public static PlanCounts Of(IReadOnlyList<ContainerStep> steps)
    {
        int Count(ContainerAction action) => steps.Count(s => s.Action == action);
        return new PlanCounts(
            Count(ContainerAction.Create), Count(ContainerAction.Recreate), Count(ContainerAction.Remove), Count(ContainerAction.Start),
            Count(ContainerAction.Unpause), Count(ContainerAction.Repair), Count(ContainerAction.Unchanged));
    }
}

/// <summary>The <c>--json</c> document of a plan: the same for a live engine and a snapshot of it (where it came from is in the table's first line only).</summary>
public sealed record PlanDocument(
    string Environment,
    bool Changes,
    PlanCounts Counts,
    IReadOnlyList<ContainerStep> Containers,
    IReadOnlyList<NetworkStep> Networks,
    IReadOnlyList<VolumeStep> Volumes,
    IReadOnlyList<ImagePull> Pulls,
    IReadOnlyList<string> Notes,
    IReadOnlyList<string> Problems);

/// <summary>
/// A plan as people and machines read it (one <see cref="Report"/>: a table of every replica, the networks and volumes
/// to create or orphaned, and a summary line; <c>--json</c> the <see cref="PlanDocument"/>), the exit code it means, and
/// the same plan as the change gate's table for Deploy. What differs is named by aspect and variable name only: no value
/// of the schema, and so no secret, is in any of them.
/// </summary>
public static class DeployReport
{
    public static PlanExit ExitOf(EnvironmentPlan plan) => plan.HasChanges ? PlanExit.Changes : PlanExit.NoChanges;

    public static PlanDocument Document(EnvironmentPlan plan) => new(
        plan.Environment,
        plan.HasChanges,
        PlanCounts.Of(plan.Containers),
        plan.Containers,
        [.. plan.Stacks.SelectMany(s => s.Networks).Where(n => n.Action != ResourceAction.Unchanged), .. plan.OrphanedNetworks],
        [.. plan.Stacks.SelectMany(s => s.Volumes).Where(v => v.Action != ResourceAction.Unchanged), .. plan.OrphanedVolumes],
        plan.Pulls,
        plan.Notes,
        plan.Problems);

    /// <summary>The Plan target's report: <paramref name="source"/> says what was read (the engine, or a snapshot); problems fail it (exit 1).</summary>
    /// <summary>The swarm plan: per service, its stack, action and what differs (--json: the plan); the summary line.</summary>
    public static Report Swarm(SwarmPlan plan, string source, IReadOnlyList<string> notes)
    {
        var table = new TextTable("STACK", "SERVICE", "ACTION", "WHY");
        foreach (var step in plan.Steps)
        {
            table.Add(step.Stack, step.Name, step.Action.ToString().ToLowerInvariant(), step.Why ?? "-");
        }

        var report = new Report
        {
            Document = new
            {
                environment = plan.Environment,
                orchestrator = "swarm",
                endpointMode = plan.EndpointMode,
                hasChanges = plan.HasChanges,
                counts = new { create = plan.Count(SwarmPlanAction.Create), update = plan.Count(SwarmPlanAction.Update), remove = plan.Count(SwarmPlanAction.Remove), unchanged = plan.Count(SwarmPlanAction.Unchanged) },
                services = plan.Steps.Select(s => new { stack = s.Stack, service = s.Service, name = s.Name, action = s.Action.ToString().ToLowerInvariant(), why = s.Why }),
            },
        }
            .Line($"Plan of environment {plan.Environment} against {source} (services, by spec hash):")
            .Line()
            .TableIfAny(table);
        foreach (var note in notes)
        {
            report.Line("! " + note);
        }

        return report.Line().Line(plan.HasChanges ? $"Plan: {plan.Summary}." : $"No changes: {plan.Summary}.");
    }

    public static Report Plan(EnvironmentPlan plan, string source)
    {
        var document = Document(plan);
        var containers = new TextTable("STACK", "CONTAINER", "ACTION", "WHY", "WHAT DIFFERS");
        foreach (var step in plan.Containers)
        {
            containers.Add(step.Stack, step.Name, PlanText.Of(step.Action), step.Why ?? "-", PlanText.Of(step.Differences) ?? "-");
        }

        var resources = new TextTable("KIND", "NAME", "STACK", "ACTION", "WHY");
        foreach (var network in document.Networks)
        {
            resources.Add(ChangeText.Of(ChangeKind.Network), network.Name, network.Stack ?? "-", PlanText.Of(network.Action), network.Why ?? "-");
        }

        foreach (var volume in document.Volumes)
        {
            resources.Add(ChangeText.Of(ChangeKind.Volume), volume.Name, volume.Stack ?? "-", PlanText.Of(volume.Action), volume.Why ?? "-");
        }

        foreach (var pull in plan.Pulls)
        {
            resources.Add(ChangeText.Of(ChangeKind.Image), pull.Image, "-", ChangeText.Of(ActionOf(pull)), Why(pull));
        }

        var report = new Report { Document = document }
            .Line($"Plan of environment {plan.Environment} against {source}:")
            .Line()
            .TableIfAny(containers);
        if (resources.Count > 0)
        {
            report.Line().Table(resources);
        }

        foreach (var note in plan.Notes)
        {
            report.Line("! " + note);
        }

        report.Line().Line(Summary(plan));
        return report.FailWhen(plan.Problems, p => $"Start would refuse in {plan.Environment}: {string.Join("; ", p)}");
    }

    /// <summary>The plan's last line: <c>No changes: …</c>, or what it would do.</summary>
    public static string Summary(EnvironmentPlan plan)
    {
        var counts = PlanCounts.Of(plan.Containers);
        if (!plan.HasChanges)
        {
            return $"No changes: environment {plan.Environment} matches the schema ({counts.Unchanged} container(s) unchanged).";
        }

        var parts = new List<string> { $"{counts.Create} to create", $"{counts.Recreate} to recreate", $"{counts.Remove} to remove" };
        parts.AddRange(new[] { (counts.Start, "start"), (counts.Unpause, "unpause"), (counts.Repair, "repair") }.Where(p => p.Item1 > 0).Select(p => $"{p.Item1} to {p.Item2}"));
        var networks = plan.Stacks.SelectMany(s => s.Networks).Count(n => n.Action != ResourceAction.Unchanged);
        var volumes = plan.Stacks.SelectMany(s => s.Volumes).Count(v => v.Action == ResourceAction.Create);
        if (networks + volumes > 0)
        {
            parts.Add($"{networks} network(s) and {volumes} volume(s) to create");
        }

        return $"Plan: {string.Join(", ", parts)}; {counts.Unchanged} unchanged.";
    }

    /// <summary>What carries out each kind of step (the live engine's, in Deploy; fakes in tests).</summary>
    public sealed record Appliers(
        Func<ImagePull, Func<CancellationToken, Task<string?>>> Pull,
        Func<NetworkStep, Func<CancellationToken, Task<string?>>> Network,
        Func<VolumeStep, Func<CancellationToken, Task<string?>>> Volume,
        Func<ContainerStep, Func<CancellationToken, Task<string?>>> Container);

    /// <summary>
    /// Deploy's change: the plan as the gate's table, in the order it is applied — images to pull, the containers of
    /// stacks the environment no longer has, then stack by stack in dependency order its network and volumes, the
    /// replicas it removes, and its replicas level by level. Unchanged replicas and orphaned networks and volumes are the
    /// table's kept rows (nothing removes those two: CleanupNetworks and the wipes do).
    /// </summary>
    public static ChangePlan Changes(EnvironmentPlan plan, Appliers apply)
    {
        var changes = new List<PlannedChange>();
        changes.AddRange(plan.Pulls.Select(p => new PlannedChange(ChangeKind.Image, p.Image, ActionOf(p), Why(p), apply.Pull(p))));
        changes.AddRange(plan.Removed.Select(step => Change(step, apply)));
        foreach (var stack in plan.Stacks)
        {
            changes.AddRange(stack.Networks.Where(n => n.Action is ResourceAction.Create or ResourceAction.Recreate).Select(n =>
                new PlannedChange(ChangeKind.Network, n.Name, n.Action == ResourceAction.Create ? ChangeAction.Create : ChangeAction.Recreate, n.Why ?? "-", apply.Network(n))
                {
                    Detail = n.Desired?.Subnet.ToString(),
                }));
            changes.AddRange(stack.Volumes.Where(v => v.Action == ResourceAction.Create).Select(v =>
                new PlannedChange(ChangeKind.Volume, v.Name, ChangeAction.Create, v.Why ?? "-", apply.Volume(v))));
            changes.AddRange(stack.Containers.Where(c => c.IsChange).Select(step => Change(step, apply)));
        }

        var kept = new List<KeptResource>();
        kept.AddRange(plan.Containers.Where(c => !c.IsChange).Select(c => new KeptResource(ChangeKind.Container, c.Name, "unchanged")));
        kept.AddRange(plan.OrphanedNetworks.Select(n => new KeptResource(ChangeKind.Network, n.Name, n.Why ?? "orphaned")));
        kept.AddRange(plan.OrphanedVolumes.Select(v => new KeptResource(ChangeKind.Volume, v.Name, v.Why ?? "orphaned")));

        var counts = PlanCounts.Of(plan.Containers);
        return new ChangePlan($"deploy {changes.Count} change(s) ({counts.Create} create, {counts.Recreate} recreate, {counts.Remove} remove)", changes, kept)
        {
            Notices = plan.Notes,
        };
    }

    private static string Why(ImagePull pull) =>
        $"not present here; {(pull.Built ? "built from its context " : string.Empty)}for {string.Join(", ", pull.Services)}";

    private static ChangeAction ActionOf(ImagePull pull) => pull.Built ? ChangeAction.Build : ChangeAction.Pull;

    private static PlannedChange Change(ContainerStep step, Appliers apply) =>
        new(ChangeKind.Container, step.Name, ActionOf(step.Action), step.Why ?? "-", apply.Container(step)) { Detail = PlanText.Of(step.Differences) };

    /// <summary>A replica's action as the change gate says it.</summary>
    public static ChangeAction ActionOf(ContainerAction action) => action switch
    {
        ContainerAction.Create => ChangeAction.Create,
        ContainerAction.Recreate => ChangeAction.Recreate,
        ContainerAction.Remove => ChangeAction.Remove,
        ContainerAction.Start => ChangeAction.Start,
        ContainerAction.Unpause => ChangeAction.Unpause,
        ContainerAction.Repair => ChangeAction.Repair,
        _ => throw new PipelineException($"an unchanged replica is no change: {action}"),
    };
}
