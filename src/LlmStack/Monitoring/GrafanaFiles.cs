using System.Text.Json;
using System.Text.Json.Nodes;
using LlmStack.Backup;

namespace LlmStack.Monitoring;

/// <summary>
/// The Grafana side, generated: the Prometheus datasource with a fixed uid, a file dashboard provider, and the backup
/// dashboard (variables environment, service, tier; panels on age against schedule, outcomes, bytes, durations, copy lag).
/// </summary>
public static class GrafanaFiles
{
    public const string DatasourceUid = "llmstack-prometheus";

    public const string DashboardUid = "llmstack-backups";

    /// <summary>Where the schema's Grafana reads the provisioning and the dashboards (its read-only mounts).</summary>
    public const string DatasourcesInContainer = "/etc/grafana/provisioning/datasources";

    public const string ProvidersInContainer = "/etc/grafana/provisioning/dashboards";

    public const string DashboardsInContainer = "/etc/grafana/dashboards";

    public static readonly IReadOnlyList<string> Variables = ["environment", "service", "tier"];

    private const string Member = "environment=~\"$environment\", service=~\"$service\", tier=~\"$tier\"";
    private const string Tier = "environment=~\"$environment\", tier=~\"$tier\"";
    private const string Env = "environment=~\"$environment\"";

    public static string Datasource() =>
        MonitoringFiles.Header("src/LlmStack/Monitoring/GrafanaFiles.cs") + "\n" +
        $"""
        # Mounted read-only at {DatasourcesInContainer}. Prometheus is reached by service name; the uid is fixed so that
        # the generated dashboard's panels find it.
        apiVersion: 1

        datasources:
          - name: Prometheus
            uid: {DatasourceUid}
            type: prometheus
            access: proxy
            url: http://prometheus:9090
            isDefault: true
            editable: false

        """;

    public static string Provider() =>
        MonitoringFiles.Header("src/LlmStack/Monitoring/GrafanaFiles.cs") + "\n" +
        $"""
        # Mounted read-only at {ProvidersInContainer}: the dashboards under {DashboardsInContainer} (configs/grafana/dashboards).
        apiVersion: 1

        providers:
          - name: llmstack
            folder: LlmStack
            type: file
            disableDeletion: true
            allowUiUpdates: false
            options:
              path: {DashboardsInContainer}

        """;

