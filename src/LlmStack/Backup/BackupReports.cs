using LlmStack.Pipeline;
using LlmStack.Reporting;

namespace LlmStack.Backup;

/// <summary>
/// The reports of the backup targets that change or check something (BackupList and BackupStatus have their own:
/// <see cref="BackupList"/>, <see cref="BackupStatusPlanner"/>): the table, and the one line that fails the run.
/// </summary>
public static class BackupReports
{
    /// <summary>After a set is written to the first tier and copied: why the run fails (an incomplete set, failed tiers), or null.</summary>
    public static string? SetFailure(BackupSetManifest manifest, string primaryTier, IReadOnlyList<TierResult> copies)
    {
        var tierFailures = BackupTiers.Failures(copies);
        if (!manifest.IsComplete)
        {
            return $"backup set {manifest.Set} is incomplete: {string.Join("; ", manifest.Members.Where(m => m.Status == MemberStatus.Failed).Select(m => $"{m.Key}: {m.Error}"))} (the {manifest.Members.Count(m => m.Succeeded)} other member(s) were kept)"
                   + (tierFailures is null ? string.Empty : "; " + tierFailures);
        }

        return tierFailures is null ? null : $"backup set {manifest.Set} is complete on {primaryTier}, but {tierFailures}";
    }

    /// <summary>BackupCopy: a row per tier after the first.</summary>
    public static Report Copy(IReadOnlyList<TierResult> results)
    {
        var table = new TextTable("TIER", "KIND", "RESULT");
        foreach (var result in results)
        {
            table.Add(result.Tier, result.Kind.Word(), result.Ok ? result.Outcome : "FAILED: " + result.Outcome);
        }

        return new Report { Failure = BackupTiers.Failures(results) }.Table(table);
    }

    /// <summary>BackupVerify: a row per check, naming tier and set; fails naming the first five failures.</summary>
    public static Report Verify(IReadOnlyList<VerifyResult> results)
    {
        var table = new TextTable("TIER", "SET", "CHECK", "RESULT");
        foreach (var r in results)
        {
            table.Add(r.Tier, r.Set ?? "-", r.Check, (r.Ok ? "ok: " : "FAILED: ") + r.Detail);
        }

        var failed = results.Where(r => !r.Ok).ToList();
        return new Report
        {
            Failure = failed.Count == 0
                ? null
                : $"{failed.Count} check(s) failed: {string.Join("; ", failed.Take(5).Select(f => $"tier {f.Tier}{(f.Set is null ? string.Empty : $", set {f.Set}")}, {f.Check}: {f.Detail}"))}",
        }.Table(table);
    }

    /// <summary>RestoreTest: a row per check, naming member and set; fails naming every failed check and the report file.</summary>
    public static Report RestoreTest(RestoreTestReport report)
    {
        var table = new TextTable("MEMBER", "SET", "CHECK", "RESULT");
        foreach (var check in report.Checks)
        {
            table.Add(check.Member, check.Set, check.Check, (check.Ok ? "ok: " : "FAILED: ") + check.Detail);
        }

        var failed = report.Checks.Where(c => !c.Ok).ToList();
        return new Report
        {
            Failure = failed.Count == 0
                ? null
                : $"restore test of {(report.Sets.Count == 1 ? "set" : "sets")} {string.Join(", ", report.Sets)} failed: {string.Join("; ", failed.Select(f => $"{f.Member} (set {f.Set}): {f.Check}: {f.Detail}"))} (report: artifacts/restore-test/{report.Environment}/{report.Set}.md)",
        }.Table(table);
    }

    /// <summary>BackupSchedule: every environment's schedule (UTC), tiers and next runs.</summary>
    public static Report Schedule(BackupConfig config, int count)
    {
        var table = new TextTable("ENVIRONMENT", "SCHEDULE (UTC)", "TIERS", "NEXT RUNS");
        foreach (var (name, settings) in config.Environments)
        {
            table.Add(name, settings.Schedule!, string.Join(", ", settings.Tiers!), string.Join("; ", BackupConfigLoader.NextRuns(settings.Schedule, count)));
        }

        return new Report().Table(table);
    }
}
