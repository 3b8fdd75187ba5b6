using LlmStack.Compose;
using LlmStack.Engine;
using LlmStack.Orchestration;
using LlmStack.Schema;
using YamlDotNet.RepresentationModel;

namespace LlmStack.Tests.Orchestration;

/// <summary>The swarm orchestrator's pure half: endpoint mode, update-policy defaults, the service spec and its hash, the schema's swarm keys.</summary>
public class SwarmSpecsTests : IDisposable
{
    private static readonly ResolvedEnvironment Testing = new SchemaFile(Repository.Root, "schemas/compose-schema.yaml").Resolve("testing");

    private readonly string _directory = Repository.TempDirectory("swarm");

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static ServiceSpecs Spec(string service, EndpointChoice? endpoint = null)
    {
        var resolved = Testing.Service(service);
        var plan = ContainerSpecs.Build(Testing, resolved, 1, "local/" + service + ":1", name => $"secret-{name}", Repository.Root);
        return new(SwarmSpecs.Build(Testing, resolved, plan, endpoint ?? SwarmSpecs.Endpoint(EndpointMode.Auto, ipvs: false)), plan);
    }

    private sealed record ServiceSpecs(Docker.DotNet.Models.ServiceSpec Spec, ContainerPlan Plan);

    [Theory]
    [InlineData(EndpointMode.Auto, false, EndpointMode.Dnsrr)]
    [InlineData(EndpointMode.Auto, true, EndpointMode.Vip)]
    [InlineData(EndpointMode.Vip, false, EndpointMode.Vip)]
    [InlineData(EndpointMode.Dnsrr, true, EndpointMode.Dnsrr)]
    public void Endpoint_mode_is_the_schemas_or_chosen_by_whether_the_kernel_has_ipvs(EndpointMode wanted, bool ipvs, EndpointMode chosen)
    {
        var choice = SwarmSpecs.Endpoint(wanted, ipvs);
        choice.Mode.Should().Be(chosen);
        choice.Api.Should().Be(chosen == EndpointMode.Vip ? "vip" : "dnsrr");
        if (wanted == EndpointMode.Auto && !ipvs)
        {
            choice.Why.Should().Contain("no IPVS");
        }
    }

    [Fact]
    public void Update_defaults_are_parallelism_1_rollback_monitor_covering_the_healthcheck_and_stop_first_with_a_volume()
    {
        var postgres = SwarmSpecs.Update(Testing.Service("postgres"));
        postgres.Parallelism.Should().Be(1);
        postgres.FailureAction.Should().Be("rollback");
        postgres.Order.Should().Be("stop-first", "two tasks must not write one volume");
        var check = Testing.Service("postgres").Healthcheck!;
        postgres.Monitor.Should().Be(check.StartPeriod + ((check.Interval + check.Timeout) * check.Retries), "start period + (interval + timeout) × retries: a probe that hangs fails only after its timeout");

        var stateless = Testing.Service("postgres") with { Volumes = [], Ports = [], Healthcheck = null };
        SwarmSpecs.Update(stateless).Order.Should().Be("start-first");
        SwarmSpecs.Update(stateless).Monitor.Should().Be(SwarmUpdatePolicy.DockerDefaultMonitor);

        var written = stateless with { Update = new ResolvedUpdatePolicy { Parallelism = 2, Order = UpdateOrder.StopFirst, FailureAction = UpdateFailureAction.Pause, Monitor = TimeSpan.FromMinutes(2), Delay = TimeSpan.FromSeconds(3) } };
        var update = SwarmSpecs.Update(written);
        (update.Parallelism, update.Order, update.FailureAction, update.Monitor, update.Delay).Should().Be((2UL, "stop-first", "pause", TimeSpan.FromMinutes(2), TimeSpan.FromSeconds(3)));
        SwarmSpecs.Rollback(written).FailureAction.Should().Be("pause");
    }

