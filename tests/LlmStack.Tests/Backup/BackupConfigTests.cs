using LlmStack.Backup;
using LlmStack.Engine;
using LlmStack.Lifecycle;
using LlmStack.Pipeline;
using LlmStack.Schema;
using LlmStack.Sessions;

namespace LlmStack.Tests.Backup;

/// <summary>configs/backup-strategies.yaml: validation with positions, the per-environment plan, and the tag scheme.</summary>
public sealed class BackupConfigTests : IDisposable
{
    private static readonly SchemaFile SchemaFile = new(Repository.Root, "schemas/compose-schema.yaml");
    private static readonly string RealConfig = File.ReadAllText(Path.Combine(Repository.Root, BackupConfigLoader.DefaultPath));
    private readonly string _directory = Repository.TempDirectory("backup-config");

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private (BackupConfig? Config, IReadOnlyList<Diagnostic> Diagnostics) Load(string yaml)
    {
        var path = Path.Combine(_directory, "backup.yaml");
        File.WriteAllText(path, yaml);
        return BackupConfigLoader.Load(path, "backup.yaml", SchemaFile.Load());
    }

    private static (string Yaml, string? Position) Edit(params (string From, string To)[] edits) => ConfigEdit.Apply(RealConfig, edits);

    [Fact]
    public void The_shipped_configuration_is_valid()
    {
        var (config, diagnostics) = Load(RealConfig);
        diagnostics.Should().BeEmpty();
        config!.Environments.Keys.Should().BeEquivalentTo(SchemaFile.Load().Environments.Keys);
    }

    public static TheoryData<string, (string, string)[]> Broken => new()
    {
        { "unknown key 'shedule' in environment 'staging'", [("  staging:\n    schedule:", "  staging:\n    ⟦shedule:")] },
        { "environment 'staging': schedule '0 3 * *' is not a cron expression", [("    schedule: \"0 3 * * *\"", "    ⟦schedule: \"0 3 * *\"")] },
        { "environment 'testing': schedule '0 25 * * *' is not a cron expression", [("    schedule: \"0 4 * * *\"", "    ⟦schedule: \"0 25 * * *\"")] },
        { "environment 'production' uses undefined tier 'offsite'", [("    schedule: \"0 1 * * *\"\n    tiers: [local]", "    schedule: \"0 1 * * *\"\n    tiers: [local, ⟦offsite]")] },
        { "environment 'qa' is not in the schema", [("environments:\n", "environments:\n  ⟦qa:\n    schedule: \"0 5 * * *\"\n    tiers: [local]\n")] },
        { "tier 'local': kind must be one of local, remote, cloud, tape, not 'nfs'", [("    kind: local", "    ⟦kind: nfs")] },
        { "tier 'offsite' (cloud) needs a repository like s3:https://host/bucket/prefix", [("tiers:\n", "tiers:\n  offsite:\n    kind: cloud\n    ⟦repository: https://s3.example.com/bucket\n    credentials: s3.env\n")] },
        { "tier 'local': repository is for remote and cloud tiers, not local", [("    path: backups", "    path: backups\n    ⟦repository: rest:http://x")] },
        { "environment 'staging': the first tier receives every backup and is copied to the others, so it must be local or remote, not tape",
            [("tiers:\n", "tiers:\n  lto:\n    kind: tape\n    path: /dev/nst0\n"), ("  staging:\n    schedule: \"0 3 * * *\"\n    tiers: [local]", "  staging:\n    schedule: \"0 3 * * *\"\n    tiers: [⟦lto, local]")] },
        { "service 'postgress' is not in the schema", [("  postgres:\n    method: postgres", "  ⟦postgress:\n    method: postgres")] },
        { "service 'redis': method redis has no type 'snapshot'", [("    types: [rdb, aof]", "    types: [rdb, ⟦snapshot]")] },
        { "service 'qdrant': method must be one of postgres, redis, volume, none, not 'rsync'", [("  qdrant:\n    method: volume", "  qdrant:\n    ⟦method: rsync")] },
        { "service 'minio': mode must be pause or stop, not 'freeze'", [("  minio:\n    method: volume\n    mode: pause", "  minio:\n    method: volume\n    ⟦mode: freeze")] },
        { "service 'n8n-monitoring': method none needs a reason", [("  n8n-monitoring:\n    method: none\n    reason: metrics cache, rebuilt on start", "  ⟦n8n-monitoring:\n    method: none")] },
        { "'types' of service 'postgres' must be a list, not 'full'", [("    types: [full, schema, data]", "    types: ⟦full")] },
        { "environment 'staging': runner_labels is empty: drop it for the default [self-hosted, llmstack, staging]", [("  staging:\n    schedule: \"0 3 * * *\"\n    tiers: [local]", "  staging:\n    schedule: \"0 3 * * *\"\n    tiers: [local]\n    ⟦runner_labels: []")] },
        { "environment 'staging': runner label 'gpu box' must be one word without spaces or commas", [("  staging:\n    schedule: \"0 3 * * *\"\n    tiers: [local]", "  staging:\n    schedule: \"0 3 * * *\"\n    tiers: [local]\n    runner_labels: [self-hosted, ⟦gpu box]")] },
        { "environment 'staging' lists a runner label twice (labels ignore case)", [("  staging:\n    schedule: \"0 3 * * *\"\n    tiers: [local]", "  staging:\n    schedule: \"0 3 * * *\"\n    tiers: [local]\n    ⟦runner_labels: [self-hosted, Self-Hosted]")] },
        { "environment 'staging': drift_schedule 'every six hours' is not a cron expression", [("  staging:\n    schedule: \"0 3 * * *\"\n    tiers: [local]", "  staging:\n    schedule: \"0 3 * * *\"\n    tiers: [local]\n    ⟦drift_schedule: every six hours")] },
        { "restore_test.schedule '0 6 * *' is not a cron expression", [("# restore_test:\n#   test_environment: testing\n#   schedule: \"0 6 * * 0\"", "restore_test:\n  test_environment: testing\n  ⟦schedule: \"0 6 * *\"")] },
        { "volume_reader must be one of auto, host, helper, not 'sideways'", [("volume_reader: auto", "⟦volume_reader: sideways")] },
        { "restic_image 'restic restic' is not an image reference", [("restic_image: restic/restic:0.14.0", "⟦restic_image: restic restic")] },
        { "environment 'development' of the schema has no backup settings", [("  development:\n    schedule: \"0 2 * * *\"\n    tiers: [local]\n", string.Empty), ("environments:", "⟦environments:")] },
    };

