using Docker.DotNet.Models;
using LlmStack.Backup;
using LlmStack.ChangeControl;
using LlmStack.Engine;
using LlmStack.Lifecycle;
using LlmStack.Orchestration;
using LlmStack.Pipeline;
using LlmStack.Schema;
using LlmStack.Sessions;
using Serilog;

namespace LlmStack.Wipe;

/// <summary>
/// The bodies of the wipe targets: each plans with <see cref="WipePlanner"/> over the engine (<see cref="LiveWipeInventory"/>)
/// inside one change gate, and applies the plan one audited change at a time — containers removed through
/// <see cref="ServiceLifecycle.StopAsync"/> (dependents first), volumes, networks (skipped when something still uses
/// one), the secrets file. Refusals (a volume a container that is not ours mounts) are named at the end (non-zero exit).
/// </summary>
public sealed class WipeOperations(EnvironmentSession session, string helperImage, ILogger log)
{
    private ResolvedEnvironment Environment => session.Environment;

    /// <summary>
    /// When the backup a wipe would take first was skipped on purpose (<c>--skip</c>): a line on the environment's
    /// newest backup set for the confirmation, or null when that environment's wipe takes no backup anyway.
    /// </summary>
    public Func<EnvironmentSession, CancellationToken, Task<string?>>? SkippedBackup { get; init; }

    /// <summary>Wipe&lt;Stack&gt;: see <see cref="WipePlanner.StackAsync"/>.</summary>
    public async Task WipeStackAsync(string target, string stack, CancellationToken cancellationToken)
    {
        Environment.Stack(stack);
        var refusals = new List<string>();
        await session.ChangeAsync(target, async ct =>
        {
            var (inventory, engine) = await InventoryAsync(ct);
            var plan = await WipePlanner.StackAsync(Environment, stack, inventory, ct);
            refusals.AddRange(plan.Refusals);
            return await ChangesAsync(plan, inventory, engine, [session], ct);
        }, cancellationToken);
        Refused(target, refusals);
    }

    /// <summary>
    /// WipeDb, WipeCache, …: see <see cref="WipePlanner.DataAsync"/>; afterwards the stacks that were running are started
    /// again (new, empty volumes), health-gated.
    /// </summary>
    public async Task WipeDataAsync(string target, string dataType, CancellationToken cancellationToken)
    {
        var refusals = new List<string>();
        IReadOnlyList<string> running = [];
        var outcome = await session.ChangeAsync(target, async ct =>
        {
            var (inventory, engine) = await InventoryAsync(ct);
            var plan = await WipePlanner.DataAsync(Environment, dataType, inventory, ct);
            refusals.AddRange(plan.Refusals);
            running = plan.RunningStacks;
            return await ChangesAsync(plan, inventory, engine, [session], ct);
        }, cancellationToken);

        if (outcome == GateOutcome.Applied)
        {
            foreach (var stack in Environment.Stacks.Select(s => s.Name).Where(running.Contains))
            {
                await session.Stacks.StartAsync(stack, cancellationToken);
            }
        }

        Refused(target, refusals);
    }

    /// <summary>Wipe&lt;Environment&gt;: see <see cref="WipePlanner.EnvironmentAsync"/>.</summary>
    public async Task<GateOutcome> WipeEnvironmentAsync(string target, bool wipeSecrets, CancellationToken cancellationToken)
    {
        var refusals = new List<string>();
        var outcome = await session.ChangeAsync(target, async ct =>
        {
            var (plan, changes) = await EverythingAsync(wipeSecrets, ct);
            refusals.AddRange(plan.Refusals);
            return changes with { Notices = await NoticesAsync([session], ct) };
        }, cancellationToken);
        Refused(target, refusals);
        return outcome;
    }

    /// <summary>The schema's project: what WipeNuclear spans and its phrase names.</summary>
    private string Project => session.Options.Schema.Load().Project!.Name!;

    /// <summary>What the nuclear gate and its early --confirm check name as the scope.</summary>
    private string NuclearScope => $"project {Project}";

    /// <summary>The phrase that confirms WipeNuclear: it names the project, so it cannot be typed by habit.</summary>
    public static string NuclearPhrase(string project) => $"wipe {project} everywhere";

