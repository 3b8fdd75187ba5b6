using LlmStack.ChangeControl;
using LlmStack.Engine;
using LlmStack.Lifecycle;
using LlmStack.Orchestration;
using LlmStack.Pipeline;
using LlmStack.Schema;
using LlmStack.Security;
using LlmStack.Sessions;
using Serilog;

namespace LlmStack.Deploy;

/// <summary>
/// Plan, Deploy and ExportState of one environment: the environment's plan (<see cref="StartPlanner"/>, the decision
/// Start makes) against the live engine or a snapshot, carried out through the change gate with Start's own steps.
/// </summary>
public sealed class DeployOperations(EnvironmentSession session, ILogger log)
{
    /// <summary>What a secret that is not in the secrets file reads as in a plan: a value no container has, so what reads it shows as changed.</summary>
    private const string NotGenerated = "\0not generated yet: ";

    private ResolvedEnvironment Environment => session.Environment;

    private string Root => session.Options.Schema.RootDirectory;

    private string Endpoint => DockerEngine.ResolveEndpoint(session.Options.DockerHost);

    /// <summary>
    /// Plan: what Start of every enabled stack would do now, against the engine or (<paramref name="against"/>) an
    /// exported snapshot; writes the report and returns the exit it means. Reads only: no lock, no secret generated.
    /// </summary>
    public async Task<PlanExit> PlanAsync(string? against, CancellationToken cancellationToken)
    {
        if (session.Stacks is SwarmOrchestrator swarm)
        {
            return (await SwarmPlanAndReportAsync(swarm, against, cancellationToken)).HasChanges ? PlanExit.Changes : PlanExit.NoChanges;
        }

        return DeployReport.ExitOf(await PlanAndReportAsync(against, cancellationToken));
    }

    /// <summary>
    /// CheckDrift: the plan against the live engine, written as Plan writes it, and a failure naming what differs when what
    /// runs is not what the schema says (the scheduled drift check: its report job opens the environment's issue).
    /// </summary>
    public async Task CheckDriftAsync(CancellationToken cancellationToken)
    {
        if (session.Stacks is SwarmOrchestrator swarm)
        {
            var services = await SwarmPlanAndReportAsync(swarm, null, cancellationToken);
            if (services.HasChanges)
            {
                throw new PipelineException($"drift in environment {Environment.Name}: what runs on the swarm differs from the schema ({services.Summary}); the table above names each difference, Deploy converges it");
            }

            return;
        }

        var plan = await PlanAndReportAsync(null, cancellationToken);
        if (plan.HasChanges)
        {
            throw new PipelineException($"drift in environment {Environment.Name}: what runs differs from the schema ({DeployReport.Summary(plan)}); the table above names each difference, Deploy converges it");
        }
    }

    private async Task<EnvironmentPlan> PlanAndReportAsync(string? against, CancellationToken cancellationToken)
    {
        var secrets = ReadOnlySecrets();
        IEngineState state;
        string source;
        if (against is { Length: > 0 })
        {
            var snapshot = StateSnapshot.Load(Path.GetFullPath(against, Root), against, Environment);
            state = snapshot;
            source = $"snapshot {against} (taken {snapshot.Taken.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z from {snapshot.Endpoint})";
        }
        else
        {
            state = await LiveAsync(cancellationToken);
            source = $"the engine at {Endpoint}";
        }

        var plan = await PlanOfAsync(state, secrets, cancellationToken);
        session.Options.Reports.Write(DeployReport.Plan(plan, source));
        return plan;
    }

