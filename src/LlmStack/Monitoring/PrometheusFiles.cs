using System.Text;
using LlmStack.Backup;

namespace LlmStack.Monitoring;

/// <summary>How urgent an alert is (its <c>severity</c> label).</summary>
public enum AlertSeverity
{
    Warning,
    Critical,
}

/// <summary>One generated alert: its expression, how long it must hold, what it means.</summary>
public sealed record BackupAlert(string Name, string Expression, string For, AlertSeverity Severity, string Summary, string Description);

/// <summary>
/// The Prometheus side of the monitoring stack, generated: the configuration (scrape jobs, rule files) and the backup
/// rules — recording rules carrying each environment's thresholds (from <see cref="MonitoringThresholds"/>), then the
/// alerts that compare the metrics with them. The thresholds are series, so the dashboard shows them too.
/// </summary>
public static class PrometheusFiles
{
    public const string OverdueAfter = "llmstack:backup_overdue_after_seconds";
    public const string CopyLagAllowed = "llmstack:backup_copy_lag_allowed_seconds";
    public const string RestoreTestOverdueAfter = "llmstack:backup_restore_test_overdue_after_seconds";
    public const string MetricsStaleAfter = "llmstack:backup_metrics_stale_after_seconds";

    /// <summary>The recording rules the generated file defines (the dashboard may use them as metrics).</summary>
    public static readonly IReadOnlyList<string> Recorded = [OverdueAfter, CopyLagAllowed, RestoreTestOverdueAfter, MetricsStaleAfter];

    /// <summary>Where Prometheus reads the rule files inside its container (the schema mounts configs/prometheus/rules there).</summary>
    public const string RulesInContainer = "/etc/prometheus/rules";

    /// <summary>The node-exporter scrape target (service name and port on the monitoring network).</summary>
    public const string NodeExporterTarget = "node-exporter:9100";

    public const string NodeJob = "node";

    /// <summary>Every alert, in the order of the rule file.</summary>
    public static readonly IReadOnlyList<BackupAlert> Alerts =
    [
        new("LlmStackBackupOverdue",
            $"time() - max by (environment, service, tier) ({BackupMetrics.LastSuccessTimestamp}) > on (environment) group_left () {OverdueAfter}",
            "0m", AlertSeverity.Critical,
            "No good backup of {{ $labels.service }} on tier {{ $labels.tier }} in {{ $labels.environment }} for {{ $value | humanizeDuration }}",
            "The last successful backup is older than the environment's schedule allows (longest gap of its cron plus one hour): check the backup workflow's last run and BackupStatus."),
        new("LlmStackBackupFailed",
            $"{BackupMetrics.LastRunOk} == 0",
            "5m", AlertSeverity.Critical,
            "The last backup of {{ $labels.service }} in {{ $labels.environment }} failed",
            "The member failed in its last backup set; the step summary of the backup workflow names the error. Run BackupService --service <service> once it is fixed."),
        new("LlmStackBackupCopyFailed",
            $"{BackupMetrics.CopyOk} == 0",
            "5m", AlertSeverity.Warning,
            "The last copy to tier {{ $labels.tier }} of {{ $labels.environment }} failed",
            "The tier could not receive the newest set; BackupCopy sends what it lacks once the tier is reachable."),
        new("LlmStackBackupCopyLagging",
            $"{BackupMetrics.CopyLag} > on (environment) group_left () {CopyLagAllowed}",
            "0m", AlertSeverity.Warning,
            "Tier {{ $labels.tier }} of {{ $labels.environment }} is {{ $value | humanizeDuration }} behind the first tier",
            "A tier is more than one backup interval behind the first tier: run BackupCopy, then BackupStatus."),
        new("LlmStackBackupVerifyFailed",
            $"{BackupMetrics.VerifyOk} == 0",
            "5m", AlertSeverity.Critical,
            "BackupVerify failed on tier {{ $labels.tier }} of {{ $labels.environment }}",
            "A repository check or a backup's content check failed: read the BackupVerify table of the backup workflow's summary."),
        new("LlmStackRestoreTestFailed",
            $"{BackupMetrics.RestoreTestOk} == 0",
            "5m", AlertSeverity.Critical,
            "The last RestoreTest of {{ $labels.environment }} failed",
            "A backup could not be restored and proven equal: read the restore test report (artifacts/restore-test) and run RestoreTest again after the fix."),
        new("LlmStackRestoreTestOverdue",
            $"time() - {BackupMetrics.RestoreTestTimestamp} > on (environment) group_left () {RestoreTestOverdueAfter}",
            "0m", AlertSeverity.Warning,
            "No RestoreTest of {{ $labels.environment }} for {{ $value | humanizeDuration }}",
            "The restore-test workflow has not run on schedule: check its runs."),
        new("LlmStackRetentionFailed",
            $"{BackupMetrics.RetentionOk} == 0",
            "5m", AlertSeverity.Warning,
            "The last RetentionCleanup of {{ $labels.environment }} failed",
            "Old backups or data may pile up: read the retention workflow's log."),
        new("LlmStackBackupMetricsStale",
            $"time() - {BackupMetrics.FileWritten} > scalar({MetricsStaleAfter})",
            "0m", AlertSeverity.Warning,
            "The backup metrics file has not been rewritten for {{ $value | humanizeDuration }}",
            "LlmStack rewrites the file after every backup: no backup ran for longer than any schedule allows, or metrics.file and node-exporter's directory (BACKUP_METRICS_DIR) differ."),
        new("LlmStackBackupMetricsUnreadable",
            "node_textfile_scrape_error == 1",
            "5m", AlertSeverity.Warning,
            "node-exporter cannot read the backup metrics file",
            "node-exporter's textfile collector failed to parse a file in its directory: run promtool check metrics on it."),
    ];

