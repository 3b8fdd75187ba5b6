using LlmStack.Compose;
using LlmStack.Deploy;
using LlmStack.Engine;
using LlmStack.Orchestration;
using LlmStack.Reporting;
using LlmStack.Schema;

namespace LlmStack.Tests.Orchestration;

/// <summary>The swarm orchestrator's pieces behind Logs, Plan and Deploy that need no engine: log lines, what differs, the plan's report.</summary>
public class SwarmSeamTests
{
    private static readonly ResolvedEnvironment Testing = new SchemaFile(Repository.Root, "schemas/compose-schema.yaml").Resolve("testing");

    private static Docker.DotNet.Models.ServiceSpec Spec(string service, string image)
    {
        var resolved = Testing.Service(service);
        var plan = ContainerSpecs.Build(Testing, resolved, 1, image, name => $"secret-{name}", Repository.Root);
        return SwarmSpecs.Build(Testing, resolved, plan, SwarmSpecs.Endpoint(EndpointMode.Auto, ipvs: false));
    }

    [Fact]
    public void A_service_log_line_with_details_gives_its_task_and_the_text_without_them()
    {
        var (task, text) = SwarmLogLine.Parse("com.docker.swarm.node.id=n1,com.docker.swarm.service.id=s1,com.docker.swarm.task.id=t42 LOG:  database system is ready to accept connections");
        task.Should().Be("t42");
        text.Should().Be("LOG:  database system is ready to accept connections");

        SwarmLogLine.Parse("plain line with spaces").Should().Be(((string?)null, "plain line with spaces"), "a line without details is kept whole");
        SwarmLogLine.Parse("com.docker.swarm.task.id=t1 ").Should().Be(("t1", string.Empty));
    }

    [Fact]
    public void What_differs_names_the_image_replicas_and_environment_variables_and_falls_back_to_the_hash()
    {
        var current = Spec("postgres", "local/postgres:1");
        var desired = Spec("postgres", "local/postgres:2");
        SwarmStacks.Differences(current, desired).Should().Be("image local/postgres:1 → local/postgres:2");

        desired = Spec("postgres", "local/postgres:1");
        desired.Mode!.Replicated!.Replicas = 2;
        desired.TaskTemplate!.ContainerSpec!.Env = [.. desired.TaskTemplate.ContainerSpec.Env!.Where(e => !e.StartsWith("POSTGRES_DB=", StringComparison.Ordinal)), "POSTGRES_DB=other"];
        SwarmStacks.Differences(current, desired).Should().Be("replicas 1 → 2; environment POSTGRES_DB");

        desired = Spec("postgres", "local/postgres:1");
        desired.TaskTemplate!.ContainerSpec!.StopGracePeriod = TimeSpan.FromSeconds(3);
        SwarmStacks.Differences(current, desired).Should().Be("definition (spec hash differs)");
    }

    [Fact]
    public void The_swarm_plan_report_lists_each_service_and_its_action_and_says_whether_anything_changes()
    {
        var plan = new SwarmPlan("testing", "dnsrr",
        [
            new SwarmPlanStep("core", "old", "p_old", SwarmPlanAction.Remove, "not in the schema any more", "id0"),
            new SwarmPlanStep("core", "postgres", "p_postgres", SwarmPlanAction.Unchanged, null, "id1"),
            new SwarmPlanStep("core", "redis", "p_redis", SwarmPlanAction.Update, "image a → b", "id2"),
            new SwarmPlanStep("core", "echo", "p_echo", SwarmPlanAction.Create, "not on the swarm", null),
        ]);
        plan.HasChanges.Should().BeTrue();
        plan.Summary.Should().Be("1 to create, 1 to update, 1 to remove, 1 unchanged");

        var output = new StringWriter();
        new ReportWriter(output, output, json: false).Write(DeployReport.Swarm(plan, "the swarm at unix:///x", ["a note"]));
        var text = output.ToString();
        text.Should().MatchRegex(@"core\s+p_redis\s+update\s+image a → b").And.MatchRegex(@"core\s+p_old\s+remove\s+not in the schema any more")
            .And.Contain("! a note").And.Contain("Plan: 1 to create, 1 to update, 1 to remove, 1 unchanged.");

        var none = new SwarmPlan("testing", "dnsrr", [new SwarmPlanStep("core", "postgres", "p_postgres", SwarmPlanAction.Unchanged, null, "id1")]);
        none.HasChanges.Should().BeFalse();
    }

    [Theory]
    [InlineData("node-a", "node-a", true)]
    [InlineData("node-b", "node-a", false)]
    [InlineData("", "node-a", true)]
    [InlineData("node-b", "", true)]
    public void A_task_is_probed_here_only_when_its_container_is_this_nodes(string taskNode, string localNode, bool here) =>
        SwarmStacks.ProbedHere(taskNode, localNode).Should().Be(here);
}
