using System.Globalization;
using LlmStack.Backup;
using LlmStack.ChangeControl;
using Serilog;

namespace LlmStack.Retention;

/// <summary>
/// The apply step of a retention cleanup: the plans (data inside the services, then the backup sets) as the change
/// gate's changes, each with what it does — <c>restic forget</c> of exactly a tier's planned sets (one run per tier,
/// when the first of them is applied), tape exports removed, <c>restic prune</c>, orphaned members forgotten, rows
/// deleted or archived, TTLs set, files and model directories removed — and every resource kept with why.
/// </summary>
public sealed class RetentionChanges(BackupContext context, LiveDataProbes probes, string environment, IDictionary<string, DateTimeOffset> pruned, ILogger log)
{
    /// <summary>How many backup sets (or tape exports) were removed so far.</summary>
    public int Removed { get; private set; }

    public ChangePlan Plan(DataRetentionPlan data, BackupSetCleanup sets)
    {
        var changes = data.Changes.Select(Change).ToList();
        var kept = data.Kept.ToList();
        foreach (var orphans in sets.Orphans)
        {
            Orphans(orphans, changes, kept);
        }

        foreach (var tier in sets.Tiers)
        {
            Sets(tier, changes, kept);
        }

        return new ChangePlan(RetentionSummary.Of(changes), changes, kept);
    }

    private PlannedChange Change(DataChange change)
    {
        Func<CancellationToken, Task<string?>> apply = change switch
        {
            RowsChange { Table.Strategy: TableRetention.ArchiveThenDelete } rows => async ct =>
            {
                var (snapshot, count) = await probes.Postgres(rows.Table.Service).ArchiveThenDeleteAsync(rows.Table, rows.Cutoff, context.Repository, environment, context.Host, ct);
                return $"{count} row(s) archived (snapshot {snapshot[..8]}) and deleted";
            },
            RowsChange rows => async ct => $"{await probes.Postgres(rows.Table.Service).DeleteAsync(rows.Table, rows.Cutoff, ct)} row(s) deleted",
            KeysChange keys => async ct => $"TTL set on {(await probes.Redis(keys.Keys.Service).PassAsync(keys.Keys, keys.Database, apply: true, ct)).Due} key(s)",
            FilesChange files => async ct =>
            {
                var (count, bytes) = await probes.Volumes.DeleteFilesAsync(files.Files, ct);
                return $"{count} file(s), {BackupProgress.Size(bytes)} deleted";
            },
            ModelChange model => async ct =>
                (await probes.Volumes.RemoveModelsAsync(model.Models, [model.Directory], model.Cutoff, ct)).Count == 1 ? "directory removed" : "used since the plan: kept",
            _ => throw new ArgumentOutOfRangeException(nameof(change), change.GetType().Name, "no apply step for this data change"),
        };
        return new PlannedChange(change.Kind, change.Resource, change.Action, change.Why, apply)
        {
            Detail = change.Detail,
            ContinueOnFailure = true,
        };
    }

    /// <summary>
    /// The member snapshots of sets that never got a manifest (a run stopped before the end): never a backup, so no
    /// policy keeps them; forgotten in one <c>restic forget</c> per tier, unless their run may still be writing them
    /// (<see cref="BackupOrphans"/>), which the table says.
    /// </summary>
    private void Orphans(OrphanCleanup cleanup, List<PlannedChange> changes, List<KeptResource> kept)
    {
        var repository = context.Tiers.Open(cleanup.Tier);
        var removable = cleanup.Removable;
        Task? forgetting = null;
        foreach (var orphan in cleanup.Orphans)
        {
            var resource = $"{cleanup.Tier.Name}/{orphan.Set}";
            var detail = $"{orphan.Newest.UtcDateTime:yyyy-MM-dd HH:mm}Z, {orphan.Snapshots.Count} snapshot(s)";
            if (!orphan.Removable)
            {
                kept.Add(new KeptResource(ChangeKind.OrphanedMembers, resource, orphan.Why) { Detail = detail });
                continue;
            }

            changes.Add(new PlannedChange(ChangeKind.OrphanedMembers, resource, ChangeAction.Forget, $"member snapshots of a set that never got its manifest: {orphan.Why}", async c =>
            {
                await (forgetting ??= BackupOrphans.ForgetAsync(repository, removable, log, c));
                return $"{orphan.Snapshots.Count} snapshot(s)";
            })
            {
                Detail = detail,
            });
        }
    }

