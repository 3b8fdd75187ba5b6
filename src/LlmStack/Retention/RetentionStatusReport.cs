using System.Globalization;
using LlmStack.Engine;
using LlmStack.Pipeline;
using LlmStack.Reporting;

namespace LlmStack.Retention;

/// <summary>A service's line of RetentionStatus: the backups a cleanup would remove now per tier, and its data retention.</summary>
public sealed record ServiceRetentionRow(string Service, IReadOnlyDictionary<string, int> Removals, string Data);

/// <summary>
/// RetentionStatus, pure: per tier the policy, sets, kept and removable now, and its state; per service the backups due
/// for removal and its data retention ("not managed by LlmStack" when none); min_keep and the last cleanup.
/// </summary>
public static class RetentionStatusReport
{
    private const string TsdbFlag = "--storage.tsdb.retention.time=";

    public static Report Of(string environment, RetentionSafety safety, IReadOnlyList<TierRetentionPlan> plans, IReadOnlyList<ServiceRetentionRow> rows, RetentionRun? last)
    {
        var table = new TextTable("TIER", "POLICY", "SETS", "KEEP", "REMOVE NOW", "STATE");
        foreach (var plan in plans)
        {
            table.Add(plan.Tier.Name, plan.Policy is null ? "none: everything kept" : $"{plan.PolicyName}: {plan.Policy}", Count(plan.Sets?.Count),
                Count(plan.Sets?.Count(s => s.Keep)), Count(plan.Sets?.Count(s => !s.Keep)), plan.Error ?? "ok");
        }

        var services = new TextTable("SERVICE", "BACKUPS TO REMOVE NOW (TIER: SETS)", "DATA INSIDE THE SERVICE");
        foreach (var (service, removals, data) in rows)
        {
            services.Add(service, removals.Count == 0 ? "-" : string.Join(", ", removals.Select(r => $"{r.Key}: {r.Value}")), data);
        }

        return new Report
            {
                Document = new
                {
                    environment,
                    minKeep = safety.MinKeep,
                    lastRun = last,
                    tiers = plans.Select(p => new
                    {
                        tier = p.Tier.Name,
                        policy = p.PolicyName,
                        rules = p.Policy?.ToString(),
                        error = p.Error,
                        keep = p.Sets?.Where(s => s.Keep).Select(s => s.Set),
                        remove = p.Sets?.Where(s => !s.Keep).Select(s => s.Set),
                    }),
                    services = rows.Select(r => new { service = r.Service, backupsToRemove = r.Removals, data = r.Data }),
                },
            }
            .Table(table)
            .Line()
            .Table(services)
            .Line()
            .Line($"min_keep {safety.MinKeep}, newest verified set kept; last cleanup: {(last is null ? "never" : $"{last.Finished:yyyy-MM-dd HH:mm:ss}Z, {last.Removed} set(s) removed, {last.Outcome}")}");
    }

    /// <summary>Per tier, how many of the sets a cleanup would remove now hold a member of the service (tiers with none left out).</summary>
    public static IReadOnlyDictionary<string, int> Removals(IReadOnlyList<TierRetentionPlan> plans, string service) =>
        plans.Where(p => p.Sets is not null)
            .Select(p => (p.Tier.Name, Count: p.Sets!.Count(s => !s.Keep && s.Entry.Manifest.Members.Any(m => m.Succeeded && m.Service == service))))
            .Where(x => x.Count > 0)
            .ToDictionary(x => x.Name, x => x.Count);

    /// <summary>How a service's data is retained, each mechanism in a few words, or "not managed by LlmStack".</summary>
    public static string DataRetention(ServiceRetentionDefinition? definition, EnvironmentRetentionDefinition settings)
    {
        var parts = new List<string>();
        if (definition?.Tables is { Count: > 0 } tables)
        {
            parts.Add("rows: " + string.Join(", ", tables.Select(t => $"{t.Table} > {settings.Days(t.Days)} d{(t.Strategy == TableRetention.ArchiveThenDelete ? " (archived)" : string.Empty)}")));
        }

        if (definition?.ExpireKeys is { Count: > 0 } keys)
        {
            parts.Add("keys: " + string.Join(", ", keys.Select(k => $"{k.Pattern} (db {string.Join(',', k.Databases ?? [0])}) TTL ≤ {settings.Days(k.Days)} d")));
        }

        if (definition?.Files is { Count: > 0 } files)
        {
            parts.Add("files: " + string.Join(", ", files.Select(f => $"{f.Volume}:/{(f.Path ?? string.Empty).Trim('/')} > {settings.Days(f.Days)} d")));
        }

        if (definition?.Models is { } models)
        {
            parts.Add($"models: {models.Volume}:/{(models.Path ?? string.Empty).Trim('/')} unused > {settings.Days(models.Days)} d, never the one in use");
        }

        if (definition?.Tsdb is { } tsdb)
        {
            parts.Add($"metrics: Prometheus keeps {settings.Days(tsdb.Days)} d (--storage.tsdb.retention.time)");
        }

        return parts.Count == 0 ? "not managed by LlmStack" : string.Join("; ", parts);
    }

    /// <summary>
    /// For a service with a TSDB policy: whether its running container runs with the policy of its configured command (it
    /// reaches the container when the stack is started again, which recreates containers whose configuration changed).
    /// </summary>
    public static string Tsdb(IReadOnlyList<string>? configured, IReadOnlyList<string>? running, string stack)
    {
        var wanted = configured?.FirstOrDefault(a => a.StartsWith(TsdbFlag, StringComparison.Ordinal))?[TsdbFlag.Length..];
        if (running is null)
        {
            return ", not running";
        }

        var actual = running.FirstOrDefault(a => a.StartsWith(TsdbFlag, StringComparison.Ordinal))?[TsdbFlag.Length..] ?? "Prometheus' default";
        return actual == wanted ? $", running with {actual}" : $"; the container runs with {actual}: Start{Health.Capitalize(stack)} applies {wanted}";
    }

    private static string Count(int? count) => count?.ToString(CultureInfo.InvariantCulture) ?? "-";
}
