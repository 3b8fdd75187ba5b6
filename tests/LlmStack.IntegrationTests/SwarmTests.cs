using System.Text.Json;
using System.Text.RegularExpressions;
using Docker.DotNet.Models;
using LlmStack.Compose;
using LlmStack.Security;
using YamlDotNet.RepresentationModel;

namespace LlmStack.IntegrationTests;

/// <summary>
/// A single-node swarm on 127.0.0.1 (SwarmInit), the core stack started on it once with --orchestrator swarm (plus a
/// stateless service of three replicas, <c>echo</c>), shared by the tests; the swarm is left in <see cref="DisposeAsync"/>
/// whatever happened. It runs in the second lane (<see cref="TestLane.Second"/>), beside the testing environment's classes:
/// in an environment of its own (the testing environment copied, with its own project, host ports and subnets).
/// </summary>
public sealed class SwarmStack : IAsyncLifetime
{
    /// <summary>The lane's environment (only the class's schema copies have it).</summary>
    public static readonly string Env = TestLane.Second.Environment;

    /// <summary>The lane's compose project, the prefix of its services, networks and volumes.</summary>
    public static readonly string Project = TestLane.Second.Project;

    public static string Network(string stack) => TestLane.Second.Network(stack);

    public static string Volume(string volume) => TestLane.Second.Volume(volume);

    public DockerFixture Docker { get; } = new();

    public string Schema { get; private set; } = null!;

    /// <summary>The class's schema with only the core stack enabled in testing (what Plan and Deploy cover).</summary>
    public string CoreOnly { get; private set; } = null!;

    /// <summary><see cref="CoreOnly"/> without the echo service (a service the schema dropped).</summary>
    public string CoreOnlyWithoutEcho { get; private set; } = null!;

    /// <summary>A run of the class's swarm with <paramref name="schema"/>.</summary>
    public TestRun With(string schema)
    {
        var lane = TestLane.Second.Run(Docker.Root, schema);
        return lane with { Arguments = ["--orchestrator", "swarm", .. lane.Arguments] };
    }

    /// <summary>The shipped retention configuration's text with the lane's environment as testing has it, and <paramref name="edit"/>.</summary>
    public string RetentionText(Func<string, string>? edit = null)
    {
        var config = TestLane.Second.WithEnvironment(File.ReadAllText(Path.Combine(Docker.Root, "configs", "retention-policies.yaml")));
        return edit is null ? config : edit(config);
    }

    public Cli.Result Init { get; private set; } = null!;

    public Cli.Result LabelNodes { get; private set; } = null!;

    public Cli.Result First { get; private set; } = null!;

    public Cli.Result Second { get; private set; } = null!;

    public IReadOnlyDictionary<string, ulong> VersionsAfterFirst { get; private set; } = null!;

    public IReadOnlyDictionary<string, ulong> VersionsAfterSecond { get; private set; } = null!;

    public TestRun Run => With(Schema);

    public async Task InitializeAsync()
    {
        await Docker.InitializeAsync();
        await LeaveAsync();
        await Docker.CleanAsync(Env);
        Schema = SchemaCopy.Write(Docker.Root, schema => Core(schema));
        CoreOnly = SchemaCopy.Write(Docker.Root, schema => Core(schema, onlyCore: true));
        CoreOnlyWithoutEcho = SchemaCopy.Write(Docker.Root, schema => Core(schema, echo: false, onlyCore: true));
        Init = await new TestRun(Docker.Root).RunAsync("SwarmInit", "--swarm-listen", "127.0.0.1", "--swarm-advertise", "127.0.0.1");
        LabelNodes = await Run.RunAsync("SwarmLabelNodes", "--confirm", Env);
        First = await Run.RunAsync("StartCore");
        VersionsAfterFirst = await VersionsAsync();
        Second = await Run.RunAsync("StartCore");
        VersionsAfterSecond = await VersionsAsync();
    }

    /// <summary>
    /// The class's schema: the core stack of postgres, redis, qdrant, minio and (unless <paramref name="echo"/> is false)
    /// echo, three replicas of the stand-in; with <paramref name="onlyCore"/>, the testing environment enables the core
    /// stack only (Plan and Deploy cover every enabled stack: the others are not started here).
    /// </summary>
    private static void Core(YamlMappingNode schema, bool echo = true, bool onlyCore = false)
    {
        OnASwarm(schema);
        schema.Map("stacks").Map("core").Children[new YamlScalarNode("services")] = new YamlSequenceNode(
            new[] { "postgres", "redis", "qdrant", "minio", "echo" }.Where(s => echo || s != "echo").Select(s => (YamlNode)new YamlScalarNode(s)));
        if (echo)
        {
            var service = schema.Service("echo");
            service.Set("image", new YamlScalarNode("llmstack-it/echo:1"));
            service.Set("replicas", new YamlScalarNode("3"));
            service.Set("healthcheck", new YamlMappingNode(
                "test", new YamlSequenceNode(new YamlScalarNode("CMD"), new YamlScalarNode("curl"), new YamlScalarNode("-fsS"), new YamlScalarNode("http://127.0.0.1:80/")),
                "interval", "2s", "timeout", "2s", "retries", "3"));
        }

        if (onlyCore)
        {
            schema.Map("environments").Map(Env).Set("stacks", new YamlSequenceNode(new YamlScalarNode("core")));
        }
    }

