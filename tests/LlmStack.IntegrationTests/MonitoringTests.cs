using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Docker.DotNet.Models;
using LlmStack.Monitoring;
using YamlDotNet.RepresentationModel;

namespace LlmStack.IntegrationTests;

/// <summary>
/// The testing environment's monitoring stack (real Prometheus and node-exporter from Debian packages, the generated
/// rules), started once: Prometheus scrapes every second from a configuration generated with a 1 s interval, and
/// node-exporter reads the directory the backups of this class write their metrics to.
/// </summary>
public sealed class RunningMonitoring : RunningStacks
{
    public RunningMonitoring()
        : base("StartMonitoring")
    {
        System.IO.Directory.CreateDirectory(MetricsDirectory);
        File.WriteAllText(PrometheusConfig, PrometheusFiles.Config(scrapeInterval: "1s", evaluationInterval: "1s"));
        _schema = SchemaCopy.Write(DockerFixture.FindRoot(), schema =>
        {
            schema.Map("environments").Map("testing").Map("variables").Set("BACKUP_METRICS_DIR", new YamlScalarNode(MetricsDirectory));
            var volumes = (YamlSequenceNode)schema.Service("prometheus")["volumes"];
            var config = volumes.Children.Single(v => v.ToString().StartsWith("./configs/prometheus/prometheus.yml:", StringComparison.Ordinal));
            volumes.Children[volumes.Children.IndexOf(config)] = new YamlScalarNode($"{PrometheusConfig}:/etc/prometheus/prometheus.yml:ro");
        });
    }

    private readonly string _schema;

    public string Directory { get; } = Path.Combine(Path.GetTempPath(), $"llmstack-it-monitoring-{Guid.NewGuid():N}");

    public string MetricsDirectory => Path.Combine(Directory, "metrics");

    private string PrometheusConfig => Path.Combine(Directory, "prometheus.yml");

    public override string SchemaPath => _schema;

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        File.Delete(_schema);
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}

