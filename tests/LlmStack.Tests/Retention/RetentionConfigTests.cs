using FluentAssertions;
using LlmStack.Backup;
using LlmStack.Pipeline;
using LlmStack.Retention;
using LlmStack.Schema;
using Xunit;

namespace LlmStack.Tests.Retention;

/// <summary>configs/retention-policies.yaml: validation with positions; RetentionSimulate's input and output.</summary>
public sealed class RetentionConfigTests : IDisposable
{
    private static readonly SchemaFile SchemaFile = new(Repository.Root, "schemas/compose-schema.yaml");
    private static readonly string RealConfig = File.ReadAllText(Path.Combine(Repository.Root, RetentionConfigLoader.DefaultPath));
    private static readonly BackupConfig Backup = BackupConfigLoader.LoadValid(Path.Combine(Repository.Root, BackupConfigLoader.DefaultPath), BackupConfigLoader.DefaultPath, SchemaFile.Load());
    private readonly string _directory = Repository.TempDirectory("retention-config");

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private (RetentionConfig? Config, IReadOnlyList<Diagnostic> Diagnostics) Load(string yaml)
    {
        var path = Path.Combine(_directory, "retention.yaml");
        File.WriteAllText(path, yaml);
        return RetentionConfigLoader.Load(path, "retention.yaml", SchemaFile.Load(), Backup);
    }

    [Fact]
    public void The_shipped_configuration_is_valid_and_holds_the_old_defaults()
    {
        var (config, diagnostics) = Load(RealConfig);
        diagnostics.Should().BeEmpty();
        config!.Environments.Keys.Should().BeEquivalentTo(SchemaFile.Load().Environments.Keys);
        config.Environments.ToDictionary(e => e.Key, e => e.Value.DataRetentionDays).Should().BeEquivalentTo(
            new Dictionary<string, int?> { ["development"] = 7, ["staging"] = 14, ["production"] = 90, ["testing"] = 3 });
        config.Policies.ToDictionary(p => p.Key, p => p.Value.KeepWithin).Should().BeEquivalentTo(
            new Dictionary<string, string?> { ["local"] = "7d", ["remote"] = "30d", ["cloud"] = "90d", ["tape"] = "1y" });
    }

    public static TheoryData<string, (string, string)[]> Broken => new()
    {
        { "policy 'local': keep_within: '7 days' is not a duration", [("    keep_within: 7d", "    ⟦keep_within: 7 days")] },
        { "policy 'local' has no keep rule: an empty policy would remove every backup", [("  local:\n    keep_within: 7d", "  ⟦local:\n    keep_last: 0")] },
        { "policy 'remote': keep_daily must be 0 or more, or -1 for unlimited", [("    keep_within: 30d", "    keep_within: 30d\n    ⟦keep_daily: -2")] },
        { "tier 'local' uses policy 'glacier', which is not defined under policies (defined: local, remote, cloud, tape)", [("  local: local\n", "  ⟦local: glacier\n")] },
        { "environment 'production': schedule '0 3 * *' is not a cron expression", [("    schedule: \"0 3 * * 0\"", "    ⟦schedule: \"0 3 * *\"")] },
        { "environment 'testing': min_keep must be 1 or more", [("    min_keep: 1", "    ⟦min_keep: 0")] },
        { "environment 'qa' is not in the schema", [("environments:\n", "environments:\n  ⟦qa:\n    min_keep: 1\n")] },
        { "prune.when_unused_above 'ten' must be a percentage like 10%", [("  when_unused_above: 10%", "  ⟦when_unused_above: ten")] },
        { "prune.schedule 'sundays' is not a cron expression", [("  schedule: \"0 5 * * 0\"", "  ⟦schedule: sundays")] },
        { "unknown key 'keep_dayly' in policy 'tape'", [("    keep_within: 1y", "    keep_within: 1y\n    ⟦keep_dayly: 7")] },
        { "service 'postgress' is not in the schema", [("services:\n  postgres:", "services:\n  ⟦postgress:")] },
        { "service 'postgres', table 1: table 'logs; DROP TABLE x' must be a plain SQL name", [("      - table: logs", "      - ⟦table: logs; DROP TABLE x")] },
        { "service 'postgres', table 2: date_column 'a.b' must be a plain SQL name", [("        date_column: created_at\n        days: 1", "        ⟦date_column: a.b\n        days: 1")] },
        { "service 'postgres', table 3: strategy must be delete_old_rows or archive_then_delete, not 'truncate'", [("        strategy: archive_then_delete", "        ⟦strategy: truncate")] },
        { "service 'postgres', table 1: days must be 1 or more", [("        days: 7", "        ⟦days: 0")] },
        { "service 'vllm', files 1: service 'vllm' does not mount volume 'minio_data' (it mounts vllm_cache)", [("  vllm:\n    models:", "  vllm:\n    files:\n      - ⟦volume: minio_data\n    models:")] },
        { "service 'vllm', models: path '../other' must be relative to the volume's root, without '..'", [("      path: huggingface/hub", "      ⟦path: ../other")] },
        { "service 'grafana', tsdb: its command in the schema must carry --storage.tsdb.retention.time=${PROMETHEUS_RETENTION}", [("  prometheus:\n    tsdb:", "  grafana:\n    ⟦tsdb:")] },
        { "service 'redis', expire_keys 1: pattern is required", [("      - pattern: \"processing:*\"\n        databases: [0]", "      - ⟦databases: [0]")] },
        { "service 'redis', expire_keys 3: days must be 1 or more", [("        databases: [0]\n        days: 30", "        databases: [0]\n        ⟦days: 0")] },
        { "service 'redis', expire_keys 2: databases are numbers from 0", [("        databases: [0]\n        days: 7", "        ⟦databases: [-1]\n        days: 7")] },
    };