    [Fact]
    public void The_spec_runs_the_container_plans_definition_on_the_stack_networks_with_our_labels_and_host_mode_ports()
    {
        var (spec, plan) = Spec("postgres");
        spec.Name.Should().Be($"{Testing.Project}_postgres");
        spec.Labels.Should().Contain(Names.Environment, "testing").And.Contain(Names.Stack, "core").And.Contain(Names.Service, "postgres").And.Contain(Names.ComposeProject, Testing.Project);
        spec.Labels[Names.SpecHash].Should().MatchRegex("^[0-9a-f]{32}$");
        var container = spec.TaskTemplate!.ContainerSpec!;
        container.Image.Should().Be("local/postgres:1");
        container.Env.Should().Equal(plan.Create.Env);
        container.Healthcheck.Should().BeSameAs(plan.Create.Healthcheck);
        container.Mounts.Should().ContainSingle(m => m.Type == "volume" && m.Source == $"{Testing.Project}_postgres_data");
        container.Labels.Should().Contain(Names.Service, "postgres").And.NotContainKey(Names.SpecHash);
        spec.TaskTemplate.Networks.Should().ContainSingle().Which.Target.Should().Be($"{Testing.Project}_core");
        spec.TaskTemplate.Networks![0].Aliases.Should().Equal("postgres");
        spec.Mode!.Replicated!.Replicas.Should().Be(1UL);
        spec.EndpointSpec!.Mode.Should().Be("dnsrr");
        spec.EndpointSpec.Ports.Should().ContainSingle().Which.Should().BeEquivalentTo(new { PublishMode = "host", TargetPort = 5432U, PublishedPort = 15432U, Protocol = "tcp" });
        spec.TaskTemplate.Placement!.Constraints.Should().Equal("node.labels.llmstack.data == true");
    }

    [Fact]
    public void Placement_labels_become_node_label_constraints_and_replicas_the_replicated_mode()
    {
        var service = Testing.Service("redis") with { Placement = new Dictionary<string, string> { ["data"] = "true", ["disk"] = "ssd" }, Replicas = 3, Ports = [] };
        var plan = ContainerSpecs.Build(Testing, service, 1, "r:1", _ => "x", Repository.Root);
        var spec = SwarmSpecs.Build(Testing, service, plan, SwarmSpecs.Endpoint(EndpointMode.Vip, ipvs: true));
        spec.TaskTemplate!.Placement!.Constraints.Should().Equal("node.labels.data == true", "node.labels.disk == ssd");
        spec.Mode!.Replicated!.Replicas.Should().Be(3UL);
        spec.EndpointSpec!.Mode.Should().Be("vip");
    }

    [Fact]
    public void The_spec_hash_is_stable_and_changes_with_the_definition()
    {
        var first = Spec("redis").Spec;
        var again = Spec("redis").Spec;
        again.Labels[Names.SpecHash].Should().Be(first.Labels[Names.SpecHash], "the same definition is a no-op");
        SwarmSpecs.Hash(first).Should().Be(first.Labels[Names.SpecHash], "the hash leaves its own label out");

        var service = Testing.Service("redis");
        var other = SwarmSpecs.Build(Testing, service, ContainerSpecs.Build(Testing, service, 1, "local/redis:2", name => $"secret-{name}", Repository.Root), SwarmSpecs.Endpoint(EndpointMode.Auto, false));
        other.Labels[Names.SpecHash].Should().NotBe(first.Labels[Names.SpecHash], "another image is an update");
        Spec("redis", SwarmSpecs.Endpoint(EndpointMode.Vip, true)).Spec.Labels[Names.SpecHash].Should().NotBe(first.Labels[Names.SpecHash]);
    }

