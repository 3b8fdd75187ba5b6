using System.Globalization;
using LlmStack.Backup;

namespace LlmStack.Monitoring;

/// <summary>One environment's alert thresholds, from its backup schedule and the restore-test schedule.</summary>
/// <param name="Interval">The longest gap between two scheduled backups.</param>
/// <param name="OverdueAfter">How old the last good backup may get: <paramref name="Interval"/> plus BackupStatus' grace.</param>
/// <param name="RestoreTestOverdueAfter">The longest gap between two scheduled restore tests plus the grace.</param>
public sealed record EnvironmentThresholds(string Environment, string Schedule, TimeSpan Interval, TimeSpan OverdueAfter, TimeSpan RestoreTestOverdueAfter);

/// <summary>
/// The thresholds of the generated alert rules, read from <c>configs/backup-strategies.yaml</c>: a backup is overdue
/// after the longest gap of its environment's cron plus <see cref="BackupStatusPlanner.Grace"/> (the grace BackupStatus
/// uses), a copy lags when a tier is more than one such gap behind, the metrics file is stale after the longest gap of
/// any environment plus the grace.
/// </summary>
public static class MonitoringThresholds
{
    public static IReadOnlyList<EnvironmentThresholds> Of(BackupConfig config, IEnumerable<string> environments)
    {
        var restore = LongestGap(config.RestoreTest?.Schedule ?? BackupConfigLoader.DefaultRestoreTestSchedule);
        return environments
            .Where(config.Environments.ContainsKey)
            .OrderBy(e => e, StringComparer.Ordinal)
            .Select(e =>
            {
                var schedule = config.Environments[e].Schedule!;
                var gap = LongestGap(schedule);
                return new EnvironmentThresholds(e, schedule, gap, gap + BackupStatusPlanner.Grace, restore + BackupStatusPlanner.Grace);
            })
            .ToList();
    }

    /// <summary>The metrics file is rewritten by every backup: stale after the longest gap of any environment plus the grace.</summary>
    public static TimeSpan MetricsStaleAfter(IReadOnlyList<EnvironmentThresholds> environments) =>
        environments.Count == 0 ? TimeSpan.FromDays(1) + BackupStatusPlanner.Grace : environments.Max(e => e.OverdueAfter);

    /// <summary>The longest time between two consecutive runs of a five-field cron over a year (one implementation: BackupStatus' glance uses it too).</summary>
    public static TimeSpan LongestGap(string cron) => BackupStatusGlance.LongestGap(cron);

    public static string Seconds(TimeSpan value) => ((long)value.TotalSeconds).ToString(CultureInfo.InvariantCulture);
}