    /// <summary>
    /// The lane's environment made fit for a swarm, as an operator would: its loopback ports acknowledged as published on
    /// every interface, and this node labelled as the data node the data services are pinned to (placement: llmstack.data).
    /// Its healthcheck templates are quick (<see cref="Quick"/>): every schema copy of the class uses the same, so their
    /// services' spec hashes agree.
    /// </summary>
    public static void OnASwarm(YamlMappingNode schema)
    {
        TestLane.Second.AddTo(schema);
        schema.Map("environments").Map(Env).Set("swarm", new YamlMappingNode(
            "publish_all_interfaces", "true",
            "nodes", new YamlMappingNode("self", new YamlMappingNode("labels", new YamlMappingNode("llmstack.data", "true")))));
        Quick(schema);
    }

    /// <summary>
    /// The healthcheck templates checked every second. Docker 20.10 runs a container's first check only one interval after
    /// it starts (no start_interval), and a swarm task with a healthcheck counts as running only once healthy: with the
    /// schema's 10 s and 15 s every task start (a create, a scale back after a backup, a restore) waited that long. The
    /// update monitor follows (start period 8 s + (1 s + 2 s) × 3 = 17 s instead of 85 s and 155 s), which a restart and
    /// an update wait for once more before Swarm declares them complete.
    /// </summary>
    private static void Quick(YamlMappingNode schema)
    {
        foreach (var template in new[] { "standard", "extended" })
        {
            var node = schema.Map("healthcheck_templates").Map(template);
            node.Set("interval", new YamlScalarNode("1s"));
            node.Set("timeout", new YamlScalarNode("2s"));
            node.Set("retries", new YamlScalarNode("3"));
            node.Set("start_period", new YamlScalarNode("8s"));
        }
    }

    public async Task<Dictionary<string, ulong>> VersionsAsync() =>
        (await ServicesAsync()).ToDictionary(s => s.Spec!.Labels[Names.Service], s => s.Version!.Index!.Value);

    public async Task<IList<SwarmService>> ServicesAsync() =>
        (await Docker.Docker.Swarm.ListServicesAsync(new ServiceListParameters { Status = true }))
        .Where(s => s.Spec?.Labels?.TryGetValue(Names.Environment, out var environment) == true && environment == Env).ToList();

    private async Task LeaveAsync()
    {
        var info = await Docker.Docker.System.GetSystemInfoAsync();
        if (info.Swarm?.LocalNodeState is "active" or "pending" or "locked")
        {
            await Docker.Docker.Swarm.LeaveSwarmAsync(new SwarmLeaveParameters { Force = true });
        }
    }

    public async Task DisposeAsync()
    {
        try
        {
            await LeaveAsync();
            await Docker.CleanAsync(Env);
        }
        finally
        {
            File.Delete(Schema);
            File.Delete(CoreOnly);
            File.Delete(CoreOnlyWithoutEcho);
            await Docker.DisposeAsync();
        }
    }
}

[Collection(TestLane.SecondCollection)]
[Trait("Category", "Integration")]
[TestCaseOrderer("LlmStack.IntegrationTests.DeclarationOrderer", "LlmStack.IntegrationTests")]
public sealed class SwarmTests(SwarmStack stack) : IClassFixture<SwarmStack>
{
    private static readonly string[] Core = ["echo", "minio", "postgres", "qdrant", "redis"];

    private static readonly string Env = SwarmStack.Env;

    [Fact]
    public async Task A_StartCore_on_a_swarm_runs_healthy_services_on_an_attachable_overlay_network_with_the_schemas_subnet_and_a_second_run_changes_nothing()
    {
        stack.Init.ExitCode.Should().Be(0, stack.Init.ToString());
        stack.LabelNodes.ExitCode.Should().Be(0, stack.LabelNodes.ToString());
        var node = (await stack.Docker.Docker.Swarm.ListNodesAsync()).Single();
        node.Spec!.Labels.Should().Contain("llmstack.data", "true", "SwarmLabelNodes set what the environment's swarm.nodes names on this node (self)");
        stack.First.ExitCode.Should().Be(0, stack.First.ToString());
        stack.First.Output.Should().Contain("dnsrr (auto: the kernel has no IPVS");
        stack.First.Output.Should().Contain("5 created");

        var services = await stack.ServicesAsync();
        services.Select(s => s.Spec!.Labels[Names.Service]).Should().BeEquivalentTo(Core);
        foreach (var service in services)
        {
            service.ServiceStatus!.RunningTasks.Should().Be(service.ServiceStatus.DesiredTasks, service.Spec!.Name);
            service.Spec!.EndpointSpec!.Mode.Should().Be("dnsrr");
            service.Spec.Labels[Names.SpecHash].Should().MatchRegex("^[0-9a-f]{32}$");
            service.Spec.UpdateConfig!.FailureAction.Should().Be("rollback");
        }

        services.Single(s => s.Spec!.Labels[Names.Service] == "postgres").Spec!.UpdateConfig!.Order.Should().Be("stop-first", "postgres has a data volume");
        services.Single(s => s.Spec!.Labels[Names.Service] == "echo").Spec!.UpdateConfig!.Order.Should().Be("start-first", "echo has none");
        services.Single(s => s.Spec!.Labels[Names.Service] == "postgres").Spec!.UpdateConfig!.Monitor.Should().Be(TimeSpan.FromSeconds(8 + ((1 + 2) * 3)), "start period 8s + (interval 1s + timeout 2s) × 3 retries (the class's quick template): a hanging probe fails only after its timeout");
        services.Single(s => s.Spec!.Labels[Names.Service] == "postgres").Spec!.TaskTemplate!.Placement!.Constraints.Should().Equal("node.labels.llmstack.data == true");

        // Every task's container reports healthy by Docker's own checks too.
        var containers = await stack.Docker.ContainersAsync(Env);
        containers.Should().HaveCount(7);
        containers.Should().OnlyContain(c => c.State == "running");

        var network = await stack.Docker.Docker.Networks.InspectNetworkAsync(SwarmStack.Network("core"));
        network.Driver.Should().Be("overlay");
        network.Attachable.Should().BeTrue();
        network.IPAM!.Config!.Single().Subnet.Should().Be("10.88.1.0/24");
        network.Labels.Should().Contain(Names.Stack, "core");

        stack.Second.ExitCode.Should().Be(0, stack.Second.ToString());
        stack.Second.Output.Should().Contain("5 unchanged");
        stack.VersionsAfterSecond.Should().Equal(stack.VersionsAfterFirst);

        var status = await stack.Run.RunAsync("StatusCore", "--json");
        status.ExitCode.Should().Be(0, status.ToString());
        status.StandardOutput.Should().Contain("\"orchestrator\": \"swarm\"");
    }

