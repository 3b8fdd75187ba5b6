using LlmStack.Pipeline;

namespace LlmStack.Backup;

/// <summary>One member of one set, chosen for a check (BackupVerify, RestoreTest).</summary>
public sealed record ChosenMember(CatalogEntry Entry, MemberResult Member)
{
    public string Set => Entry.Manifest.Set;
}

/// <summary>Which backups the checks take (pure).</summary>
public static class BackupSelection
{
    /// <summary>
    /// For every member of the plan (<paramref name="keys"/>: <c>postgres/full</c>, <c>qdrant/qdrant_data</c> …), the
    /// newest successful backup of it that is not a safety copy, whatever set holds it: after a <c>BackupFull</c> and a
    /// <c>BackupService --service postgres</c>, postgres comes from the newer set and everything else from the full one.
    /// Members never backed up are left out. In the plan's order.
    /// </summary>
    public static IReadOnlyList<ChosenMember> NewestOfEach(IReadOnlyList<CatalogEntry> entries, IEnumerable<string> keys) =>
        keys.Distinct(StringComparer.Ordinal)
            .Select(key => entries
                .Where(e => !e.Manifest.IsSafetyCopy)
                .OrderBy(e => e.Manifest.Started)
                .SelectMany(e => e.Manifest.Members.Where(m => m.Succeeded && m.Key == key).Select(m => new ChosenMember(e, m)))
                .LastOrDefault())
            .OfType<ChosenMember>()
            .ToList();

    /// <summary>Every member of one set that has something to check (skipped and failed members have nothing).</summary>
    public static IReadOnlyList<ChosenMember> OfSet(CatalogEntry entry) =>
        entry.Manifest.Members.Where(m => m.Succeeded).Select(m => new ChosenMember(entry, m)).ToList();

    /// <summary>
    /// What a check takes (BackupVerify, RestoreTest): one set's members (<c>--backup-set</c>), or the newest backup of
    /// every member of the plan; one line when there is none.
    /// </summary>
    public static IReadOnlyList<ChosenMember> Choose(IReadOnlyList<CatalogEntry> entries, EnvironmentBackupPlan plan, string? set, string what)
    {
        if (set is not null)
        {
            var entry = entries.FirstOrDefault(e => e.Manifest.Set == set) ?? throw new PipelineException($"no backup set '{set}' in {plan.Environment}: BackupList shows the sets");
            return OfSet(entry);
        }

        var chosen = NewestOfEach(entries, plan.Members.Select(m => m.Key));
        return chosen.Count > 0 ? chosen : throw new PipelineException($"no backup of {plan.Environment} to {what}: run BackupFull first");
    }

    /// <summary><c>set (member, member); set (member)</c>: which set each checked member came from.</summary>
    public static string Describe(IReadOnlyList<ChosenMember> chosen) =>
        string.Join("; ", chosen.GroupBy(c => c.Set, StringComparer.Ordinal).Select(g => $"{g.Key} ({string.Join(", ", g.Select(c => c.Member.Key))})"));
}
