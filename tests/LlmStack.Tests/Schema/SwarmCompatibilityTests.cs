using LlmStack.Schema;

namespace LlmStack.Tests.Schema;

/// <summary>ValidateSchema on a swarm: every key Swarm cannot honour, at its line:col (the sample's dev environment, made a swarm one).</summary>
public class SwarmCompatibilityTests : IDisposable
{
    private readonly string _directory = Repository.TempDirectory("swarm-schema");

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    /// <summary>The sample with dev on a swarm: db pinned, host-IP ports acknowledged. Clean.</summary>
    private static readonly (string From, string To)[] SwarmDev =
    [
        ("  dev:\n    gpu: false\n", "  dev:\n    gpu: false\n    orchestrator: swarm\n    swarm: { publish_all_interfaces: true }\n"),
        ("    image: postgres:16\n", "    image: postgres:16\n    placement: { labels: { data: \"true\" } }\n"),
    ];

    private SchemaLoadResult Load(string yaml)
    {
        File.WriteAllText(Path.Combine(_directory, "schema.yaml"), yaml);
        return SchemaLoader.Load(Path.Combine(_directory, "schema.yaml"), "schema.yaml", _directory);
    }

    [Fact]
    public void The_sample_on_a_swarm_with_its_data_pinned_and_its_ports_acknowledged_is_clean()
    {
        var (yaml, _) = SchemaSamples.Edit(SwarmDev);
        Load(yaml).Diagnostics.Should().BeEmpty();
    }

    [Fact]
    public void A_containers_environment_is_not_checked_for_swarm()
    {
        var (yaml, _) = SchemaSamples.Edit(("  dev:\n    gpu: false\n", "  dev:\n    gpu: false\n    services:\n      cache:\n        container_name: cache1\n"));
        Load(yaml).Diagnostics.Should().BeEmpty("dev and test run containers: container_name, loopback ports and an unpinned volume are fine there");
    }