    [Fact]
    public async Task A_p_Plan_on_the_swarm_compares_spec_hashes_nothing_to_change_after_Start_an_update_and_a_removal_when_the_schema_differs()
    {
        var plan = await stack.With(stack.CoreOnly).RunAsync("Plan", "--json");
        plan.ExitCode.Should().Be(0, plan.ToString());
        var document = JsonDocument.Parse(plan.StandardOutput).RootElement;
        document.GetProperty("orchestrator").GetString().Should().Be("swarm");
        document.GetProperty("hasChanges").GetBoolean().Should().BeFalse();
        document.GetProperty("services").EnumerateArray().Select(s => (s.GetProperty("service").GetString(), s.GetProperty("action").GetString()))
            .Should().BeEquivalentTo(Core.Select(c => ((string?)c, (string?)"unchanged")));

        var deploy = await stack.With(stack.CoreOnly).RunAsync("Deploy", "--confirm", Env);
        deploy.ExitCode.Should().Be(0, deploy.ToString());
        deploy.Output.Should().Contain("nothing to deploy");

        // Every enabled stack is planned: with all of testing's stacks, the others (not on the swarm) are to create.
        var all = await stack.Run.RunAsync("Plan");
        all.ExitCode.Should().Be(2, all.ToString());
        all.Output.Should().MatchRegex(@"inference\s+\S+_vllm\s+create\s+not on the swarm").And.MatchRegex(@"core\s+\S+_postgres\s+unchanged");

        var map = Path.Combine(Path.GetTempPath(), $"llmstack-it-map-{Guid.NewGuid():N}.yaml");
        await File.WriteAllTextAsync(map, (await File.ReadAllTextAsync(Path.Combine(stack.Docker.Root, TestRun.FixtureImageMap))) + "\nllmstack-it/echo:1: llmstack-fixture/redis:7\n");
        try
        {
            var changed = await (stack.With(stack.CoreOnly) with { ImageMap = map }).RunAsync("Plan");
            changed.ExitCode.Should().Be(2, changed.ToString());
            changed.Output.Should().MatchRegex(@"core\s+\S+_echo\s+update\s+image llmstack-fixture/standin:1 → llmstack-fixture/redis:7");
            changed.Output.Should().Contain("0 to create, 1 to update, 0 to remove, 4 unchanged");

            var dropped = await stack.With(stack.CoreOnlyWithoutEcho).RunAsync("Plan");
            dropped.ExitCode.Should().Be(2, dropped.ToString());
            dropped.Output.Should().MatchRegex(@"core\s+\S+_echo\s+remove\s+not in the schema any more");
            (await stack.VersionsAsync()).Should().Equal(stack.VersionsAfterSecond, "a plan changes nothing");
        }
        finally
        {
            File.Delete(map);
        }
    }

    [Fact]
    public async Task A_q_LogsCore_on_the_swarm_reads_the_service_logs_prefixed_by_service_and_task_slot()
    {
        var postgres = await stack.Run.RunAsync("LogsCore", "--service", "postgres", "--tail", "200");
        postgres.ExitCode.Should().Be(0, postgres.ToString());
        postgres.StandardOutput.Should().MatchRegex(@"(?m)^postgres-1\s*\| .*ready to accept connections");
        postgres.StandardOutput.Should().NotContain("com.docker.swarm.task.id", "the details only name the task");

        var all = await stack.Run.RunAsync("LogsCore", "--tail", "3");
        all.ExitCode.Should().Be(0, all.ToString());
        foreach (var prefix in new[] { "echo-1", "echo-2", "echo-3", "redis-1", "minio-1" })
        {
            all.StandardOutput.Should().MatchRegex($@"(?m)^{prefix}\s*\| ", "every task of every service of the stack");
        }

        var wrong = await stack.Run.RunAsync("LogsCore", "--service", "vllm");
        wrong.ExitCode.Should().NotBe(0);
        wrong.Output.Should().Contain("service 'vllm' is not in stack core");
    }