    [Theory]
    [MemberData(nameof(Broken))]
    public void Each_broken_configuration_reports_its_problem_at_its_position(string message, (string, string)[] edits)
    {
        var (yaml, position) = ConfigEdit.Apply(RealConfig, edits);
        position.Should().NotBeNull();
        var rendered = Load(yaml).Diagnostics.Select(d => d.ToString()).ToList();
        rendered.Should().Contain(d => d.StartsWith($"retention.yaml:{position}: error: ", StringComparison.Ordinal) && d.Contains(message, StringComparison.Ordinal),
            $"expected '{message}' at {position}; got:\n{string.Join('\n', rendered)}");
    }

    /// <summary>Every kind of name the retention configuration refers by: undefined is an error at the name, with the closest defined name.</summary>
    public static TheoryData<string, (string, string)[]> Unresolved => new()
    {
        { "tier 'locla' is not a tier of configs/backup-strategies.yaml (did you mean 'local'?): its policy would apply to nothing", [("tiers:\n  local: local", "tiers:\n  ⟦locla: local")] },
        { "environment 'staging': tier 'lcoal' is not a tier of configs/backup-strategies.yaml (did you mean 'local'?): its policy would apply to nothing",
            [("  staging:\n    schedule: \"0 2 * * *\"", "  staging:\n    schedule: \"0 2 * * *\"\n    tiers:\n      ⟦lcoal: remote")] },
        { "tier 'local' uses policy 'locl', which is not defined under policies (did you mean 'local'?)", [("  local: local\n", "  ⟦local: locl\n")] },
        { "environment 'stagin' is not in the schema (did you mean 'staging'?)", [("environments:\n", "environments:\n  ⟦stagin:\n    min_keep: 1\n")] },
        { "service 'postgress' is not in the schema (did you mean 'postgres'?)", [("services:\n  postgres:", "services:\n  ⟦postgress:")] },
        { "service 'vllm', models: service 'vllm' does not mount volume 'vllm_cahce' (it mounts vllm_cache)", [("      volume: vllm_cache", "      ⟦volume: vllm_cahce")] },
    };

    [Theory]
    [MemberData(nameof(Unresolved))]
    public void Every_name_that_refers_to_nothing_is_an_error_at_the_name_with_the_closest_name(string message, (string, string)[] edits)
    {
        var (yaml, position) = ConfigEdit.Apply(RealConfig, edits);
        var rendered = Load(yaml).Diagnostics.Select(d => d.ToString()).ToList();
        rendered.Should().Contain($"retention.yaml:{position}: error: {message}", $"got:\n{string.Join('\n', rendered)}");
    }