    /// <summary>
    /// Deploy: the plan, then — when it changes anything — through the change gate (its table is the plan; --dry-run,
    /// --confirm, the environment lock, one audit line per change): under the lock, the missing images pulled and the plan
    /// made again, then each change with Start's step for it, in order, each replica health-gated. A step that fails
    /// stops the deploy naming it; the changes after it are not made. With nothing to change it says so and takes no lock.
    /// Returns what was done, for the run's summary.
    /// </summary>
    public async Task<string> DeployAsync(string target, CancellationToken cancellationToken)
    {
        if (session.Stacks is SwarmOrchestrator swarm)
        {
            return await SwarmDeployAsync(swarm, target, cancellationToken);
        }

        var preview = await PlanOfAsync(await LiveAsync(cancellationToken), ReadOnlySecrets(), cancellationToken);
        if (!preview.HasChanges || preview.Problems.Count > 0)
        {
            Confirmation.CheckTarget(target, Environment.Name, session.Options.Gate.Confirm);
            session.Options.Reports.Write(DeployReport.Plan(preview, $"the engine at {Endpoint}"));
            log.Information("{Target}: nothing to deploy in {Environment}; no lock was taken", target, Environment.Name);
            return "nothing to deploy";
        }

        var applied = PlanCounts.Of([]);
        var outcome = await session.ChangeAsync(target, async ct =>
        {
            var dryRun = session.Options.Gate.DryRun;
            var secrets = dryRun ? ReadOnlySecrets() : new PlanSecrets((await session.SecretsAsync(ct)).Get, []);
            if (!dryRun)
            {
                // As Start: the images are there (built when missing or their sources changed, pulled when missing) before
                // the plan compares their ids.
                await (await session.ImageOperationsAsync(ct)).EnsureAsync(Environment.Services, ct);
            }

            var state = await LiveAsync(ct);
            var plan = await PlanOfAsync(state, secrets, ct);
            if (plan.Problems.Count > 0)
            {
                throw new PipelineException($"{target} would fail in {Environment.Name}: {string.Join("; ", plan.Problems)}");
            }

            var wanted = plan.Stacks.SelectMany(s => s.Networks).Where(n => n.Action is ResourceAction.Create or ResourceAction.Recreate).Select(n => n.Desired!).ToList();
            if (wanted.Count > 0)
            {
                await session.CheckConflictsAsync(await session.NetworksAsync(ct), wanted, ct);
            }

            applied = PlanCounts.Of(plan.Containers);
            var operations = await session.OperationsAsync(ct);
            return DeployReport.Changes(plan, new DeployReport.Appliers(
                pull => async c =>
                {
                    await (await session.ImageOperationsAsync(c)).EnsurePresentAsync(pull.Image, "service " + string.Join(", ", pull.Services), c);
                    return null;
                },
                network => async c =>
                {
                    await operations.ApplyAsync(network, c);
                    return network.Why;
                },
                volume => async c =>
                {
                    await operations.ApplyAsync(volume, c);
                    return null;
                },
                step => async c => $"{PlanText.Done(await operations.ApplyAsync(step, state, c))}{(PlanText.Of(step.Differences) is { } what ? $": {what}" : string.Empty)}"));
        }, cancellationToken);

        return outcome switch
        {
            GateOutcome.Applied => $"{applied.Create} created, {applied.Recreate} recreated, {applied.Remove} removed, {applied.Start + applied.Unpause + applied.Repair} started or repaired, {applied.Unchanged} unchanged",
            GateOutcome.DryRun => "dry run",
            _ => "nothing to deploy",
        };
    }

    /// <summary>
    /// Plan on a swarm (<see cref="SwarmStacks.PlanAsync"/>): each service's spec hash against the one Start would give
    /// it — create, update, unchanged — and our services no enabled stack has: remove. Reads only; a snapshot is the
    /// containers' (refused here).
    /// </summary>
    private async Task<SwarmPlan> SwarmPlanAndReportAsync(SwarmOrchestrator swarm, string? against, CancellationToken cancellationToken)
    {
        if (against is { Length: > 0 })
        {
            throw new PipelineException($"--against reads a snapshot of containers; with the swarm orchestrator the plan compares the services on the swarm: run Plan --orchestrator swarm without --against on a manager of the swarm");
        }

        var secrets = ReadOnlySecrets();
        var plan = await SwarmPlanOfAsync(swarm, secrets, cancellationToken);
        session.Options.Reports.Write(DeployReport.Swarm(plan, $"the swarm at {Endpoint}", secrets.Notes));
        return plan;
    }

    private async Task<SwarmPlan> SwarmPlanOfAsync(SwarmOrchestrator swarm, PlanSecrets secrets, CancellationToken cancellationToken)
    {
        swarm.Refuse();
        return await (await swarm.StacksAsync(cancellationToken)).PlanAsync(
            Environment.Stacks.Select(s => s.Name).ToList(), Desired(secrets), swarm.Endpoint, swarm.SecretValues(secrets.Get), session.Options.Schema.Load().Services.ContainsKey, cancellationToken);
    }