    [Fact]
    public async Task A_r_RestartCore_on_the_swarm_rolls_every_service_and_ends_healthy_with_its_spec_unchanged()
    {
        var before = await stack.VersionsAsync();
        var restart = await stack.Run.RunAsync("RestartCore");
        restart.ExitCode.Should().Be(0, restart.ToString());
        restart.Output.Should().Contain("5 service(s) (rolling)");
        var after = await stack.ServicesAsync();
        foreach (var service in after)
        {
            var name = service.Spec!.Labels[Names.Service];
            service.Version!.Index!.Value.Should().BeGreaterThan(before[name], name + " was updated");
            service.Spec.TaskTemplate!.ForceUpdate.Should().BeGreaterThan(0UL, name + ": a forced update, the spec as it was");
            service.UpdateStatus!.State.Should().Be("completed", name);
            service.ServiceStatus!.RunningTasks.Should().Be(service.ServiceStatus.DesiredTasks, name);
        }

        var status = await stack.Run.RunAsync("StatusCore");
        status.ExitCode.Should().Be(0, status.ToString());
        var plan = await stack.With(stack.CoreOnly).RunAsync("Plan");
        plan.ExitCode.Should().Be(0, "a restart leaves each service's definition as the schema says: " + plan);
    }

    /// <summary>
    /// Data on a swarm: the backup finds each service's task container by our labels, suspends the volume writers by
    /// scaling their services to 0 and back, and Restore brings rows and files back with the replicas as they were; a run
    /// killed while a service is scaled down leaves a journal, and the next run scales it back up.
    /// </summary>
    [Fact]
    public async Task BB_BackupFull_then_Restore_of_postgres_and_a_volume_on_the_swarm_and_a_killed_backup_is_scaled_back_by_the_next_run()
    {
        using var bed = new BackupBed(stack.Docker, "swarm", TestLane.Second);
        // The lane's retention settings, with a table of this test's for the retention steps below.
        var retention = Path.Combine(bed.Work, "retention-policies.yaml");
        await File.WriteAllTextAsync(retention, stack.RetentionText(config => config
            .Replace("      - table: logs\n        date_column: created_at\n        days: 7", "      - table: on_swarm_logs\n        date_column: created_at\n        days: 7", StringComparison.Ordinal)));
        var build = bed.Build with { Arguments = ["--backup-config", bed.ConfigFile, "--orchestrator", "swarm", "--schema", stack.Schema, "--retention-config", retention] };
        await Sql("DROP TABLE IF EXISTS on_swarm; CREATE TABLE on_swarm AS SELECT g AS id FROM generate_series(1, 5000) g;");
        await Sh("minio", "mkdir -p /data/bucket && head -c 3000000 /dev/urandom > /data/bucket/object.bin && sha256sum /data/bucket/object.bin");
        var rows = await Sql("SELECT count(*), sum(id) FROM on_swarm");
        var tree = await Sh("minio", "cd /data && find . -type f -exec sha256sum {} \\; | sort");

        var backup = await build.RunAsync("BackupFull");
        backup.ExitCode.Should().Be(0, backup.ToString());
        backup.Output.Should().MatchRegex(@"Scaled \d+ swarm service\(s\) to 0: [^\n]*minio \(from 1\)", "a swarm replaces a stopped task: its writers are suspended by scaling");
        await AssertReplicasAsync();

        await Sql("DROP TABLE on_swarm;");
        await Sh("minio", "rm -rf /data/bucket");
        foreach (var service in new[] { "postgres", "minio" })
        {
            var restore = await build.RunAsync("Restore", "--service", service, "--confirm", Env);
            restore.ExitCode.Should().Be(0, restore.ToString());
        }

        (await Sql("SELECT count(*), sum(id) FROM on_swarm")).Should().Be(rows);
        (await Sh("minio", "cd /data && find . -type f -exec sha256sum {} \\; | sort")).Should().Be(tree);
        await AssertReplicasAsync();

        // Retention on the swarm: the task container is found by our labels as a backup finds it, nothing else needed.
        await Sql("CREATE TABLE on_swarm_logs AS SELECT g AS id, now() - (CASE WHEN g <= 40 THEN interval '10 days' ELSE interval '1 day' END) AS created_at FROM generate_series(1, 50) g;");
        var withRetention = build;
        var dry = await withRetention.RunAsync("RetentionTest");
        dry.ExitCode.Should().Be(0, dry.ToString());
        dry.Output.Should().Contain("postgres/multimodal.on_swarm_logs").And.Contain("40 row(s)");
        var cleanup = await withRetention.RunAsync("RetentionCleanupService", "--service", "postgres", "--confirm", Env);
        cleanup.ExitCode.Should().Be(0, cleanup.ToString());
        cleanup.Output.Should().Contain("40 row(s) deleted");
        (await Sql("SELECT count(*) FROM on_swarm_logs")).Trim().Should().Be("10");

        // kill -9 while minio is scaled to 0: the journal names it with its replica count, the next run scales it back.
        var killed = await build.RunAsync(["BackupService", "--service", "minio"], whileRunning: async process =>
        {
            var deadline = DateTime.UtcNow.AddMinutes(2);
            while ((await ServiceAsync("minio")).Spec!.Mode!.Replicated!.Replicas != 0)
            {
                DateTime.UtcNow.Should().BeBefore(deadline, "the backup scales minio to 0 while it reads its volume");
                await Task.Delay(20);
            }

            using var kill = System.Diagnostics.Process.Start("kill", ["-KILL", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
            await kill.WaitForExitAsync();
        });
        killed.ExitCode.Should().Be(137, killed.ToString());
        (await ServiceAsync("minio")).Spec!.Mode!.Replicated!.Replicas.Should().Be(0UL, "nothing brought it back yet");

        var next = await build.RunAsync("BackupService", "--service", "minio");
        next.ExitCode.Should().Be(0, next.ToString());
        next.Output.Should().MatchRegex(@"left 1 container\(s\) paused or stopped \([^)]*minio[^)]*\): bringing them back");
        await AssertReplicasAsync();
    }

    private async Task<SwarmService> ServiceAsync(string service) =>
        (await stack.ServicesAsync()).Single(s => s.Spec!.Labels[Names.Service] == service);

    /// <summary>Every service at the replicas the schema gives it, each with that many running tasks.</summary>
    private async Task AssertReplicasAsync()
    {
        foreach (var service in await stack.ServicesAsync())
        {
            var desired = service.Spec!.Labels[Names.Service] == "echo" ? 3UL : 1UL;
            service.Spec.Mode!.Replicated!.Replicas.Should().Be(desired, service.Spec.Name);
            service.ServiceStatus!.RunningTasks.Should().Be(desired, service.Spec.Name);
        }
    }

    /// <summary>The running task container of a service (swarm names its containers itself: found by our labels).</summary>
    private async Task<string> TaskContainerAsync(string service) =>
        (await stack.Docker.ContainersAsync(Env)).Single(c => c.State == "running" && c.Labels[Names.Service] == service).ID;

    private async Task<string> Sh(string service, string script)
    {
        var (code, output) = await stack.Docker.ExecAsync(await TaskContainerAsync(service), "sh", "-c", script);
        code.Should().Be(0, output);
        return output;
    }

    private Task<string> Sql(string sql) => Sh("postgres", $"psql -U multimodal -d multimodal -AtX -v ON_ERROR_STOP=1 -c \"{sql}\"");

    [Fact]
    public async Task B_three_replicas_resolve_to_three_addresses_on_the_stack_network()
    {
        var helper = await stack.Docker.Docker.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Image = "llmstack-fixture/standin:1",
            Entrypoint = ["/bin/busybox", "sleep", "60"],
            HostConfig = new HostConfig { NetworkMode = SwarmStack.Network("core") },
            Name = $"{SwarmStack.Project}-nslookup-{Guid.NewGuid().ToString("N")[..8]}",
            Labels = new Dictionary<string, string> { [Names.Environment] = Env, [Names.ComposeProject] = SwarmStack.Project, [Names.Managed] = "true", [Names.Helper] = "swarm-test" },
        });
        try
        {
            await stack.Docker.Docker.Containers.StartContainerAsync(helper.ID, new ContainerStartParameters());
            var (_, output) = await stack.Docker.ExecAsync(helper.ID, "/bin/busybox", "nslookup", "echo");
            var addresses = Regex.Matches(output, @"10\.88\.1\.\d+").Select(m => m.Value).Distinct().ToList();
            addresses.Should().HaveCount(3, output);
        }
        finally
        {
            await stack.Docker.Docker.Containers.RemoveContainerAsync(helper.ID, new ContainerRemoveParameters { Force = true });
        }
    }

