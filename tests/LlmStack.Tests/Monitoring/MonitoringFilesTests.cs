using System.Text.Json.Nodes;
using LlmStack.Backup;
using LlmStack.Monitoring;
using LlmStack.Pipeline;
using LlmStack.Schema;

namespace LlmStack.Tests.Monitoring;

/// <summary>The generated monitoring files: committed and current, valid for promtool, every alert tested by promtool test rules, the dashboard checked offline.</summary>
public sealed class MonitoringFilesTests
{
    private static readonly SchemaFile Schema = new(Repository.Root, "schemas/compose-schema.yaml");

    private static SortedDictionary<string, string> Files => MonitoringFiles.Render(Schema, BackupConfigLoader.DefaultPath);

    private static async Task<string> PromtoolAsync(string directory, params string[] arguments)
    {
        var promtool = Tools.Require("promtool", "apt-get install prometheus");
        var result = await ProcessRunner.RunAsync(promtool, arguments, directory, null, CancellationToken.None);
        var output = string.Join('\n', result.Output);
        result.ExitCode.Should().Be(0, output);
        return output;
    }

    [Fact]
    public void The_committed_files_are_what_GenerateMonitoring_makes_and_pass_CheckMonitoring()
    {
        foreach (var (path, content) in Files)
        {
            File.ReadAllText(Path.Combine(Repository.Root, path)).Should().Be(content, $"{path} is generated: run ./build.sh GenerateMonitoring");
        }

        var check = () => MonitoringFiles.Check(Repository.Root, Files, Schema.Load(), Serilog.Core.Logger.None);
        check.Should().NotThrow();
    }

