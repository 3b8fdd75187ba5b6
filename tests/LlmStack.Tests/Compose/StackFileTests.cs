using System.Diagnostics;
using LlmStack.Compose;
using LlmStack.Schema;
using YamlDotNet.RepresentationModel;

namespace LlmStack.Tests.Compose;

/// <summary>GenerateCompose's swarm-stack.yml: what docker stack deploy reads, from the repository's schema.</summary>
public class StackFileTests(GeneratedCompose generated) : IClassFixture<GeneratedCompose>
{
    private static readonly string[] Environments = ["development", "staging", "production", "testing"];

    private YamlMappingNode Stack(string environment) => generated.Read(environment, StackFileGenerator.FileName);

    private static YamlMappingNode Map(YamlNode node, params string[] path) =>
        (YamlMappingNode)path.Aggregate(node, (current, key) => ((YamlMappingNode)current)[key]);

    private static string Scalar(YamlNode node, params string[] path) =>
        ((YamlScalarNode)path.Aggregate(node, (current, key) => ((YamlMappingNode)current)[key])).Value!;

    private static bool HasKey(YamlMappingNode node, string key) => node.Children.ContainsKey(new YamlScalarNode(key));

    [Fact]
    public void A_data_service_is_pinned_updated_stop_first_with_rollback_and_a_monitor_covering_its_healthcheck()
    {
        var postgres = Map(Stack("production"), "services", "postgres");
        var deploy = Map(postgres, "deploy");
        ((YamlSequenceNode)Map(deploy, "placement")["constraints"]).Children.Select(c => ((YamlScalarNode)c).Value).Should().Equal("node.labels.llmstack.data == true");
        Scalar(deploy, "endpoint_mode").Should().Be("dnsrr", "auto means dnsrr in a file: it works without IPVS");
        Scalar(deploy, "replicas").Should().Be("1");
        Scalar(deploy, "update_config", "order").Should().Be("stop-first");
        Scalar(deploy, "update_config", "parallelism").Should().Be("1");
        Scalar(deploy, "update_config", "failure_action").Should().Be("rollback");
        Scalar(deploy, "update_config", "monitor").Should().Be("1m25s", "start period 10s + (interval 10s + timeout 5s) × 5 retries");
        Scalar(deploy, "rollback_config", "failure_action").Should().Be("pause");
        Scalar(deploy, "restart_policy", "condition").Should().Be("any", "unless-stopped");
        Scalar(deploy, "resources", "limits", "memory").Should().Be("4g");
    }

    [Fact]
    public void A_stateless_replicated_service_starts_first_and_keeps_its_replicas()
    {
        var deploy = Map(Stack("production"), "services", "litellm", "deploy");
        Scalar(deploy, "replicas").Should().Be("2");
        Scalar(deploy, "update_config", "order").Should().Be("start-first", "no volume and no fixed host port in production");
        HasKey(deploy, "placement").Should().BeFalse();
    }

    [Fact]
    public void Secret_files_become_external_swarm_secrets_and_the_FILE_variable()
    {
        var stack = Stack("production");
        var postgres = Map(stack, "services", "postgres");
        var environment = Map(postgres, "environment");
        Scalar(environment, "POSTGRES_PASSWORD_FILE").Should().Be("/run/secrets/POSTGRES_PASSWORD");
        HasKey(environment, "POSTGRES_PASSWORD").Should().BeFalse("the password is a file now, not an environment value");
        var secret = (YamlMappingNode)((YamlSequenceNode)postgres["secrets"]).Children.Single();
        Scalar(secret, "source").Should().Be("POSTGRES_PASSWORD");
        Scalar(secret, "target").Should().Be("POSTGRES_PASSWORD");
        Scalar(stack, "secrets", "POSTGRES_PASSWORD", "name").Should().Be("multimodal-production_POSTGRES_PASSWORD");
        Scalar(stack, "secrets", "POSTGRES_PASSWORD", "external").Should().Be("true");
        Scalar(stack, "services", "litellm", "environment", "DATABASE_URL").Should().Contain("${POSTGRES_PASSWORD:?", "a secret inside a URL stays an environment value");
        File.ReadAllText(Path.Combine(generated.Output, "production", StackFileGenerator.FileName))
            .Should().Contain("#   litellm: LITELLM_MASTER_KEY, LITELLM_SALT_KEY, VLLM_API_KEY, DATABASE_URL\n", "the header names what stays visible");
    }

    [Fact]
    public void Networks_are_attachable_overlays_with_the_schema_subnets()
    {
        var core = Map(Stack("testing"), "networks", "core");
        Scalar(core, "driver").Should().Be("overlay");
        Scalar(core, "attachable").Should().Be("true");
        Scalar(core, "name").Should().Be("multimodal-testing_core");
        Scalar((YamlMappingNode)((YamlSequenceNode)Map(core, "ipam")["config"]).Children.Single(), "subnet").Should().Be("10.83.1.0/24");
        Scalar(core, "labels", "io.llmstack.environment").Should().Be("testing");
    }

