using LlmStack.Backup;
using LlmStack.Pipeline;
using LlmStack.Schema;

namespace LlmStack.Tests.Backup;

/// <summary>
/// Which backup a restore, a verification and a restore test take (pure over manifests), orphaned members, and the
/// inputs that are refused before anything runs.
/// </summary>
public sealed class BackupSelectionTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 29, 3, 0, 0, TimeSpan.Zero);

    internal static MemberResult Member(string service, string type, string? volume = null, MemberStatus status = MemberStatus.Ok) =>
        new(service, BackupWords.Parse<BackupMethod>(service == "config" ? "config" : volume is null ? service : "volume"), BackupWords.Parse<BackupType>(type), volume, status,
            status == MemberStatus.Ok ? null : "boom",
            status == MemberStatus.Ok ? [new BackupPart("p", $"snap-{service}-{type}", $"/{service}/{type}/p", 10, 5, 0.1)] : [], null);

    internal static BackupSetManifest Set(string id, int hour, string trigger, params MemberResult[] members) =>
        new(id, "testing", "multimodal-testing", "local", BackupTrigger.Of(trigger), T0.AddHours(hour), T0.AddHours(hour).AddMinutes(1), "1.0.0",
            members.All(m => m.Status != MemberStatus.Failed) ? SetStatus.Complete : SetStatus.Failed, members);

    private static CatalogEntry Entry(BackupSetManifest set) => new(set, "manifest-" + set.Set, []);

    [Fact]
    public void Safety_copies_are_the_pre_restore_and_pre_wipe_sets_only()
    {
        BackupTrigger.Of("pre-restore").IsSafetyCopy.Should().BeTrue();
        BackupTrigger.Of("pre-wipe").IsSafetyCopy.Should().BeTrue();
        BackupTrigger.Of("BackupFull").IsSafetyCopy.Should().BeFalse();
        BackupTrigger.Of("BackupService").IsSafetyCopy.Should().BeFalse();
        Set("s", 0, "pre-wipe").IsSafetyCopy.Should().BeTrue();
        Set("s", 0, "pre-wipe").ToJson().Should().NotContain("isSafetyCopy", "derived from the trigger, never stored");
    }

    [Fact]
    public void Latest_after_a_restore_is_the_set_restored_from_not_the_safety_copy_of_what_it_replaced()
    {
        // Fault 4: Restore put back set A and left pre-restore copy P; "Restore --backup latest" then took P and undid the restore.
        var sets = new[]
        {
            Set("A", 0, "BackupFull", Member("postgres", "full"), Member("redis", "rdb")),
            Set("P", 2, "pre-restore", Member("postgres", "full")),
        };
        var chosen = RestorePlanner.Find(sets, "testing", "postgres", RestorePlanner.Latest, null);
        chosen.Set.Set.Should().Be("A");
        RestorePlanner.NewerSafetyCopy(sets, chosen, "postgres", null)!.Set.Set.Should().Be("P", "the plan tells the user a newer safety copy exists");

        RestorePlanner.Find(sets, "testing", "postgres", RestorePlanner.LatestSafety, null).Set.Set.Should().Be("P");
        RestorePlanner.Find(sets, "testing", "postgres", "P", null).Set.Set.Should().Be("P", "a set id always works");
        RestorePlanner.NewerSafetyCopy(sets, RestorePlanner.Find(sets, "testing", "postgres", "P", null), "postgres", null).Should().BeNull();
        RestorePlanner.Find(sets, "testing", "redis", RestorePlanner.Latest, null).Set.Set.Should().Be("A");
        RestorePlanner.NewerSafetyCopy(sets, RestorePlanner.Find(sets, "testing", "redis", RestorePlanner.Latest, null), "redis", null).Should().BeNull();
    }

    [Fact]
    public void Latest_is_the_newest_backup_that_is_no_safety_copy_and_a_pre_wipe_set_counts_as_one()
    {
        var sets = new[]
        {
            Set("old", 0, "BackupFull", Member("postgres", "full")),
            Set("wipe", 1, "pre-wipe", Member("postgres", "full")),
            Set("new", 2, "BackupService", Member("postgres", "schema")),
            Set("restore", 3, "pre-restore", Member("postgres", "schema")),
        };
        RestorePlanner.Find(sets, "testing", "postgres", RestorePlanner.Latest, null).Set.Set.Should().Be("new");
        RestorePlanner.Find(sets, "testing", "postgres", RestorePlanner.Latest, BackupType.Full).Set.Set.Should().Be("old");
        RestorePlanner.NewerSafetyCopy(sets, RestorePlanner.Find(sets, "testing", "postgres", RestorePlanner.Latest, BackupType.Full), "postgres", BackupType.Full)!.Set.Set.Should().Be("wipe");
        RestorePlanner.Find(sets, "testing", "postgres", RestorePlanner.LatestSafety, null).Set.Set.Should().Be("restore");
        RestorePlanner.Find(sets, "testing", "postgres", RestorePlanner.LatestSafety, BackupType.Full).Set.Set.Should().Be("wipe");
    }

    [Fact]
    public void With_only_safety_copies_latest_says_how_to_ask_for_one_and_latest_safety_without_one_says_so()
    {
        var sets = new[] { Set("P", 0, "pre-restore", Member("redis", "rdb")), Set("A", 1, "BackupFull", Member("postgres", "full")) };
        var latest = () => RestorePlanner.Find(sets, "testing", "redis", RestorePlanner.Latest, null);
        latest.Should().Throw<PipelineException>().WithMessage(
            "service 'redis' has only safety copies in testing (the newest: set P, trigger pre-restore): restore it with --backup latest-safety or --backup P");
        var safety = () => RestorePlanner.Find(sets, "testing", "postgres", RestorePlanner.LatestSafety, null);
        safety.Should().Throw<PipelineException>().WithMessage("no safety copy (pre-restore, pre-wipe) of service 'postgres' in testing: --backup latest takes its newest backup");
        var unknown = () => RestorePlanner.Find(sets, "testing", "postgres", "nope", null);
        unknown.Should().Throw<PipelineException>().WithMessage("no backup 'nope' of service 'postgres' in testing: --backup takes latest, latest-safety, a set id or a snapshot id*");
        var none = () => RestorePlanner.Find(sets, "testing", "postgres", RestorePlanner.Latest, BackupType.Schema);
        none.Should().Throw<PipelineException>().WithMessage("no backup of service 'postgres' of type schema in testing: run BackupService --service postgres --backup-type schema first*");
    }

    [Fact]
    public void Checks_take_the_newest_backup_of_every_member_across_sets()
    {
        // Fault 5: after BackupFull then BackupService --service postgres, only the postgres set was checked.
        var full = Set("full", 0, "BackupFull", Member("postgres", "full"), Member("redis", "rdb"), Member("qdrant", "volume", "qdrant_data"), Member("config", "config"));
        var postgres = Set("pg", 1, "BackupService", Member("postgres", "full"));
        var safety = Set("safety", 2, "pre-restore", Member("redis", "rdb"));
        var failedRedis = Set("failed", 3, "BackupService", Member("redis", "rdb", status: MemberStatus.Failed));
        var entries = new[] { full, postgres, safety, failedRedis }.Select(Entry).ToList();

        var chosen = BackupSelection.NewestOfEach(entries, ["postgres/full", "redis/rdb", "qdrant/qdrant_data", "minio/minio_data", "config/config"]);
        chosen.Select(c => (c.Member.Key, c.Set)).Should().Equal(
            ("postgres/full", "pg"), ("redis/rdb", "full"), ("qdrant/qdrant_data", "full"), ("config/config", "full"));
        BackupSelection.Describe(chosen).Should().Be("pg (postgres/full); full (redis/rdb, qdrant/qdrant_data, config/config)");
        BackupSelection.OfSet(Entry(full)).Select(c => c.Member.Key).Should().Equal("postgres/full", "redis/rdb", "qdrant/qdrant_data", "config/config");
    }

    [Fact]
    public void A_check_takes_one_sets_members_when_asked_else_the_newest_of_every_member_and_says_when_there_is_nothing()
    {
        var full = Set("full", 0, "BackupFull", Member("postgres", "full"), Member("redis", "rdb"), Member("qdrant", "volume", "qdrant_data", MemberStatus.Skipped), Member("config", "config"));
        var postgres = Set("pg", 1, "BackupService", Member("postgres", "full"));
        var entries = new[] { full, postgres }.Select(Entry).ToList();
        var plan = BackupFixtures.Plan();

        BackupSelection.Choose(entries, plan, null, "verify").Select(c => (c.Member.Key, c.Set)).Should().Equal(
            ("postgres/full", "pg"), ("redis/rdb", "full"), ("config/config", "full"));
        BackupSelection.Choose(entries, plan, "full", "verify").Select(c => c.Member.Key).Should().Equal("postgres/full", "redis/rdb", "config/config");
        var unknown = () => BackupSelection.Choose(entries, plan, "nope", "verify");
        unknown.Should().Throw<PipelineException>().WithMessage("no backup set 'nope' in testing: BackupList shows the sets");
        var none = () => BackupSelection.Choose([Entry(Set("P", 0, "pre-restore", Member("redis", "rdb")))], plan, null, "test");
        none.Should().Throw<PipelineException>().WithMessage("no backup of testing to test: run BackupFull first");
    }

    private static ResticSnapshot Snapshot(string id, DateTimeOffset time, params string[] tags) => new(id, id[..4], time, ["/x"], ["llmstack", "env=testing", .. tags], "multimodal-testing");

    [Fact]
    public void Orphaned_members_are_the_sets_without_a_manifest_removed_at_once_only_when_their_run_on_this_host_ended()
    {
        var now = T0.AddHours(5);
        var host = System.Environment.MachineName;
        var snapshots = new[]
        {
            Snapshot("aaaa1", T0, "kind=member", "set=done", "service=postgres", "type=full", "part=db.dump", $"run={host}/1"),
            Snapshot("aaaa2", T0, "kind=set", "set=done", "trigger=BackupFull"),
            Snapshot("bbbb1", T0.AddHours(1), "kind=member", "set=killed", "service=postgres", "type=full", "part=db.dump", $"run={host}/2"),
            Snapshot("bbbb2", T0.AddHours(1), "kind=member", "set=killed", "service=redis", "type=rdb", "part=dump.rdb", $"run={host}/2"),
            Snapshot("cccc1", T0.AddHours(4), "kind=member", "set=running", "service=postgres", "type=full", "part=db.dump", $"run={host}/3"),
            Snapshot("dddd1", T0.AddHours(4), "kind=member", "set=elsewhere", "service=postgres", "type=full", "part=db.dump", "run=other-host/2"),
            Snapshot("eeee1", T0.AddDays(-3), "kind=member", "set=ancient", "service=postgres", "type=full", "part=db.dump"),
            Snapshot("ffff1", T0.AddHours(4), "kind=member", "set=untagged", "service=postgres", "type=full", "part=db.dump"),
            Snapshot("gggg1", T0.AddHours(4), "kind=member", "set=now", "service=postgres", "type=full", "part=db.dump", $"run={host}/4"),
            Snapshot("hhhh1", T0, "kind=archive", "service=postgres"),
            new ResticSnapshot("iiii1", "iiii", T0, ["/x"], ["llmstack", "env=staging", "kind=member", "set=other-env"], "multimodal-staging"),
        };
        // Run 2 of this host has ended; the others still run (another host's runs are never judged ended).
        bool Alive(string run) => run != $"{host}/2";

        var orphans = BackupOrphans.Find(snapshots, "testing", now, Alive, writing: "now");
        orphans.Select(o => (o.Set, o.Removable)).Should().Equal(
            ("ancient", true), ("killed", true), ("running", false), ("elsewhere", false), ("untagged", false));
        orphans.Single(o => o.Set == "killed").Snapshots.Select(s => s.Id).Should().Equal("bbbb1", "bbbb2");
        orphans.Single(o => o.Set == "killed").Why.Should().Be($"its run ({host}/2) has ended");
        orphans.Single(o => o.Set == "elsewhere").Why.Should().Contain("may still be writing it");
        BackupOrphans.Describe(orphans.Where(o => o.Set == "killed")).Should().Be("killed (2: postgres/full db.dump, redis/rdb dump.rdb)");
        BackupOrphans.Find(snapshots, "testing", T0.AddDays(3), _ => true).Where(o => o.Removable).Select(o => o.Set)
            .Should().BeEquivalentTo(["ancient", "killed", "running", "elsewhere", "untagged", "now"], "after the grace period every set without a manifest goes");
    }

    [Theory]
    [InlineData("10%")]
    [InlineData("2.5%")]
    [InlineData("100%")]
    [InlineData("1/10")]
    [InlineData("5/5")]
    [InlineData("500M")]
    [InlineData("2G")]
    [InlineData("1024")]
    [InlineData("0")]
    public void Read_data_subsets_restic_accepts_pass(string subset) => BackupVerifier.CheckReadDataSubset(subset).Should().Be(subset);

    [Theory]
    [InlineData("200%")]
    [InlineData("0%")]
    [InlineData("-5%")]
    [InlineData("11/10")]
    [InlineData("0/10")]
    [InlineData("1/0")]
    [InlineData("ten percent")]
    [InlineData("5X")]
    [InlineData("")]
    public void A_read_data_subset_restic_would_refuse_is_one_line_naming_what_is_accepted(string subset)
    {
        var check = () => BackupVerifier.CheckReadDataSubset(subset);
        check.Should().Throw<PipelineException>().WithMessage(
            $"--read-data-subset '{subset}' is not a share restic can read back: use n/t with 1 ≤ n ≤ t (1/10), p% with 0 < p ≤ 100 (10%, 2.5%), a size (500M, 2G), or 0 for the metadata only");
    }

    [Fact]
    public void A_service_or_type_that_does_not_exist_is_one_line_naming_the_allowed_values()
    {
        var schema = new SchemaFile(Repository.Root, "schemas/compose-schema.yaml");
        var config = BackupConfigLoader.LoadValid(Path.Combine(Repository.Root, BackupConfigLoader.DefaultPath), BackupConfigLoader.DefaultPath, schema.Load());
        var plan = BackupPlanner.Plan(config, schema.Resolve("testing"), LlmStack.Sessions.StatePaths.Of("/repo"));

        var nope = () => plan.For("nope", null);
        nope.Should().Throw<PipelineException>().WithMessage("there is no service 'nope' in testing: --service takes one of postgres, redis, *, config (the services with backups)");
        var rdb = () => plan.For("qdrant", "rdb");
        rdb.Should().Throw<PipelineException>().WithMessage("service 'qdrant' has no backup type 'rdb': --backup-type takes volume for qdrant");
        plan.For("config", null).Should().ContainSingle().Which.Key.Should().Be("config/config");
    }
}
