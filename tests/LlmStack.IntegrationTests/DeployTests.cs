using System.Text.Json;
using System.Text.RegularExpressions;
using LlmStack.ChangeControl;
using LlmStack.Compose;
using YamlDotNet.RepresentationModel;

namespace LlmStack.IntegrationTests;

/// <summary>
/// Schema copies for the deploy tests: the testing environment with only its core stack, plus a small probe service a
/// copy can leave out (a service removed from the schema), a variable of redis, a minio that never gets healthy.
/// </summary>
public static class DeploySchemas
{
    public const string Probe = "plan-probe";

    public static string Write(string root, bool probe = true, string? redisVariable = null, bool failingMinio = false) => SchemaCopy.Write(root, schema =>
    {
        schema.Map("environments").Map("testing").Set("stacks", new YamlSequenceNode(new YamlScalarNode("core")));
        if (probe)
        {
            schema.Service(Probe).Set("image", new YamlScalarNode("alpine:3.20"));
            schema.Service(Probe).Set("description", new YamlScalarNode("A service the deploy tests remove"));
            ((YamlSequenceNode)schema.Map("stacks").Map("core")["services"]).Add(new YamlScalarNode(Probe));
        }

        if (redisVariable is not null)
        {
            schema.Service("redis").Map("environment").Set("LLMSTACK_PLAN_PROBE", new YamlScalarNode(redisVariable));
        }

        if (failingMinio)
        {
            schema.FailHealth("minio");
        }
    });
}

/// <summary>The testing environment's core stack and the probe service, converged once for the deploy tests.</summary>
public sealed class ConvergedCore : RunningStacks
{
    private readonly string _schema = DeploySchemas.Write(DockerFixture.FindRoot());

    public ConvergedCore()
        : base("StartCore")
    {
    }

    public override string SchemaPath => _schema;

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        File.Delete(_schema);
    }
}

/// <summary>
/// Plan, ExportState and Deploy on the real engine, against the converged core: "no changes" is exit 0, a change names
/// only the service and the variable (never its value), a removed service is removed, a snapshot plans as the engine
/// does, and Deploy applies exactly the plan (container ids prove it) and then has nothing to do.
/// </summary>
[Collection(TestLane.MainCollection)]
[Trait("Category", "Integration")]
public sealed class DeployTests(ConvergedCore core) : IClassFixture<ConvergedCore>, IDisposable
{
    private readonly string _scratch = Directory.CreateTempSubdirectory("llmstack-it-deploy-").FullName;
    private readonly List<Cli.Result> _runs = [];

    private DockerFixture Docker => core.Docker;

    private TestRun Build => new(Docker.Root)
    {
        EnvironmentVariables = new Dictionary<string, string> { [AuditLog.PathVariable] = AuditPath, [EnvironmentLock.DirectoryVariable] = LockDirectory },
        Recorded = _runs.Add,
    };

    private string AuditPath => Path.Combine(_scratch, "audit.jsonl");

    private string LockDirectory => Path.Combine(_scratch, "locks");

    private static string Container(string service) => TestNames.Container(service);

    /// <summary>The values of the testing environment's secrets file.</summary>
    private IReadOnlyList<string> SecretValues =>
        File.ReadAllLines(Path.Combine(Docker.Root, "secrets", "testing.env")).Where(l => l.Contains('=') && !l.StartsWith('#')).Select(l => l[(l.IndexOf('=') + 1)..]).ToList();

    public void Dispose()
    {
        // No run of these tests printed or logged a secret.
        foreach (var run in _runs)
        {
            foreach (var value in SecretValues)
            {
                run.Output.Should().NotContain(value);
                run.Log.Should().NotContain(value);
            }
        }

        Directory.Delete(_scratch, recursive: true);
    }

    private async Task<Dictionary<string, string>> IdsAsync() =>
        (await Docker.ContainersAsync("testing")).ToDictionary(c => c.Labels[Names.Service], c => c.ID);

    private async Task<Cli.Result> PlanAsync(string schema, params string[] arguments)
    {
        var plan = await Build.RunAsync(["Plan", "--schema", schema, .. arguments]);
        plan.ExitCode.Should().BeOneOf([0, 2], plan.ToString());
        return plan;
    }