    public static TheoryData<string, (string, string)[], string> Unmappable => new()
    {
        { "service 'cache': Swarm names its tasks itself and has no container_name: remove it", [("    image: redis:7\n", "    image: redis:7\n    ⟦container_name: cache1\n")], "error" },
        { "service 'cache': Swarm has no device requests and cannot give a task GPUs by id (0, 1): ask for a count (gpu: { count: 2 })",
            [("orchestrator: swarm", "orchestrator: swarm\n    gpu: true"), ("  dev:\n    gpu: false\n", "  dev:\n"), ("    image: redis:7\n", "    image: redis:7\n    gpu:\n      ⟦device_ids: [\"0\", \"1\"]\n")], "error" },
        { "service 'cache': Swarm has no device requests: 2 GPU(s) are reserved as generic resources 'NVIDIA-GPU'",
            [("orchestrator: swarm", "orchestrator: swarm\n    gpu: true"), ("  dev:\n    gpu: false\n", "  dev:\n"), ("    image: redis:7\n", "    image: redis:7\n    gpu: { ⟦count: 2 }\n")], "warning" },
        { "service 'db': port 127.0.0.1:5432:5432 is bound to 127.0.0.1, but Swarm publishes on every interface of the node",
            [("    swarm: { publish_all_interfaces: true }\n", ""), ("ports: [\"${BIND_ADDRESS}:${DB_PORT}", "ports: [⟦\"${BIND_ADDRESS}:${DB_PORT}")], "error" },
        { "service 'api': port 127.0.0.1:8000:8000 is bound to 127.0.0.1",
            [("    swarm: { publish_all_interfaces: true }\n", "    swarm: { publish_all_interfaces: false }\n"), ("ports: [\"${BIND_ADDRESS}:${API_PORT}", "ports: [⟦\"${BIND_ADDRESS}:${API_PORT}")], "error" },
        { "service 'db': named volume 'db_data' is local to the node a task runs on, and the service is not pinned: add placement:",
            [("    placement: { labels: { data: \"true\" } }\n", ""), ("volumes: [\"db_data:", "volumes: [⟦\"db_data:")], "error" },
        { "service 'db': named volume 'db_data' is local to the node a task runs on",
            [("    placement: { labels: { data: \"true\" } }\n", "    placement: { labels: {} }\n"), ("volumes: [\"db_data:", "volumes: [⟦\"db_data:")], "error" },
        { "service 'db': bind-mount source './db.conf' is in this checkout",
            [("volumes: [\"db_data:/var/lib/postgresql/data\"]", "volumes: [\"db_data:/var/lib/postgresql/data\", ⟦\"./db.conf:/etc/db.conf:ro\"]")], "warning" },
        { "service 'api': image example/api:1.0 is built on the node LlmStack talks to",
            [("    depends_on: [db, cache]\n", "    depends_on: [db, cache]\n    ⟦build:\n      context: ./\n")], "warning" },
        { "service 'db': update monitor 10s is shorter than the healthcheck's start period + interval × retries (30s)",
            [("    image: postgres:16\n", "    image: postgres:16\n    update: { ⟦monitor: 10s }\n")], "error" },
        { "service 'db': update order start-first cannot work: the service publishes host port 5432 in host mode",
            [("    image: postgres:16\n", "    image: postgres:16\n    update: { ⟦order: start-first }\n")], "error" },
        { "service 'cache': update order start-first runs the old and the new task on the same named volume (db_data) at once",
            [("    image: redis:7\n", "    image: redis:7\n    placement: { labels: { data: \"true\" } }\n    volumes: [\"db_data:/data\"]\n    update: { ⟦order: start-first }\n")], "warning" },
        { "service 'cache': update failure_action 'retry' is not one of rollback, pause, continue", [("    image: redis:7\n", "    image: redis:7\n    update: { ⟦failure_action: retry }\n")], "error" },
        { "service 'cache': update parallelism must be at least 1", [("    image: redis:7\n", "    image: redis:7\n    update: { ⟦parallelism: -1 }\n")], "error" },
        { "service 'api': secret_files names 'NOPE', which is not in its environment", [("    depends_on: [db, cache]\n", "    depends_on: [db, cache]\n    secret_files: [⟦NOPE]\n")], "error" },
        { "service 'api': secret_files names 'DATABASE_URL', whose value 'postgresql://app:${DB_PASSWORD}@db:5432/app' is not exactly one secret",
            [("    depends_on: [db, cache]\n", "    depends_on: [db, cache]\n    secret_files: [API_KEY, ⟦DATABASE_URL]\n")], "error" },
        { "environment 'dev': swarm endpoint_mode 'ipvs' is not one of auto, vip, dnsrr", [("swarm: { publish_all_interfaces: true }", "swarm: { publish_all_interfaces: true, ⟦endpoint_mode: ipvs }")], "error" },
        { "environment 'dev': orchestrator 'kubernetes' is not one of containers, swarm", [("orchestrator: swarm", "⟦orchestrator: kubernetes")], "error" },
        { "service 'db': no node under swarm.nodes carries data=true: SwarmLabelNodes labels none",
            [("swarm: { publish_all_interfaces: true }", "swarm: { publish_all_interfaces: true, nodes: { self: { labels: { gpu: \"true\" } } } }"), ("placement: { labels: { data: \"true\" } }", "placement: { labels: { ⟦data: \"true\" } }")], "warning" },
        { "stack 'core': network driver 'macvlan' cannot span a swarm", [("    services: [db, cache]\n", "    services: [db, cache]\n    network: { ⟦driver: macvlan }\n")], "error" },
    };

    [Theory]
    [MemberData(nameof(Unmappable))]
    public void What_swarm_cannot_honour_is_reported_at_its_position(string message, (string, string)[] edits, string severity)
    {
        var (yaml, position) = SchemaSamples.Edit([.. SwarmDev, .. edits]);
        var result = Load(yaml);
        var expected = severity;
        result.Diagnostics.Should().ContainSingle(d => d.Message.Contains(message, StringComparison.Ordinal),
            "expected '{0}' among: {1}", message, string.Join(" | ", result.Diagnostics));
        var diagnostic = result.Diagnostics.Single(d => d.Message.Contains(message, StringComparison.Ordinal));
        $"{diagnostic.Location.Line}:{diagnostic.Location.Column}".Should().Be(position);
        diagnostic.IsError.Should().Be(expected == "error");
        if (expected == "warning")
        {
            result.HasErrors.Should().BeFalse(string.Join(" | ", result.Diagnostics));
        }
    }