    [Fact]
    public void A_secret_file_variable_leaves_the_environment_for_a_mounted_swarm_secret_and_the_rest_stay_as_they_are()
    {
        var service = Testing.Service("postgres");
        service.SecretFiles.Should().Equal("POSTGRES_PASSWORD");
        var plan = ContainerSpecs.Build(Testing, service, 1, "local/postgres:1", name => $"value-of-{name}", Repository.Root);
        var files = SwarmSecretPlan.For(Testing.Project, service, service.SecretFiles, new HashSet<string>(["POSTGRES_PASSWORD", "POSTGRES_USER", "POSTGRES_DB"])).Files;
        var file = files.Should().ContainSingle().Subject;
        var name = SwarmSpecs.SecretName(file, "value-of-POSTGRES_PASSWORD");

        var spec = SwarmSpecs.Build(Testing, service, plan, SwarmSpecs.Endpoint(EndpointMode.Auto, false), [new SwarmSecretMount(file, "secret-id-1", name)]);

        var container = spec.TaskTemplate!.ContainerSpec!;
        container.Env.Should().NotContain(e => e.StartsWith("POSTGRES_PASSWORD=", StringComparison.Ordinal));
        container.Env.Should().NotContain(e => e.Contains("value-of-POSTGRES_PASSWORD", StringComparison.Ordinal), "the value is in no part of the spec");
        container.Env.Should().Contain("POSTGRES_PASSWORD_FILE=/run/secrets/POSTGRES_PASSWORD");
        container.Env.Where(e => !e.StartsWith("POSTGRES_PASSWORD", StringComparison.Ordinal)).Should()
            .Equal(plan.Create.Env.Where(e => !e.StartsWith("POSTGRES_PASSWORD=", StringComparison.Ordinal)), "the variables not in secret_files stay environment values, in order");
        container.Env.Should().Contain(e => e.StartsWith("POSTGRES_USER=", StringComparison.Ordinal));
        container.Env.Should().HaveCount(plan.Create.Env.Count, "replaced in place, nothing added or lost");
        container.Secrets.Should().ContainSingle().Which.Should().BeEquivalentTo(new
        {
            SecretID = "secret-id-1",
            SecretName = name,
            File = new { Name = "POSTGRES_PASSWORD", UID = "0", GID = "0", Mode = 292U }, // 0444: the image drops root before reading it
        });

        var without = SwarmSpecs.Build(Testing, service, plan, SwarmSpecs.Endpoint(EndpointMode.Auto, false));
        without.TaskTemplate!.ContainerSpec!.Secrets.Should().BeNull();
        without.TaskTemplate.ContainerSpec.Env.Should().Equal(plan.Create.Env, "no Swarm secrets, the container plan's environment");
        var rotated = SwarmSpecs.Build(Testing, service, plan, SwarmSpecs.Endpoint(EndpointMode.Auto, false), [new SwarmSecretMount(file, "secret-id-2", SwarmSpecs.SecretName(file, "new"))]);
        rotated.Labels[Names.SpecHash].Should().NotBe(spec.Labels[Names.SpecHash], "a new value is a new secret, so the service is updated");
    }

    [Fact]
    public void A_swarm_secrets_name_changes_with_its_value_and_fits_swarms_limit()
    {
        var file = new SwarmSecretFile("POSTGRES_PASSWORD", "POSTGRES_PASSWORD", SwarmSecretPlan.SwarmName("multimodal-testing", "POSTGRES_PASSWORD"));
        var name = SwarmSpecs.SecretName(file, "one");
        name.Should().MatchRegex("^multimodal-testing_POSTGRES_PASSWORD_[0-9a-f]{12}$");
        SwarmSpecs.SecretName(file, "one").Should().Be(name, "the same value, the same secret");
        SwarmSpecs.SecretName(file, "two").Should().NotBe(name);
        name.Should().NotContain("one");

        var other = file with { Secret = "OTHER", SwarmName = "multimodal-testing_OTHER" };
        SwarmSpecs.SecretName(other, "one")[^12..].Should().NotBe(name[^12..], "equal values of two secrets do not show as equal names");

        var longer = file with { SwarmName = new string('p', 60) + "_POSTGRES_PASSWORD" };
        var shortened = SwarmSpecs.SecretName(longer, "one");
        shortened.Length.Should().BeLessThanOrEqualTo(SwarmSpecs.MaxSecretName);
        shortened.Should().MatchRegex("^p+_[0-9a-f]{12}$");
    }

    [Fact]
    public void The_address_pool_avoids_every_schema_subnet()
    {
        var pool = SwarmCluster.AddressPool([System.Net.IPNetwork.Parse("10.210.0.0/16"), System.Net.IPNetwork.Parse("10.211.5.0/24")]);
        pool.ToString().Should().Be("10.212.0.0/16");
        SwarmCluster.AddressPool(Testing.Networks.Select(n => n.Subnet)).ToString().Should().Be("10.210.0.0/16");
    }