    /// <summary>The plan's JSON document, parsed from standard output alone.</summary>
    private static JsonElement Json(Cli.Result run) => JsonDocument.Parse(run.StandardOutput).RootElement;

    private static Dictionary<string, string> Actions(JsonElement plan) =>
        plan.GetProperty("containers").EnumerateArray().ToDictionary(c => c.GetProperty("service").GetString()!, c => c.GetProperty("action").GetString()!);

    [Fact]
    public async Task A_converged_environment_plans_no_changes_with_exit_0_and_a_snapshot_of_it_plans_the_same()
    {
        var plan = await PlanAsync(core.SchemaPath);
        plan.ExitCode.Should().Be(0, plan.ToString());
        plan.Output.Should().Contain("No changes: environment testing matches the schema (5 container(s) unchanged).")
            .And.MatchRegex(@"core\s+multimodal-testing-redis-1\s+unchanged");

        var json = await PlanAsync(core.SchemaPath, "--json");
        json.ExitCode.Should().Be(0);
        Json(json).GetProperty("changes").GetBoolean().Should().BeFalse();
        Actions(Json(json)).Values.Should().HaveCount(5).And.OnlyContain(a => a == "unchanged");

        var snapshot = Path.Combine(_scratch, "state.json");
        var export = await Build.RunAsync("ExportState", "--schema", core.SchemaPath, "--snapshot", snapshot);
        export.ExitCode.Should().Be(0, export.ToString());
        var text = await File.ReadAllTextAsync(snapshot);
        foreach (var value in SecretValues)
        {
            text.Should().NotContain(value, "a snapshot holds no secret value");
        }

        var state = JsonDocument.Parse(text).RootElement;
        state.GetProperty("containers").GetArrayLength().Should().Be(5);
        state.GetProperty("containers")[0].GetProperty("labels").GetProperty(Names.ConfigDigests).GetString().Should().Contain("env:");
        state.GetProperty("images").EnumerateObject().Select(i => i.Name).Should().Contain("llmstack-fixture/postgres:15");

        var offline = await PlanAsync(core.SchemaPath, "--against", snapshot, "--json");
        offline.ExitCode.Should().Be(0, offline.ToString());
        offline.StandardOutput.Should().Be(json.StandardOutput);
    }

    [Fact]
    public async Task A_changed_variable_recreates_only_that_service_naming_the_variable_and_never_the_value()
    {
        var value = "plan-probe-value-" + Guid.NewGuid().ToString("N");
        var schema = DeploySchemas.Write(Docker.Root, redisVariable: value);
        try
        {
            var plan = await PlanAsync(schema);
            plan.ExitCode.Should().Be(2, plan.ToString());
            plan.Output.Should().MatchRegex($@"core\s+{Container("redis")}\s+recreate\s+definition changed\s+environment: LLMSTACK_PLAN_PROBE \(added\)")
                .And.Contain("Plan: 0 to create, 1 to recreate, 0 to remove; 4 unchanged.")
                .And.NotContain(value);
            plan.Log.Should().NotContain(value);

            var json = await PlanAsync(schema, "--json");
            json.ExitCode.Should().Be(2);
            json.StandardOutput.Should().NotContain(value);
            var actions = Actions(Json(json));
            actions["redis"].Should().Be("recreate");
            actions.Where(a => a.Key != "redis").Should().OnlyContain(a => a.Value == "unchanged");

            // Off the host: the snapshot of this engine plans the same.
            var snapshot = Path.Combine(_scratch, "state.json");
            (await Build.RunAsync("ExportState", "--schema", core.SchemaPath, "--snapshot", snapshot)).ExitCode.Should().Be(0);
            var offline = await PlanAsync(schema, "--against", snapshot, "--json");
            offline.ExitCode.Should().Be(2);
            offline.StandardOutput.Should().Be(json.StandardOutput);

            // The scheduled drift check: the same plan, a failure naming what differs (the report job's issue), no value.
            var drift = await Build.RunAsync("CheckDrift", "--schema", schema);
            drift.ExitCode.Should().Be(1, drift.ToString());
            drift.Output.Should().MatchRegex($@"{Container("redis")}\s+recreate\s+definition changed\s+environment: LLMSTACK_PLAN_PROBE \(added\)")
                .And.Contain("drift in environment testing: what runs differs from the schema (Plan: 0 to create, 1 to recreate, 0 to remove; 4 unchanged.)")
                .And.NotContain(value);
            var clean = await Build.RunAsync("CheckDrift", "--schema", core.SchemaPath);
            clean.ExitCode.Should().Be(0, clean.ToString());
            clean.Output.Should().Contain("No changes: environment testing matches the schema");
        }
        finally
        {
            File.Delete(schema);
        }
    }