    public static string Rules(IReadOnlyList<EnvironmentThresholds> environments)
    {
        var text = new StringBuilder()
            .Append(MonitoringFiles.Header("configs/backup-strategies.yaml (schedules)")).Append('\n')
            .Append("groups:\n")
            .Append("  - name: llmstack-backup\n")
            .Append("    rules:\n");
        foreach (var environment in environments)
        {
            Record(text, OverdueAfter, environment.Environment, environment.OverdueAfter, $"schedule \"{environment.Schedule}\": longest gap plus one hour");
            Record(text, CopyLagAllowed, environment.Environment, environment.Interval, "one backup interval");
            Record(text, RestoreTestOverdueAfter, environment.Environment, environment.RestoreTestOverdueAfter, "restore-test schedule: longest gap plus one hour");
        }

        text.Append("      - record: ").Append(MetricsStaleAfter).Append('\n')
            .Append("        expr: vector(").Append(MonitoringThresholds.Seconds(MonitoringThresholds.MetricsStaleAfter(environments))).Append(")\n");
        foreach (var alert in Alerts)
        {
            text.Append("      - alert: ").Append(alert.Name).Append('\n')
                .Append("        expr: ").Append(Quote(alert.Expression)).Append('\n')
                .Append("        for: ").Append(alert.For).Append('\n')
                .Append("        labels:\n")
                .Append("          severity: ").Append(alert.Severity == AlertSeverity.Critical ? "critical" : "warning").Append('\n')
                .Append("        annotations:\n")
                .Append("          summary: ").Append(Quote(alert.Summary)).Append('\n')
                .Append("          description: ").Append(Quote(alert.Description)).Append('\n');
        }

        return text.ToString();
    }

    /// <summary>The Prometheus configuration: itself, qdrant, minio and node-exporter (the backup metrics), and the rule files.</summary>
    public static string Config(string scrapeInterval = "15s", string evaluationInterval = "15s") =>
        MonitoringFiles.Header("src/LlmStack/Monitoring/PrometheusFiles.cs") + "\n" +
        $$"""
        # Mounted read-only at /etc/prometheus/prometheus.yml. Prometheus is in the monitoring stack and depends on
        # qdrant, minio and node-exporter, so it joins the core network and reaches them by service name and container port.
        global:
          scrape_interval: {{scrapeInterval}}
          evaluation_interval: {{evaluationInterval}}

        rule_files:
          - {{RulesInContainer}}/*.yml

        scrape_configs:
          - job_name: prometheus
            static_configs:
              - targets: ["localhost:9090"]

          - job_name: qdrant
            metrics_path: /metrics
            static_configs:
              - targets: ["qdrant:6333"]

          # MINIO_PROMETHEUS_AUTH_TYPE=public is set on the minio service.
          - job_name: minio
            metrics_path: /minio/v2/metrics/cluster
            static_configs:
              - targets: ["minio:9000"]

          # The backup metrics: node-exporter's textfile collector reads the file LlmStack writes (metrics.file).
          - job_name: {{NodeJob}}
            static_configs:
              - targets: ["{{NodeExporterTarget}}"]

        """;

    private static void Record(StringBuilder text, string name, string environment, TimeSpan value, string why) =>
        text.Append("      # ").Append(environment).Append(": ").Append(why).Append('\n')
            .Append("      - record: ").Append(name).Append('\n')
            .Append("        expr: vector(").Append(MonitoringThresholds.Seconds(value)).Append(")\n")
            .Append("        labels:\n")
            .Append("          environment: ").Append(Quote(environment)).Append('\n');

    /// <summary>A YAML double-quoted scalar.</summary>
    private static string Quote(string value) => "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
}