    [Theory]
    [MemberData(nameof(Broken))]
    public void Each_broken_configuration_reports_its_problem_at_its_position(string message, (string, string)[] edits)
    {
        var (yaml, position) = Edit(edits);
        position.Should().NotBeNull();
        var rendered = Load(yaml).Diagnostics.Select(d => d.ToString()).ToList();
        rendered.Should().Contain(d => d.StartsWith($"backup.yaml:{position}: error: ", StringComparison.Ordinal) && d.Contains(message, StringComparison.Ordinal),
            $"expected '{message}' at {position}; got:\n{string.Join('\n', rendered)}");
    }

    /// <summary>Every kind of name the backup configuration refers by: undefined is an error at the name, with the closest defined name.</summary>
    public static TheoryData<string, (string, string)[]> Unresolved => new()
    {
        { "environment 'production' uses undefined tier 'locl' (did you mean 'local'?)", [("    schedule: \"0 1 * * *\"\n    tiers: [local]", "    schedule: \"0 1 * * *\"\n    tiers: [⟦locl]")] },
        { "environment 'stagin' is not in the schema (did you mean 'staging'?)", [("environments:\n", "environments:\n  ⟦stagin:\n    schedule: \"0 5 * * *\"\n    tiers: [local]\n")] },
        { "service 'postgress' is not in the schema (did you mean 'postgres'?)", [("  postgres:\n    method: postgres", "  ⟦postgress:\n    method: postgres")] },
        { "restore_test.test_environment 'testin' is not an environment of the schema (did you mean 'testing'?)", [("# restore_test:\n#   test_environment: testing\n#   schedule: \"0 6 * * 0\"", "restore_test:\n  ⟦test_environment: testin")] },
    };

    [Theory]
    [MemberData(nameof(Unresolved))]
    public void Every_name_that_refers_to_nothing_is_an_error_at_the_name_with_the_closest_name(string message, (string, string)[] edits)
    {
        var (yaml, position) = Edit(edits);
        var rendered = Load(yaml).Diagnostics.Select(d => d.ToString()).ToList();
        rendered.Should().Contain($"backup.yaml:{position}: error: {message}", $"got:\n{string.Join('\n', rendered)}");
    }