    [Fact]
    public async Task A_rotated_secret_recreates_the_service_that_reads_it_naming_the_variable_and_neither_value()
    {
        var secrets = Path.Combine(_scratch, "secrets");
        Directory.CreateDirectory(secrets);
        var lines = await File.ReadAllLinesAsync(Path.Combine(Docker.Root, "secrets", "testing.env"));
        var old = lines.Single(l => l.StartsWith("MINIO_ROOT_PASSWORD=", StringComparison.Ordinal))["MINIO_ROOT_PASSWORD=".Length..];
        var rotated = "rotated-" + Guid.NewGuid().ToString("N");
        var file = Path.Combine(secrets, "testing.env");
        await File.WriteAllLinesAsync(file, lines.Select(l => l.StartsWith("MINIO_ROOT_PASSWORD=", StringComparison.Ordinal) ? "MINIO_ROOT_PASSWORD=" + rotated : l));
        File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        foreach (var arguments in new[] { Array.Empty<string>(), ["--json"] })
        {
            var plan = await PlanAsync(core.SchemaPath, ["--secrets-dir", secrets, .. arguments]);
            plan.ExitCode.Should().Be(2, plan.ToString());
            plan.Output.Should().Contain("MINIO_ROOT_PASSWORD").And.NotContain(old).And.NotContain(rotated);
            plan.Log.Should().NotContain(old).And.NotContain(rotated);
            plan.JsonLog.Should().NotContain(old).And.NotContain(rotated);
        }

        var table = await PlanAsync(core.SchemaPath, "--secrets-dir", secrets);
        table.Output.Should().MatchRegex($@"{Container("minio")}\s+recreate\s+definition changed\s+environment: MINIO_ROOT_PASSWORD \(changed\)");
    }

    [Fact]
    public async Task A_service_removed_from_the_schema_is_planned_for_removal()
    {
        var schema = DeploySchemas.Write(Docker.Root, probe: false);
        try
        {
            var plan = await PlanAsync(schema);
            plan.ExitCode.Should().Be(2, plan.ToString());
            plan.Output.Should().MatchRegex($@"core\s+{Container(DeploySchemas.Probe)}\s+remove\s+service {DeploySchemas.Probe} is not in stack core")
                .And.Contain("Plan: 0 to create, 0 to recreate, 1 to remove; 4 unchanged.");
        }
        finally
        {
            File.Delete(schema);
        }
    }