    /// <summary>
    /// Deploy on a swarm: the swarm plan through the change gate (its table; --dry-run, --confirm, the lock, one audit
    /// line per service): under the lock, the images made present and the plan made again, then the services no enabled
    /// stack has removed (the one removal, waited for once), then each service to create or update, stack by stack in
    /// dependency order, by Start's own path (<see cref="SwarmStacks.PrepareAsync"/> once per stack, then
    /// <see cref="SwarmStacks.ApplyServiceAsync"/>), each health-gated; a failure stops the deploy naming it.
    /// </summary>
    private async Task<string> SwarmDeployAsync(SwarmOrchestrator swarm, string target, CancellationToken cancellationToken)
    {
        var readOnly = ReadOnlySecrets();
        var preview = await SwarmPlanOfAsync(swarm, readOnly, cancellationToken);
        if (!preview.HasChanges)
        {
            Confirmation.CheckTarget(target, Environment.Name, session.Options.Gate.Confirm);
            session.Options.Reports.Write(DeployReport.Swarm(preview, $"the swarm at {Endpoint}", readOnly.Notes));
            log.Information("{Target}: nothing to deploy in {Environment}; no lock was taken", target, Environment.Name);
            return "nothing to deploy";
        }

        SwarmPlan? applied = null;
        var outcome = await session.ChangeAsync(target, async ct =>
        {
            var dryRun = session.Options.Gate.DryRun;
            var secrets = dryRun ? readOnly : new PlanSecrets((await session.SecretsAsync(ct)).Get, []);
            if (!dryRun)
            {
                await (await session.ImageOperationsAsync(ct)).EnsureAsync(Environment.Services, ct);
            }

            var stacks = await swarm.StacksAsync(ct);
            var plan = await SwarmPlanOfAsync(swarm, secrets, ct);
            applied = plan;
            var desired = Desired(secrets);
            var values = swarm.SecretValues(secrets.Get);
            var prepared = new Dictionary<string, SwarmStacks.PreparedStack>(StringComparer.Ordinal);
            var removed = plan.Steps.Where(s => s.Action == SwarmPlanAction.Remove).ToList();
            var grace = TimeSpan.Zero;
            var changes = removed.Select((step, i) => new PlannedChange(ChangeKind.Service, step.Name, ChangeAction.Remove, step.Why!, async c =>
            {
                var own = await stacks.RemoveServiceAsync(step.Id!, c);
                grace = own > grace ? own : grace;
                if (i < removed.Count - 1)
                {
                    return null;
                }

                await stacks.WaitTasksGoneAsync(removed.Select(r => r.Id!).ToList(), grace, c);
                return $"the tasks' containers of {removed.Count} service(s) are gone";
            })
            {
                Detail = step.Stack,
            }).ToList();
            changes.AddRange(plan.Steps.Where(s => s.Action is SwarmPlanAction.Create or SwarmPlanAction.Update).Select(step => new PlannedChange(
                ChangeKind.Service, step.Name, step.Action == SwarmPlanAction.Create ? ChangeAction.Create : ChangeAction.Update, step.Why!, async c =>
                {
                    if (!prepared.TryGetValue(step.Stack, out var stack))
                    {
                        if ((await stacks.ServicesAsync(step.Stack, c)).Count == 0)
                        {
                            await session.CheckConflictsAsync(await session.NetworksAsync(c), [Environment.NetworkOf(step.Stack)], c);
                        }

                        prepared[step.Stack] = stack = await stacks.PrepareAsync(step.Stack, swarm.Endpoint, values, c);
                    }

                    var done = await stacks.ApplyServiceAsync(stack, Environment.Service(step.Service), desired[step.Stack][step.Service][0], c);
                    return $"{done.ToString().ToLowerInvariant()}, healthy";
                })
            {
                Detail = step.Stack,
            }));
            return new ChangePlan(
                $"converge {plan.Steps.Count(s => s.Action != SwarmPlanAction.Unchanged)} swarm service(s)",
                changes,
                plan.Steps.Where(s => s.Action == SwarmPlanAction.Unchanged).Select(s => new KeptResource(ChangeKind.Service, s.Name, "unchanged (same spec hash)") { Detail = s.Stack }).ToList());
        }, cancellationToken);

        if (outcome == GateOutcome.Applied)
        {
            await (await swarm.StacksAsync(cancellationToken)).PruneSecretsAsync(cancellationToken);
        }

        return outcome switch
        {
            GateOutcome.Applied when applied is not null => $"{applied.Count(SwarmPlanAction.Create)} created, {applied.Count(SwarmPlanAction.Update)} updated, {applied.Count(SwarmPlanAction.Remove)} removed, {applied.Count(SwarmPlanAction.Unchanged)} unchanged (services)",
            GateOutcome.DryRun => "dry run",
            _ => "nothing to deploy",
        };
    }