    [Fact]
    public void CheckMonitoring_names_a_file_edited_by_hand()
    {
        var root = Repository.TempDirectory("monitoring-check");
        try
        {
            MonitoringFiles.Generate(root, Files, Serilog.Core.Logger.None);
            File.AppendAllText(Path.Combine(root, MonitoringFiles.Rules), "# edited\n");
            var check = () => MonitoringFiles.Check(root, Files, Schema.Load(), Serilog.Core.Logger.None);
            check.Should().Throw<PipelineException>().WithMessage(
                "the monitoring files differ from what the configurations make: configs/prometheus/rules/llmstack-backup.yml; run ./build.sh GenerateMonitoring and commit them");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task Every_alert_fires_when_it_should_and_stays_quiet_when_not_under_promtool_test_rules()
    {
        // Two files: minutes evaluated every minute, hours and days every hour (a week at 1m would take seconds of CPU).
        var directory = Path.Combine(Repository.Root, "tests", "LlmStack.Tests", "Monitoring");
        string[] tests = ["backup-rules.test.yml", "backup-rules-days.test.yml"];
        var output = await PromtoolAsync(directory, ["test", "rules", .. tests]);
        output.Split('\n').Count(l => l.Trim() == "SUCCESS").Should().Be(2, output);

        // Every generated alert has a test that expects it to fire.
        var text = string.Concat(tests.Select(t => File.ReadAllText(Path.Combine(directory, t))));
        foreach (var alert in PrometheusFiles.Alerts)
        {
            text.Should().Contain($"alertname: {alert.Name}\n        exp_alerts:\n          - exp_labels", $"{alert.Name} needs a firing case");
        }
    }

    [Fact]
    public async Task Promtool_accepts_the_configuration_with_its_rules()
    {
        var directory = Repository.TempDirectory("monitoring-promtool");
        try
        {
            // The configuration as Prometheus sees it, with the rule files where the container mounts them.
            var rules = Path.Combine(directory, "rules");
            Directory.CreateDirectory(rules);
            File.WriteAllText(Path.Combine(rules, "llmstack-backup.yml"), Files[MonitoringFiles.Rules]);
            File.WriteAllText(Path.Combine(directory, "prometheus.yml"), Files[MonitoringFiles.PrometheusConfig].Replace(PrometheusFiles.RulesInContainer, rules, StringComparison.Ordinal));
            var output = await PromtoolAsync(directory, "check", "config", "prometheus.yml");
            output.Should().Contain("SUCCESS: 1 rule files found").And.Contain($"SUCCESS: {PrometheusFiles.Alerts.Count + 1 + 3 * Schema.Load().Environments.Count} rules found");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void Thresholds_follow_the_schedules()
    {
        MonitoringThresholds.LongestGap("0 2 * * *").Should().Be(TimeSpan.FromDays(1));
        MonitoringThresholds.LongestGap("0 */6 * * *").Should().Be(TimeSpan.FromHours(6));
        MonitoringThresholds.LongestGap("0 6 * * 0").Should().Be(TimeSpan.FromDays(7));
        MonitoringThresholds.LongestGap("0 3 * * 1-5").Should().Be(TimeSpan.FromDays(3), "Friday to Monday");

        var rules = PrometheusFiles.Rules(
        [
            new EnvironmentThresholds("production", "0 */6 * * *", TimeSpan.FromHours(6), TimeSpan.FromHours(7), TimeSpan.FromDays(7)),
        ]);
        rules.Should().Contain("      # production: schedule \"0 */6 * * *\": longest gap plus one hour\n      - record: llmstack:backup_overdue_after_seconds\n        expr: vector(25200)\n");
        rules.Should().Contain("      - record: llmstack:backup_metrics_stale_after_seconds\n        expr: vector(25200)\n");
    }

    [Fact]
    public void The_generated_dashboard_passes_the_offline_checks()
    {
        var files = Files;
        DashboardCheck.Problems(files[MonitoringFiles.Dashboard], files[MonitoringFiles.Datasource], files[MonitoringFiles.Provider], Schema.Load()).Should().BeEmpty();
        var dashboard = JsonNode.Parse(files[MonitoringFiles.Dashboard])!;
        dashboard["panels"]!.AsArray().Should().HaveCountGreaterThanOrEqualTo(8);
    }

    public static TheoryData<string, string> BrokenDashboards => new()
    {
        { "panel 'Backup duration' does not use datasource llmstack-prometheus", "panels[6].datasource.uid=other" },
        { "a query of panel 'Backup duration' does not use datasource llmstack-prometheus", "panels[6].targets[0].datasource.uid=other" },
        { "panel 'Backup duration' reads llmstack_backup_seconds, which LlmStack does not write", "panels[6].targets[0].expr=llmstack_backup_seconds{environment=~\"$environment\"}" },
        { "panel id 1 is used 2 times", "panels[6].id=1" },
        { "panels 'Bytes read and added per backup' and 'Backup duration' overlap", "panels[6].gridPos.x=6" },
        { "panel 'Backup duration' does not fit the 24-column grid", "panels[6].gridPos.w=13" },
        { "panel 'Backup duration' uses $cluster, which is not a variable of the dashboard", "panels[6].targets[0].expr=llmstack_backup_duration_seconds{environment=~\"$cluster\"}" },
        { "variable $tier is missing", "templating.list[2].name=level" },
        { "variable $environment reads up, which LlmStack does not write", "templating.list[0].query.query=label_values(up, environment)" },
    };

    [Theory]
    [MemberData(nameof(BrokenDashboards))]
    public void A_broken_dashboard_is_named_by_the_offline_checks(string problem, string edit)
    {
        var files = Files;
        var dashboard = JsonNode.Parse(files[MonitoringFiles.Dashboard])!;
        var (path, value) = (edit[..edit.IndexOf('=')], edit[(edit.IndexOf('=') + 1)..]);
        JsonNode node = dashboard;
        var steps = path.Split('.');
        foreach (var step in steps[..^1])
        {
            node = Step(node, step);
        }

        node[steps[^1]] = int.TryParse(value, out var number) ? number : value;
        DashboardCheck.Problems(dashboard.ToJsonString(), files[MonitoringFiles.Datasource], files[MonitoringFiles.Provider], Schema.Load()).Should().Contain(problem);
    }

    [Fact]
    public void A_schema_whose_grafana_lacks_the_dashboard_mount_is_named()
    {
        var schema = Schema.Load();
        schema.Services["grafana"].Volumes!.RemoveAll(v => v.StartsWith("./configs/grafana/dashboards:", StringComparison.Ordinal));
        var files = Files;
        DashboardCheck.Problems(files[MonitoringFiles.Dashboard], files[MonitoringFiles.Datasource], files[MonitoringFiles.Provider], schema)
            .Should().Equal("the schema's grafana does not mount ./configs/grafana/dashboards at /etc/grafana/dashboards: add \"./configs/grafana/dashboards:/etc/grafana/dashboards:ro\" to its volumes");
    }

    [Fact]
    public void Metrics_of_a_query_are_read_past_functions_groupings_matchers_and_ranges()
    {
        DashboardCheck.MetricsOf("(time() - max by (environment, service) (a_b{x=~\"$y\"})) / on (environment) group_left () llmstack:c + increase(d_total[1d]) > 5")
            .Should().Equal("a_b", "llmstack:c", "d_total");
    }

    private static JsonNode Step(JsonNode node, string step)
    {
        var bracket = step.IndexOf('[');
        return bracket < 0 ? node[step]! : node[step[..bracket]]![int.Parse(step[(bracket + 1)..^1], System.Globalization.CultureInfo.InvariantCulture)]!;
    }
}