    [Fact]
    public void Malformed_yaml_is_one_error_with_its_position()
    {
        var (yaml, _) = Edit(("    types: [rdb, aof]", "    types: [rdb, aof"));
        var (config, diagnostics) = Load(yaml);
        config.Should().BeNull();
        diagnostics.Should().ContainSingle().Which.ToString().Should().MatchRegex(@"^backup\.yaml:\d+:\d+: error: malformed YAML");
    }

    [Fact]
    public void A_tab_in_the_indentation_is_reported_at_the_tab()
    {
        var (yaml, position) = Edit(("  redis:\n    method: redis\n    types: [rdb, aof]", "  redis:\n    method: redis\n⟦\t   types: [rdb, aof]"));
        var (config, diagnostics) = Load(yaml);
        config.Should().BeNull();
        diagnostics.Should().ContainSingle().Which.ToString().Should().Be($"backup.yaml:{position}: error: malformed YAML: a tab in the indentation: YAML indents with spaces only");
    }

    [Fact]
    public void The_testing_plan_backs_up_every_data_service_in_dependency_order()
    {
        var testing = SchemaFile.Resolve("testing");
        var config = BackupConfigLoader.LoadValid(Path.Combine(Repository.Root, BackupConfigLoader.DefaultPath), BackupConfigLoader.DefaultPath, SchemaFile.Load());
        var plan = BackupPlanner.Plan(config, testing, StatePaths.Of("/repo"));

        plan.Primary.Repository.Should().Be("/repo/backups/testing");
        plan.Schedule.Should().Be("0 4 * * *");
        plan.Members.Select(m => m.Key).Should().Equal(
            "postgres/full", "redis/rdb", "qdrant/qdrant_data", "minio/minio_data", "vllm/vllm_cache", "openwebui/openwebui_data", "n8n/n8n_data",
            "allure-results/allure_results", "allure-results/allure_history", "prometheus/prometheus_data", "grafana/grafana_data", "elasticsearch/elasticsearch_data",
            "config/config");
        plan.NotBackedUp.Keys.Should().BeEquivalentTo("multimodal-worker", "n8n-monitoring");

        var allure = plan.Members.Single(m => m.Volume == "allure_results");
        allure.VolumeName.Should().Be("multimodal-testing_allure_results");
        allure.Writers.Should().BeEquivalentTo("allure-results", "allure-report", "allure-cli");
        allure.Mode.Should().Be(SuspendMode.Pause);
    }

    [Fact]
    public void Each_tier_keeps_the_environment_in_a_place_of_its_own_relative_paths_under_the_state_directory()
    {
        var state = StatePaths.Of("/repo", "/var/lib/llmstack");
        BackupPlanner.Resolve("remote", new TierDefinition { Kind = "remote", Repository = "rest:http://10.0.0.5:8000/" }, "staging", state).Repository
            .Should().Be("rest:http://10.0.0.5:8000/staging");
        var cloud = BackupPlanner.Resolve("cloud", new TierDefinition { Kind = "cloud", Repository = "s3:https://s3.example.com/bucket/llm", Credentials = "s3.env", CaFile = "ca.pem" },
            "staging", StatePaths.Of("/repo", "/var/lib/llmstack", "/etc/llmstack/secrets"));
        cloud.Repository.Should().Be("s3:https://s3.example.com/bucket/llm/staging");
        cloud.CredentialsFile.Should().Be("/etc/llmstack/secrets/s3.env");
        cloud.CaFile.Should().Be("/repo/ca.pem", "a CA file is an input of the repository, not state");
        cloud.IsPath.Should().BeFalse();
        BackupPlanner.Resolve("cloud", new TierDefinition { Kind = "cloud", Repository = "s3:https://s3.example.com/bucket/llm", Credentials = "s3.env" }, "staging", state)
            .CredentialsFile.Should().Be("/var/lib/llmstack/secrets/s3.env", "the secrets directory defaults to the state directory's secrets/");
        var share = BackupPlanner.Resolve("nfs", new TierDefinition { Kind = "remote", Repository = "/mnt/backup-server/llmstack" }, "staging", state);
        share.Repository.Should().Be("/mnt/backup-server/llmstack/staging");
        share.IsPath.Should().BeTrue();
        BackupPlanner.Resolve("nas", new TierDefinition { Kind = "remote", Repository = "mounted/nas" }, "staging", state).Repository.Should().Be("/var/lib/llmstack/mounted/nas/staging");
        BackupPlanner.Resolve("local", new TierDefinition { Kind = "local", Path = "backups" }, "staging", state).Repository.Should().Be("/var/lib/llmstack/backups/staging");
        var tape = BackupPlanner.Resolve("tape", new TierDefinition { Kind = "tape", Path = "/srv/tape" }, "staging", state);
        tape.Catalog.Should().Be("/var/lib/llmstack/backups/tape-catalog/staging");
        tape.IsRepository.Should().BeFalse();
        BackupPlanner.Resolve("tape", new TierDefinition { Kind = "tape", Path = "/srv/tape", Catalog = "/srv/catalog" }, "staging", state).Catalog.Should().Be("/srv/catalog/staging");
    }