    [Fact]
    public void Depends_on_ready_and_shm_size_are_honoured_on_a_swarm_not_reported()
    {
        var (yaml, _) = SchemaSamples.Edit([.. SwarmDev, ("    image: redis:7\n", "    image: redis:7\n    shm_size: 1g\n    stop_grace_period: 5s\n    ready:\n      - tcp: 6379\n")]);
        Load(yaml).Diagnostics.Should().BeEmpty();
    }

    [Fact]
    public void Validate_with_an_environment_checked_as_swarm_reports_it_and_fails()
    {
        var (yaml, _) = SchemaSamples.Edit();
        File.WriteAllText(Path.Combine(_directory, "schema.yaml"), yaml);
        var output = new StringWriter();
        var schema = new SchemaFile(_directory, "schema.yaml");

        schema.Validate(output, Serilog.Core.Logger.None);
        output.ToString().Should().BeEmpty("as containers the sample is clean");

        var act = () => schema.Validate(output, Serilog.Core.Logger.None, ["test"]);
        act.Should().Throw<SchemaException>().WithMessage("schema.yaml: 3 error(s), 0 warning(s)*");
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        lines.Should().HaveCount(3);
        lines.Should().Contain(l => l.Contains("service 'db': named volume 'db_data' is local", StringComparison.Ordinal));
        lines.Should().Contain(l => l.Contains("service 'db': port 127.0.0.1:15432:5432 is bound to 127.0.0.1", StringComparison.Ordinal) && l.Contains("environment 'test'", StringComparison.Ordinal));
        lines.Should().Contain(l => l.Contains("service 'api': port 127.0.0.1:18000:8000", StringComparison.Ordinal));

        var unknown = () => schema.Validate(output, Serilog.Core.Logger.None, ["prod"]);
        unknown.Should().Throw<SchemaException>().WithMessage("environment 'prod' is not defined in schema.yaml (defined: dev, test)");
    }

    [Fact]
    public void The_repository_schema_names_what_production_cannot_do_on_a_swarm_and_nothing_else()
    {
        var schema = new SchemaFile(Repository.Root, "schemas/compose-schema.yaml").Load();
        var diagnostics = SwarmCompatibility.Check(schema, "production", Repository.Root);
        var errors = diagnostics.Where(d => d.IsError).ToList();

        // Every data service is pinned (placement:), so no unpinned volume; what is left needs a decision, not a default.
        errors.Should().NotContain(d => d.Message.Contains("named volume", StringComparison.Ordinal));
        errors.Where(d => d.Message.Contains("is bound to 127.0.0.1", StringComparison.Ordinal)).Should().HaveCount(22, "every port but nginx's is on the loopback address");
        errors.Should().ContainSingle(d => d.Message.StartsWith("service 'vllm': Swarm has no device requests and cannot give a task GPUs by id (0, 1)", StringComparison.Ordinal))
            .Which.Location.Should().Be(schema.Environments["production"].Services["vllm"].Gpu!.Locate("device_ids"));
        errors.Should().HaveCount(23);
        diagnostics.Where(d => !d.IsError).Select(d => d.Message).Should().Contain(m => m.StartsWith("service 'multimodal-worker': Swarm has no device requests: with count all", StringComparison.Ordinal));
        diagnostics.Should().NotContain(d => d.Message.Contains("nginx", StringComparison.Ordinal) && d.IsError, "nginx publishes on 0.0.0.0 in production");
        diagnostics.Should().OnlyContain(d => d.Location.File == "schemas/compose-schema.yaml" && d.Location.Line > 1);
    }
}
