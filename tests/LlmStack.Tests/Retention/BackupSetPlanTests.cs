using LlmStack.Backup;
using LlmStack.Pipeline;
using LlmStack.Retention;

namespace LlmStack.Tests.Retention;

/// <summary>
/// The backup-set plan of a cleanup, built from catalogs and a fake tier probe: which policy each tier has, what each
/// tier keeps and removes, how the removed sets go (forget, tape export removed, rotation by hand), and the prune.
/// </summary>
public sealed class BackupSetPlanTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);

    private static readonly ResolvedTier Local = new("local", TierKind.Local, "/backups/testing");
    private static readonly ResolvedTier Nas = new("nas", TierKind.Remote, "/nas/testing");
    private static readonly ResolvedTier Cold = new("cold", TierKind.Remote, "/cold/testing");
    private static readonly ResolvedTier Broken = new("broken", TierKind.Remote, "/broken/testing");
    private static readonly ResolvedTier Tape = new("tape", TierKind.Tape, "/tape/testing");

    /// <summary>A set of one redis member that added <paramref name="added"/> bytes, made <paramref name="hoursAgo"/> before now.</summary>
    private static CatalogEntry Entry(string set, int hoursAgo, long added = 10, params string[] tags)
    {
        var member = new MemberResult("redis", BackupMethod.Redis, BackupType.Rdb, null, MemberStatus.Ok, null, [new BackupPart("dump", "snap-" + set, "/redis/rdb/dump", 100, added, 0.1)], null);
        var started = Now.AddHours(-hoursAgo);
        return new CatalogEntry(
            new BackupSetManifest(set, "testing", "multimodal-testing", "local", BackupTrigger.BackupFull, started, started.AddMinutes(1), "1.0.0", SetStatus.Complete, [member]),
            "manifest-" + set, tags);
    }

    private static readonly IReadOnlyList<CatalogEntry> Sets = [Entry("s1", 40), Entry("s2", 30), Entry("s3", 20), Entry("s4", 10)];

    /// <summary>keep-last 1 everywhere, keep-last 2 on nas for testing (the environment's map over the global one); cold has no policy.</summary>
    private static RetentionConfig Config(PruneDefinition? prune = null) => new()
    {
        Policies = { ["one"] = new KeepPolicyDefinition { KeepLast = 1 }, ["two"] = new KeepPolicyDefinition { KeepLast = 2 } },
        Tiers = { ["local"] = "one", ["nas"] = "one", ["tape"] = "one", ["broken"] = "one" },
        Environments = { ["testing"] = new EnvironmentRetentionDefinition { MinKeep = 1, Tiers = new Dictionary<string, string> { ["nas"] = "two" } } },
        Prune = prune,
    };

    private static IReadOnlyList<TierRetentionPlan> Plan(RetentionConfig config, IReadOnlyList<CatalogEntry>? local = null, params TierInventory[] more) => TierRetentionPlanner.Plan(
        [new TierInventory(Local, local ?? Sets, null), new TierInventory(Nas, Sets, null), new TierInventory(Cold, Sets, null), new TierInventory(Broken, null, "connection refused"), .. more],
        config, "testing", Now, TimeZoneInfo.Utc);

    private static IEnumerable<string> Names(IEnumerable<SetRetention> sets) => sets.Select(s => s.Set);

    [Fact]
    public void Each_tier_applies_its_policy_the_environments_map_over_the_global_one_and_a_tier_without_one_keeps_everything()
    {
        var plans = Plan(Config()).ToDictionary(p => p.Tier.Name);

        plans["local"].PolicyName.Should().Be("one");
        Names(plans["local"].Kept).Should().Equal("s4");
        Names(plans["local"].Removed).Should().Equal("s3", "s2", "s1");
        plans["nas"].PolicyName.Should().Be("two", "environments.testing.tiers.nas overrides tiers.nas");
        Names(plans["nas"].Kept).Should().Equal("s4", "s3");
        plans["cold"].Policy.Should().BeNull();
        Names(plans["cold"].Kept).Should().Equal(Sets.Select(e => e.Manifest.Set), "a tier without a policy keeps everything");
        plans["broken"].Sets.Should().BeNull();
        plans["broken"].Error.Should().Be("connection refused");
    }

    [Fact]
    public void The_safety_rules_keep_the_newest_verified_set_and_min_keep_per_member()
    {
        var sets = new[] { Entry("s1", 40, tags: "verified=2026-11-29"), Entry("s2", 30), Entry("s3", 20), Entry("s4", 10) };
        var config = Config();
        config.Environments["testing"].MinKeep = 2;

        var local = Plan(config, sets).Single(p => p.Tier.Name == "local");

        Names(local.Kept).Should().Equal("s4", "s3", "s1");
        local.Kept.Single(s => s.Set == "s1").Reasons["redis/rdb"].Should().Contain(r => r.Contains("verified"));
        Names(local.Removed).Should().Equal("s2");
    }

    [Fact]
    public async Task Repository_tiers_forget_and_prune_when_worth_it_tape_exports_go_or_wait_for_rotation_and_lookups_are_reported()
    {
        var prune = new PruneDefinition { WhenUnusedAbove = "10%", MaxUnused = "2%" };
        var plans = Plan(Config(prune), null, new TierInventory(Tape, Sets, null));
        var probe = new FakeTierProbe
        {
            Sizes = { ["local"] = 100, ["nas"] = 10_000 },
            OrphansOf = { ["local"] = [], ["nas"] = null, ["cold"] = [] },
        };

        var cleanup = await BackupSetCleanupPlanner.PlanAsync(plans, prune, new Dictionary<string, DateTimeOffset>(), probe, Now, CancellationToken.None);

        probe.OrphansAsked.Should().Equal(["local", "nas", "cold"], "every readable repository tier, with or without a policy; never tape, never an unreadable tier");
        cleanup.Problems.Should().Equal("tier nas: looking for orphaned member snapshots failed: repository locked");
        cleanup.Orphans.Select(o => o.Tier.Name).Should().Equal("local", "cold");

        var tiers = cleanup.Tiers.ToDictionary(t => t.Plan.Tier.Name);
        tiers.Keys.Should().BeEquivalentTo(["local", "nas", "tape"], "cold has no policy and broken could not be read");
        tiers["local"].Removal.Should().Be(SetRemoval.Forget);
        tiers["local"].Prune.Should().Be(new PruneStep(true, "the forgotten sets added up to 30% of it (prune.when_unused_above 10%)", 100, "2%"));
        tiers["nas"].Prune.Should().Be(new PruneStep(false, "the forgotten sets added at most 0.2% of it (prune.when_unused_above 10%)", 10_000, "2%"));
        tiers["tape"].Removal.Should().Be(SetRemoval.RemoveExport);
        tiers["tape"].Prune.Should().BeNull("a tape tier is no repository to prune");

        probe.OnTape = true;
        (await BackupSetCleanupPlanner.PlanAsync(plans, null, new Dictionary<string, DateTimeOffset>(), probe, Now, CancellationToken.None))
            .Tiers.Single(t => t.Plan.Tier.Name == "tape").Removal.Should().Be(SetRemoval.RotateByHand, "a device's cassette is never erased");
    }

    [Fact]
    public async Task A_tier_that_removes_nothing_is_not_measured_and_not_pruned()
    {
        var plans = TierRetentionPlanner.Plan([new TierInventory(Local, [Entry("s1", 1)], null)], Config(), "testing", Now, TimeZoneInfo.Utc);
        var probe = new FakeTierProbe { OrphansOf = { ["local"] = [] } };

        var cleanup = await BackupSetCleanupPlanner.PlanAsync(plans, null, new Dictionary<string, DateTimeOffset>(), probe, Now, CancellationToken.None);

        cleanup.Tiers.Single().Prune.Should().BeNull();
        probe.SizesAsked.Should().BeEmpty("the size is read only for a prune decision");
    }

    private sealed class FakeTierProbe : ITierProbe
    {
        public Dictionary<string, long> Sizes { get; } = new();

        /// <summary>null: the lookup fails.</summary>
        public Dictionary<string, IReadOnlyList<OrphanSet>?> OrphansOf { get; } = new();

        public bool OnTape { get; set; }

        public List<string> OrphansAsked { get; } = [];

        public List<string> SizesAsked { get; } = [];

        public Task<IReadOnlyList<OrphanSet>> OrphansAsync(ResolvedTier tier, CancellationToken cancellationToken)
        {
            OrphansAsked.Add(tier.Name);
            return OrphansOf[tier.Name] is { } orphans ? Task.FromResult(orphans) : throw new PipelineException("repository locked\nrestic said more");
        }

        public Task<long> SizeAsync(ResolvedTier tier, CancellationToken cancellationToken)
        {
            SizesAsked.Add(tier.Name);
            return Task.FromResult(Sizes[tier.Name]);
        }

        public bool OnDevice(ResolvedTier tier) => OnTape;
    }
}