    [Fact]
    public void Ports_are_long_syntax_in_host_mode_and_a_loopback_port_is_left_out_and_named()
    {
        var nginx = (YamlSequenceNode)Map(Stack("production"), "services", "nginx")["ports"];
        var http = (YamlMappingNode)nginx.Children[0];
        (Scalar(http, "target"), Scalar(http, "published"), Scalar(http, "protocol"), Scalar(http, "mode")).Should().Be(("80", "80", "tcp", "host"));
        HasKey(Map(Stack("production"), "services", "postgres"), "ports").Should().BeFalse("127.0.0.1 cannot be bound by Swarm and production does not acknowledge publishing on every interface");
        File.ReadAllText(Path.Combine(generated.Output, "production", StackFileGenerator.FileName)).Should().Contain("#   postgres: 127.0.0.1:5432:5432\n");
    }

    [Fact]
    public void Shm_size_is_a_tmpfs_on_dev_shm_and_gpu_device_ids_are_named_not_carried()
    {
        var vllm = Map(Stack("staging"), "services", "vllm");
        var tmpfs = ((YamlSequenceNode)vllm["volumes"]).Children.OfType<YamlMappingNode>().Single();
        (Scalar(tmpfs, "type"), Scalar(tmpfs, "target"), Scalar(tmpfs, "tmpfs", "size")).Should().Be(("tmpfs", "/dev/shm", (10L << 30).ToString(System.Globalization.CultureInfo.InvariantCulture)));
        HasKey(Map(vllm, "deploy"), "resources").Should().BeFalse();
        File.ReadAllText(Path.Combine(generated.Output, "staging", StackFileGenerator.FileName)).Should().Contain("#   vllm: GPU device ids 0 1\n");
    }

    [Fact]
    public void No_container_name_depends_on_or_build_reaches_the_stack_file()
    {
        foreach (var environment in Environments)
        {
            foreach (var (_, service) in Map(Stack(environment), "services").Children)
            {
                var keys = ((YamlMappingNode)service).Children.Keys.Select(k => ((YamlScalarNode)k).Value).ToList();
                keys.Should().NotContain(["container_name", "depends_on", "build", "restart", "shm_size"]);
            }
        }
    }

    [Fact]
    public void A_gpu_count_is_reserved_as_generic_resources()
    {
        var directory = Repository.TempDirectory("stack-gpu");
        try
        {
            var (yaml, _) = Schema_samples_with_gpu();
            File.WriteAllText(Path.Combine(directory, "schema.yaml"), yaml);
            var file = new SchemaFile(directory, "schema.yaml");
            var text = StackFileGenerator.Render(SwarmEnvironment.Of(file.Load(), file.Resolve("dev")), directory, directory);
            var stream = new YamlStream();
            stream.Load(new StringReader(text));
            var resource = (YamlMappingNode)((YamlSequenceNode)Map(stream.Documents[0].RootNode, "services", "cache", "deploy", "resources", "reservations")["generic_resources"]).Children.Single();
            (Scalar(resource, "discrete_resource_spec", "kind"), Scalar(resource, "discrete_resource_spec", "value")).Should().Be(("NVIDIA-GPU", "2"));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static (string, string?) Schema_samples_with_gpu() =>
        LlmStack.Tests.Schema.SchemaSamples.Edit(("  dev:\n    gpu: false\n", "  dev:\n    gpu: true\n"), ("    image: redis:7\n", "    image: redis:7\n    gpu: { count: 2 }\n"));

    /// <summary>
    /// docker stack deploy (the Docker CLI .ci/run installs) loads and validates the file against the compose file format
    /// before it talks to the engine: pointed at an engine that does not exist, an accepted file fails only at the
    /// connection. Nothing is deployed anywhere.
    /// </summary>
    private async Task<string> StackDeployAsync(string file)
    {
        var docker = Tools.Require("docker", "apt-get install docker.io");
        var start = new ProcessStartInfo(docker, ["stack", "deploy", "--compose-file", file, "llmstack-check"]) { RedirectStandardError = true, RedirectStandardOutput = true };
        start.Environment["DOCKER_HOST"] = "unix://" + Path.Combine(generated.Output, "no-engine.sock");
        start.Environment["DOCKER_CONFIG"] = Path.Combine(generated.Output, ".docker");
        foreach (var secret in generated.Schema.Load().Secrets.Keys)
        {
            start.Environment[secret] = "test-value-" + secret.ToLowerInvariant();
        }

        using var process = Process.Start(start)!;
        var output = await process.StandardOutput.ReadToEndAsync() + await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return output;
    }

    [Fact]
    public async Task Docker_stack_deploy_accepts_every_environment_stack_file()
    {
        foreach (var environment in Environments)
        {
            var output = await StackDeployAsync(Path.Combine(generated.Output, environment, StackFileGenerator.FileName));
            output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Where(l => !l.Contains("--detach", StringComparison.Ordinal))
                .Should().OnlyContain(l => l.StartsWith("Cannot connect to the Docker daemon", StringComparison.Ordinal), $"{environment}: {output}");
        }
    }

    [Fact]
    public async Task The_docker_stack_deploy_check_can_fail()
    {
        var source = Path.Combine(generated.Output, "testing", StackFileGenerator.FileName);
        var broken = Path.Combine(generated.Output, "testing", ".broken-stack.yml");
        File.WriteAllText(broken, File.ReadAllText(source).Replace("      - subnet: \"10.83.1.0/24\"\n", "      - subnet: \"10.83.1.0/24\"\n        gateway: \"10.83.1.1\"\n", StringComparison.Ordinal));
        try
        {
            (await StackDeployAsync(broken)).Should().Contain("Additional property gateway is not allowed", "format 3.8 has no gateway in ipam config: the reason the file leaves it out");
        }
        finally
        {
            File.Delete(broken);
        }
    }
}
