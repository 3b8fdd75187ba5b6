using LlmStack.Engine;
using LlmStack.Pipeline;
using LlmStack.Schema;

namespace LlmStack.Tests.Engine;

public class ContainerSpecsTests
{
    private static readonly SchemaFile Schema = new(Repository.Root, "schemas/compose-schema.yaml");

    private static string? Secret(string name) => name == "POSTGRES_PASSWORD" ? "pw-1234-secret" : $"value-of-{name}";

    private static ContainerPlan Postgres(Func<string, string?>? secrets = null)
    {
        var testing = Schema.Resolve("testing");
        return ContainerSpecs.Build(testing, testing.Service("postgres"), 1, "llmstack-fixture/postgres:15", secrets ?? Secret, Repository.Root);
    }

    [Fact]
    public void The_create_call_carries_names_labels_materialized_values_ports_mounts_and_healthcheck()
    {
        var plan = Postgres();
        var create = plan.Create;
        create.Name.Should().Be("multimodal-testing-postgres-1");
        create.Image.Should().Be("llmstack-fixture/postgres:15");
        create.Labels.Should().Contain(new Dictionary<string, string>
        {
            ["com.docker.compose.project"] = "multimodal-testing",
            ["com.docker.compose.service"] = "postgres",
            ["com.docker.compose.container-number"] = "1",
            ["io.llmstack.environment"] = "testing",
            ["io.llmstack.stack"] = "core",
            ["io.llmstack.service"] = "postgres",
            ["io.llmstack.image"] = "postgres:16-alpine",
            ["io.llmstack.config-hash"] = plan.ConfigHash,
        });
        create.Env.Should().Contain("POSTGRES_PASSWORD=pw-1234-secret").And.Contain("POSTGRES_USER=multimodal");
        create.HostConfig!.PortBindings["5432/tcp"].Single().Should().BeEquivalentTo(new { HostIP = "127.0.0.1", HostPort = "15432" });
        create.HostConfig!.Mounts.Should().ContainSingle(m => m.Type == "volume" && m.Source == "multimodal-testing_postgres_data" && m.Target == "/var/lib/postgresql/data");
        create.HostConfig!.Mounts.Should().ContainSingle(m => m.Type == "bind" && m.Source == Path.Combine(Repository.Root, "sql", "init.sql") && m.ReadOnly == true);
        create.Healthcheck!.Test.Should().Equal("CMD-SHELL", "pg_isready -U multimodal -d multimodal");
        create.Healthcheck!.Interval.Should().Be(TimeSpan.FromSeconds(10));
        create.NetworkingConfig!.EndpointsConfig.Keys.Should().Equal("multimodal-testing_core");
        create.NetworkingConfig!.EndpointsConfig["multimodal-testing_core"].Aliases.Should().Equal("postgres");
        create.HostConfig!.RestartPolicy.Name.Should().Be(Docker.DotNet.Models.RestartPolicyKind.UnlessStopped);
        plan.ExtraNetworks.Should().BeEmpty();
    }

    [Fact]
    public void A_cross_stack_service_joins_its_dependencies_networks_after_create()
    {
        var testing = Schema.Resolve("testing");
        var plan = ContainerSpecs.Build(testing, testing.Service("litellm"), 1, "x:1", Secret, Repository.Root);
        plan.Create.NetworkingConfig!.EndpointsConfig.Keys.Should().Equal("multimodal-testing_inference");
        plan.ExtraNetworks.Select(n => n.Network).Should().Equal("multimodal-testing_core");
    }

    [Fact]
    public void The_config_hash_is_stable_and_changes_with_the_definition_or_a_secret()
    {
        Postgres().ConfigHash.Should().Be(Postgres().ConfigHash);
        Postgres(n => n == "POSTGRES_PASSWORD" ? "rotated-password" : Secret(n)).ConfigHash.Should().NotBe(Postgres().ConfigHash);

        var testing = Schema.Resolve("testing");
        var changed = testing.Service("postgres") with { Environment = [.. testing.Service("postgres").Environment, new("EXTRA", "1")] };
        ContainerSpecs.Build(testing, changed, 1, "llmstack-fixture/postgres:15", Secret, Repository.Root).ConfigHash.Should().NotBe(Postgres().ConfigHash);
    }

    [Fact]
    public void Resources_and_replicas_of_production_reach_the_create_call()
    {
        var production = Schema.Resolve("production");
        var postgres = ContainerSpecs.Build(production, production.Service("postgres"), 1, "x:1", Secret, Repository.Root).Create.HostConfig!;
        postgres.Memory.Should().Be(4L << 30);
        postgres.NanoCPUs.Should().Be(2_000_000_000);
        postgres.MemoryReservation.Should().Be(2L << 30);

        var worker = production.Service("multimodal-worker");
        Enumerable.Range(1, worker.Replicas).Select(n => ContainerSpecs.Build(production, worker, n, "x:1", Secret, Repository.Root).Name)
            .Should().Equal("multimodal-production-multimodal-worker-1", "multimodal-production-multimodal-worker-2", "multimodal-production-multimodal-worker-3");
    }

    [Fact]
    public void Gpu_requests_follow_the_environment()
    {
        var staging = Schema.Resolve("staging");
        var vllm = ContainerSpecs.Build(staging, staging.Service("vllm"), 1, "x:1", Secret, Repository.Root);
        vllm.Create.HostConfig!.DeviceRequests.Should().ContainSingle().Which.Driver.Should().Be("nvidia");

        var testing = Schema.Resolve("testing");
        ContainerSpecs.Build(testing, testing.Service("vllm"), 1, "x:1", Secret, Repository.Root).Create.HostConfig!.DeviceRequests.Should().BeNull();
    }

    [Fact]
    public void A_missing_bind_source_or_secret_fails_before_anything_is_created()
    {
        var testing = Schema.Resolve("testing");
        var postgres = testing.Service("postgres");
        var broken = postgres with { Volumes = [new VolumeMount(MountKind.Bind, "./no/such/file.sql", "/x.sql", true)] };
        var bind = () => ContainerSpecs.Build(testing, broken, 1, "x:1", Secret, Repository.Root);
        bind.Should().Throw<PipelineException>().WithMessage("bind-mount source './no/such/file.sql' of service 'postgres' does not exist*");

        var secret = () => ContainerSpecs.Build(testing, postgres, 1, "x:1", _ => null, Repository.Root);
        secret.Should().Throw<SchemaException>().WithMessage("secret POSTGRES_PASSWORD has no value*");
    }

    [Fact]
    public void The_health_deadline_is_the_healthchecks_own_timing()
    {
        var testing = Schema.Resolve("testing");
        // standard template: start_period 10s + (interval 10s + timeout 5s) x (retries 5 + 1)
        Health.Deadline(testing.Service("postgres")).Should().Be(TimeSpan.FromSeconds(10 + (15 * 6)));
        Health.Deadline(testing.Service("jmeter")).Should().Be(TimeSpan.FromSeconds(30), "no healthcheck: running for a second, within 30 s");
    }
}