    /// <summary>
    /// WipeNuclear: everything of every environment of the schema's project (each selected by its own labels, so
    /// nothing of another project and nothing unlabelled), in one gate holding every environment's lock, confirmed by
    /// typing <see cref="NuclearPhrase"/>. Secrets kept unless <paramref name="wipeSecrets"/>.
    /// </summary>
    public async Task<GateOutcome> WipeNuclearAsync(string target, bool wipeSecrets, CancellationToken cancellationToken)
    {
        var sessions = session.AllEnvironments();
        var wipes = sessions.Select(s => s == session ? this : new WipeOperations(s, helperImage, log)).ToList();
        var refusals = new List<string>();
        var outcome = await session.ChangeAcrossAsync(target, sessions, NuclearScope, NuclearPhrase(Project), async ct =>
        {
            var kept = new List<KeptResource>();
            var changes = new List<PlannedChange>();
            foreach (var wipe in wipes)
            {
                var (plan, each) = await wipe.EverythingAsync(wipeSecrets, ct);
                refusals.AddRange(plan.Refusals);
                changes.AddRange(each.Changes);
                kept.AddRange(each.Kept);
            }

            var environments = changes.Select(c => c.Environment!).Distinct().ToList();
            return new ChangePlan($"wipe everything of environment{(environments.Count == 1 ? string.Empty : "s")} {string.Join(", ", environments)}", changes, kept)
            {
                Notices = await NoticesAsync(sessions.Where(s => environments.Contains(s.Environment.Name)).ToList(), ct),
            };
        }, cancellationToken);
        Refused(target, refusals);
        return outcome;
    }

    /// <summary>
    /// Before WipeNuclear: a BackupFull of each environment whose wipe takes one (<paramref name="wanted"/>) and that
    /// has a volume of ours on this engine (no backups of nothing); the first failure stops it, so nothing is wiped.
    /// </summary>
    public async Task BackupEverywhereAsync(string wipeTarget, Func<EnvironmentSession, bool> wanted, Func<EnvironmentSession, BackupOperations> backups, BackupTrigger trigger, CancellationToken cancellationToken)
    {
        // A --confirm that is not the phrase fails the wipe anyway: say so before spending time on backups.
        Confirmation.CheckTarget(wipeTarget, NuclearScope, session.Options.Gate.Confirm, NuclearPhrase(Project));
        foreach (var each in session.AllEnvironments())
        {
            var name = each.Environment.Name;
            if (!wanted(each))
            {
                log.Information("{Environment}: its wipe takes no backup first (backup_before_wipe is off)", name);
                continue;
            }

            var engine = await each.EngineAsync(cancellationToken);
            var volumes = await engine.CallAsync(ct => engine.Client.Volumes.ListAsync(new VolumesListParameters { Filters = Scope.Of(each.Environment).Filter() }, ct), cancellationToken);
            if (volumes.Volumes is not { Count: > 0 })
            {
                log.Information("{Environment}: no volume of it on this engine, nothing to back up", name);
                continue;
            }

            log.Information("{Environment}: backing up before the wipe", name);
            await backups(each).FullAsync(trigger, cancellationToken);
        }
    }

    /// <summary>
    /// Reset: the environment's wipe (secrets always kept), then every enabled stack started again in order, health-gated,
    /// so the new databases are initialised with the passwords the secrets file holds. A dry run or a wipe that was not
    /// applied starts nothing.
    /// </summary>
    public async Task ResetAsync(string target, CancellationToken cancellationToken)
    {
        var outcome = await WipeEnvironmentAsync(target, wipeSecrets: false, cancellationToken);
        var stacks = Environment.Stacks.Select(s => s.Name).ToList();
        if (outcome == GateOutcome.DryRun)
        {
            log.Information("Dry run: {Target} would then start {Stacks}", target, string.Join(", ", stacks));
            return;
        }

        foreach (var stack in stacks)
        {
            await session.Stacks.StartAsync(stack, cancellationToken);
        }
    }

    private async Task<(LiveWipeInventory Inventory, DockerEngine Engine)> InventoryAsync(CancellationToken cancellationToken)
    {
        var engine = await session.EngineAsync(cancellationToken);
        return (new LiveWipeInventory(session, engine, helperImage, log), engine);
    }

    /// <summary>The plan and changes that remove everything of this environment, each change naming it for the audit.</summary>
    private async Task<(WipePlan Plan, ChangePlan Changes)> EverythingAsync(bool wipeSecrets, CancellationToken cancellationToken)
    {
        var (inventory, engine) = await InventoryAsync(cancellationToken);
        var secrets = session.SecretsPath;
        var plan = await WipePlanner.EnvironmentAsync(Environment, inventory, secrets, File.Exists(secrets), wipeSecrets, cancellationToken);
        var changes = await ChangesAsync(plan, inventory, engine, [], cancellationToken);
        return (plan, changes with { Changes = changes.Changes.Select(c => c with { Environment = Environment.Name }).ToList() });
    }

