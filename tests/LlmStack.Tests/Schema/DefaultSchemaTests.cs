using LlmStack.Schema;

namespace LlmStack.Tests.Schema;

/// <summary>The shipped schema: the whole system, clean, with the seed's defects fixed.</summary>
public class DefaultSchemaTests
{
    private static readonly SchemaFile File = new(Repository.Root, "schemas/compose-schema.yaml");

    /// <summary>Our own services, built from ./services/&lt;name&gt; (the stack's sources, which this repository does not hold).</summary>
    public static readonly string[] BuiltServices =
        ["multimodal-worker", "retrieval-proxy", "ai-agents", "memory-system", "search-engine", "user-management", "ai-agents-web", "n8n-monitoring"];

    [Fact]
    public void Loads_without_errors_and_warns_only_that_the_built_services_sources_are_not_here()
    {
        var result = SchemaLoader.Load(Repository.DefaultSchema, "schemas/compose-schema.yaml", Repository.Root);
        result.Diagnostics.Select(d => d.Message).Should().BeEquivalentTo(BuiltServices.Select(s =>
            $"service '{s}': build context './services/{s}' does not exist: the targets that need image multimodal/{s}:1.0.0 (Start, BuildImages) fail until the service's sources are there"));
        result.Diagnostics.Should().OnlyContain(d => !d.IsError);
    }

    [Fact]
    public void Builds_our_own_services_from_services_and_pulls_the_rest()
    {
        var staging = File.Resolve("staging");
        var built = staging.Services.Where(s => s.Build is not null).ToList();
        built.Select(s => s.Name).Should().BeEquivalentTo(BuiltServices);
        built.Should().OnlyContain(s => s.Build!.ContextPath == Path.Combine(Repository.Root, "services", s.Name) && s.Build.Dockerfile == "Dockerfile");
        built.Should().OnlyContain(s => s.Image == $"multimodal/{s.Name}:1.0.0", "the image stays the tag that is built");
    }

    [Fact]
    public void Has_every_service_in_six_stacks_and_four_environments()
    {
        var schema = File.Load();
        schema.Services.Keys.Should().Contain(
        [
            "postgres", "redis", "qdrant", "minio", "vllm", "litellm", "multimodal-worker", "retrieval-proxy", "ai-agents",
            "memory-system", "search-engine", "user-management", "openwebui", "ai-agents-web", "n8n", "n8n-monitoring", "nginx",
            "elasticsearch", "logstash", "kibana", "filebeat", "allure-results", "allure-report", "allure-cli", "jmeter",
            "prometheus", "grafana",
        ]);
        schema.Stacks.Keys.Should().Equal("core", "inference", "ai", "ui", "testing", "monitoring");
        schema.Stacks["ai"].DependsOn.Should().BeEquivalentTo("core", "inference");
        schema.Environments.Keys.Should().BeEquivalentTo("development", "staging", "production", "testing");
        File.EnvironmentNames().Should().BeEquivalentTo(schema.Environments.Keys);
    }

    [Theory]
    [InlineData("development")]
    [InlineData("staging")]
    [InlineData("production")]
    [InlineData("testing")]
    public void Every_environment_resolves_to_private_networks_and_its_own_project(string environment)
    {
        var resolved = File.Resolve(environment);
        resolved.Project.Should().Be($"multimodal-{environment}");
        resolved.Networks.Should().HaveCount(resolved.Stacks.Count).And.OnlyContain(n => Subnets.IsPrivate(n.Subnet));
        resolved.Networks.Select(n => n.Name).Should().OnlyContain(n => n.StartsWith(resolved.Project + "_", StringComparison.Ordinal));
        resolved.Services.SelectMany(s => s.Ports).Where(p => p.HostPort is not null).Select(p => p.HostPort).Should().OnlyHaveUniqueItems();
    }

    [Fact]
    public void A_service_joins_the_networks_of_the_stacks_its_dependencies_live_in()
    {
        var litellm = File.Resolve("staging").Service("litellm");
        litellm.Stack.Should().Be("inference");
        litellm.Networks.Should().Equal("inference", "core");
    }

    [Fact]
    public void Secrets_never_hold_values_in_the_schema()
    {
        var schema = File.Load();
        schema.Secrets.Keys.Should().Contain(["POSTGRES_PASSWORD", "MINIO_ROOT_PASSWORD", "LITELLM_MASTER_KEY"]);
        schema.Secrets["LITELLM_MASTER_KEY"].Prefix.Should().Be("sk-");
        schema.Variables.Keys.Should().NotContain(k => k.Contains("PASSWORD") || k.EndsWith("_KEY") || k.Contains("SECRET"));
        foreach (var environment in schema.Environments.Keys)
        {
            var postgres = File.Resolve(environment).Service("postgres");
            postgres.Environment.Single(e => e.Key == "POSTGRES_PASSWORD").Value.Should().Be("${POSTGRES_PASSWORD}");
        }
    }

    [Fact]
    public void Production_applies_replicas_and_resources()
    {
        var production = File.Resolve("production");
        production.Service("multimodal-worker").Replicas.Should().Be(3);
        production.Service("multimodal-worker").Ports.Should().BeEmpty();
        production.Service("litellm").Replicas.Should().Be(2);
        production.Service("postgres").Resources!.MemoryLimit.Should().Be(4L << 30);
        File.Resolve("staging").Service("multimodal-worker").Replicas.Should().Be(1);
    }
}