    [Fact]
    public async Task B2_postgres_reads_its_password_from_a_swarm_secret_not_from_its_service_spec()
    {
        var password = SecretStore.Read(Path.Combine(stack.Docker.Root, "secrets", Env + ".env"))["POSTGRES_PASSWORD"];
        var postgres = (await stack.ServicesAsync()).Single(s => s.Spec!.Labels[Names.Service] == "postgres");
        var spec = postgres.Spec!.TaskTemplate!.ContainerSpec!;
        spec.Env.Should().NotContain(e => e.StartsWith("POSTGRES_PASSWORD=", StringComparison.Ordinal)).And.Contain("POSTGRES_PASSWORD_FILE=/run/secrets/POSTGRES_PASSWORD");
        spec.Env.Should().NotContain(e => e.Contains(password, StringComparison.Ordinal), "the value is in no variable of the service's spec");
        var reference = spec.Secrets.Should().ContainSingle().Subject;
        reference.File!.Name.Should().Be("POSTGRES_PASSWORD");
        var secret = await stack.Docker.Docker.Secrets.InspectAsync(reference.SecretID);
        secret.Spec!.Name.Should().Be(reference.SecretName).And.MatchRegex($"^{Regex.Escape(SwarmStack.Project)}_POSTGRES_PASSWORD_[0-9a-f]{{12}}$");
        secret.Spec.Labels.Should().Contain(Names.Environment, Env).And.Contain(Names.ComposeProject, SwarmStack.Project).And.Contain(Names.Secret, "POSTGRES_PASSWORD");

        // Postgres trusts its socket and 127.0.0.1: log in over TCP on the task's overlay address, with the session's password.
        string Variable(string name) => spec.Env.Single(e => e.StartsWith(name + "=", StringComparison.Ordinal))[(name.Length + 1)..];
        var task = (await stack.Docker.ContainersAsync(Env, "core")).Single(c => c.Labels[Names.Service] == "postgres" && c.State == "running");
        var address = (await stack.Docker.Docker.Containers.InspectContainerAsync(task.ID)).NetworkSettings!.Networks![SwarmStack.Network("core")].IPAddress;
        async Task<(long Exit, string Output)> LoginAsync(string withPassword)
        {
            var exec = await stack.Docker.Docker.Exec.CreateContainerExecAsync(task.ID, new ContainerExecCreateParameters
            {
                Cmd = ["psql", "-h", address, "-U", Variable("POSTGRES_USER"), "-d", Variable("POSTGRES_DB"), "-tAc", "SELECT 42"],
                Env = [$"PGPASSWORD={withPassword}", "PGCONNECT_TIMEOUT=5"],
                AttachStdout = true,
                AttachStderr = true,
            });
            using var stream = await stack.Docker.Docker.Exec.StartContainerExecAsync(exec.ID, new ContainerExecStartParameters(), default);
            var (stdout, stderr) = await stream.ReadOutputToEndAsync(default);
            return ((await stack.Docker.Docker.Exec.InspectContainerExecAsync(exec.ID)).ExitCode ?? -1, stdout + stderr);
        }

        var accepted = await LoginAsync(password);
        accepted.Exit.Should().Be(0, accepted.Output);
        accepted.Output.Trim().Should().Be("42");
        var refused = await LoginAsync(password + "-wrong");
        refused.Exit.Should().NotBe(0, "postgres checks the password it was initialised with from the secret's file");
        refused.Output.Should().Contain("password authentication failed");
    }

