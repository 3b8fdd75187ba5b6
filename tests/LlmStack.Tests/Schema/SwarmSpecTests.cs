using LlmStack.Schema;

namespace LlmStack.Tests.Schema;

/// <summary>The pure swarm view of a service: update policy defaults, placement constraints, which secrets become files.</summary>
public class SwarmSpecTests : IDisposable
{
    private readonly string _directory = Repository.TempDirectory("swarm-spec");

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private SwarmEnvironment Swarm(params (string From, string To)[] edits)
    {
        var (yaml, _) = SchemaSamples.Edit(edits);
        File.WriteAllText(Path.Combine(_directory, "schema.yaml"), yaml);
        var file = new SchemaFile(_directory, "schema.yaml");
        return SwarmEnvironment.Of(file.Load(), file.Resolve("dev"));
    }

    [Fact]
    public void Update_defaults_are_one_at_a_time_rollback_a_monitor_covering_the_healthcheck_and_stop_first_only_where_it_must()
    {
        var swarm = Swarm(("    image: redis:7\n", "    image: redis:7\n    healthcheck:\n      test: [CMD, redis-cli, ping]\n      interval: 7s\n      timeout: 2s\n      retries: 4\n      start_period: 20s\n"));
        var db = swarm.Services.Single(s => s.Service.Name == "db").Update;
        var cache = swarm.Services.Single(s => s.Service.Name == "cache").Update;
        var api = swarm.Services.Single(s => s.Service.Name == "api").Update;

        db.Should().Be(new SwarmUpdatePolicy(1, UpdateOrder.StopFirst, UpdateFailureAction.Rollback, TimeSpan.FromSeconds(45), TimeSpan.Zero),
            "a named volume: stop-first; standard template 10s interval, 5s timeout, 3 retries, no start period: (10+5)×3");
        cache.Order.Should().Be(UpdateOrder.StartFirst, "no volume, no host port");
        cache.Monitor.Should().Be(TimeSpan.FromSeconds(20 + (9 * 4)));
        SwarmUpdatePolicy.MinimumMonitor(swarm.Environment.Service("cache")).Should().Be(TimeSpan.FromSeconds(20 + (7 * 4)));
        api.Order.Should().Be(UpdateOrder.StopFirst, "api publishes a fixed host port, which the old task holds");
        api.Monitor.Should().Be(SwarmUpdatePolicy.DockerDefaultMonitor, "no healthcheck: nothing longer to wait for");
    }

    [Fact]
    public void The_schema_update_key_overrides_the_defaults()
    {
        var swarm = Swarm(("    image: redis:7\n", "    image: redis:7\n    update: { parallelism: 2, order: stop-first, failure_action: pause, monitor: 2m, delay: 10s }\n"));
        swarm.Services.Single(s => s.Service.Name == "cache").Update
            .Should().Be(new SwarmUpdatePolicy(2, UpdateOrder.StopFirst, UpdateFailureAction.Pause, TimeSpan.FromMinutes(2), TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public void Placement_labels_become_node_label_constraints_by_key_and_an_environment_can_override_them()
    {
        var swarm = Swarm(
            ("    image: postgres:16\n", "    image: postgres:16\n    placement: { labels: { zone: a, llmstack.data: \"true\" } }\n"),
            ("  dev:\n    gpu: false\n", "  dev:\n    gpu: false\n    services:\n      cache:\n        placement: { labels: { gpu: \"yes\" } }\n"));
        swarm.Services.Single(s => s.Service.Name == "db").Constraints.Should().Equal("node.labels.llmstack.data == true", "node.labels.zone == a");
        swarm.Services.Single(s => s.Service.Name == "cache").Constraints.Should().Equal("node.labels.gpu == yes");
        swarm.Services.Single(s => s.Service.Name == "api").Constraints.Should().BeEmpty();
    }

    [Fact]
    public void A_secret_file_replaces_its_variable_by_the_FILE_variable_and_everything_else_stays_visible()
    {
        var swarm = Swarm(("    image: postgres:16\n", "    image: postgres:16\n    secret_files: [POSTGRES_PASSWORD]\n"),
            ("    depends_on: [db, cache]\n", "    depends_on: [db, cache]\n    secret_files: [API_KEY]\n"));
        var db = swarm.Services.Single(s => s.Service.Name == "db").Secrets;
        db.Files.Should().Equal(new SwarmSecretFile("POSTGRES_PASSWORD", "DB_PASSWORD", "demo-dev_DB_PASSWORD"));
        db.Files[0].FileVariable.Should().Be("POSTGRES_PASSWORD_FILE");
        db.Files[0].Path.Should().Be("/run/secrets/DB_PASSWORD");
        db.Environment.Select(kv => $"{kv.Key}={kv.Value}").Should().Equal("POSTGRES_PASSWORD_FILE=/run/secrets/DB_PASSWORD");
        db.Visible.Should().BeEmpty("the only secret went to a file");

        var api = swarm.Services.Single(s => s.Service.Name == "api").Secrets;
        api.Environment.Select(kv => kv.Key).Should().Equal("DATABASE_URL", "API_KEY_FILE", "PRICE");
        api.Visible.Should().ContainSingle().Which.Key.Should().Be("DATABASE_URL", "a secret inside a URL cannot be a file: it stays an environment value");
        api.Visible[0].Value.Should().Equal("DB_PASSWORD");
        api.Secrets.Select(s => s.SwarmName).Should().Equal("demo-dev_API_KEY");
    }

    [Fact]
    public void A_variable_that_is_not_exactly_one_secret_stays_an_environment_value_and_is_a_problem()
    {
        var service = new SchemaFile(Repository.Root, "schemas/compose-schema.yaml").Resolve("testing").Service("litellm");
        var problems = new List<string>();
        var plan = SwarmSecretPlan.For("p", service, ["DATABASE_URL", "LITELLM_MASTER_KEY", "LITELLM_MASTER_KEY"], new HashSet<string> { "POSTGRES_PASSWORD", "LITELLM_MASTER_KEY" },
            (i, message) => problems.Add($"{i}: {message}"));
        plan.Files.Select(f => f.Variable).Should().Equal("LITELLM_MASTER_KEY");
        plan.Environment.Should().Contain(kv => kv.Key == "DATABASE_URL");
        problems.Should().ContainSingle().Which.Should().StartWith("0: service 'litellm': secret_files names 'DATABASE_URL', whose value");
    }

    [Fact]
    public void The_repository_postgres_reads_its_password_from_a_swarm_secret()
    {
        var file = new SchemaFile(Repository.Root, "schemas/compose-schema.yaml");
        var swarm = SwarmEnvironment.Of(file.Load(), file.Resolve("production"));
        var postgres = swarm.Services.Single(s => s.Service.Name == "postgres");
        postgres.Secrets.Files.Should().Equal(new SwarmSecretFile("POSTGRES_PASSWORD", "POSTGRES_PASSWORD", "multimodal-production_POSTGRES_PASSWORD"));
        postgres.Constraints.Should().Equal("node.labels.llmstack.data == true");
        swarm.Services.Where(s => s.Service.Volumes.Any(v => v.Kind == MountKind.Volume)).Should().OnlyContain(s => s.Constraints.Count > 0, "every data service is pinned");
    }
}
