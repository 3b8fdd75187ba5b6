using System.Text.Json;
using LlmStack.Backup;
using LlmStack.Reporting;
using static LlmStack.Tests.Backup.BackupFixtures;
using static LlmStack.Tests.Backup.BackupSelectionTests;

namespace LlmStack.Tests.Backup;

/// <summary>BackupStatus's planner with fakes of the catalog and the tiers: every state of a service and of a tier, and its report.</summary>
public sealed class BackupStatusPlannerTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 29, 3, 0, 0, TimeSpan.Zero);

    private static Task<BackupStatusPlan> PlanAsync(FakeCatalog catalog, FakeTiers tiers, DateTimeOffset now, params ResolvedTier[] extra) =>
        BackupStatusPlanner.PlanAsync(Plan([Local, .. extra]), catalog, tiers, now, CancellationToken.None);

    private static string StateOf(BackupStatusPlan plan, string service) => plan.Services.Single(s => s.Service == service).Text;

    [Fact]
    public async Task A_service_is_ok_within_an_hour_of_its_run_never_backed_up_without_a_set_and_without_data_while_only_skipped()
    {
        var full = Set("A", 0, "BackupFull", Member("postgres", "full"), Member("qdrant", "volume", "qdrant_data", MemberStatus.Skipped), Member("config", "config"));
        var catalog = new FakeCatalog(full);
        var plan = await PlanAsync(catalog, new FakeTiers(Local).Sized("local", 2048), T0.AddHours(2)); // the run was due at 04:00, the set is of 03:00

        plan.Services.Select(s => (s.Service, s.State)).Should().Equal(
            ("postgres", ServiceBackupState.Ok), ("redis", ServiceBackupState.NeverBackedUp), ("qdrant", ServiceBackupState.NoDataYet), ("config", ServiceBackupState.Ok));
        StateOf(plan, "redis").Should().Be("never backed up");
        StateOf(plan, "qdrant").Should().Be("no data yet");
        plan.Services.Single(s => s.Service == "postgres").Last.Should().BeSameAs(full);
        plan.Problems.Should().Equal("redis: never backed up");
        catalog.Reads.Should().Be(1, "the sets are read once for the services and the tiers");
    }

    [Fact]
    public async Task A_service_is_overdue_when_its_last_backup_is_older_than_the_last_scheduled_run_less_an_hour()
    {
        var catalog = new FakeCatalog(Set("A", 0, "BackupFull", Member("postgres", "full"), Member("redis", "rdb"), Member("qdrant", "volume", "qdrant_data"), Member("config", "config")));
        var plan = await PlanAsync(catalog, new FakeTiers(Local), T0.AddDays(1).AddHours(2));

        plan.Services.Should().OnlyContain(s => s.State == ServiceBackupState.Overdue);
        StateOf(plan, "postgres").Should().Be("overdue (a run was due 2026-11-30 04:00Z)");
        plan.Services.Single(s => s.Service == "postgres").Due.Should().Be(new DateTimeOffset(2026, 11, 30, 4, 0, 0, TimeSpan.Zero));
    }

    [Fact]
    public async Task A_failure_newer_than_the_last_success_fails_the_service_and_safety_copies_count_for_nothing()
    {
        var catalog = new FakeCatalog(
            Set("A", 0, "BackupFull", Member("postgres", "full"), Member("redis", "rdb"), Member("qdrant", "volume", "qdrant_data"), Member("config", "config")),
            Set("B", 1, "BackupService", Member("postgres", "full", status: MemberStatus.Failed)),
            Set("C", 2, "pre-restore", Member("redis", "rdb", status: MemberStatus.Failed), Member("postgres", "full")),
            Set("D", 3, "BackupService", Member("qdrant", "volume", "qdrant_data", MemberStatus.Failed)),
            Set("E", 4, "BackupService", Member("qdrant", "volume", "qdrant_data")));
        var plan = await PlanAsync(catalog, new FakeTiers(Local), T0.AddHours(5));

        StateOf(plan, "postgres").Should().Be("failed in B: boom", "the pre-restore copy after it is no backup of the schedule's");
        plan.Services.Single(s => s.Service == "postgres").Last!.Set.Should().Be("A");
        StateOf(plan, "redis").Should().Be("ok", "a failed safety copy is not a failed backup");
        StateOf(plan, "qdrant").Should().Be("ok", "a later success clears the failure");

        var onlyFailed = await PlanAsync(new FakeCatalog(Set("F", 0, "BackupFull", Member("postgres", "full", status: MemberStatus.Failed))), new FakeTiers(Local), T0.AddHours(1));
        StateOf(onlyFailed, "postgres").Should().Be("failed in F: boom");
        onlyFailed.Services.Single(s => s.Service == "postgres").Last.Should().BeNull();
    }

    [Fact]
    public async Task A_tier_is_behind_when_it_lacks_the_newest_set_that_is_no_safety_copy_and_unreadable_when_its_sets_or_size_cannot_be_read()
    {
        var catalog = new FakeCatalog(
            Set("A", 0, "BackupFull", Member("postgres", "full")),
            Set("B", 1, "BackupFull", Member("postgres", "full")),
            Set("P", 2, "pre-restore", Member("postgres", "full")));
        var nfs = new ResolvedTier("nfs", TierKind.Remote, "/mnt/nfs/testing");
        var s3 = new ResolvedTier("s3", TierKind.Cloud, "s3:https://s3.example.com/bucket/testing");
        var tiers = new FakeTiers(Local).Sized("local", 4096).Sized("nfs", 1024)
            .Holding(Remote, "A")
            .Holding(nfs, "A", "B")
            .Holding(Tape, "B")
            .Unreadable(s3, "tier s3 of testing is unreachable (s3:https://s3.example.com/bucket/testing): dial tcp: connection refused")
            .Holding(new ResolvedTier("sftp", TierKind.Remote, "sftp:backup@host:/srv/testing"), "A", "B", "P")
            .SizeFails("sftp", "restic stats on sftp for testing failed (exit 1): Fatal: unable to open config file");
        var plan = await PlanAsync(catalog, tiers, T0.AddHours(3));

        plan.Tiers.Select(t => (t.Tier.Name, t.State, t.Text)).Should().Equal(
            ("local", TierBackupState.Ok, "ok"),
            ("remote", TierBackupState.Behind, "behind: lacks set B (BackupCopy)"),
            ("nfs", TierBackupState.Ok, "ok"),
            ("tape", TierBackupState.Ok, "ok"),
            ("s3", TierBackupState.Unreadable, "tier s3 of testing is unreachable (s3:https://s3.example.com/bucket/testing): dial tcp: connection refused"),
            ("sftp", TierBackupState.Unreadable, "restic stats on sftp for testing failed (exit 1): Fatal: unable to open config file"));
        plan.Tiers.Select(t => $"{t.Sets?.ToString() ?? "-"} {t.Newest ?? "-"} {t.Size?.ToString() ?? "-"}").Should().Equal(
            "3 P 4096", "1 A 0", "2 B 1024", "1 B -", "- - -", "3 P -");
        plan.Problems.Where(p => p.StartsWith("tier ", StringComparison.Ordinal)).Should().Equal(
            "tier remote: behind: lacks set B (BackupCopy)",
            "tier s3: tier s3 of testing is unreachable (s3:https://s3.example.com/bucket/testing): dial tcp: connection refused",
            "tier sftp: restic stats on sftp for testing failed (exit 1): Fatal: unable to open config file");
    }

    [Fact]
    public async Task The_first_tiers_size_is_not_a_tier_state_when_it_cannot_be_read_the_run_fails()
    {
        var tiers = new FakeTiers(Local).SizeFails("local", "backup repository local for testing cannot be opened with the configured key (k): use the key it was created with");
        var plan = () => PlanAsync(new FakeCatalog(), tiers, T0);
        await plan.Should().ThrowAsync<Pipeline.PipelineException>().WithMessage("backup repository local for testing cannot be opened*");
    }

    [Fact]
    public async Task The_report_is_the_two_tables_the_schedule_and_the_github_line_with_a_document_of_the_same_states_and_one_failure_line()
    {
        var catalog = new FakeCatalog(Set("A", 0, "BackupFull", Member("postgres", "full"), Member("redis", "rdb", status: MemberStatus.Failed), Member("config", "config")));
        var plan = await PlanAsync(catalog, new FakeTiers(Local).Sized("local", 2048).Holding(Remote), T0.AddHours(2).AddMinutes(5), Remote);
        var report = BackupStatusPlanner.Report(plan, "backup-testing.yml: last run 2026-11-29 04:00Z: success");

        var text = new StringWriter();
        var write = () => ReportWriter.Text(text).Write(report);
        write.Should().Throw<Pipeline.PipelineException>().WithMessage(
            "3 service(s) of testing without a current backup: redis: failed in A: boom; qdrant: never backed up; tier remote: behind: lacks set A (BackupCopy)");
        var lines = text.ToString().Split('\n').Select(l => l.TrimEnd()).ToList();
        lines.Should().Contain(l => l.StartsWith("postgres", StringComparison.Ordinal) && l.Contains("2026-11-29 03:00:00") && l.Contains("2h5m") && l.EndsWith(" ok", StringComparison.Ordinal));
        lines.Should().Contain(l => l.StartsWith("redis", StringComparison.Ordinal) && l.EndsWith("failed in A: boom", StringComparison.Ordinal));
        lines.Should().Contain(l => l.StartsWith("remote", StringComparison.Ordinal) && l.Contains(" remote ") && l.EndsWith("behind: lacks set A (BackupCopy)", StringComparison.Ordinal));
        lines.Should().Contain("Schedule 0 4 * * * (UTC)").And.Contain("GitHub backup-testing.yml: last run 2026-11-29 04:00Z: success");

        using var document = JsonDocument.Parse(JsonSerializer.Serialize(report.Document, report.Document!.GetType(), JsonDefaults.Document));
        var root = document.RootElement;
        root.GetProperty("environment").GetString().Should().Be("testing");
        root.GetProperty("schedule").GetString().Should().Be("0 4 * * *");
        root.GetProperty("services").EnumerateArray().Select(s => s.GetProperty("state").GetString()).Should().Equal("ok", "failed in A: boom", "never backed up", "ok");
        root.GetProperty("services")[2].TryGetProperty("last", out _).Should().BeFalse("a service never backed up has no last backup");
        root.GetProperty("tiers").EnumerateArray().Select(t => (t.GetProperty("tier").GetString(), t.GetProperty("kind").GetString(), t.GetProperty("state").GetString()))
            .Should().Equal(("local", "local", "ok"), ("remote", "remote", "behind: lacks set A (BackupCopy)"));
        root.GetProperty("tiers")[0].GetProperty("size").GetInt64().Should().Be(2048);
        root.GetProperty("workflow").GetString().Should().StartWith("backup-testing.yml");
    }
}