    [Fact]
    public void An_environments_tier_policy_names_one_of_the_environments_own_tiers()
    {
        var backupText = File.ReadAllText(Path.Combine(Repository.Root, BackupConfigLoader.DefaultPath))
            .Replace("    path: backups\n", "    path: backups\n  nas:\n    kind: remote\n    repository: /mnt/nas\n", StringComparison.Ordinal)
            .Replace("    tiers: [local]                # e.g.", "    tiers: [local, nas]                # e.g.", StringComparison.Ordinal);
        var backupPath = Path.Combine(_directory, "backup.yaml");
        File.WriteAllText(backupPath, backupText);
        var backup = BackupConfigLoader.LoadValid(backupPath, "configs/backup-strategies.yaml", SchemaFile.Load());
        var (yaml, position) = ConfigEdit.Apply(RealConfig,
            ("tiers:\n  local: local\n", "tiers:\n  local: local\n  nas: remote\n"),
            ("  staging:\n    schedule: \"0 2 * * *\"", "  staging:\n    schedule: \"0 2 * * *\"\n    tiers:\n      ⟦nas: local"));
        var path = Path.Combine(_directory, "retention.yaml");
        File.WriteAllText(path, yaml);

        var rendered = RetentionConfigLoader.Load(path, "retention.yaml", SchemaFile.Load(), backup).Diagnostics.Select(d => d.ToString()).ToList();

        rendered.Should().Equal($"retention.yaml:{position}: error: environment 'staging': tier 'nas' is not one of the environment's tiers in configs/backup-strategies.yaml (local): its policy would apply to nothing");
    }

    [Fact]
    public void A_tab_in_the_indentation_is_reported_at_the_tab()
    {
        var (yaml, position) = ConfigEdit.Apply(RealConfig, ("        days: 90", "  ⟦\t     days: 90"));
        var (config, diagnostics) = Load(yaml);
        config.Should().BeNull();
        diagnostics.Should().ContainSingle().Which.ToString().Should().Be($"retention.yaml:{position}: error: malformed YAML: a tab in the indentation: YAML indents with spaces only");
    }

    private string Backups(string json)
    {
        var path = Path.Combine(_directory, "backups.json");
        File.WriteAllText(path, json);
        return path;
    }

    private static PolicyArguments Arguments(int? last = null, int? monthly = null, string? within = null, IReadOnlyList<string>? tags = null) =>
        new(last, null, null, null, monthly, null, within, null, null, null, null, null, tags);

    private string Simulate(string backups, PolicyArguments arguments, string? policy = null, bool json = false, string environment = "production")
    {
        var output = new StringWriter();
        RetentionCommands.Simulate(new SimulateOptions(Repository.Root, backups, policy, RetentionConfigLoader.DefaultPath, environment, arguments), SchemaFile, new LlmStack.Reporting.ReportWriter(output, output, json));
        return output.ToString();
    }

    private const string Four = """
        [
          {"id": "acdde683", "time": "2024-01-04T20:20:32+01:00"},
          {"id": "209e47d4", "time": "2024-01-04T20:09:54+01:00", "tags": ["manual", "pre-upgrade"]},
          {"id": "ab49e6f7", "time": "2024-01-03T01:04:38+01:00", "verified": true},
          {"id": "8910a903", "time": "2024-01-02T13:42:44+01:00"}
        ]
        """;

    [Fact]
    public void Simulate_prints_json_with_keep_remove_and_the_reasons()
    {
        var json = System.Text.Json.JsonDocument.Parse(Simulate(Backups(Four), Arguments(monthly: 4, tags: ["manual,pre-upgrade", "other"]), json: true)).RootElement;
        json.GetProperty("keep").EnumerateArray().Select(e => e.GetString()).Should().Equal("acdde683", "209e47d4", "8910a903");
        json.GetProperty("remove").EnumerateArray().Select(e => e.GetString()).Should().Equal("ab49e6f7");
        json.GetProperty("reasons").GetProperty("209e47d4").EnumerateArray().Select(e => e.GetString()).Should().Equal("tag manual,pre-upgrade");
        json.GetProperty("reasons").GetProperty("8910a903").EnumerateArray().Select(e => e.GetString()).Should().Equal("oldest monthly");
    }

    [Fact]
    public void Simulate_with_a_policy_by_parameters_applies_restics_rules_only()
    {
        // keep-last 1: the verified backup goes, as restic would do.
        var text = Simulate(Backups(Four), Arguments(last: 1));
        text.Should().MatchRegex(@"ab49e6f7 .* remove").And.Contain("keep 1, remove 3 of 4").And.Contain("restic's rules only");
    }

    [Fact]
    public void Simulate_with_a_configured_policy_adds_the_safety_rules()
    {
        var backups = Backups("""
            [
              {"id": "new", "time": "2026-11-29T03:00:00+01:00"},
              {"id": "verified", "time": "2026-10-01T03:00:00+01:00", "verified": true},
              {"id": "old", "time": "2026-09-01T03:00:00+01:00"}
            ]
            """);
        var json = System.Text.Json.JsonDocument.Parse(Simulate(backups, Arguments(), policy: "local", json: true, environment: "testing")).RootElement;
        json.GetProperty("keep").EnumerateArray().Select(e => e.GetString()).Should().Equal("new", "verified");
        json.GetProperty("reasons").GetProperty("verified").EnumerateArray().Select(e => e.GetString()).Should().Equal("newest verified");
        json.GetProperty("reasons").GetProperty("new").EnumerateArray().Select(e => e.GetString()).Should().Equal("within 7d", "min_keep 1");
    }