    /// <summary>
    /// ExportState: the environment as the engine holds it now, as a snapshot file for <c>Plan --against</c> (no secret
    /// value in it: label values that contain one are redacted). Returns what was written.
    /// </summary>
    public async Task<string> ExportStateAsync(string file, CancellationToken cancellationToken)
    {
        var images = Environment.Services.Select(s => session.MapImage(s.Image)).Distinct(StringComparer.Ordinal).ToList();
        var secretValues = SecretStore.Read(session.SecretsPath).Values.ToList();
        var snapshot = await StateSnapshot.ExportAsync(await LiveAsync(cancellationToken), Environment, images, secretValues, Endpoint, DateTimeOffset.UtcNow, cancellationToken);

        var path = Path.GetFullPath(file, Root);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temporary = path + ".tmp";
        await File.WriteAllTextAsync(temporary, snapshot.ToJson() + "\n", cancellationToken);
        File.Move(temporary, path, overwrite: true);
        var written = $"{snapshot.Containers.Count} container(s), {snapshot.Networks.Count} network(s), {snapshot.Volumes.Count} volume(s), {snapshot.Images.Count} image id(s)";
        log.Information("Wrote the state of {Environment} to {File}: {Written}", Environment.Name, file, written);
        return written;
    }

    /// <summary>The secret lookup a plan uses, and what it could not know.</summary>
    private sealed record PlanSecrets(Func<string, string?> Get, IReadOnlyList<string> Notes);

    /// <summary>
    /// The secrets file as it is, read only (a plan never generates one): a secret it lacks reads as a value no container
    /// has (what reads it shows as changed), and a note says so. The values are masked in everything the run prints.
    /// </summary>
    private PlanSecrets ReadOnlySecrets()
    {
        var path = session.SecretsPath;
        var values = SecretStore.Read(path);
        foreach (var value in values.Values)
        {
            session.Options.Masker.Register(value);
        }

        var missing = Environment.Secrets.Keys.Where(k => !values.ContainsKey(k)).Order(StringComparer.Ordinal).ToList();
        var display = Path.GetRelativePath(Root, path) is var relative && !relative.StartsWith("..", StringComparison.Ordinal) ? relative : path;
        IReadOnlyList<string> notes = missing.Count == 0
            ? []
            : [$"{missing.Count} secret(s) not in {display} ({string.Join(", ", missing)}): Start generates them (or refuses where existing data keeps them), so the services that read them show as changed"];
        return new PlanSecrets(name => values.TryGetValue(name, out var value) ? value : NotGenerated + name, notes);
    }

    private async Task<LiveEngineState> LiveAsync(CancellationToken cancellationToken) =>
        new(await session.EngineAsync(cancellationToken), Scope.Of(Environment));

    /// <summary>Every replica of every enabled stack, by stack and service, as Start would create it.</summary>
    private IReadOnlyDictionary<string, IReadOnlyDictionary<string, IReadOnlyList<ContainerPlan>>> Desired(PlanSecrets secrets) =>
        Environment.Stacks.ToDictionary(s => s.Name, s => ContainerSpecs.ForStack(Environment, s.Name, session.MapImage, secrets.Get, Root), StringComparer.Ordinal);

    private async Task<EnvironmentPlan> PlanOfAsync(IEngineState state, PlanSecrets secrets, CancellationToken cancellationToken) =>
        await StartPlanner.EnvironmentAsync(Environment, Desired(secrets), state, cancellationToken) with { Notes = secrets.Notes };
}