    public static string Dashboard()
    {
        var panels = new JsonArray();
        var id = 0;
        void Add(string type, string title, int x, int y, int w, int h, string unit, string description, params (string Expr, string Legend)[] targets)
        {
            var panel = new JsonObject
            {
                ["id"] = ++id,
                ["type"] = type,
                ["title"] = title,
                ["description"] = description,
                ["datasource"] = DatasourceRef(),
                ["gridPos"] = new JsonObject { ["x"] = x, ["y"] = y, ["w"] = w, ["h"] = h },
                ["fieldConfig"] = new JsonObject { ["defaults"] = new JsonObject { ["unit"] = unit }, ["overrides"] = new JsonArray() },
                ["targets"] = new JsonArray(targets.Select((t, i) => (JsonNode)new JsonObject
                {
                    ["refId"] = ((char)('A' + i)).ToString(),
                    ["datasource"] = DatasourceRef(),
                    ["expr"] = t.Expr,
                    ["legendFormat"] = t.Legend,
                }).ToArray()),
            };
            panels.Add(panel);
        }

        Add("bargauge", "Age of the last good backup against its schedule", 0, 0, 12, 10, "percentunit",
            "Per member and tier: age of the last successful backup divided by the age at which LlmStackBackupOverdue fires (100% = overdue).",
            ($"(time() - max by (environment, service, tier) ({BackupMetrics.LastSuccessTimestamp}{{{Member}}})) / on (environment) group_left () {PrometheusFiles.OverdueAfter}", "{{environment}} {{service}} {{tier}}"));
        Add("stat", "Last backup outcome", 12, 0, 6, 5, "none",
            "1 = the member's last backup succeeded, 0 = it failed (LlmStackBackupFailed).",
            ($"min by (environment, service) ({BackupMetrics.LastRunOk}{{{Member}}})", "{{environment}} {{service}}"));
        Add("stat", "Last BackupVerify outcome", 18, 0, 6, 5, "none",
            "1 = the tier's last BackupVerify passed, 0 = it failed (LlmStackBackupVerifyFailed).",
            ($"{BackupMetrics.VerifyOk}{{{Tier}}}", "{{environment}} {{tier}}"));
        Add("stat", "Last RestoreTest outcome", 12, 5, 6, 5, "none",
            "1 = the environment's last RestoreTest passed, 0 = it failed (LlmStackRestoreTestFailed).",
            ($"{BackupMetrics.RestoreTestOk}{{{Env}}}", "{{environment}}"));
        Add("stat", "Age of the last RestoreTest", 18, 5, 6, 5, "s",
            "Time since the last RestoreTest (LlmStackRestoreTestOverdue).",
            ($"time() - {BackupMetrics.RestoreTestTimestamp}{{{Env}}}", "{{environment}}"));
        Add("timeseries", "Bytes read and added per backup", 0, 10, 12, 8, "bytes",
            "Read: what the last backup of a member read; added: what it added to the repository after deduplication.",
            ($"{BackupMetrics.ReadBytes}{{{Member}}}", "read {{service}} {{tier}}"),
            ($"{BackupMetrics.AddedBytes}{{{Member}}}", "added {{service}} {{tier}}"));
        Add("timeseries", "Backup duration", 12, 10, 12, 8, "s",
            "How long the last backup of each member took.",
            ($"{BackupMetrics.Duration}{{{Member}}}", "{{service}} {{tier}}"));
        Add("timeseries", "Copy lag per tier", 0, 18, 12, 8, "s",
            "How far each tier is behind the first tier (LlmStackBackupCopyLagging above one backup interval).",
            ($"{BackupMetrics.CopyLag}{{{Tier}}}", "{{environment}} {{tier}}"),
            ($"{PrometheusFiles.CopyLagAllowed}{{{Env}}}", "allowed {{environment}}"));
        Add("timeseries", "Failures", 12, 18, 12, 8, "none",
            "Failed backups per member over the last day.",
            ($"increase({BackupMetrics.FailureTotal}{{{Member}}}[1d])", "{{service}} {{tier}}"));

        var dashboard = new JsonObject
        {
            ["uid"] = DashboardUid,
            ["title"] = "LlmStack backups",
            ["description"] = "Generated by ./build.sh GenerateMonitoring (src/LlmStack/Monitoring/GrafanaFiles.cs): do not edit, CheckMonitoring compares it.",
            ["tags"] = new JsonArray("llmstack", "backup"),
            ["timezone"] = "utc",
            ["schemaVersion"] = 39,
            ["version"] = 1,
            ["editable"] = false,
            ["refresh"] = "1m",
            ["time"] = new JsonObject { ["from"] = "now-7d", ["to"] = "now" },
            ["templating"] = new JsonObject
            {
                ["list"] = new JsonArray(
                    Variable("environment", $"label_values({BackupMetrics.LastRunOk}, environment)"),
                    Variable("service", $"label_values({BackupMetrics.LastRunOk}{{environment=~\"$environment\"}}, service)"),
                    Variable("tier", $"label_values({BackupMetrics.LastSuccessTimestamp}{{environment=~\"$environment\"}}, tier)")),
            },
            ["panels"] = panels,
        };
        return dashboard.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    private static JsonObject DatasourceRef() => new() { ["type"] = "prometheus", ["uid"] = DatasourceUid };

    private static JsonObject Variable(string name, string query) => new()
    {
        ["name"] = name,
        ["label"] = name,
        ["type"] = "query",
        ["datasource"] = DatasourceRef(),
        ["query"] = new JsonObject { ["query"] = query, ["refId"] = name },
        ["definition"] = query,
        ["refresh"] = 2,
        ["includeAll"] = true,
        ["multi"] = true,
        ["allValue"] = ".*",
        ["current"] = new JsonObject { ["text"] = "All", ["value"] = "$__all" },
    };
}
