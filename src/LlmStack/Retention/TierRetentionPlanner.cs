using System.Globalization;
using LlmStack.Backup;

namespace LlmStack.Retention;

/// <summary>The retention plan of one tier: its policy, and every set kept or removed (null when the tier cannot be read).</summary>
public sealed record TierRetentionPlan(ResolvedTier Tier, string? PolicyName, RetentionPolicy? Policy, IReadOnlyList<SetRetention>? Sets, string? Error)
{
    public IEnumerable<SetRetention> Kept => Sets?.Where(s => s.Keep) ?? [];

    public IEnumerable<SetRetention> Removed => Sets?.Where(s => !s.Keep) ?? [];

    /// <summary>What the removed sets added to the repository: an upper estimate of what forgetting them leaves unused.</summary>
    public long Freed => Removed.Sum(s => s.Added);
}

/// <summary>
/// Backup retention of an environment's tiers, pure: each tier's catalog (as <see cref="BackupTiers.InventoryAsync"/>
/// read it) with the tier's policy — the environment's tier map over the global one — and the environment's safety
/// rules, as of <c>now</c>. A tier without a policy keeps everything; one that could not be read keeps its error.
/// </summary>
public static class TierRetentionPlanner
{
    public static IReadOnlyList<TierRetentionPlan> Plan(
        IReadOnlyList<TierInventory> inventories, RetentionConfig config, string environment, DateTimeOffset now, TimeZoneInfo hostZone)
    {
        var safety = config.For(environment).Safety();
        var plans = new List<TierRetentionPlan>();
        foreach (var inventory in inventories)
        {
            var tier = inventory.Tier;
            if (config.PolicyOf(tier.Name, environment) is not { } policyName)
            {
                plans.Add(new TierRetentionPlan(tier, null, null,
                    inventory.Entries?.Select(e => new SetRetention(e, true, new Dictionary<string, IReadOnlyList<string>>())).ToList(), inventory.Error));
                continue;
            }

            var policy = config.Policies[policyName].ToPolicy();
            var sets = inventory.Entries is { } entries ? BackupRetention.Plan(entries, policy, safety, now, hostZone) : null;
            plans.Add(new TierRetentionPlan(tier, policyName, policy, sets, inventory.Error));
        }

        return plans;
    }

    /// <summary>
    /// Whether a tier is pruned now, and why (or why not yet): <c>when_unused_above</c> against the share the forgotten
    /// sets added, or an occurrence of <c>schedule</c> since the last prune; either suffices; with neither, always.
    /// </summary>
    public static (bool Worth, string Why) PruneDecision(PruneDefinition? prune, double share, DateTimeOffset? lastPruned, DateTimeOffset now)
    {
        var reasons = new List<string>();
        var notYet = new List<string>();
        if (prune?.WhenUnusedAbove is { } above && Percent.TryParse(above, out var threshold))
        {
            (share >= threshold ? reasons : notYet).Add(string.Create(CultureInfo.InvariantCulture,
                $"the forgotten sets added {(share >= threshold ? "up to" : "at most")} {share:0.##}% of it (prune.when_unused_above {threshold:0.#}%)"));
        }

        if (prune?.Schedule is { } schedule && BackupConfigLoader.TryParseCron(schedule, out var cron, out _))
        {
            var due = lastPruned is null ? now : cron!.GetNextOccurrence(lastPruned.Value.UtcDateTime, TimeZoneInfo.Utc) is { } next ? new DateTimeOffset(next, TimeSpan.Zero) : DateTimeOffset.MaxValue;
            (due <= now ? reasons : notYet).Add(lastPruned is null
                ? $"never pruned by LlmStack (prune.schedule {schedule})"
                : due <= now
                    ? $"prune.schedule {schedule} came round since the last prune ({lastPruned.Value.UtcDateTime:yyyy-MM-dd HH:mm}Z)"
                    : $"last pruned {lastPruned.Value.UtcDateTime:yyyy-MM-dd HH:mm}Z, prune.schedule {schedule} next at {due.UtcDateTime:yyyy-MM-dd HH:mm}Z");
        }

        return reasons.Count > 0 ? (true, string.Join("; ", reasons))
            : notYet.Count > 0 ? (false, string.Join("; ", notYet))
            : (true, "every cleanup prunes (no prune rule)");
    }
}