    [Fact]
    public async Task C_a_bad_image_ends_rolled_back_with_the_old_tasks_still_serving()
    {
        var map = Path.Combine(Path.GetTempPath(), $"llmstack-it-map-{Guid.NewGuid():N}.yaml");
        await File.WriteAllTextAsync(map, (await File.ReadAllTextAsync(Path.Combine(stack.Docker.Root, TestRun.FixtureImageMap))) + "\nllmstack-it/echo:1: llmstack-fixture/redis:7\n"); // present, but its tasks never pass echo's healthcheck (no curl)
        try
        {
            var before = (await stack.VersionsAsync())["echo"];
            var result = await (stack.Run with { ImageMap = map }).RunAsync("StartCore");
            result.ExitCode.Should().NotBe(0, result.ToString());
            result.Output.Should().Contain("service 'echo': the update failed and was rolled back");

            var echo = (await stack.ServicesAsync()).Single(s => s.Spec!.Labels[Names.Service] == "echo");
            echo.UpdateStatus!.State.Should().Be("rollback_completed");
            echo.Spec!.TaskTemplate!.ContainerSpec!.Image.Should().Be("llmstack-fixture/standin:1");
            echo.Version!.Index!.Value.Should().BeGreaterThan(before);
            echo.ServiceStatus!.RunningTasks.Should().Be(3);
        }
        finally
        {
            File.Delete(map);
        }
    }

    /// <summary>Deploy applies the swarm plan through the change gate with Start's own create path, and removes what the schema dropped.</summary>
    [Fact]
    public async Task C2_Deploy_on_the_swarm_removes_a_service_the_schema_dropped_and_creates_it_again_through_the_gate()
    {
        var dropped = stack.With(stack.CoreOnlyWithoutEcho);
        var dry = await dropped.RunAsync("Deploy", "--dry-run");
        dry.ExitCode.Should().Be(0, dry.ToString());
        dry.Output.Should().MatchRegex(@"service\s+\S+_echo\s.*not in the schema any more");
        (await stack.ServicesAsync()).Should().HaveCount(5, "a dry run changes nothing");

        var removed = await dropped.RunAsync("Deploy", "--confirm", Env);
        removed.ExitCode.Should().Be(0, removed.ToString());
        removed.Output.Should().Contain("0 created, 0 updated, 1 removed, 4 unchanged");
        (await stack.ServicesAsync()).Select(s => s.Spec!.Labels[Names.Service]).Should().BeEquivalentTo(["minio", "postgres", "qdrant", "redis"]);
        (await stack.Docker.ContainersAsync(Env)).Should().NotContain(c => c.Labels[Names.Service] == "echo", "its tasks' containers are gone");

        var created = await stack.With(stack.CoreOnly).RunAsync("Deploy", "--confirm", Env);
        created.ExitCode.Should().Be(0, created.ToString());
        created.Output.Should().Contain("1 created, 0 updated, 0 removed, 4 unchanged");
        var echo = (await stack.ServicesAsync()).Single(s => s.Spec!.Labels[Names.Service] == "echo");
        echo.ServiceStatus!.RunningTasks.Should().Be(3, "created health-gated with its three replicas, as Start creates it");
        File.ReadLines(Path.Combine(stack.Docker.Root, "audit", "audit.jsonl")).Where(l => l.Contains("\"target\":\"Deploy\"", StringComparison.Ordinal) && l.Contains("_echo\"", StringComparison.Ordinal))
            .Should().Contain(l => l.Contains("\"action\":\"remove\"", StringComparison.Ordinal)).And.Contain(l => l.Contains("\"action\":\"create\"", StringComparison.Ordinal), "one audit line per service changed");
    }

