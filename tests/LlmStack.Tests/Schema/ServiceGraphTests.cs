using LlmStack.Schema;

namespace LlmStack.Tests.Schema;

/// <summary>The one service graph: order, levels (start in order, stop in reverse), dependencies and dependents.</summary>
public class ServiceGraphTests
{
    private static readonly ResolvedEnvironment Testing = new SchemaFile(Repository.Root, "schemas/compose-schema.yaml").Resolve("testing");

    private static ServiceGraph Graph => Testing.Graph;

    private static Dictionary<string, int> LevelOf(IReadOnlyList<IReadOnlyList<ResolvedService>> levels) =>
        levels.SelectMany((level, i) => level.Select(s => (s.Name, i))).ToDictionary(x => x.Name, x => x.i);

    [Fact]
    public void Levels_put_each_service_after_its_dependencies_within_the_stack()
    {
        var ai = Testing.Stack("ai").Services;
        var levelOf = LevelOf(Graph.Levels(ai));
        levelOf.Keys.Should().BeEquivalentTo(ai);
        foreach (var service in ai.Select(n => Graph[n]))
        {
            foreach (var dependency in service.DependsOn.Where(levelOf.ContainsKey))
            {
                levelOf[dependency].Should().BeLessThan(levelOf[service.Name], $"{service.Name} depends on {dependency}");
            }
        }

        levelOf["multimodal-worker"].Should().Be(0, "its dependencies are outside the set: already satisfied");
        levelOf["ai-agents"].Should().BeGreaterThan(levelOf["retrieval-proxy"]);
    }

    [Fact]
    public void Independent_services_share_a_level_so_they_start_and_stop_in_parallel()
    {
        // Fault 11: each core service stopped on its own, one after another.
        var levels = Graph.Levels(Testing.Stack("core").Services);
        levels.Should().HaveCount(1);
        levels[0].Select(s => s.Name).Should().BeEquivalentTo("postgres", "redis", "qdrant", "minio");
    }

    [Fact]
    public void Dependents_are_found_transitively_across_stacks()
    {
        Graph.DependentsOf("vllm", transitive: false).Should().BeEquivalentTo("litellm", "ai-agents", "openwebui");
        var all = Graph.DependentsOf("postgres");
        all.Should().Contain(["litellm", "multimodal-worker", "retrieval-proxy", "ai-agents", "n8n", "nginx"]);
        all.Should().NotContain("postgres").And.NotContain("redis").And.NotContain("qdrant");
        Graph.DependentsOf("nginx").Should().BeEmpty();
    }

    [Fact]
    public void Dependencies_are_found_transitively_in_order()
    {
        var needs = Graph.DependenciesOf("nginx");
        needs.Should().BeEquivalentTo("litellm", "multimodal-worker", "retrieval-proxy", "vllm", "postgres", "redis", "qdrant", "minio");
        needs.ToList().IndexOf("postgres").Should().BeLessThan(needs.ToList().IndexOf("litellm"));
        Graph.DependenciesOf("postgres").Should().BeEmpty();
    }

    [Fact]
    public void What_must_stop_for_a_service_to_stop_comes_in_dependency_order()
    {
        var affected = Graph.WithDependents(["qdrant"]);
        affected[0].Should().Be("qdrant");
        affected.Should().Contain(["retrieval-proxy", "multimodal-worker", "ai-agents", "nginx"]).And.NotContain(["postgres", "vllm"]);
        var levels = LevelOf(Graph.Levels(affected));
        levels["qdrant"].Should().Be(0);
        levels["nginx"].Should().BeGreaterThan(levels["retrieval-proxy"], "nginx needs retrieval-proxy: it starts after it and stops before it");
        levels["ai-agents"].Should().BeGreaterThan(levels["multimodal-worker"]);
    }

    [Fact]
    public void An_unknown_service_is_a_clear_error()
    {
        var unknown = () => Graph.WithDependents(["postgress"]);
        unknown.Should().Throw<SchemaException>().WithMessage("service 'postgress' is not part of this environment");
    }
}
