using System.Text.Json;
using System.Text.RegularExpressions;
using Docker.DotNet.Models;
using LlmStack.Compose;
using LlmStack.Lifecycle;
using YamlDotNet.RepresentationModel;

namespace LlmStack.IntegrationTests;

[Collection(TestLane.MainCollection)]
[Trait("Category", "Integration")]
public sealed class StackLifecycleTests(DockerFixture docker) : IAsyncLifetime
{
    private static readonly string[] Core = ["minio", "postgres", "qdrant", "redis"];

    public Task InitializeAsync() => docker.CleanAsync("testing", "development");

    public Task DisposeAsync() => docker.CleanAsync("testing", "development");

    private TestRun Build => new(docker.Root);

    /// <summary>The runs of these tests that pass no --image-map.</summary>
    private TestRun WithoutImageMap => Build with { ImageMap = null };

    private async Task<Dictionary<string, string>> IdsAsync(string environment = "testing", string? stack = null) =>
        (await docker.ContainersAsync(environment, stack)).ToDictionary(c => c.Labels[Names.Service], c => c.ID);

    [Fact]
    public async Task StartCore_brings_up_healthy_core_services_on_the_stack_network_with_our_labels()
    {
        var result = await Build.RunAsync("StartCore");
        result.ExitCode.Should().Be(0, result.ToString());

        var containers = await docker.ContainersAsync("testing");
        containers.Select(c => c.Labels[Names.Service]).Should().BeEquivalentTo(Core);
        foreach (var container in containers)
        {
            container.State.Should().Be("running");
            container.Labels.Should().Contain(new Dictionary<string, string>
            {
                [Names.ComposeProject] = TestNames.Project(),
                [Names.ComposeService] = container.Labels[Names.Service],
                [Names.ComposeContainerNumber] = "1",
                [Names.Environment] = "testing",
                [Names.Stack] = "core",
            });
            container.Labels[Names.ConfigHash].Should().MatchRegex("^[0-9a-f]{32}$");
            container.Names.Should().Equal("/" + TestNames.Container(container.Labels[Names.Service]));
            container.NetworkSettings!.Networks.Keys.Should().BeEquivalentTo(TestNames.Network("core"));
        }

        var network = await docker.Docker.Networks.InspectNetworkAsync(TestNames.Network("core"));
        network.IPAM!.Config!.Single().Subnet.Should().Be("10.83.1.0/24");
        network.IPAM!.Config!.Single().Gateway.Should().Be("10.83.1.1");
        network.Labels.Should().Contain(Names.Stack, "core").And.Contain(Names.ComposeNetwork, "core");
        (await docker.Docker.Volumes.InspectAsync(TestNames.Volume("postgres_data"))).Labels.Should().Contain(Names.Environment, "testing");

        // Docker's own verdict catches up with LlmStack's probes at its first scheduled check.
        var deadline = DateTime.UtcNow.AddSeconds(40);
        while (true)
        {
            var health = new List<string?>();
            foreach (var container in containers)
            {
                health.Add((await docker.Docker.Containers.InspectContainerAsync(container.ID)).State!.Health?.Status);
            }

            if (health.All(h => h == "healthy"))
            {
                break;
            }

            DateTime.UtcNow.Should().BeBefore(deadline, $"all core services should become healthy, got {string.Join(", ", health)}");
            await Task.Delay(1000);
        }

        var status = await WithoutImageMap.RunAsync("StatusCore", "--json");
        status.ExitCode.Should().Be(0, status.ToString());
        var json = status.StandardOutput;
        var services = JsonDocument.Parse(json).RootElement.EnumerateArray().ToList();
        services.Select(s => s.GetProperty("service").GetString()).Should().BeEquivalentTo(Core);
        services.Should().OnlyContain(s => s.GetProperty("state").GetString() == "running"
                                           && s.GetProperty("health").GetString() == "healthy"
                                           && s.GetProperty("running").GetInt32() == 1
                                           && s.GetProperty("desired").GetInt32() == 1);
        services.Single(s => s.GetProperty("service").GetString() == "postgres").GetProperty("ports")[0].GetString()
            .Should().Be("127.0.0.1:15432->5432/tcp");
    }

