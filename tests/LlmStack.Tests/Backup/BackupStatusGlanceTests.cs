using LlmStack.Backup;
using static LlmStack.Tests.Backup.BackupFixtures;
using static LlmStack.Tests.Backup.BackupSelectionTests;

namespace LlmStack.Tests.Backup;

/// <summary>BackupStatus at a glance: age against what the schedule allows, colour only on a terminal, the added-bytes chart.</summary>
public sealed class BackupStatusGlanceTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 29, 3, 0, 0, TimeSpan.Zero);

    private static MemberResult Added(string service, string type, long added) =>
        Member(service, type) with { Parts = [new BackupPart("p", "s", "/p", added * 2, added, 0.1)] };

    private static async Task<BackupStatusPlan> PlanAsync(DateTimeOffset now) =>
        await BackupStatusPlanner.PlanAsync(Plan([Local]), new FakeCatalog(
            Set("A", 0, "BackupFull", Added("postgres", "full", 100), Member("redis", "rdb", status: MemberStatus.Failed)),
            Set("B", 1, "BackupService", Added("postgres", "full", 400)),
            Set("C", 2, "BackupService", Added("postgres", "full", 0))), new FakeTiers(Local), now, CancellationToken.None);

    [Fact]
    public async Task Redirected_output_is_plain_ascii_with_the_age_against_25_hours_and_a_chart_of_the_added_bytes()
    {
        var lines = BackupStatusGlance.Lines(await PlanAsync(T0.AddHours(12.5)), interactive: false);

        lines[0].Should().Be("Age of the last good backup against the 25 h its schedule allows; bytes added by the last runs:");
        lines.Should().Contain("postgres  [####------]  10.5 h of 25 h  -@_", "set C started at 05:00, 10.5 h before 15:30: 42%, 4 of 10; added 100, 400, 0 of a 400 scale");
        lines.Should().Contain("redis     [##########]  never");
        string.Concat(lines).Should().NotContain("\u001b");
    }

    [Fact]
    public async Task A_terminal_gets_blocks_and_colour_red_for_a_problem_yellow_past_three_quarters_green_otherwise()
    {
        var fresh = BackupStatusGlance.Lines(await PlanAsync(T0.AddHours(3)), interactive: true);
        fresh.Should().Contain(l => l.StartsWith("postgres  \u001b[32m", StringComparison.Ordinal) && l.EndsWith("▃█▁", StringComparison.Ordinal));
        fresh.Should().Contain(l => l.StartsWith("redis     \u001b[31m██████████\u001b[0m", StringComparison.Ordinal));

        var late = BackupStatusGlance.Lines(await PlanAsync(T0.AddHours(24)), interactive: true);
        late.Should().Contain(l => l.StartsWith("postgres  \u001b[33m", StringComparison.Ordinal), "22 h of 25 h");
    }

    [Fact]
    public void The_chart_scales_to_the_largest_run() =>
        BackupStatusGlance.Spark([0, 50, 100], interactive: true).Should().Be("▁▅█");
}