    [Fact]
    public async Task D_a_dependency_whose_healthcheck_fails_blocks_its_dependents_naming_it()
    {
        var path = SchemaCopy.Write(stack.Docker.Root, schema =>
        {
            SwarmStack.OnASwarm(schema);
            schema.Map("stacks").Map("core").Children[new YamlScalarNode("services")] = new YamlSequenceNode(
                new YamlScalarNode("postgres"), new YamlScalarNode("redis"), new YamlScalarNode("qdrant"), new YamlScalarNode("minio"), new YamlScalarNode("sick"), new YamlScalarNode("needs-sick"));
            var sick = schema.Service("sick");
            sick.Set("image", new YamlScalarNode("llmstack-it/sick:1"));
            sick.Set("healthcheck", new YamlMappingNode("test", new YamlSequenceNode(new YamlScalarNode("CMD"), new YamlScalarNode("curl"), new YamlScalarNode("-fsS"), new YamlScalarNode("http://127.0.0.1:80/"))));
            schema.FailHealth("sick");
            var needs = schema.Service("needs-sick");
            needs.Set("image", new YamlScalarNode("llmstack-it/needs:1"));
            needs.Set("depends_on", new YamlSequenceNode(new YamlScalarNode("sick")));
        });
        try
        {
            var result = await stack.With(path).RunAsync("StartCore");
            result.ExitCode.Should().NotBe(0, result.ToString());
            result.Output.Should().MatchRegex("sick.*not started, as they depend on it: needs-sick");
            (await stack.ServicesAsync()).Select(s => s.Spec!.Labels[Names.Service]).Should().Contain("sick").And.NotContain("needs-sick");
        }
        finally
        {
            var sick = (await stack.ServicesAsync()).Where(s => s.Spec!.Labels[Names.Service] == "sick");
            foreach (var service in sick)
            {
                await stack.Docker.Docker.Swarm.RemoveServiceAsync(service.ID);
            }

            File.Delete(path);
        }
    }

    /// <summary>
    /// A data wipe on a swarm: the services whose tasks mount the data's volumes are removed (their tasks' containers hold
    /// the volumes), then the volumes, then their stacks are started again through the orchestrator; nothing else moves.
    /// </summary>
    [Fact]
    public async Task D2_WipeCache_on_a_swarm_removes_redis_and_its_volume_then_starts_it_again_and_leaves_the_other_services_as_they_were()
    {
        await Sh("redis", "redis-cli SET wiped-soon 1");
        var before = await stack.VersionsAsync();
        var volume = await stack.Docker.Docker.Volumes.InspectAsync(SwarmStack.Volume("redis_data"));
        var run = stack.Run with { Arguments = [.. stack.Run.Arguments, "--backup-config", TestLane.Second.Config(stack.Docker.Root, "backup-strategies.yaml")] };

        var dry = await run.RunAsync("WipeCache", "--dry-run");
        dry.ExitCode.Should().Be(0, dry.ToString());
        dry.Output.Should().MatchRegex(@"service\s+\S+_redis\s.*would remove").And.Contain(SwarmStack.Volume("redis_data"));
        (await stack.VersionsAsync()).Should().BeEquivalentTo(before, "a dry run changes nothing");

        var wipe = await run.RunAsync("WipeCache", "--confirm", Env);
        wipe.ExitCode.Should().Be(0, wipe.ToString());
        var after = await stack.VersionsAsync();
        after.Keys.Should().BeEquivalentTo(before.Keys, "redis was started again");
        after.Where(v => v.Key != "redis").Should().BeEquivalentTo(before.Where(v => v.Key != "redis"), "no other service was touched");
        (await stack.ServicesAsync()).Single(s => s.Spec!.Labels[Names.Service] == "redis").ServiceStatus!.RunningTasks.Should().Be(1);
        (await Sh("redis", "redis-cli EXISTS wiped-soon")).Trim().Should().Be("0", "the wiped volume's data is gone");
        (await stack.Docker.Docker.Volumes.InspectAsync(SwarmStack.Volume("redis_data"))).CreatedAt.Should().NotBe(volume.CreatedAt, "a new volume");
    }

    [Fact]
    public async Task E_StopCore_removes_the_services_and_keeps_the_volumes()
    {
        var result = await stack.Run.RunAsync("StopCore");
        result.ExitCode.Should().Be(0, result.ToString());
        (await stack.ServicesAsync()).Should().BeEmpty();
        (await stack.Docker.ContainersAsync(Env)).Should().BeEmpty();
        foreach (var volume in new[] { "postgres_data", "redis_data", "qdrant_data", "minio_data" })
        {
            (await stack.Docker.Docker.Volumes.InspectAsync(SwarmStack.Volume(volume))).Labels.Should().Contain(Names.Environment, Env);
        }

        (await stack.Docker.Docker.Secrets.ListAsync()).Should().NotContain(s => s.Spec!.Labels != null && s.Spec.Labels.ContainsKey(Names.Secret) && s.Spec.Labels[Names.Environment] == Env,
            "a Swarm secret no service uses is removed (the secrets file keeps the value; the next Start creates it again)");
    }