    [Fact]
    public async Task A_row_in_postgres_and_a_key_in_redis_survive_restart_and_stop_start()
    {
        (await Build.RunAsync("StartCore")).ExitCode.Should().Be(0);
        var postgres = TestNames.Container("postgres");
        var redis = TestNames.Container("redis");
        (await docker.ExecAsync(postgres, "psql", "-U", "multimodal", "-d", "multimodal", "-c",
            "CREATE TABLE survival (note text); INSERT INTO survival VALUES ('still here');")).ExitCode.Should().Be(0);
        (await docker.ExecAsync(redis, "redis-cli", "SET", "survival", "still here")).Output.Should().Contain("OK");

        var restart = await WithoutImageMap.RunAsync("RestartCore");
        restart.ExitCode.Should().Be(0, restart.ToString());
        await AssertDataAsync();

        var stop = await WithoutImageMap.RunAsync("StopCore");
        stop.ExitCode.Should().Be(0, stop.ToString());
        (await docker.ContainersAsync("testing")).Should().BeEmpty();
        (await docker.Docker.Volumes.InspectAsync(TestNames.Volume("postgres_data"))).Should().NotBeNull("volumes stay");

        (await Build.RunAsync("StartCore")).ExitCode.Should().Be(0);
        await AssertDataAsync();

        async Task AssertDataAsync()
        {
            (await docker.ExecAsync(postgres, "psql", "-U", "multimodal", "-d", "multimodal", "-tAc", "SELECT note FROM survival")).Output.Trim().Should().Be("still here");
            (await docker.ExecAsync(redis, "redis-cli", "GET", "survival")).Output.Trim().Should().Be("still here");
        }
    }