    private ResolvedEnvironment ResolveEdited(Action<YamlMappingNode> edit, out IReadOnlyList<string> diagnostics)
    {
        var stream = new YamlStream();
        using (var reader = new StreamReader(Path.Combine(Repository.Root, "schemas", "compose-schema.yaml")))
        {
            stream.Load(reader);
        }

        edit((YamlMappingNode)stream.Documents[0].RootNode);
        var path = Path.Combine(_directory, "schema.yaml");
        using (var writer = new StreamWriter(path))
        {
            stream.Save(writer, assignAnchors: false);
        }

        var result = SchemaLoader.Load(path, "schema.yaml", Repository.Root);
        diagnostics = result.Diagnostics.Where(d => d.IsError).Select(d => d.ToString()).ToList();
        return diagnostics.Count == 0 ? EnvironmentResolver.Resolve(result.Schema!, "testing", Repository.Root) : null!;
    }

    private static YamlMappingNode Map(YamlMappingNode node, string key) => (YamlMappingNode)node.Children[new YamlScalarNode(key)];

    [Fact]
    public void The_schemas_swarm_keys_resolve_to_typed_values()
    {
        var resolved = ResolveEdited(schema =>
        {
            var testing = Map(Map(schema, "environments"), "testing");
            testing.Add("orchestrator", "swarm");
            testing.Add("swarm", new YamlMappingNode("endpoint_mode", "dnsrr", "publish_all_interfaces", "true", "nodes", new YamlMappingNode("self", new YamlMappingNode("labels", new YamlMappingNode("data", "true")))));
            var redis = Map(Map(schema, "services"), "redis");
            redis.Children[new YamlScalarNode("placement")] = new YamlMappingNode("labels", new YamlMappingNode("data", "true"));
            redis.Add("update", new YamlMappingNode("order", "stop-first", "failure_action", "pause", "monitor", "2m", "parallelism", "2"));
        }, out var errors);
        errors.Should().BeEmpty();
        resolved.Orchestrator.Should().Be(Orchestrator.Swarm);
        resolved.Swarm.EndpointMode.Should().Be(EndpointMode.Dnsrr);
        resolved.Swarm.Nodes["self"].Should().Contain("data", "true");
        var redisResolved = resolved.Service("redis");
        redisResolved.Placement.Should().Contain("data", "true");
        redisResolved.Update.Should().Be(new ResolvedUpdatePolicy { Order = UpdateOrder.StopFirst, FailureAction = UpdateFailureAction.Pause, Monitor = TimeSpan.FromMinutes(2), Parallelism = 2 });
        Testing.Orchestrator.Should().Be(Orchestrator.Containers, "the default");
    }

    [Fact]
    public void Unknown_values_and_a_monitor_shorter_than_the_healthcheck_are_errors_at_their_position()
    {
        ResolveEdited(schema =>
        {
            var testing = Map(Map(schema, "environments"), "testing");
            testing.Add("orchestrator", "kubernetes");
            testing.Add("swarm", new YamlMappingNode("endpoint_mode", "ipvs"));
            var redis = Map(Map(schema, "services"), "redis");
            redis.Add("update", new YamlMappingNode("order", "sideways", "monitor", "5s"));
        }, out var errors);
        errors.Should().Contain(e => e.Contains("orchestrator 'kubernetes' is not one of containers, swarm"));
        errors.Should().Contain(e => e.Contains("endpoint_mode 'ipvs' is not one of auto, vip, dnsrr"));
        errors.Should().Contain(e => e.Contains("update order 'sideways' is not one of start-first, stop-first"));
        errors.Should().Contain(e => e.Contains("update monitor 5s is shorter than the healthcheck's start period + interval × retries (1m)"));
        errors.Should().OnlyContain(e => System.Text.RegularExpressions.Regex.IsMatch(e, @"^schema\.yaml:\d+:\d+: error: "));
    }
}
