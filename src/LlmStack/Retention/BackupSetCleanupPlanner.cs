using LlmStack.Backup;
using LlmStack.Pipeline;

namespace LlmStack.Retention;

/// <summary>How a set that no rule keeps leaves its tier.</summary>
public enum SetRemoval
{
    /// <summary>A repository tier: <c>restic forget</c> of exactly the set's snapshots there.</summary>
    Forget,

    /// <summary>A tape tier on a directory: the export file and its catalog record are removed.</summary>
    RemoveExport,

    /// <summary>A tape tier on a device: never erased; listed as due for rotation (the cassette is changed by hand).</summary>
    RotateByHand,
}

/// <summary>What the backup-set cleanup reads of a tier besides its catalog (the real one: <see cref="LiveTierProbe"/>).</summary>
public interface ITierProbe
{
    /// <summary>The member snapshots of sets that never got a manifest, in the tier's repository.</summary>
    Task<IReadOnlyList<OrphanSet>> OrphansAsync(ResolvedTier tier, CancellationToken cancellationToken);

    /// <summary>The repository's size in bytes.</summary>
    Task<long> SizeAsync(ResolvedTier tier, CancellationToken cancellationToken);

    /// <summary>Whether a tape tier is a device (one cassette at a time) rather than a directory.</summary>
    bool OnDevice(ResolvedTier tier);
}

/// <summary>A tier's prune: whether it is worth it now and why (or why not yet), with the repository's size before.</summary>
public sealed record PruneStep(bool Worth, string Why, long Size, string MaxUnused);

/// <summary>The orphaned member snapshots of a repository tier: the removable ones are forgotten, the others kept with why.</summary>
public sealed record OrphanCleanup(ResolvedTier Tier, IReadOnlyList<OrphanSet> Orphans)
{
    public IReadOnlyList<OrphanSet> Removable => Orphans.Where(o => o.Removable).ToList();
}

/// <summary>One tier with a policy: its kept and removed sets, how the removed ones go, and its prune (none when nothing goes or on tape).</summary>
public sealed record TierCleanup(TierRetentionPlan Plan, SetRemoval Removal, PruneStep? Prune);

/// <summary>The backup-set part of a cleanup: the orphaned members per repository tier, each tier's sets, the problems met.</summary>
public sealed record BackupSetCleanup(IReadOnlyList<OrphanCleanup> Orphans, IReadOnlyList<TierCleanup> Tiers, IReadOnlyList<string> Problems);

/// <summary>
/// The backup-set cleanup of the tiers' retention plans: the orphaned members of every readable repository tier, then per
/// tier with a policy how its removed sets go (<see cref="SetRemoval"/>) and whether its prune is worth it
/// (<see cref="TierRetentionPlanner.PruneDecision"/> on the share the removed sets added). Reads only through
/// <see cref="ITierProbe"/>.
/// </summary>
public static class BackupSetCleanupPlanner
{
    public static async Task<BackupSetCleanup> PlanAsync(
        IReadOnlyList<TierRetentionPlan> plans, PruneDefinition? prune, IReadOnlyDictionary<string, DateTimeOffset> lastPruned, ITierProbe probe, DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        var problems = new List<string>();
        var orphans = new List<OrphanCleanup>();
        foreach (var plan in plans.Where(p => p.Sets is not null && p.Tier.IsRepository))
        {
            try
            {
                orphans.Add(new OrphanCleanup(plan.Tier, await probe.OrphansAsync(plan.Tier, cancellationToken)));
            }
            catch (PipelineException e) when (!cancellationToken.IsCancellationRequested)
            {
                problems.Add($"tier {plan.Tier.Name}: looking for orphaned member snapshots failed: {e.Message.Split('\n')[0]}");
            }
        }

        var tiers = new List<TierCleanup>();
        foreach (var plan in plans.Where(p => p.Sets is not null && p.Policy is not null))
        {
            var removal = plan.Tier.IsRepository ? SetRemoval.Forget : probe.OnDevice(plan.Tier) ? SetRemoval.RotateByHand : SetRemoval.RemoveExport;
            PruneStep? step = null;
            if (removal == SetRemoval.Forget && plan.Removed.Any())
            {
                var size = await probe.SizeAsync(plan.Tier, cancellationToken);
                var share = size == 0 ? 0 : 100.0 * plan.Freed / size;
                var (worth, why) = TierRetentionPlanner.PruneDecision(prune, share, lastPruned.TryGetValue(plan.Tier.Name, out var at) ? at : null, now);
                step = new PruneStep(worth, why, size, prune?.MaxUnused ?? "5%");
            }

            tiers.Add(new TierCleanup(plan, removal, step));
        }

        return new BackupSetCleanup(orphans, tiers, problems);
    }
}
