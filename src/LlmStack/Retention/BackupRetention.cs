using LlmStack.Backup;

namespace LlmStack.Retention;

/// <summary>A set that a tier's retention would remove or keep, with the reasons per member (service/type) that keep it.</summary>
public sealed record SetRetention(CatalogEntry Entry, bool Keep, IReadOnlyDictionary<string, IReadOnlyList<string>> Reasons)
{
    public string Set => Entry.Manifest.Set;

    /// <summary>The bytes this set added to the repository when it was made (an upper bound of what forgetting it frees).</summary>
    public long Added => Entry.Manifest.Members.Sum(m => m.Added);
}

/// <summary>
/// Backup retention of one tier, a pure function: the policy is applied per member (a service and its type — each is
/// one group, as restic groups by path), with LlmStack's safety rules per member. A set is removed only when no
/// member keeps it; a set in which no member succeeded holds nothing and is removed.
/// </summary>
public static class BackupRetention
{
    public static IReadOnlyList<SetRetention> Plan(IReadOnlyList<CatalogEntry> entries, RetentionPolicy policy, RetentionSafety safety, DateTimeOffset now, TimeZoneInfo hostZone)
    {
        var reasons = entries.ToDictionary(e => e.Manifest.Set, _ => new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal), StringComparer.Ordinal);
        var groups = entries
            .SelectMany(e => e.Manifest.Members.Where(m => m.Succeeded).Select(m => (Member: m.Key, Entry: e)))
            .GroupBy(x => x.Member, StringComparer.Ordinal);
        foreach (var group in groups)
        {
            var backups = group.Select(x => new RetentionBackup(
                x.Entry.Manifest.Set,
                TimeZoneInfo.ConvertTime(x.Entry.Manifest.Started, hostZone),
                [.. x.Entry.Tags, $"trigger={x.Entry.Manifest.Trigger}"],
                x.Entry.Verified is not null)).ToList();
            foreach (var decision in RetentionPlanner.PlanSafe(backups, policy, safety, now).Decisions.Where(d => d.Keep))
            {
                reasons[decision.Backup.Id][group.Key] = decision.Reasons;
            }
        }

        return entries
            .OrderByDescending(e => e.Manifest.Started)
            .Select(e => new SetRetention(e, reasons[e.Manifest.Set].Count > 0, reasons[e.Manifest.Set]))
            .ToList();
    }
}