    [Fact]
    public async Task Deploy_applies_exactly_the_plan_and_a_second_deploy_is_a_no_op_that_takes_no_lock()
    {
        var target = DeploySchemas.Write(Docker.Root, probe: false, redisVariable: "1");
        try
        {
            var before = await IdsAsync();
            var planned = Actions(Json(await PlanAsync(target, "--json")));
            planned.Should().BeEquivalentTo(new Dictionary<string, string>
            {
                ["minio"] = "unchanged", ["postgres"] = "unchanged", ["qdrant"] = "unchanged", ["redis"] = "recreate", [DeploySchemas.Probe] = "remove",
            });

            var dry = await Build.RunAsync("Deploy", "--schema", target, "--dry-run");
            dry.ExitCode.Should().Be(0, dry.ToString());
            dry.Output.Should().MatchRegex($@"container\s+{Container("redis")}\s+environment: LLMSTACK_PLAN_PROBE \(added\)\s+would recreate")
                .And.MatchRegex($@"container\s+{Container(DeploySchemas.Probe)}\s+-\s+would remove");
            (await IdsAsync()).Should().Equal(before, "a dry run changes nothing");

            var deploy = await Build.RunAsync("Deploy", "--schema", target, "--confirm", "testing");
            deploy.ExitCode.Should().Be(0, deploy.ToString());
            deploy.Output.Should().Contain("Deployed: 0 created, 1 recreated, 1 removed, 0 started or repaired, 3 unchanged");
            var after = await IdsAsync();
            after.Keys.Should().BeEquivalentTo("minio", "postgres", "qdrant", "redis");
            after["redis"].Should().NotBe(before["redis"], "the plan recreates redis");
            after.Where(kv => kv.Key != "redis").Should().BeEquivalentTo(before.Where(kv => kv.Key is not ("redis" or DeploySchemas.Probe)), "the rest keep their containers");
            (await Docker.ContainersAsync("testing")).Should().OnlyContain(c => c.State == "running");
            File.ReadAllLines(AuditPath).Select(l => JsonDocument.Parse(l).RootElement)
                .Select(e => $"{e.GetProperty("target").GetString()} {e.GetProperty("action").GetString()} {e.GetProperty("resource").GetString()} {e.GetProperty("result").GetString()}")
                .Should().Equal($"Deploy remove {Container(DeploySchemas.Probe)} done", $"Deploy recreate {Container("redis")} done");

            // Nothing left to do: said so, while another run holds the lock (a no-op never waits for it).
            using (await EnvironmentLock.AcquireAsync(
                       LockDirectory, "unix:///var/run/docker.sock", TestNames.Project(), "testing",
                       new LockHolder("BackupFull", "BackupFull", Environment.ProcessId, "ops", Environment.MachineName, DateTimeOffset.Now, "/srv/llmstack"),
                       TimeSpan.FromSeconds(1), _ => { }, CancellationToken.None))
            {
                var again = await Build.RunAsync("Deploy", "--schema", target, "--confirm", "testing", "--lock-timeout", "1s");
                again.ExitCode.Should().Be(0, again.ToString());
                again.Output.Should().Contain("No changes: environment testing matches the schema (4 container(s) unchanged).")
                    .And.Contain("nothing to deploy in testing; no lock was taken").And.NotContain("locked by");
            }

            (await IdsAsync()).Should().Equal(after);
            (await PlanAsync(target)).ExitCode.Should().Be(0);
        }
        finally
        {
            var back = await Build.RunAsync("Deploy", "--schema", core.SchemaPath, "--confirm", "testing");
            back.ExitCode.Should().Be(0, back.ToString());
            File.Delete(target);
        }
    }

    [Fact]
    public async Task A_service_that_fails_stops_the_deploy_naming_it_and_the_changes_after_it_are_not_made()
    {
        var failing = DeploySchemas.Write(Docker.Root, redisVariable: "2", failingMinio: true);
        try
        {
            var before = await IdsAsync();
            var deploy = await Build.RunAsync("Deploy", "--schema", failing, "--confirm", "testing");
            deploy.ExitCode.Should().Be(1, deploy.ToString());
            deploy.Output.Should().MatchRegex($@"Deploy could not recreate container {Regex.Escape(Container("minio"))}: service 'minio' \({Regex.Escape(Container("minio"))}\) is unhealthy")
                .And.Contain($"0 of 2 change(s) were applied before it; not done: container {Container("minio")}, container {Container("redis")}")
                .And.NotContain("   at ");
            var after = await IdsAsync();
            after["redis"].Should().Be(before["redis"], "the change after the failed one is not made");
            after.Where(kv => kv.Key != "minio").Should().BeEquivalentTo(before.Where(kv => kv.Key != "minio"));
        }
        finally
        {
            var back = await Build.RunAsync("Deploy", "--schema", core.SchemaPath, "--confirm", "testing");
            back.ExitCode.Should().Be(0, back.ToString());
            back.Output.Should().Contain("Deployed: 0 created, 1 recreated, 0 removed");
            File.Delete(failing);
        }
    }
}