    [Theory]
    [InlineData("""[{"id": "x", "time": "2026-11-29T03:00:00"}]""", "backups.json: backup [0] ('x'): \"time\" must be RFC 3339 with an offset")]
    [InlineData("""[{"time": "2026-11-29T03:00:00Z"}]""", "backups.json: backup [0] has no \"id\" string")]
    [InlineData("""[{"id": "x", "time": "2026-11-29T03:00:00Z"}, {"id": "x", "time": "2026-11-28T03:00:00Z"}]""", "backup [1]: id 'x' appears twice")]
    [InlineData("""[{"id": "x", "time": "2026-11-29T03:00:00Z", "verified": "yes"}]""", "\"verified\" must be true or false")]
    [InlineData("{\"id\": \"x\"}", "backups.json: expected a JSON array of backups")]
    [InlineData("[\n  {\"id\": \"x\",\n   \"time\": }\n]", "backups.json:3:12: malformed JSON")]
    public void A_bad_backups_file_is_one_line_naming_the_place(string json, string message)
    {
        Backups(json);
        var act = () => RetentionSimulator.Load(Path.Combine(_directory, "backups.json"), "backups.json");
        act.Should().Throw<PipelineException>().Which.Message.Should().Contain(message);
    }

    [Fact]
    public void Simulate_needs_exactly_one_kind_of_policy()
    {
        var backups = Backups(Four);
        var none = () => Simulate(backups, Arguments());
        none.Should().Throw<PipelineException>().WithMessage("give a policy*");
        var both = () => Simulate(backups, Arguments(last: 1), policy: "local");
        both.Should().Throw<PipelineException>().WithMessage("give either --policy NAME or --keep-* parameters, not both");
        var unknown = () => Simulate(backups, Arguments(), policy: "weekly");
        unknown.Should().Throw<PipelineException>().WithMessage("policy 'weekly' is not in configs/retention-policies.yaml*");
        var bad = () => Simulate(backups, Arguments(within: "2w"));
        bad.Should().Throw<PipelineException>().WithMessage("--keep-within: '2w' is not a duration*");
    }

    [Fact]
    public void The_tsdb_policy_reaches_the_resolved_environment_and_so_the_compose_file_and_the_container_command()
    {
        var path = Path.Combine(_directory, "retention.yaml");
        File.WriteAllText(path, RealConfig.Replace("  prometheus:\n    tsdb:\n      days: 15", "  prometheus:\n    tsdb:\n      days: 45", StringComparison.Ordinal));
        var schema = new SchemaFile(Repository.Root, "schemas/compose-schema.yaml") { Overlay = e => RetentionConfigLoader.Variables(path, "retention.yaml", SchemaFile.Load(), e) };
        var testing = schema.Resolve("testing");
        testing.Service("prometheus").Command.Should().Contain("--storage.tsdb.retention.time=45d");
        LlmStack.Compose.ComposeGenerator.Render(testing, null, Repository.Root, _directory).Should().Contain("--storage.tsdb.retention.time=45d");

        File.WriteAllText(path, RealConfig.Replace("  prometheus:\n    tsdb:\n      days: 15", "  prometheus:\n    tsdb: {}", StringComparison.Ordinal));
        new SchemaFile(Repository.Root, "schemas/compose-schema.yaml") { Overlay = e => RetentionConfigLoader.Variables(path, "retention.yaml", SchemaFile.Load(), e) }
            .Resolve("production").Service("prometheus").Command.Should().Contain("--storage.tsdb.retention.time=90d", "without days, the environment's data_retention_days");
        RetentionConfigLoader.Variables(Path.Combine(_directory, "absent.yaml"), "absent.yaml", SchemaFile.Load(), "testing").Should().BeEmpty();
    }

    [Fact]
    public void A_variable_set_by_another_configuration_must_be_declared_in_the_schema()
    {
        var schema = new SchemaFile(Repository.Root, "schemas/compose-schema.yaml") { Overlay = _ => new Dictionary<string, string> { ["NOT_DECLARED"] = "1" } };
        var act = () => schema.Resolve("testing");
        act.Should().Throw<SchemaException>().WithMessage("variable 'NOT_DECLARED' is set by another configuration but not declared in *");
    }
}