    /// <summary>
    /// The apply step: one change per container (removed through the lifecycle, dependents first), volume, network and
    /// the secrets file, in the plan's order; with the skipped-backup lines of <paramref name="noticesOf"/>.
    /// </summary>
    private async Task<ChangePlan> ChangesAsync(WipePlan plan, LiveWipeInventory inventory, DockerEngine engine, IReadOnlyList<EnvironmentSession> noticesOf, CancellationToken cancellationToken)
    {
        var lifecycle = await session.LifecycleAsync(cancellationToken);
        var swarm = new SwarmStacks(engine, Environment, log);
        // Each service is removed in the plan's order; their tasks stop in parallel, and the last removal waits until every
        // task's container is gone (about 5 s on Swarm, once), before anything they hold is touched.
        var grace = TimeSpan.Zero;
        var changes = plan.Services.Select((s, i) => new PlannedChange(ChangeKind.Service, s.Name, ChangeAction.Remove, WipePlan.Why(s), async ct =>
        {
            var own = await swarm.RemoveServiceAsync(s.Id, ct);
            grace = own > grace ? own : grace;
            if (i < plan.Services.Count - 1)
            {
                return null;
            }

            await swarm.WaitTasksGoneAsync(plan.Services.Select(r => r.Id).ToList(), grace, ct);
            return $"the tasks' containers of {plan.Services.Count} service(s) are gone";
        })
        {
            Detail = "swarm",
        }).ToList();
        changes.AddRange(plan.Containers.Select(c => new PlannedChange(ChangeKind.Container, c.Name, ChangeAction.Remove, WipePlan.Why(c), async ct =>
        {
            await lifecycle.StopAsync([inventory.Listed(c.Id)], remove: true, "removed", ct);
            return null;
        })));
        changes.AddRange(plan.Volumes.Select(v => new PlannedChange(ChangeKind.Volume, v.Name, ChangeAction.Remove, v.Why, async ct =>
        {
            await engine.CallAsync(c => engine.Client.Volumes.RemoveAsync(v.Name, force: false, c), ct);
            return null;
        })
        {
            Detail = v.Size is { } size ? BackupProgress.Size(size) : "size unknown",
        }));
        changes.AddRange(plan.Networks.Select(n => new PlannedChange(ChangeKind.Network, n.Name, ChangeAction.Remove, WipePlan.Why(n), async ct =>
        {
            var detail = await engine.CallAsync(c => engine.Client.Networks.InspectNetworkAsync(n.Id, c), ct);
            // On an overlay network, Swarm's own load-balancer endpoint (lb-<network>) is no user: it goes with the network.
            if ((detail.Containers ?? new Dictionary<string, EndpointResource>()).Where(u => !u.Key.StartsWith("lb-", StringComparison.Ordinal)).ToList() is { Count: > 0 } users)
            {
                throw new ChangeSkippedException($"still used by {string.Join(", ", users.Select(u => u.Value.Name))}");
            }

            await engine.CallAsync(c => engine.Client.Networks.DeleteNetworkAsync(n.Id, c), ct);
            return null;
        })
        {
            Detail = n.Subnet,
        }));
        changes.AddRange(plan.SwarmSecrets.Select(secret => new PlannedChange(ChangeKind.Secret, secret.Name, ChangeAction.Remove, WipePlan.Why(secret), async ct =>
        {
            try
            {
                await engine.CallAsync(c => engine.Client.Secrets.DeleteAsync(secret.Id, c), ct);
            }
            catch (Docker.DotNet.DockerApiException e) when (e.StatusCode is System.Net.HttpStatusCode.BadRequest or System.Net.HttpStatusCode.Conflict)
            {
                throw new ChangeSkippedException($"still used: {EngineImages.ApiMessage(e)}");
            }

            return null;
        })
        {
            Detail = "swarm",
        }));
        if (plan.Secrets is { } secrets)
        {
            changes.Add(new PlannedChange(ChangeKind.Secrets, secrets, ChangeAction.Remove, "--wipe-secrets: the next start generates new ones", _ =>
            {
                File.Delete(secrets);
                return Task.FromResult<string?>(null);
            }));
        }

        return new ChangePlan(plan.Summary, changes, plan.Kept) { Notices = await NoticesAsync(noticesOf, cancellationToken) };
    }

    /// <summary>The skipped-backup lines of the environments concerned (none when no backup was skipped).</summary>
    private async Task<IReadOnlyList<string>> NoticesAsync(IReadOnlyList<EnvironmentSession> sessions, CancellationToken cancellationToken)
    {
        var notices = new List<string>();
        if (SkippedBackup is null)
        {
            return notices;
        }

        foreach (var each in sessions)
        {
            if (await SkippedBackup(each, cancellationToken) is { } notice)
            {
                notices.Add(notice);
            }
        }

        return notices;
    }

    private static void Refused(string target, IReadOnlyList<string> refusals)
    {
        if (refusals.Count > 0)
        {
            throw new PipelineException($"{target}: {string.Join("; ", refusals)}");
        }
    }
}