    [Fact]
    public void BackupService_picks_a_services_members_and_checks_the_type()
    {
        var config = BackupConfigLoader.LoadValid(Path.Combine(Repository.Root, BackupConfigLoader.DefaultPath), BackupConfigLoader.DefaultPath, SchemaFile.Load());
        var plan = BackupPlanner.Plan(config, SchemaFile.Resolve("testing"), StatePaths.Of("/repo"));

        plan.For("postgres", null).Should().ContainSingle().Which.Type.Should().Be(BackupType.Full);
        plan.For("postgres", "schema").Should().ContainSingle().Which.Type.Should().Be(BackupType.Schema);
        plan.For("allure-results", null).Select(m => m.Volume).Should().Equal("allure_results", "allure_history");
        var wrongType = () => plan.For("redis", "full");
        wrongType.Should().Throw<PipelineException>().WithMessage("service 'redis' has no backup type 'full': --backup-type takes rdb, aof for redis");
        var none = () => plan.For("multimodal-worker", null);
        none.Should().Throw<PipelineException>().WithMessage("service 'multimodal-worker' is not backed up in testing: processing cache, rebuilt on demand*");
        var stateless = () => plan.For("litellm", null);
        stateless.Should().Throw<PipelineException>().WithMessage("service 'litellm' holds no data to back up in testing*");
    }

    [Fact]
    public void Snapshots_are_tagged_and_named_so_that_restic_deduplicates_day_after_day()
    {
        BackupTags.Member("testing", "20261129T201500Z-3fa2", "1.0.0", "postgres", BackupType.Full, "db-multimodal.dump", "host/42").Should().Equal(
            "llmstack", "kind=member", "env=testing", "set=20261129T201500Z-3fa2", "version=1.0.0", "service=postgres", "type=full", "part=db-multimodal.dump", "run=host/42");
        BackupTags.Set("testing", "s", "1.0.0", BackupTrigger.BackupFull, SetStatus.Complete).Should().Contain("kind=set").And.Contain("status=complete").And.Contain("trigger=BackupFull");
        BackupTags.PartPath("postgres", BackupType.Full, "db-multimodal.dump").Should().Be("/postgres/full/db-multimodal.dump", "the same path every day");
        BackupTags.SafeName("my db/ü").Should().Be("my_db__");
        BackupSetManifest.ManifestPath("x").Should().Be("/llmstack/sets/x.json");

        var id = BackupSetManifest.NewSetId(new DateTimeOffset(2026, 11, 29, 20, 15, 0, TimeSpan.FromHours(1)));
        id.Should().MatchRegex("^20261129T191500Z-[0-9a-f]{4}$", "UTC, sortable, with a random suffix");
    }

    [Fact]
    public void A_manifest_survives_its_json_round_trip_and_knows_when_it_is_complete()
    {
        var manifest = new BackupSetManifest("s", "testing", "multimodal-testing", "local", BackupTrigger.BackupFull, DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch, "1.0.0",
            SetStatus.Complete,
            [new MemberResult("postgres", BackupMethod.Postgres, BackupType.Full, null, MemberStatus.Ok, null, [new BackupPart("db-x.dump", "abc", "/postgres/full/db-x.dump", 10, 5, 0.5) { Source = "x" }], null)]);
        var back = BackupSetManifest.FromJson(manifest.ToJson());
        back.IsComplete.Should().BeTrue();
        back.Members.Single().Parts.Single().Source.Should().Be("x");
        back.Members.Single().Bytes.Should().Be(10);
    }
}
