using FluentAssertions;
using LlmStack.Retention;
using Xunit;

namespace LlmStack.Tests.Retention;

/// <summary>
/// Fixed histories × policies with the keep sets worked out by hand from restic's documentation of <c>forget</c>
/// (independent counters, calendar periods with snapshots only, durations from the latest snapshot, the oldest kept
/// while a counter has room), and invariants on random histories.
/// </summary>
public sealed class RetentionPlannerTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.Parse("2026-11-29T12:00:00Z");

    private static RetentionBackup B(string id, string time, params string[] tags) => new(id, DateTimeOffset.Parse(time), tags);

    private static IEnumerable<string> Kept(RetentionPlan plan) => plan.Kept.Select(b => b.Id);

    private static IReadOnlyList<string> Reasons(RetentionPlan plan, string id) => plan.Decisions.Single(d => d.Backup.Id == id).Reasons;

    [Fact]
    public void Keep_monthly_in_one_month_keeps_the_newest_and_the_oldest_while_the_counter_has_room()
    {
        // The restic forum case: four snapshots in January, --keep-monthly 4 → the newest, and the oldest as "oldest monthly".
        var backups = new[]
        {
            B("8910a903", "2024-01-02T13:42:44+01:00"), B("ab49e6f7", "2024-01-03T01:04:38+01:00"),
            B("209e47d4", "2024-01-04T20:09:54+01:00"), B("acdde683", "2024-01-04T20:20:32+01:00"),
        };
        var plan = RetentionPlanner.Plan(backups, new RetentionPolicy { Monthly = 4 }, Now);
        Kept(plan).Should().Equal("acdde683", "8910a903");
        Reasons(plan, "acdde683").Should().Equal("monthly");
        Reasons(plan, "8910a903").Should().Equal("oldest monthly");
    }

    [Fact]
    public void Keep_last_keeps_the_newest_n()
    {
        var backups = Enumerable.Range(1, 5).Select(i => B($"s{i}", $"2026-11-0{i}T10:00:00Z")).ToArray();
        var plan = RetentionPlanner.Plan(backups, new RetentionPolicy { Last = 3 }, Now);
        Kept(plan).Should().Equal("s5", "s4", "s3");
        plan.Removed.Select(b => b.Id).Should().Equal("s2", "s1");
    }

    [Fact]
    public void Keep_daily_counts_days_that_have_backups_and_a_used_up_counter_keeps_no_oldest()
    {
        var backups = new[]
        {
            B("d3b", "2026-11-03T18:00:00Z"), B("d3a", "2026-11-03T06:00:00Z"),
            B("d2b", "2026-11-02T18:00:00Z"), B("d2a", "2026-11-02T06:00:00Z"),
            B("d1b", "2026-10-20T18:00:00Z"), B("d1a", "2026-10-20T06:00:00Z"),
        };
        Kept(RetentionPlanner.Plan(backups, new RetentionPolicy { Daily = 2 }, Now)).Should().Equal("d3b", "d2b");

        // Seven days asked, three days have backups (the 17 days without any do not count): one per day, plus the oldest.
        var seven = RetentionPlanner.Plan(backups, new RetentionPolicy { Daily = 7 }, Now);
        Kept(seven).Should().Equal("d3b", "d2b", "d1b", "d1a");
        Reasons(seven, "d1a").Should().Equal("oldest daily");
    }

    [Fact]
    public void Counters_are_independent_and_one_backup_can_use_several()
    {
        var backups = new[] { B("new", "2026-11-27T10:00:00Z"), B("mid", "2026-11-26T10:00:00Z"), B("old", "2026-11-18T10:00:00Z") };
        var plan = RetentionPlanner.Plan(backups, new RetentionPolicy { Daily = 1, Weekly = 2 }, Now);

        // "new" is the daily and the first weekly; the second weekly slot goes to the week of the 18th.
        Kept(plan).Should().Equal("new", "old");
        Reasons(plan, "new").Should().Equal("daily", "weekly");
        Reasons(plan, "old").Should().Equal("weekly");
    }

    [Fact]
    public void Weeks_are_ISO_weeks_from_monday_to_sunday()
    {
        // Sunday 1 March 2026 and Monday 2 March 2026 are in different ISO weeks; Saturday 28 February shares Sunday's.
        var backups = new[] { B("mon", "2026-03-02T09:00:00Z"), B("sun", "2026-03-01T09:00:00Z"), B("sat", "2026-02-28T09:00:00Z"), B("prev", "2026-02-20T09:00:00Z") };
        Kept(RetentionPlanner.Plan(backups, new RetentionPolicy { Weekly = 2 }, Now)).Should().Equal("mon", "sun");
    }

    [Fact]
    public void Periods_are_the_backup_hosts_local_time_as_recorded()
    {
        // 23:30 and 00:30 at +02:00 are two local days but one UTC day (21:30Z and 22:30Z on the 1st).
        var backups = new[] { B("a", "2026-03-02T00:30:00+02:00"), B("b", "2026-03-01T23:30:00+02:00"), B("c", "2026-03-01T10:00:00+02:00") };
        Kept(RetentionPlanner.Plan(backups, new RetentionPolicy { Daily = 2 }, Now)).Should().Equal("a", "b");
    }

    [Fact]
    public void Keep_within_counts_back_from_the_latest_backup_not_from_now()
    {
        var backups = new[] { B("latest", "2025-01-10T12:00:00Z"), B("in", "2025-01-09T13:00:00Z"), B("out", "2025-01-08T11:00:00Z") };
        var plan = RetentionPlanner.Plan(backups, new RetentionPolicy { Within = RetentionDuration.Parse("2d") }, Now);
        Kept(plan).Should().Equal("latest", "in");
        Reasons(plan, "in").Should().Equal("within 2d");
    }

    [Fact]
    public void A_backup_dated_in_the_future_is_not_the_latest_and_is_kept_by_a_duration()
    {
        var backups = new[] { B("future", "2027-06-01T00:00:00Z"), B("latest", "2026-11-29T00:00:00Z"), B("old", "2026-11-01T00:00:00Z") };
        var plan = RetentionPlanner.Plan(backups, new RetentionPolicy { Within = RetentionDuration.Parse("1d") }, Now);
        Kept(plan).Should().Equal("future", "latest");
    }

    [Fact]
    public void Keep_within_daily_keeps_the_newest_of_each_day_inside_the_window()
    {
        var backups = new[]
        {
            B("n2", "2026-11-10T20:00:00Z"), B("n1", "2026-11-10T08:00:00Z"),
            B("m2", "2026-11-09T20:00:00Z"), B("m1", "2026-11-09T08:00:00Z"),
            B("x", "2026-11-01T08:00:00Z"), B("y", "2026-10-01T08:00:00Z"),
        };
        var plan = RetentionPlanner.Plan(backups, new RetentionPolicy { WithinDaily = RetentionDuration.Parse("3d") }, Now);
        Kept(plan).Should().Equal("n2", "m2");
        Reasons(plan, "m2").Should().Equal("within-daily 3d");

        // When the oldest backup is inside the window, it is kept as well (restic 0.17: "the oldest snapshot in the group is kept additionally").
        var young = RetentionPlanner.Plan(backups.Take(4).ToArray(), new RetentionPolicy { WithinDaily = RetentionDuration.Parse("3d") }, Now);
        Kept(young).Should().Equal("n2", "m2", "m1");
        Reasons(young, "m1").Should().Equal("oldest within-daily 3d");
    }

    [Fact]
    public void Keep_tag_needs_every_tag_of_one_list()
    {
        var backups = new[] { B("ab", "2026-11-03T00:00:00Z", "a", "b"), B("a", "2026-11-02T00:00:00Z", "a"), B("c", "2026-11-01T00:00:00Z", "c") };
        var plan = RetentionPlanner.Plan(backups, new RetentionPolicy { Tags = [["a", "b"], ["c"]] }, Now);
        Kept(plan).Should().Equal("ab", "c");
        Reasons(plan, "ab").Should().Equal("tag a,b");
    }

    [Fact]
    public void Unlimited_keeps_one_per_period_for_every_period()
    {
        var backups = Enumerable.Range(0, 40).Select(i => B($"s{i}", DateTimeOffset.Parse("2026-01-01T06:00:00Z").AddHours(i * 12).ToString("O"))).ToArray();
        var plan = RetentionPlanner.Plan(backups, new RetentionPolicy { Daily = -1 }, Now);
        plan.Kept.Should().HaveCount(21); // 20 days, the evening one of each, plus the oldest morning
        plan.Kept.Select(b => b.Time.Hour).Distinct().Should().Equal(18, 6);
    }

    [Fact]
    public void An_empty_policy_removes_nothing_with_restic_rules_and_is_refused_with_the_safety_rules()
    {
        var backups = new[] { B("a", "2026-11-03T00:00:00Z"), B("b", "2026-11-02T00:00:00Z") };
        RetentionPlanner.Plan(backups, new RetentionPolicy(), Now).Removed.Should().BeEmpty();
        var refuse = () => RetentionPlanner.PlanSafe(backups, new RetentionPolicy(), new RetentionSafety(), Now);
        refuse.Should().Throw<ArgumentException>().WithMessage("*no rule*");
    }

    [Fact]
    public void Safety_keeps_the_newest_verified_and_min_keep_on_top_of_the_policy()
    {
        var backups = new[]
        {
            B("s4", "2026-11-04T00:00:00Z"), B("s3", "2026-11-03T00:00:00Z"),
            new RetentionBackup("s2", DateTimeOffset.Parse("2026-11-02T00:00:00Z"), [], Verified: true),
            new RetentionBackup("s1", DateTimeOffset.Parse("2026-11-01T00:00:00Z"), [], Verified: true),
        };
        var plan = RetentionPlanner.PlanSafe(backups, new RetentionPolicy { Tags = [["never"]] }, new RetentionSafety(MinKeep: 1), Now);
        Kept(plan).Should().Equal("s4", "s2");
        Reasons(plan, "s4").Should().Equal("min_keep 1");
        Reasons(plan, "s2").Should().Equal("newest verified");

        Kept(RetentionPlanner.PlanSafe(backups, new RetentionPolicy { Last = 1 }, new RetentionSafety(MinKeep: 3, KeepNewestVerified: false), Now))
            .Should().Equal("s4", "s3", "s2");
    }

    [Theory]
    [InlineData("1y2m3d3h", 1, 2, 3, 3)]
    [InlineData("14d", 0, 0, 14, 0)]
    [InlineData("3h2d", 0, 0, 2, 3)]
    public void Durations_parse_like_restics(string text, int years, int months, int days, int hours) =>
        RetentionDuration.Parse(text).Should().Be(new RetentionDuration(years, months, days, hours));

    [Theory]
    [InlineData("")]
    [InlineData("7")]
    [InlineData("1w")]
    [InlineData("2d3d")]
    [InlineData("-1d")]
    public void Bad_durations_are_refused(string text) => RetentionDuration.TryParse(text, out _, out var problem).Should().BeFalse(problem);

    [Theory]
    [InlineData("9999y")]
    [InlineData("2147483647y")]
    [InlineData("2147483647m2147483647d2147483647h")]
    [InlineData("5000000d")]
    [InlineData("90000000h")]
    public void A_duration_reaching_back_past_year_one_keeps_everything_like_restic(string text)
    {
        // restic (Go time) goes back that far: every backup is newer than latest - D, so the rule keeps all of them.
        var duration = RetentionDuration.Parse(text);
        duration.Before(DateTimeOffset.Parse("2026-11-29T12:00:00+14:00")).Should().Be(DateTimeOffset.MinValue);
        var backups = Enumerable.Range(0, 30).Select(i => B($"b{i}", DateTimeOffset.Parse("2001-01-01T00:00:00Z").AddDays(i * 300).ToString("O"))).ToArray();
        RetentionPlanner.Plan(backups, new RetentionPolicy { Within = duration }, Now).Removed.Should().BeEmpty();
        RetentionPlanner.Plan(backups, new RetentionPolicy { WithinYearly = duration }, Now).Kept
            .Should().Equal(RetentionPlanner.Plan(backups, new RetentionPolicy { Yearly = -1 }, Now).Kept, "within a duration that covers everything, within-yearly is yearly -1");
    }

    [Theory]
    [InlineData("2147483648y")]
    [InlineData("99999999999999999999d")]
    public void A_number_too_large_for_a_duration_is_refused_in_one_line(string text)
    {
        RetentionDuration.TryParse(text, out _, out var problem).Should().BeFalse();
        problem.Should().Contain("is too large").And.NotContain("\n");
    }

    [Fact]
    public void A_month_back_from_the_31st_overflows_like_go_adddate()
    {
        RetentionDuration.Parse("1m").Before(DateTimeOffset.Parse("2026-03-31T12:00:00+01:00")).Should().Be(DateTimeOffset.Parse("2026-03-03T12:00:00+01:00"));
        RetentionDuration.Parse("1y2d5h").Before(DateTimeOffset.Parse("2026-01-01T03:00:00Z")).Should().Be(DateTimeOffset.Parse("2024-12-29T22:00:00Z"));
    }

    [Fact]
    public void Invariants_hold_on_random_histories()
    {
        var random = new Random(20261129);
        for (var round = 0; round < 300; round++)
        {
            var start = DateTimeOffset.Parse("2024-01-01T00:00:00Z");
            var offset = TimeSpan.FromHours(random.Next(-11, 13));
            var backups = Enumerable.Range(0, random.Next(1, 120))
                .Select(i => new RetentionBackup($"b{i}", start.AddMinutes(random.Next(0, 60 * 24 * 800)).ToOffset(offset), random.Next(10) == 0 ? ["keep"] : [], random.Next(6) == 0))
                .ToList();
            var policy = new RetentionPolicy
            {
                Last = random.Next(-1, 4),
                Daily = random.Next(0, 10),
                Weekly = random.Next(0, 6),
                Monthly = random.Next(0, 4),
                Yearly = random.Next(0, 2),
                Within = random.Next(4) == 0 ? new RetentionDuration(0, 0, random.Next(1, 30), 0) : null,
                WithinDaily = random.Next(4) == 0 ? new RetentionDuration(0, random.Next(0, 3), random.Next(1, 30), 0) : null,
                Tags = random.Next(3) == 0 ? [["keep"]] : [],
            };
            if (policy.IsEmpty)
            {
                policy = policy with { Last = 1 };
            }

            var safety = new RetentionSafety(MinKeep: random.Next(1, 4));
            var plan = RetentionPlanner.PlanSafe(backups, policy, safety, Now);
            plan.Decisions.Should().HaveCount(backups.Count);
            plan.Kept.Should().NotBeEmpty();
            plan.Decisions.All(d => d.Keep == d.Reasons.Count > 0).Should().BeTrue("a backup is kept exactly when a rule keeps it");
            if (backups.Where(b => b.Verified).MaxBy(b => b.Time) is { } verified)
            {
                plan.Kept.Should().Contain(b => b.Verified && b.Time == verified.Time);
            }

            plan.Kept.Should().Contain(backups.OrderByDescending(b => b.Time).ThenBy(b => b.Id, StringComparer.Ordinal).Take(safety.MinKeep));
            if (policy.Last > 0 && policy.Tags.Count == 0)
            {
                plan.Kept.Count.Should().BeGreaterThanOrEqualTo(Math.Min(policy.Last, backups.Count));
            }

            var again = RetentionPlanner.PlanSafe(plan.Kept, policy, safety, Now);
            again.Removed.Should().BeEmpty($"planning the kept set again removes nothing (round {round}, {policy})");
        }
    }
}