    [Fact]
    public async Task StartAi_starts_core_then_inference_then_ai_and_StopCore_stops_dependents_first()
    {
        var start = await Build.RunAsync("StartAi");
        start.ExitCode.Should().Be(0, start.ToString());
        start.Output.IndexOf("║ StartCore", StringComparison.Ordinal).Should().BeLessThan(start.Output.IndexOf("║ StartInference", StringComparison.Ordinal));
        start.Output.IndexOf("║ StartInference", StringComparison.Ordinal).Should().BeLessThan(start.Output.IndexOf("║ StartAi", StringComparison.Ordinal));

        var created = new Dictionary<string, List<DateTime>>();
        foreach (var stack in new[] { "core", "inference", "ai" })
        {
            created[stack] = [];
            foreach (var container in await docker.ContainersAsync("testing", stack))
            {
                created[stack].Add(DateTime.Parse((await docker.Docker.Containers.InspectContainerAsync(container.ID)).State!.StartedAt, null, System.Globalization.DateTimeStyles.AdjustToUniversal));
            }
        }

        created["core"].Should().HaveCount(4);
        created["inference"].Should().HaveCount(2);
        created["ai"].Should().HaveCount(6);
        created["core"].Max().Should().BeBefore(created["inference"].Min());
        created["inference"].Max().Should().BeBefore(created["ai"].Min());

        // Cross-stack names resolve: an ai service reaches postgres (core) and vllm (inference).
        (await docker.ExecAsync(TestNames.Container("ai-agents"), "wget", "-q", "-O-", "http://vllm:8000/health")).ExitCode.Should().Be(0);
        (await docker.ExecAsync(TestNames.Container("ai-agents"), "wget", "-q", "-O", "/dev/null", "http://qdrant:6333/readyz")).ExitCode.Should().Be(0);

        var stop = await WithoutImageMap.RunAsync("StopCore");
        stop.ExitCode.Should().Be(0, stop.ToString());
        var ai = stop.Output.IndexOf($"Stopped: {TestNames.Container("multimodal-worker")}", StringComparison.Ordinal);
        var inference = stop.Output.IndexOf($"Stopped: {TestNames.Container("vllm")}", StringComparison.Ordinal);
        var core = stop.Output.IndexOf($"Stopped: {TestNames.Container("postgres")}", StringComparison.Ordinal);
        ai.Should().BePositive();
        ai.Should().BeLessThan(inference);
        inference.Should().BeLessThan(core);
        (await docker.ContainersAsync("testing")).Should().BeEmpty();
        (await docker.Docker.Networks.ListNetworksAsync()).Select(n => n.Name).Should().NotContain(n => n.StartsWith(TestNames.Project() + "_", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_second_start_keeps_containers_and_a_changed_service_alone_is_recreated()
    {
        (await Build.RunAsync("StartCore")).ExitCode.Should().Be(0);
        var before = await IdsAsync();

        var again = await Build.RunAsync("StartCore");
        again.ExitCode.Should().Be(0, again.ToString());
        again.Output.Should().Contain("Containers: 4 unchanged");
        (await IdsAsync()).Should().Equal(before);

        var schema = SchemaCopy.Write(docker.Root, root =>
            root.Service("redis").Map("environment").Set("LLMSTACK_CHANGED", new YamlScalarNode("1")));
        try
        {
            var changed = await Build.RunAsync("StartCore", "--schema", schema);
            changed.ExitCode.Should().Be(0, changed.ToString());
            changed.Output.Should().Contain("Containers: 1 recreated, 3 unchanged");
            var after = await IdsAsync();
            after["redis"].Should().NotBe(before["redis"]);
            after.Where(kv => kv.Key != "redis").Should().BeEquivalentTo(before.Where(kv => kv.Key != "redis"));
        }
        finally
        {
            File.Delete(schema);
        }
    }

    [Fact]
    public async Task Replicas_are_started_counted_and_scaled_down()
    {
        string Schema(int replicas) => SchemaCopy.Write(docker.Root, root =>
        {
            var minio = root.Service("minio");
            minio.Set("replicas", new YamlScalarNode(replicas.ToString(System.Globalization.CultureInfo.InvariantCulture)) { Style = YamlDotNet.Core.ScalarStyle.Plain });
            minio.Set("ports", new YamlSequenceNode());
        });
        var three = Schema(3);
        var one = Schema(1);
        try
        {
            var start = await Build.RunAsync("StartCore", "--schema", three);
            start.ExitCode.Should().Be(0, start.ToString());
            (await docker.ContainersAsync("testing")).Where(c => c.Labels[Names.Service] == "minio").Select(c => c.Names[0])
                .Should().BeEquivalentTo("/" + TestNames.Container("minio"), "/" + TestNames.Container("minio", number: 2), "/" + TestNames.Container("minio", number: 3));
            var status = await WithoutImageMap.RunAsync("StatusCore", "--schema", three);
            status.Output.Should().MatchRegex(@"minio\s+core\s+running\s+\S+\s+\S+\s+3/3");

            // Every replica answers on the service name.
            (await docker.ExecAsync(TestNames.Container("qdrant"), "nslookup", "minio")).Output.Split("Address").Length.Should().BeGreaterThan(3);

            var scaled = await Build.RunAsync("StartCore", "--schema", one);
            scaled.ExitCode.Should().Be(0, scaled.ToString());
            scaled.Output.Should().Contain($"Orphan removed: {TestNames.Container("minio", number: 3)}").And.Contain($"Orphan removed: {TestNames.Container("minio", number: 2)}");
            (await docker.ContainersAsync("testing")).Count(c => c.Labels[Names.Service] == "minio").Should().Be(1);
        }
        finally
        {
            File.Delete(three);
            File.Delete(one);
        }
    }

    [Fact]
    public async Task A_missing_image_fails_naming_the_service_before_anything_is_created()
    {
        var map = Path.Combine(Path.GetTempPath(), $"llmstack-it-map-{Guid.NewGuid():N}.yaml");
        await File.WriteAllTextAsync(map, "redis:7-alpine: llmstack-fixture/missing:1\npostgres:16-alpine: llmstack-fixture/postgres:15\n\"*\": llmstack-fixture/standin:1\n");
        try
        {
            var result = await (Build with { ImageMap = map }).RunAsync("StartCore");
            result.ExitCode.Should().NotBe(0);
            result.Output.Should().Contain("image 'llmstack-fixture/missing:1' (service redis) cannot be pulled from docker.io: ").And.Contain("--image-map");
            (await docker.ContainersAsync("testing")).Should().BeEmpty();
            (await docker.Docker.Networks.ListNetworksAsync()).Select(n => n.Name).Should().NotContain(TestNames.Network("core"));
        }
        finally
        {
            File.Delete(map);
        }
    }

    [Fact]
    public async Task A_failing_healthcheck_fails_naming_the_service_and_its_last_check_output()
    {
        var schema = SchemaCopy.Write(docker.Root, root => root.FailHealth("minio"));
        try
        {
            var result = await Build.RunAsync("StartCore", "--schema", schema);
            result.ExitCode.Should().NotBe(0);
            result.Output.Should().MatchRegex($@"service 'minio' \({Regex.Escape(TestNames.Container("minio"))}\) is unhealthy: .*last check output: .*404");
        }
        finally
        {
            File.Delete(schema);
        }
    }

    [Theory]
    [InlineData("DOCKER_HOST", "unix:///tmp/llmstack-no-engine.sock")]
    [InlineData("DOCKER_HOST", "tcp://127.0.0.1:1")]
    [InlineData("--docker-host", "tcp://127.0.0.1:1")]
    public async Task An_unreachable_engine_gives_one_clear_error(string how, string endpoint)
    {
        // Fault 2: a tcp endpoint printed a 25-line AggregateException/SocketException stack trace.
        var result = how == "DOCKER_HOST"
            ? await (WithoutImageMap with { EnvironmentVariables = new Dictionary<string, string> { ["DOCKER_HOST"] = endpoint } }).RunAsync("StatusCore")
            : await WithoutImageMap.RunAsync("StatusCore", how, endpoint);
        result.ExitCode.Should().Be(1);
        var message = $"Docker engine not reachable at {endpoint}: start dockerd there, or point --docker-host (or DOCKER_HOST) at a running engine";
        result.Output.Should().Contain(message);
        result.Output.Split(message).Length.Should().Be(3, "once in the log, once in the summary table, never twice as an error");
        result.Output.Should().NotContain("   at ", "no stack trace").And.NotContain("Exception");
    }

    [Fact]
    public async Task Foreign_containers_and_volumes_with_our_names_are_never_touched()
    {
        var foreignContainer = await docker.Docker.Containers.CreateContainerAsync(new CreateContainerParameters { Name = "postgres", Image = "llmstack-fixture/standin:1" });
        var lookalike = await docker.Docker.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Name = "otherproj-postgres-1",
            Image = "llmstack-fixture/standin:1",
            Labels = new Dictionary<string, string> { [Names.ComposeProject] = "otherproj", [Names.ComposeService] = "postgres", [Names.Stack] = "core" },
        });
        await docker.Docker.Containers.StartContainerAsync(foreignContainer.ID, new ContainerStartParameters());
        await docker.Docker.Volumes.CreateAsync(new VolumesCreateParameters { Name = "otherproj_postgres_data" });
        try
        {
            (await Build.RunAsync("StartCore")).ExitCode.Should().Be(0);
            (await WithoutImageMap.RunAsync("SystemStatus")).ExitCode.Should().Be(0);
            (await WithoutImageMap.RunAsync("Stop")).ExitCode.Should().Be(0);

            (await docker.Docker.Containers.InspectContainerAsync(foreignContainer.ID)).State!.Running.Should().BeTrue();
            (await docker.Docker.Containers.InspectContainerAsync(lookalike.ID)).Should().NotBeNull();
            (await docker.Docker.Volumes.InspectAsync("otherproj_postgres_data")).Name.Should().Be("otherproj_postgres_data");
        }
        finally
        {
            await docker.Docker.Containers.RemoveContainerAsync(foreignContainer.ID, new ContainerRemoveParameters { Force = true });
            await docker.Docker.Containers.RemoveContainerAsync(lookalike.ID, new ContainerRemoveParameters { Force = true });
            await docker.Docker.Volumes.RemoveAsync("otherproj_postgres_data");
        }
    }

    [Fact]
    public async Task Testing_and_development_run_side_by_side()
    {
        (await Build.RunAsync("StartCore")).ExitCode.Should().Be(0);
        var development = await (Build with { Environment = "development" }).RunAsync("StartCore");
        development.ExitCode.Should().Be(0, development.ToString());

        var testing = await docker.ContainersAsync("testing");
        var dev = await docker.ContainersAsync("development");
        testing.Should().HaveCount(4).And.OnlyContain(c => c.State == "running");
        dev.Should().HaveCount(4).And.OnlyContain(c => c.State == "running");
        (await docker.Docker.Networks.InspectNetworkAsync(TestNames.Network("core", "development"))).IPAM!.Config!.Single().Subnet.Should().Be("10.80.1.0/24");
        (await docker.Docker.Networks.InspectNetworkAsync(TestNames.Network("core"))).IPAM!.Config!.Single().Subnet.Should().Be("10.83.1.0/24");

        (await WithoutImageMap.RunAsync("StopCore")).ExitCode.Should().Be(0);
        (await docker.ContainersAsync("testing")).Should().BeEmpty();
        (await docker.ContainersAsync("development")).Should().HaveCount(4).And.OnlyContain(c => c.State == "running");
        (await docker.ExecAsync(TestNames.Container("postgres", "development"), "pg_isready", "-U", "multimodal")).ExitCode.Should().Be(0);
    }

    [Fact]
    public async Task Secrets_are_generated_once_private_and_never_printed_or_logged()
    {
        var secretsFile = Path.Combine(docker.Root, "secrets", "testing.env");
        var first = await Build.RunAsync("StartCore");
        first.ExitCode.Should().Be(0, first.ToString());
        File.GetUnixFileMode(secretsFile).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var values = File.ReadAllLines(secretsFile).Where(l => l.Contains('=') && !l.StartsWith('#')).ToDictionary(l => l[..l.IndexOf('=')], l => l[(l.IndexOf('=') + 1)..]);
        values.Should().ContainKey("POSTGRES_PASSWORD").And.ContainKey("LITELLM_MASTER_KEY");
        values["LITELLM_MASTER_KEY"].Should().StartWith("sk-");

        var logs = await WithoutImageMap.RunAsync("LogsCore", "--tail", "all");
        var status = await WithoutImageMap.RunAsync("SystemStatus", "--verbosity", "verbose");
        foreach (var run in new[] { first, logs, status })
        {
            foreach (var (name, value) in values)
            {
                run.Output.Should().NotContain(value, $"{name} must not reach the console");
                run.Log.Should().NotContain(value, $"{name} must not reach build.log");
                run.JsonLog.Should().NotContain(value, $"{name} must not reach build.json");
            }
        }

        // The container does get the value, and a restart keeps it (never overwritten).
        var env = (await docker.Docker.Containers.InspectContainerAsync(TestNames.Container("postgres"))).Config!.Env;
        env.Should().Contain($"POSTGRES_PASSWORD={values["POSTGRES_PASSWORD"]}");
        (await Build.RunAsync("StartCore")).ExitCode.Should().Be(0);
        File.ReadAllText(secretsFile).Should().Contain($"POSTGRES_PASSWORD={values["POSTGRES_PASSWORD"]}");
    }

    [Fact]
    public async Task Logs_are_prefixed_by_container_and_follow_ends_cleanly_on_ctrl_c()
    {
        (await Build.RunAsync("StartCore")).ExitCode.Should().Be(0);
        var logs = await WithoutImageMap.RunAsync("LogsCore", "--service", "postgres", "--tail", "3");
        logs.ExitCode.Should().Be(0, logs.ToString());
        var lines = logs.Output.Split('\n').Where(l => l.StartsWith("postgres-1 | ", StringComparison.Ordinal)).ToList();
        lines.Should().HaveCount(3);

        // Signalled once a followed line arrived (the follow is running), by Ctrl-C and by a CI runner's SIGTERM alike.
        foreach (var (signal, name) in new[] { ("INT", "Ctrl-C"), ("TERM", "SIGTERM") })
        {
            var follow = await WithoutImageMap.RunAsync(["LogsCore", "--follow", "--tail", "1"],
                signalAt: line => Regex.IsMatch(line, @"redis-1\s+\| "), signal: signal);
            follow.ExitCode.Should().Be(130, follow.ToString());
            follow.Output.Should().Contain($"Cancelling ({name})").And.MatchRegex(@"redis-1\s+\| ").And.MatchRegex(@"LogsCore\s+Aborted").And.NotContain("   at ");
        }
    }

    [Fact]
    public async Task A_start_interrupted_after_a_create_leaves_it_attached_and_a_container_cut_off_its_networks_is_repaired()
    {
        // litellm (inference) needs postgres (core): it is on both stacks' networks.
        (await Build.RunAsync("StartCore")).ExitCode.Should().Be(0);
        var interrupted = await Build.RunAsync(["StartInference"], whileRunning: async process =>
        {
            var deadline = DateTime.UtcNow.AddMinutes(2);
            while (!(await docker.ContainersAsync("testing", "inference")).Any(c => c.Labels[Names.Service] == "litellm"))
            {
                DateTime.UtcNow.Should().BeBefore(deadline, "StartInference creates litellm");
                await Task.Delay(5);
            }

            using var interrupt = System.Diagnostics.Process.Start("kill", ["-INT", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
            await interrupt.WaitForExitAsync();
        });
        interrupted.ExitCode.Should().Be(130, interrupted.ToString());
        var litellm = (await docker.ContainersAsync("testing", "inference")).Single(c => c.Labels[Names.Service] == "litellm");
        litellm.NetworkSettings!.Networks.Keys.Should().BeEquivalentTo([TestNames.Network("inference"), TestNames.Network("core")], "a create and its network attachments are one step");

        var start = await Build.RunAsync("StartInference");
        start.ExitCode.Should().Be(0, start.ToString());

        // Cut off behind LlmStack's back (what a run killed between create and connect leaves): the next Start mends it.
        await docker.Docker.Networks.DisconnectNetworkAsync(TestNames.Network("core"), new NetworkDisconnectParameters { Container = TestNames.Container("litellm"), Force = true });
        var repaired = await Build.RunAsync("StartInference");
        repaired.ExitCode.Should().Be(0, repaired.ToString());
        repaired.Output.Should().Contain($"Repaired {TestNames.Container("litellm")}: it was not attached to network {TestNames.Network("core")}")
            .And.MatchRegex(@"Containers: 1 repaired, \d+ unchanged");
        var container = await docker.Docker.Containers.InspectContainerAsync(TestNames.Container("litellm"));
        container.NetworkSettings!.Networks.Keys.Should().BeEquivalentTo(TestNames.Network("inference"), TestNames.Network("core"));
        container.NetworkSettings.Networks[TestNames.Network("core")].Aliases.Should().Contain("litellm");
        (await docker.ExecAsync(TestNames.Container("litellm"), "nslookup", "postgres")).Output.Should().Contain("10.83.1.", "litellm reaches postgres by name again");
        (await WithoutImageMap.RunAsync("ValidateNetworks")).ExitCode.Should().Be(0);

        var again = await Build.RunAsync("StartInference");
        again.Output.Should().NotContain("repaired");
    }

    [Fact]
    public async Task RestartCore_ends_with_every_service_running_starting_what_was_down_and_creating_what_was_missing()
    {
        (await Build.RunAsync("StartCore")).ExitCode.Should().Be(0);
        var before = await IdsAsync();
        await docker.Docker.Containers.StopContainerAsync(TestNames.Container("redis"), new ContainerStopParameters { WaitBeforeKillSeconds = 1 });
        await docker.Docker.Containers.RemoveContainerAsync(TestNames.Container("minio"), new ContainerRemoveParameters { Force = true });

        var restart = await Build.RunAsync("RestartCore");
        restart.ExitCode.Should().Be(0, restart.ToString());
        restart.Output.Should().Contain($"Restarted: 2; brought back: {TestNames.Container("minio")} created, {TestNames.Container("redis")} started");
        var after = await docker.ContainersAsync("testing", "core");
        after.Select(c => c.Labels[Names.Service]).Should().BeEquivalentTo(Core);
        after.Should().OnlyContain(c => c.State == "running");
        (await IdsAsync())["postgres"].Should().Be(before["postgres"], "running services are restarted in place");
        (await WithoutImageMap.RunAsync("StatusCore")).ExitCode.Should().Be(0);
    }

    [Fact]
    public async Task A_missing_secret_that_existing_data_keeps_is_refused_not_generated()
    {
        (await Build.RunAsync("StartCore")).ExitCode.Should().Be(0);
        var before = await IdsAsync();
        var fresh = Path.Combine(Path.GetTempPath(), $"llmstack-it-secrets-{Guid.NewGuid():N}");
        Directory.CreateDirectory(fresh);
        try
        {
            // A fresh checkout (no secrets file) on a host whose postgres volume was initialised with another password.
            var result = await Build.RunAsync("StartCore", "--secrets-dir", fresh);
            result.ExitCode.Should().Be(1, result.ToString());
            result.Output.Should().Contain("lacks POSTGRES_PASSWORD, MINIO_ROOT_PASSWORD")
                .And.Contain($"volume {TestNames.Volume("postgres_data")} (postgres: POSTGRES_PASSWORD, LITELLM_SALT_KEY, N8N_ENCRYPTION_KEY)")
                .And.Contain($"{TestNames.Volume("minio_data")} (minio: MINIO_ROOT_PASSWORD)")
                .And.Contain("nothing was generated").And.Contain("RotateSecret --secret NAME").And.Contain("WipeDb")
                .And.NotContain("Generated").And.NotContain("   at ");
            Directory.GetFiles(fresh).Should().BeEmpty("no secrets file is written");
            (await IdsAsync()).Should().Equal(before, "nothing was recreated");

            // With the file back, the same start is a no-op.
            File.Copy(Path.Combine(docker.Root, "secrets", "testing.env"), Path.Combine(fresh, "testing.env"));
            var restored = await Build.RunAsync("StartCore", "--secrets-dir", fresh);
            restored.ExitCode.Should().Be(0, restored.ToString());
            restored.Output.Should().Contain("Containers: 4 unchanged");
        }
        finally
        {
            Directory.Delete(fresh, recursive: true);
        }
    }

    [Fact]
    public async Task A_service_resumed_after_a_pause_is_healthy_for_Docker_before_the_resume_returns()
    {
        // A short healthcheck, so a pause long enough for Docker's probes to fail makes Docker call qdrant unhealthy.
        var schema = SchemaCopy.Write(docker.Root, root =>
        {
            var check = root.Service("qdrant").Map("healthcheck");
            check.Set("interval", new YamlScalarNode("8s"));
            check.Set("timeout", new YamlScalarNode("2s"));
            check.Set("retries", new YamlScalarNode("1"));
            check.Set("start_period", new YamlScalarNode("0s"));
        });
        try
        {
            (await Build.RunAsync("StartCore", "--schema", schema)).ExitCode.Should().Be(0);
            var testing = new Schema.SchemaFile(docker.Root, schema).Resolve("testing");
            using var engine = await LlmStack.Engine.DockerEngine.ConnectAsync(null, Serilog.Core.Logger.None, CancellationToken.None);
            var lifecycle = new LlmStack.Lifecycle.ServiceLifecycle(engine, testing, Serilog.Core.Logger.None);
            await using (var paused = await lifecycle.SuspendAsync(["qdrant"], LlmStack.Lifecycle.SuspendMode.Pause, CancellationToken.None))
            {
                var deadline = DateTime.UtcNow.AddMinutes(1);
                while ((await docker.Docker.Containers.InspectContainerAsync(TestNames.Container("qdrant"))).State!.Health!.Status != "unhealthy")
                {
                    DateTime.UtcNow.Should().BeBefore(deadline, "Docker's probes fail while qdrant is paused");
                    await Task.Delay(200);
                }

                await paused.ResumeAsync(CancellationToken.None);
            }

            (await docker.Docker.Containers.InspectContainerAsync(TestNames.Container("qdrant"))).State!.Health!.Status.Should().Be("healthy");
            var status = await WithoutImageMap.RunAsync("StatusCore", "--schema", schema);
            status.ExitCode.Should().Be(0, status.ToString());
        }
        finally
        {
            File.Delete(schema);
        }
    }

    [Fact]
    public async Task Ready_checks_of_the_schema_gate_a_service_and_a_failing_one_names_the_service_and_the_check()
    {
        (await Build.RunAsync("StartCore")).ExitCode.Should().Be(0);
        string Schema(params YamlMappingNode[] checks) => SchemaCopy.Write(docker.Root, root => root.Service("minio").Set("ready", new YamlSequenceNode(checks)));
        static YamlMappingNode Check(string key, YamlNode value, string? timeout = null)
        {
            var node = new YamlMappingNode { { key, value } };
            if (timeout is not null)
            {
                node.Add("timeout", timeout);
            }

            return node;
        }

        var good = Schema(
            Check("tcp", new YamlScalarNode("9000") { Style = YamlDotNet.Core.ScalarStyle.Plain }),
            Check("http", new YamlMappingNode { { "port", new YamlScalarNode("9000") { Style = YamlDotNet.Core.ScalarStyle.Plain } }, { "path", "/minio/health/live" } }),
            Check("log", new YamlScalarNode("standin: serving")));
        var refused = Schema(Check("tcp", new YamlScalarNode("9999") { Style = YamlDotNet.Core.ScalarStyle.Plain }, "3s"));
        var missing = Schema(Check("http", new YamlMappingNode { { "port", new YamlScalarNode("9000") { Style = YamlDotNet.Core.ScalarStyle.Plain } }, { "path", "/nope" } }, "3s"));
        try
        {
            var ready = await Build.RunAsync("StartCore", "--schema", good);
            ready.ExitCode.Should().Be(0, ready.ToString());
            ready.Output.Should().Contain("Containers: 4 unchanged", "ready checks are not part of the container: nothing is recreated");

            var closed = await Build.RunAsync("StartCore", "--schema", refused);
            closed.ExitCode.Should().Be(1, closed.ToString());
            closed.Output.Should().MatchRegex($@"service 'minio' \({Regex.Escape(TestNames.Container("minio"))}\) is not ready: tcp 9999 did not pass within 3s; last: 10\.83\.1\.\d+:9999: .*refused");

            var notFound = await Build.RunAsync("StartCore", "--schema", missing);
            notFound.ExitCode.Should().Be(1, notFound.ToString());
            notFound.Output.Should().MatchRegex($@"service 'minio' \({Regex.Escape(TestNames.Container("minio"))}\) is not ready: http :9000/nope → 200 did not pass within 3s; last: HTTP 404 from 10\.83\.1\.\d+:9000/nope")
                .And.NotContain("   at ");
        }
        finally
        {
            File.Delete(good);
            File.Delete(refused);
            File.Delete(missing);
        }
    }
}