    /// <summary>A tier's sets: the kept ones with the rules that keep them, the removed ones as their removal, then the prune or why not yet.</summary>
    private void Sets(TierCleanup cleanup, List<PlannedChange> changes, List<KeptResource> kept)
    {
        var plan = cleanup.Plan;
        foreach (var set in plan.Kept)
        {
            kept.Add(new KeptResource(ChangeKind.BackupSet, $"{plan.Tier.Name}/{set.Set}", KeptBy(set)) { Detail = Time(set) });
        }

        // The tier's forgets run as one restic forget (one lock, one index rewrite) when the first is applied:
        // per set, that would be two restic runs each. Every set is still its own row and audit entry.
        var forgetting = plan.Removed.Select(s => s.Set).ToHashSet(StringComparer.Ordinal);
        var tape = cleanup.Removal == SetRemoval.Forget ? null : new TapeTier(plan.Tier, context.Repository, log);
        Task<IReadOnlyDictionary<string, int>>? forgotten = null;
        foreach (var set in plan.Removed)
        {
            var why = $"no rule of policy {plan.PolicyName} ({plan.Policy}) keeps it";
            if (cleanup.Removal == SetRemoval.RotateByHand)
            {
                kept.Add(new KeptResource(ChangeKind.TapeExport, $"{plan.Tier.Name}/{set.Set}", $"due for rotation ({why}): on a device, change the cassette by hand") { Detail = Time(set) });
                continue;
            }

            changes.Add(new PlannedChange(tape is null ? ChangeKind.BackupSet : ChangeKind.TapeExport, $"{plan.Tier.Name}/{set.Set}", tape is null ? ChangeAction.Forget : ChangeAction.Remove, why, async c =>
            {
                if (tape is not null)
                {
                    tape.Remove(set.Set);
                    Removed++;
                    return "export removed";
                }

                var counts = await (forgotten ??= ForgetSetsAsync(context.Tiers.Open(plan.Tier), environment, forgetting, c));
                Removed++;
                return $"{counts.GetValueOrDefault(set.Set)} snapshot(s)";
            })
            {
                Detail = $"{Time(set)}, {BackupProgress.Size(set.Added)} added",
            });
        }

        if (cleanup.Prune is not { } prune)
        {
            return;
        }

        if (!prune.Worth)
        {
            kept.Add(new KeptResource(ChangeKind.Repository, plan.Tier.Name, "no prune yet: " + prune.Why) { Detail = BackupProgress.Size(prune.Size) });
            return;
        }

        var repository = context.Tiers.Open(plan.Tier);
        changes.Add(new PlannedChange(ChangeKind.Repository, plan.Tier.Name, ChangeAction.Prune, $"{prune.Why}: restic prune --max-unused {prune.MaxUnused}", async c =>
        {
            await repository.PruneAsync(prune.MaxUnused, c);
            pruned[plan.Tier.Name] = DateTimeOffset.UtcNow;
            return $"{BackupProgress.Size(await repository.SizeAsync(c))} after the prune";
        })
        {
            Detail = BackupProgress.Size(prune.Size),
        });
    }

    /// <summary>
    /// Forgets every snapshot of these sets in one <c>restic forget</c>; the number of snapshots per set. Selected by
    /// tags on this repository (a copy's snapshots have ids of their own on each tier); archives belong to no set.
    /// </summary>
    public static async Task<IReadOnlyDictionary<string, int>> ForgetSetsAsync(ResticRepository repository, string environment, IReadOnlySet<string> sets, CancellationToken cancellationToken)
    {
        var chosen = (await repository.SnapshotsAsync([BackupTags.Marker, $"env={environment}"], cancellationToken))
            .Select(s => (Snapshot: s, Set: s.Tag("set")))
            .Where(x => x.Set is not null && sets.Contains(x.Set))
            .ToList();
        await repository.ForgetAsync(chosen.Select(x => x.Snapshot.Id).ToList(), cancellationToken);
        return chosen.GroupBy(x => x.Set!).ToDictionary(g => g.Key, g => g.Count());
    }

    /// <summary>The rules that keep a set, members with the same rules together.</summary>
    private static string KeptBy(SetRetention set) => string.Join("; ", set.Reasons
        .GroupBy(r => string.Join(", ", r.Value))
        .Select(g => g.Count() > 2 ? $"{g.Count()} members ({g.First().Key}, …): {g.Key}" : $"{string.Join(", ", g.Select(r => r.Key))}: {g.Key}"));

    private static string Time(SetRetention set) => set.Entry.Manifest.Started.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}

/// <summary>The confirmation summary of a retention cleanup, from the typed kinds of its changes: each change counted once.</summary>
public static class RetentionSummary
{
    public static string Of(IReadOnlyList<PlannedChange> changes)
    {
        var plan = ChangePlan.Of(string.Empty, changes);
        return $"remove {plan.Count(ChangeKind.BackupSet, ChangeKind.TapeExport)} backup set(s), the orphaned members of {plan.Count(ChangeKind.OrphanedMembers)} set(s) and old rows of "
            + $"{plan.Count(ChangeKind.Rows)} table(s), {plan.Count(ChangeKind.Keys, ChangeKind.Files, ChangeKind.Model)} other data item(s) by the retention policies";
    }
}
