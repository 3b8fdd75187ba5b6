using LlmStack.Backup;
using LlmStack.Pipeline;

namespace LlmStack.Tests.Monitoring;

/// <summary>The metrics file: failures recorded as well as successes, counters that count, the copy lag, and promtool check metrics on the result.</summary>
public sealed class BackupMetricsTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 12, 6, 3, 0, 0, TimeSpan.Zero);
    private readonly string _directory = Repository.TempDirectory("metrics");

    private string File => Path.Combine(_directory, "textfile", "llmstack_backup.prom");

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private BackupMetrics Metrics() => new(File, null) { Now = () => Now };

    private static BackupSetManifest Set(DateTimeOffset finished, params (string Service, MemberStatus Status)[] members) =>
        new("20261206T020000Z-ab12", "staging", "multimodal-staging", "local", BackupTrigger.BackupFull, finished.AddMinutes(-5), finished, "1", SetStatus.Complete,
            members.Select(m => new MemberResult(m.Service, BackupMethod.Volume, BackupType.Volume, m.Service + "_data", m.Status, m.Status == MemberStatus.Failed ? "boom" : null,
                m.Status == MemberStatus.Ok ? [new BackupPart("volume", "abcd1234", "/x", 1000, 200, 12.5)] : [], null)).ToList());

    [Fact]
    public async Task A_failed_member_is_recorded_with_its_counter_and_the_file_passes_promtool_check_metrics()
    {
        var metrics = Metrics();
        metrics.Backup(Set(Now.AddHours(-1), ("qdrant", MemberStatus.Ok), ("minio", MemberStatus.Ok)));
        metrics.Backup(Set(Now, ("qdrant", MemberStatus.Ok), ("minio", MemberStatus.Failed), ("grafana", MemberStatus.Skipped)));

        var text = System.IO.File.ReadAllText(File);
        text.Should().Contain("llmstack_backup_last_run_ok{environment=\"staging\",service=\"minio/minio_data\",tier=\"local\"} 0\n")
            .And.Contain("llmstack_backup_last_run_ok{environment=\"staging\",service=\"qdrant/qdrant_data\",tier=\"local\"} 1\n")
            .And.Contain("llmstack_backup_failure_total{environment=\"staging\",service=\"minio/minio_data\",tier=\"local\"} 1\n")
            .And.Contain("llmstack_backup_success_total{environment=\"staging\",service=\"minio/minio_data\",tier=\"local\"} 1\n")
            .And.Contain("llmstack_backup_success_total{environment=\"staging\",service=\"qdrant/qdrant_data\",tier=\"local\"} 2\n")
            .And.Contain("# TYPE llmstack_backup_success_total counter\n")
            .And.Contain($"llmstack_backup_last_success_timestamp_seconds{{environment=\"staging\",service=\"minio/minio_data\",tier=\"local\"}} {Now.AddHours(-1).ToUnixTimeSeconds()}\n")
            .And.Contain($"llmstack_backup_last_run_timestamp_seconds{{environment=\"staging\",service=\"minio/minio_data\",tier=\"local\"}} {Now.ToUnixTimeSeconds()}\n")
            .And.Contain("llmstack_backup_read_bytes{environment=\"staging\",service=\"qdrant/qdrant_data\",tier=\"local\"} 1000\n")
            .And.Contain("llmstack_backup_added_bytes{environment=\"staging\",service=\"qdrant/qdrant_data\",tier=\"local\"} 200\n")
            .And.Contain($"llmstack_backup_metrics_written_timestamp_seconds {Now.ToUnixTimeSeconds()}\n")
            .And.NotContain("grafana");
        Directory.GetFiles(Path.GetDirectoryName(File)!).Select(Path.GetFileName).Should().BeEquivalentTo("llmstack_backup.prom", "llmstack_backup.prom.state.json");

        var promtool = Tools.Require("promtool", "apt-get install prometheus");
        var check = await ProcessRunner.RunAsync("bash", ["-c", $"\"{promtool}\" check metrics < \"{File}\""], _directory, null, CancellationToken.None);
        check.ExitCode.Should().Be(0, string.Join('\n', check.Output));
        check.Output.Should().BeEmpty("promtool check metrics prints nothing for a file without problems");
    }

    [Fact]
    public void Every_metric_follows_the_naming_conventions()
    {
        foreach (var metric in BackupMetrics.All)
        {
            metric.Name.Should().MatchRegex("^llmstack_backup_[a-z_]+$");
            (metric.Type == MetricType.Counter).Should().Be(metric.Name.EndsWith("_total", StringComparison.Ordinal), metric.Name);
            (metric.Name.EndsWith("_seconds", StringComparison.Ordinal) || metric.Name.EndsWith("_bytes", StringComparison.Ordinal) || metric.Name.EndsWith("_ok", StringComparison.Ordinal)
                || metric.Name.EndsWith("_total", StringComparison.Ordinal)).Should().BeTrue($"{metric.Name} names its unit");
        }
    }

    [Fact]
    public void Docs_BACKUP_md_lists_every_metric_with_its_type()
    {
        var doc = System.IO.File.ReadAllText(Path.Combine(Repository.Root, "docs", "BACKUP.md"));
        foreach (var metric in BackupMetrics.All)
        {
            var row = doc.Split('\n').FirstOrDefault(l => l.StartsWith('|') && l.Contains($"`{metric.Name}`", StringComparison.Ordinal));
            row.Should().NotBeNull($"docs/BACKUP.md's metric table names {metric.Name}");
            row!.Should().Contain($"| {metric.TypeWord} |", metric.Name);
        }
    }

    [Fact]
    public void Copy_lag_is_the_newest_backup_anywhere_minus_the_newest_on_the_tier()
    {
        var metrics = Metrics();
        var older = Set(Now.AddHours(-30), ("qdrant", MemberStatus.Ok));
        metrics.Backup(older);
        metrics.Copy(older, "staging", [new TierResult("cloud", TierKind.Cloud, true, "copied")]);
        var newer = Set(Now, ("qdrant", MemberStatus.Ok));
        metrics.Backup(newer);
        metrics.Copy(newer, "staging", [new TierResult("cloud", TierKind.Cloud, false, "unreachable")]);

        var text = System.IO.File.ReadAllText(File);
        text.Should().Contain("llmstack_backup_copy_lag_seconds{environment=\"staging\",tier=\"cloud\"} 108000\n")
            .And.Contain("llmstack_backup_copy_lag_seconds{environment=\"staging\",tier=\"local\"} 0\n")
            .And.Contain("llmstack_backup_copy_ok{environment=\"staging\",tier=\"cloud\"} 0\n");
    }

    [Fact]
    public void Verify_restore_test_and_retention_failures_are_recorded()
    {
        var metrics = Metrics();
        metrics.Verify("staging", [new VerifyResult("local", "s", "restic check", true, "ok"), new VerifyResult("local", "s", "pg_restore --list", false, "bad")]);
        metrics.RestoreTest(new RestoreTestReport("staging", "s", ["s"], "testing", "p", Now, 42, false, []));
        metrics.Retention("staging", 3, ok: false);
        metrics.Retention("staging", 2, ok: true);

        System.IO.File.ReadAllText(File).Should().Contain("llmstack_backup_verify_ok{environment=\"staging\",tier=\"local\"} 0\n")
            .And.Contain("llmstack_backup_restore_test_ok{environment=\"staging\"} 0\n")
            .And.Contain("llmstack_backup_restore_test_duration_seconds{environment=\"staging\"} 42\n")
            .And.Contain("llmstack_backup_retention_removed_total{environment=\"staging\"} 5\n")
            .And.Contain("llmstack_backup_retention_ok{environment=\"staging\"} 1\n");
    }
}