/// <summary>Backup retention of a tier: per member groups, a set removed only when no member keeps it.</summary>
public sealed class BackupRetentionTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.Parse("2026-11-29T12:00:00Z");

    private static LlmStack.Backup.CatalogEntry Set(string id, string time, bool verified, params (string Service, bool Ok)[] members) => new(
        new LlmStack.Backup.BackupSetManifest(id, "testing", "multimodal-testing", "local", LlmStack.Backup.BackupTrigger.BackupFull, DateTimeOffset.Parse(time), DateTimeOffset.Parse(time).AddMinutes(1), "1.0.0",
            members.All(m => m.Ok) ? LlmStack.Backup.SetStatus.Complete : LlmStack.Backup.SetStatus.Failed,
            members.Select(m => new LlmStack.Backup.MemberResult(m.Service, LlmStack.Backup.BackupMethod.Redis, LlmStack.Backup.BackupType.Rdb, null,
                m.Ok ? LlmStack.Backup.MemberStatus.Ok : LlmStack.Backup.MemberStatus.Failed, m.Ok ? null : "boom",
                m.Ok ? [new LlmStack.Backup.BackupPart("dump.rdb", $"snap-{id}-{m.Service}", "/x", 10, 10, 1)] : [], null)).ToList()),
        $"manifest-{id}", verified ? ["llmstack", "verified=2026-11-20"] : ["llmstack"]);

    [Fact]
    public void A_set_goes_only_when_no_member_keeps_it_and_each_member_keeps_its_own_newest()
    {
        var entries = new[]
        {
            Set("s4", "2026-11-28T00:00:00Z", false, ("redis", true)),
            Set("s3", "2026-11-27T00:00:00Z", false, ("postgres", true), ("redis", true)),
            Set("s2", "2026-11-26T00:00:00Z", true, ("redis", true)),
            Set("s1", "2026-11-25T00:00:00Z", false, ("postgres", true), ("redis", true)),
            Set("s0", "2026-11-24T00:00:00Z", false, ("redis", false)),
        };
        var plan = LlmStack.Retention.BackupRetention.Plan(entries, new RetentionPolicy { Last = 1 }, new RetentionSafety(1), Now, TimeZoneInfo.Utc);

        // redis: s4 (last); postgres: s3 (last); s2 is redis's newest verified; s1 nobody's; s0 holds nothing.
        plan.Where(s => s.Keep).Select(s => s.Set).Should().Equal("s4", "s3", "s2");
        plan.Where(s => !s.Keep).Select(s => s.Set).Should().Equal("s1", "s0");
        plan.Single(s => s.Set == "s3").Reasons.Keys.Should().Equal("postgres/rdb");
        plan.Single(s => s.Set == "s2").Reasons["redis/rdb"].Should().Equal("newest verified");
    }
}
