using System.Text.Json;
using LlmStack.ChangeControl;
using LlmStack.Compose;
using LlmStack.Deploy;
using LlmStack.Lifecycle;
using LlmStack.Pipeline;
using LlmStack.Reporting;
using LlmStack.Tests.Lifecycle;

namespace LlmStack.Tests.Deploy;

using static StartPlannerTests;

/// <summary>A plan as its table, its JSON, its exit code and Deploy's gate table: names, never values.</summary>
public sealed class DeployReportTests : IDisposable
{
    private const string Rotated = "rotated-secret-value-42c0ffee";

    private readonly string _directory = Repository.TempDirectory("deploy-report");

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static string? RotatedPassword(string name) => name == "POSTGRES_PASSWORD" ? Rotated : Secret(name);

    /// <summary>redis with a new variable, postgres with a rotated password: two recreates.</summary>
    private static Task<EnvironmentPlan> ChangedAsync() =>
        PlanAsync(With(Core, "redis", s => s with { Environment = [.. s.Environment, new("LLMSTACK_CHANGED", "1")] }), Converged(), RotatedPassword);

    private static (string Text, string Json) Write(Report report)
    {
        var text = new StringWriter();
        ReportWriter.Text(text).Write(report);
        var json = new StringWriter();
        new ReportWriter(new StringWriter(), json, json: true).Write(report);
        return (text.ToString(), json.ToString());
    }

    [Fact]
    public async Task No_changes_is_exit_0_and_says_so_changes_are_exit_2()
    {
        var converged = await PlanAsync(Core, Converged());
        DeployReport.ExitOf(converged).Should().Be(PlanExit.NoChanges);
        ((int)DeployReport.ExitOf(converged)).Should().Be(0);
        Write(DeployReport.Plan(converged, "the engine")).Text.Should().Contain("No changes: environment testing matches the schema (4 container(s) unchanged).");

        var changed = await ChangedAsync();
        ((int)DeployReport.ExitOf(changed)).Should().Be(2);
        ((int)DeployReport.ExitOf(await PlanAsync(Core, new FakeEngineState()))).Should().Be(2);
    }

    [Fact]
    public async Task The_table_names_the_variables_that_differ_and_never_a_value()
    {
        var (text, _) = Write(DeployReport.Plan(await ChangedAsync(), "the engine at unix:///var/run/docker.sock"));

        text.Should().StartWith("Plan of environment testing against the engine at unix:///var/run/docker.sock:");
        text.Should().MatchRegex(@"core\s+multimodal-testing-redis-1\s+recreate\s+definition changed\s+environment: LLMSTACK_CHANGED \(added\)");
        text.Should().MatchRegex(@"core\s+multimodal-testing-postgres-1\s+recreate\s+definition changed\s+environment: POSTGRES_PASSWORD \(changed\)");
        text.Should().MatchRegex(@"multimodal-testing-qdrant-1\s+unchanged");
        text.Should().Contain("Plan: 0 to create, 2 to recreate, 0 to remove; 2 unchanged.");
        text.Should().NotContain(Rotated).And.NotContain(PostgresValue);
    }

    [Fact]
    public async Task The_json_document_parses_names_the_keys_and_holds_no_value()
    {
        var (_, json) = Write(DeployReport.Plan(await ChangedAsync(), "the engine"));

        json.Should().NotContain(Rotated).And.NotContain(PostgresValue);
        var root = JsonDocument.Parse(json).RootElement;
        root.GetProperty("environment").GetString().Should().Be("testing");
        root.GetProperty("changes").GetBoolean().Should().BeTrue();
        root.GetProperty("counts").GetProperty("recreate").GetInt32().Should().Be(2);
        var postgres = root.GetProperty("containers").EnumerateArray().Single(c => c.GetProperty("service").GetString() == "postgres");
        postgres.GetProperty("action").GetString().Should().Be("recreate");
        var difference = postgres.GetProperty("differences")[0];
        difference.GetProperty("aspect").GetString().Should().Be("environment");
        difference.GetProperty("keys")[0].GetProperty("key").GetString().Should().Be("POSTGRES_PASSWORD");
        difference.GetProperty("keys")[0].GetProperty("change").GetString().Should().Be("changed");
        postgres.GetProperty("id").GetString().Should().Be("id-multimodal-testing-postgres-1");
    }

    [Fact]
    public async Task A_plan_with_a_problem_fails_after_the_table()
    {
        var engine = Converged();
        engine.Volumes[0] = engine.Volumes[0] with { Labels = new Dictionary<string, string>() };
        var report = DeployReport.Plan(await PlanAsync(Core, engine), "the engine");

        var text = new StringWriter();
        var write = () => ReportWriter.Text(text).Write(report);
        write.Should().Throw<PipelineException>().WithMessage($"Start would refuse in testing: volume '{engine.Volumes[0].Name}' exists but is not LlmStack's*");
        text.ToString().Should().Contain("Plan of environment testing");
    }

