using LlmStack.Backup;
using LlmStack.ChangeControl;
using LlmStack.Pipeline;
using static LlmStack.Tests.Backup.BackupFixtures;
using static LlmStack.Tests.Backup.BackupSelectionTests;

namespace LlmStack.Tests.Backup;

/// <summary>
/// The shape of a restore before the gate (which member of which set, the safety backup, the steps and the lines under
/// the table), without Docker or restic. Which backup <c>--backup</c> takes is in <see cref="BackupSelectionTests"/>.
/// </summary>
public sealed class RestorePlannerTests
{
    private static readonly BackupSetManifest Full = Set("20261129T030000Z-aaaa", 0, "BackupFull",
        Member("postgres", "full"), Member("redis", "rdb"), Member("qdrant", "volume", "qdrant_data"), Member("minio", "volume", "minio_data", MemberStatus.Skipped), Member("config", "config"));

    private static readonly BackupSetManifest Safety = Set("20261129T050000Z-bbbb", 2, "pre-restore", Member("redis", "rdb"));

    [Fact]
    public void Restore_takes_a_safety_copy_of_the_member_then_replaces_it_and_says_when_a_newer_safety_copy_exists()
    {
        var plan = RestorePlanner.Restore([Full, Safety], Plan(), "redis", RestorePlanner.Latest, null);

        plan.Summary.Should().Be("replace the data of redis/rdb");
        plan.Safety.Select(m => (m.Key, m.Type)).Should().Equal(("redis/rdb", BackupType.Rdb));
        RestorePlan.SafetyWhy.Should().Be("a safety copy of the current data (trigger pre-restore), put back if the restore fails or is cancelled");
        var step = plan.Steps.Should().ContainSingle().Subject;
        (step.Target.Set.Set, step.Target.Member.Key, step.Kind, step.Action).Should().Be(("20261129T030000Z-aaaa", "redis/rdb", ChangeKind.Redis, ChangeAction.Restore));
        step.Why.Should().Be("replace the current data with set 20261129T030000Z-aaaa (2026-11-29 03:00:00Z, rdb, trigger BackupFull)");
        step.Detail.Should().Be("10 B");
        plan.Notices.Should().Equal(
            "set 20261129T050000Z-bbbb (2026-11-29 05:00:00Z, trigger pre-restore) is newer than the chosen set 20261129T030000Z-aaaa: it is a safety copy of redis/rdb taken before a restore;"
            + " to put that back instead, use --backup latest-safety (or --backup 20261129T050000Z-bbbb)");

        var undo = RestorePlanner.Restore([Full, Safety], Plan(), "redis", RestorePlanner.LatestSafety, null);
        undo.Steps.Single().Why.Should().Be("replace the current data with set 20261129T050000Z-bbbb (2026-11-29 05:00:00Z, rdb, trigger pre-restore: a safety copy)");
        undo.Notices.Should().BeEmpty("the chosen set is the safety copy");
    }

    [Fact]
    public void A_newer_pre_wipe_copy_is_named_as_taken_before_a_wipe_and_a_type_restores_that_type()
    {
        var wipe = Set("20261129T060000Z-cccc", 3, "pre-wipe", Member("postgres", "full"));
        var schema = Set("20261129T040000Z-dddd", 1, "BackupService", Member("postgres", "schema"));
        var plan = RestorePlanner.Restore([Full, schema, wipe], Plan(), "postgres", RestorePlanner.Latest, BackupType.Full);

        plan.Steps.Single().Target.Set.Set.Should().Be("20261129T030000Z-aaaa");
        plan.Steps.Single().Kind.Should().Be(ChangeKind.Postgres);
        plan.Notices.Single().Should().Contain("taken before a wipe");
        var schemaPlan = RestorePlanner.Restore([Full, schema, wipe], Plan(), "postgres", RestorePlanner.Latest, BackupType.Schema);
        schemaPlan.Safety.Select(m => (m.Key, m.Type)).Should().Equal([("postgres/schema", BackupType.Schema)], "the safety copy is of the type restored");
        schemaPlan.Steps.Single().Why.Should().Contain(", schema, trigger BackupService)");
    }

    [Fact]
    public void Restoring_the_configuration_only_extracts_it_and_takes_no_safety_copy()
    {
        var plan = RestorePlanner.Restore([Full], Plan(), "config", RestorePlanner.Latest, null);

        plan.Safety.Should().BeEmpty();
        var step = plan.Steps.Single();
        (step.Kind, step.Action).Should().Be((ChangeKind.Config, ChangeAction.Extract));
        step.Why.Should().Be("into artifacts/restore/20261129T030000Z-aaaa/ (the checkout is not touched; set trigger BackupFull)");
    }

    [Fact]
    public void RestoreSet_restores_every_member_that_has_data_in_dependency_order_with_one_safety_copy_of_all_but_the_configuration()
    {
        var plan = RestorePlanner.RestoreSet([Full], Plan(), Full.Set, ["qdrant", "redis", "postgres", "config"]);

        plan.Steps.Select(s => (s.Target.Member.Key, s.Kind, s.Action)).Should().Equal(
            ("qdrant/qdrant_data", ChangeKind.Volume, ChangeAction.Restore),
            ("redis/rdb", ChangeKind.Redis, ChangeAction.Restore),
            ("postgres/full", ChangeKind.Postgres, ChangeAction.Restore),
            ("config/config", ChangeKind.Config, ChangeAction.Extract));
        plan.Safety.Select(m => m.Key).Should().Equal("qdrant/qdrant_data", "redis/rdb", "postgres/full");
        plan.Summary.Should().Be("replace the data of qdrant/qdrant_data, redis/rdb, postgres/full, config/config");
        plan.Notices.Should().BeEmpty();
    }

    [Fact]
    public void RestoreSet_of_an_incomplete_or_unknown_set_is_one_line_naming_what_to_do()
    {
        var failed = Set("20261129T040000Z-eeee", 1, "BackupFull", Member("postgres", "full"), Member("redis", "rdb", status: MemberStatus.Failed));
        var incomplete = () => RestorePlanner.RestoreSet([Full, failed], Plan(), failed.Set, ["postgres", "redis"]);
        incomplete.Should().Throw<PipelineException>().WithMessage(
            "backup set 20261129T040000Z-eeee is incomplete (failed: redis/rdb): restore its members one by one with Restore --service X --backup 20261129T040000Z-eeee");
        var unknown = () => RestorePlanner.RestoreSet([Full], Plan(), "nope", ["postgres"]);
        unknown.Should().Throw<PipelineException>().WithMessage("no backup set 'nope' in testing: BackupList shows the sets");
    }

    [Fact]
    public void A_member_whose_type_the_plan_no_longer_offers_is_refused_before_anything_runs()
    {
        var aof = Set("20261129T040000Z-ffff", 1, "BackupService", Member("redis", "aof"));
        var plan = Plan() with { Types = new Dictionary<string, IReadOnlyList<BackupType>>(Plan().Types) { ["redis"] = [BackupType.Rdb] } };
        var restore = () => RestorePlanner.Restore([aof], plan, "redis", aof.Set, null);
        restore.Should().Throw<PipelineException>().WithMessage("service 'redis' has no backup type 'aof': --backup-type takes rdb for redis");
    }
}