/// <summary>Backups reach Prometheus through node-exporter's textfile collector, failures too, and the failure alert goes pending.</summary>
[Collection(TestLane.MainCollection)]
[Trait("Category", "Integration")]
public sealed class MonitoringTests(RunningMonitoring monitoring) : IClassFixture<RunningMonitoring>
{
    private static readonly string Redis = TestNames.Container("redis");
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);
    private readonly HttpClient _http = new() { BaseAddress = new Uri("http://127.0.0.1:19090"), Timeout = TimeSpan.FromSeconds(5) };

    private string ConfigFile => Path.Combine(monitoring.Directory, "backup-strategies.yaml");

    private string MetricsFile => Path.Combine(monitoring.MetricsDirectory, "llmstack_backup.prom");

    private TestRun Build => new(monitoring.Docker.Root) { Arguments = ["--schema", monitoring.SchemaPath, "--backup-config", ConfigFile] };

    private async Task WriteConfigAsync()
    {
        var config = await File.ReadAllTextAsync(Path.Combine(monitoring.Docker.Root, "configs", "backup-strategies.yaml"));
        await File.WriteAllTextAsync(ConfigFile, config
            .Replace("    path: backups", $"    path: {Path.Combine(monitoring.Directory, "tier")}", StringComparison.Ordinal)
            .Replace("  file: metrics/llmstack_backup.prom", $"  file: {MetricsFile}", StringComparison.Ordinal));
    }

    /// <summary>The samples of an instant query (labels → value), polled until <paramref name="done"/> holds or the deadline passes.</summary>
    private async Task<List<(Dictionary<string, string> Labels, double Value)>> QueryUntilAsync(string query, Func<List<(Dictionary<string, string> Labels, double Value)>, bool> done)
    {
        var clock = Stopwatch.StartNew();
        var last = new List<(Dictionary<string, string> Labels, double Value)>();
        while (clock.Elapsed < Deadline)
        {
            try
            {
                using var document = JsonDocument.Parse(await _http.GetStringAsync("/api/v1/query?query=" + Uri.EscapeDataString(query)));
                last = document.RootElement.GetProperty("data").GetProperty("result").EnumerateArray()
                    .Select(r => (r.GetProperty("metric").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!),
                        double.Parse(r.GetProperty("value")[1].GetString()!, CultureInfo.InvariantCulture)))
                    .ToList();
                if (done(last))
                {
                    return last;
                }
            }
            catch (HttpRequestException)
            {
                // Prometheus is starting or paused by a backup of its volume: ask again.
            }

            await Task.Delay(500);
        }

        throw new TimeoutException($"'{query}' did not reach the expected result within {Deadline.TotalSeconds} s; last: {string.Join(", ", last.Select(s => $"{{{string.Join(",", s.Labels.Select(l => $"{l.Key}={l.Value}"))}}} {s.Value}"))}");
    }

    /// <summary>A value of the metrics file, read with promtool's parser rules in mind: one sample line, exactly as written.</summary>
    private double FileValue(string series) =>
        double.Parse(File.ReadLines(MetricsFile).Single(l => l.StartsWith(series + " ", StringComparison.Ordinal))[(series.Length + 1)..], CultureInfo.InvariantCulture);

    [Fact]
    public async Task Backups_verifies_and_a_failure_reach_Prometheus_and_the_failure_alert_goes_pending()
    {
        await WriteConfigAsync();
        var run = await Build.RunAsync("BackupFull", "BackupVerify");
        run.ExitCode.Should().Be(0, run.ToString());

        // The run's values, as Prometheus scraped them from node-exporter.
        const string postgres = "environment=\"testing\",service=\"postgres/full\",tier=\"local\"";
        var read = FileValue($"llmstack_backup_read_bytes{{{postgres}}}");
        read.Should().BeGreaterThan(0);
        var scraped = await QueryUntilAsync($"llmstack_backup_read_bytes{{{postgres}}}", r => r.Count == 1 && r[0].Value == read);
        scraped[0].Labels.Should().Contain("job", PrometheusFiles.NodeJob);
        (await QueryUntilAsync($"llmstack_backup_last_run_ok{{{postgres}}}", r => r.Count == 1)).Single().Value.Should().Be(1);
        (await QueryUntilAsync("llmstack_backup_verify_ok{environment=\"testing\",tier=\"local\"}", r => r.Count == 1)).Single().Value.Should().Be(1);
        var success = FileValue($"llmstack_backup_last_success_timestamp_seconds{{{postgres}}}");
        (await QueryUntilAsync($"llmstack_backup_last_success_timestamp_seconds{{{postgres}}}", r => r.Count == 1)).Single().Value.Should().Be(success);
        (await QueryUntilAsync("llmstack:backup_overdue_after_seconds{environment=\"testing\"}", r => r.Count == 1)).Single().Value.Should().Be(25 * 3600, "the rules Prometheus loaded are the generated ones");

        // A failed backup: redis stopped, its member fails, last_run_ok becomes 0 and LlmStackBackupFailed goes pending.
        await monitoring.Docker.Docker.Containers.StopContainerAsync(Redis, new ContainerStopParameters { WaitBeforeKillSeconds = 1 });
        var failed = await Build.RunAsync("BackupService", "--service", "redis");
        failed.ExitCode.Should().Be(1, failed.ToString());
        const string redis = "environment=\"testing\",service=\"redis/rdb\",tier=\"local\"";
        FileValue($"llmstack_backup_failure_total{{{redis}}}").Should().Be(1);
        (await QueryUntilAsync($"llmstack_backup_last_run_ok{{{redis}}}", r => r.Count == 1 && r[0].Value == 0)).Should().ContainSingle();
        var alerts = await QueryUntilAsync($"ALERTS{{alertname=\"LlmStackBackupFailed\",{redis}}}", r => r.Count == 1);
        alerts.Single().Labels.Should().Contain("alertstate", "pending").And.Contain("severity", "critical");
        (await QueryUntilAsync($"ALERTS{{alertname=\"LlmStackBackupFailed\",{postgres}}}", _ => true)).Should().BeEmpty("postgres' last backup succeeded");
    }
}