    private static DeployReport.Appliers Recording(List<string> applied) => new(
        pull => _ => Applied(applied, "pull " + pull.Image),
        network => _ => Applied(applied, "network " + network.Name),
        volume => _ => Applied(applied, "volume " + volume.Name),
        step => _ => Applied(applied, $"{PlanText.Of(step.Action)} {step.Name}"));

    private static Task<string?> Applied(List<string> applied, string what)
    {
        applied.Add(what);
        return Task.FromResult<string?>(null);
    }

    [Fact]
    public async Task Deploys_changes_are_the_plan_in_the_order_start_takes_them_and_the_unchanged_are_kept_rows()
    {
        var environment = Only(Testing, "core", "inference");
        var engine = FakeEngineState.Converged(Core, DesiredOf(Core));
        engine.Containers.Add(FakeEngineState.Made(DesiredOf(Core)["core"]["redis"][0]) with { Id = "id-legacy", Name = "multimodal-testing-legacy-1", Labels = new Dictionary<string, string>
        {
            [Names.ComposeProject] = Core.Project, [Names.Environment] = "testing", [Names.Stack] = "legacy", [Names.Service] = "legacy",
        } });
        engine.Images[Image("ghcr.io/berriai/litellm:main-v1.55.8")] = "sha256:" + new string('a', 64); // vllm's is not there
        var plan = await PlanAsync(environment, engine);

        var changes = DeployReport.Changes(plan, Recording([]));

        changes.Changes.Select(c => (c.Kind, c.Action, c.Resource)).Should().Equal(
            (ChangeKind.Image, ChangeAction.Pull, Image("vllm/vllm-openai:v0.6.3")),
            (ChangeKind.Container, ChangeAction.Remove, "multimodal-testing-legacy-1"),
            (ChangeKind.Network, ChangeAction.Create, "multimodal-testing_inference"),
            (ChangeKind.Volume, ChangeAction.Create, "multimodal-testing_vllm_cache"),
            (ChangeKind.Container, ChangeAction.Create, "multimodal-testing-vllm-1"),
            (ChangeKind.Container, ChangeAction.Create, "multimodal-testing-litellm-1"));
        changes.Kept.Where(k => k.Kind == ChangeKind.Container).Select(k => k.Resource).Should().HaveCount(4).And.OnlyContain(r => r.StartsWith("multimodal-testing-", StringComparison.Ordinal));
        changes.Summary.Should().Be("deploy 6 change(s) (2 create, 0 recreate, 1 remove)");

        var applied = new List<string>();
        foreach (var change in DeployReport.Changes(plan, Recording(applied)).Changes)
        {
            await change.Apply(CancellationToken.None);
        }

        applied.Should().Equal(
            $"pull {Image("vllm/vllm-openai:v0.6.3")}", "remove multimodal-testing-legacy-1", "network multimodal-testing_inference", "volume multimodal-testing_vllm_cache",
            "create multimodal-testing-vllm-1", "create multimodal-testing-litellm-1");
    }

    [Fact]
    public async Task The_gate_table_of_a_dry_run_is_the_plan_naming_the_variable_not_its_value()
    {
        var output = new StringWriter();
        var audit = new AuditLog(Path.Combine(_directory, "audit.jsonl"), Serilog.Core.Logger.None);
        var gate = new ChangeGate(new GateOptions(true, null, new StringReader(string.Empty), false, audit), output, Serilog.Core.Logger.None);
        var plan = await ChangedAsync();

        var outcome = await gate.RunAsync("Deploy", "testing", _ => throw new InvalidOperationException("a dry run takes no lock"), _ => Task.FromResult(DeployReport.Changes(plan, Recording([]))), CancellationToken.None);

        outcome.Should().Be(GateOutcome.DryRun);
        output.ToString().Should().MatchRegex(@"container\s+multimodal-testing-postgres-1\s+environment: POSTGRES_PASSWORD \(changed\)\s+would recreate\s+definition changed")
            .And.MatchRegex(@"container\s+multimodal-testing-qdrant-1\s+-\s+keep\s+unchanged")
            .And.NotContain(Rotated).And.NotContain(PostgresValue);
        audit.Read().Should().BeEmpty();
    }

    [Theory]
    [InlineData(ContainerAction.Create, ChangeAction.Create)]
    [InlineData(ContainerAction.Recreate, ChangeAction.Recreate)]
    [InlineData(ContainerAction.Remove, ChangeAction.Remove)]
    [InlineData(ContainerAction.Start, ChangeAction.Start)]
    [InlineData(ContainerAction.Unpause, ChangeAction.Unpause)]
    [InlineData(ContainerAction.Repair, ChangeAction.Repair)]
    public void Each_replica_action_is_the_gates_action_of_the_same_name(ContainerAction action, ChangeAction change)
    {
        DeployReport.ActionOf(action).Should().Be(change);
        ChangeText.Of(change).Should().Be(PlanText.Of(action));
    }
}