    [Fact]
    public async Task F_WipeCore_on_a_swarm_backs_up_first_then_removes_the_services_volumes_and_secrets_and_never_a_foreign_service_or_volume()
    {
        (await stack.Run.RunAsync("StartCore")).ExitCode.Should().Be(0, "E stopped the core; the wipe needs it running for its backup");
        var work = Path.Combine(Path.GetTempPath(), $"llmstack-it-swarmwipe-{Guid.NewGuid():N}");
        Directory.CreateDirectory(work);
        var config = Path.Combine(work, "backup-strategies.yaml");
        var backup = (await File.ReadAllTextAsync(Path.Combine(stack.Docker.Root, "configs", "backup-strategies.yaml")))
            .Replace("    path: backups", $"    path: {Path.Combine(work, "tier")}", StringComparison.Ordinal);
        backup = TestLane.Second.WithEnvironment(backup).Replace($"  {Env}:\n", $"  {Env}:\n    backup_before_wipe: true\n", StringComparison.Ordinal);
        backup.Should().Contain("backup_before_wipe: true");
        await File.WriteAllTextAsync(config, backup);

        // A service of another environment (its labels, not ours for testing) mounting an unlabelled volume.
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var foreignVolume = (await stack.Docker.Docker.Volumes.CreateAsync(new VolumesCreateParameters { Name = $"{SwarmStack.Project}-foreign-{suffix}" })).Name;
        var foreign = await stack.Docker.Docker.Swarm.CreateServiceAsync(new ServiceCreateParameters
        {
            Service = new ServiceSpec
            {
                Name = $"{SwarmStack.Project}-foreign-{suffix}",
                Labels = new Dictionary<string, string> { [Names.ComposeProject] = TestNames.Project("development"), [Names.Environment] = "development" },
                Mode = new ServiceMode { Replicated = new ReplicatedService { Replicas = 1 } },
                TaskTemplate = new TaskSpec
                {
                    ContainerSpec = new ContainerSpec
                    {
                        Image = "llmstack-fixture/standin:1",
                        Mounts = [new Mount { Type = "volume", Source = foreignVolume, Target = "/data" }],
                    },
                },
                EndpointSpec = new EndpointSpec { Mode = "dnsrr" },
            },
        });
        try
        {
            var dry = await stack.Run.RunAsync("WipeCore", "--dry-run", "--backup-config", config);
            dry.ExitCode.Should().Be(0, dry.ToString());
            dry.Output.Should().MatchRegex($@"service\s+{Regex.Escape(SwarmStack.Project)}_postgres\s.*would remove").And.Contain("Swarm secret of POSTGRES_PASSWORD");
            (await stack.ServicesAsync()).Should().HaveCount(5, "a dry run removes nothing");

            var wipe = await stack.Run.RunAsync("WipeCore", "--confirm", Env, "--backup-config", config);
            wipe.ExitCode.Should().Be(0, wipe.ToString());
            wipe.Output.Should().MatchRegex(@"BackupFull\s+Succeeded[\s\S]*WipeCore\s+Succeeded", "the safety backup ran on the swarm first");

            (await stack.ServicesAsync()).Should().BeEmpty();
            (await stack.Docker.ContainersAsync(Env)).Should().BeEmpty("the tasks' containers went with their services");
            foreach (var volume in new[] { "postgres_data", "redis_data", "qdrant_data", "minio_data" })
            {
                var inspect = () => stack.Docker.Docker.Volumes.InspectAsync(SwarmStack.Volume(volume));
                await inspect.Should().ThrowAsync<Docker.DotNet.DockerApiException>(volume + " is wiped");
            }

            (await stack.Docker.Docker.Secrets.ListAsync()).Should().NotContain(s => s.Spec!.Labels != null && s.Spec.Labels.ContainsKey(Names.Secret) && s.Spec.Labels[Names.Environment] == Env);
            var left = await stack.Docker.Docker.Swarm.InspectServiceAsync(foreign.ID!);
            left.Spec!.Name.Should().Be($"{SwarmStack.Project}-foreign-{suffix}", "a service that is not the environment's is never touched");
            (await stack.Docker.Docker.Volumes.InspectAsync(foreignVolume)).Name.Should().Be(foreignVolume);

            var sets = await stack.Run.RunAsync("BackupList", "--json", "--backup-config", config);
            sets.ExitCode.Should().Be(0, sets.ToString());
            sets.Output.Should().Contain("\"trigger\": \"pre-wipe\"");
        }
        finally
        {
            await stack.Docker.Docker.Swarm.RemoveServiceAsync(foreign.ID!);
            for (var i = 0; i < 60 && (await stack.Docker.Docker.Containers.ListContainersAsync(new ContainersListParameters
                {
                    All = true,
                    Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"{Names.SwarmServiceId}={foreign.ID}"] = true } },
                })).Count > 0; i++)
            {
                await Task.Delay(500);
            }

            await stack.Docker.Docker.Volumes.RemoveAsync(foreignVolume, force: true);
            Directory.Delete(work, recursive: true);
        }
    }
}
