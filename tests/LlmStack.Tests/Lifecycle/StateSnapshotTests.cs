using System.Text.Json;
using LlmStack.Deploy;
using LlmStack.Lifecycle;
using LlmStack.Pipeline;
using LlmStack.Reporting;

namespace LlmStack.Tests.Lifecycle;

using static StartPlannerTests;

/// <summary>ExportState's snapshot: a plan against it is the plan against the engine it was read from; no secret value in it.</summary>
public sealed class StateSnapshotTests : IDisposable
{
    private readonly string _directory = Repository.TempDirectory("snapshot");

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static Task<StateSnapshot> ExportAsync(IEngineState engine, params string[] secrets) =>
        StateSnapshot.ExportAsync(engine, Core, Core.Services.Select(s => Image(s.Image)).ToList(), secrets, "unix:///var/run/docker.sock", DateTimeOffset.UnixEpoch, CancellationToken.None);

    private string Save(StateSnapshot snapshot)
    {
        var path = Path.Combine(_directory, "state.json");
        File.WriteAllText(path, snapshot.ToJson());
        return path;
    }

    private static string Document(EnvironmentPlan plan) => JsonSerializer.Serialize(DeployReport.Document(plan), JsonDefaults.Document);

    [Fact]
    public async Task A_plan_against_the_snapshot_file_is_the_plan_against_the_engine()
    {
        var engine = Converged();
        engine.Replace(engine.Container("multimodal-testing-qdrant-1") with { State = LlmStack.Engine.ContainerRunState.Exited });
        engine.Containers.RemoveAll(c => c.Name == "multimodal-testing-minio-1");
        engine.Images[Image("redis:7-alpine")] = "sha256:" + new string('e', 64);
        var changed = With(Core, "postgres", s => s with { Environment = [.. s.Environment, new("EXTRA", "1")] });

        var loaded = StateSnapshot.Load(Save(await ExportAsync(engine)), "state.json", Core);

        var live = await PlanAsync(changed, engine);
        var offline = await PlanAsync(changed, loaded);
        live.Containers.Select(c => c.Action).Should().Contain([ContainerAction.Start, ContainerAction.Create, ContainerAction.Recreate, ContainerAction.Recreate]);
        Document(offline).Should().Be(Document(live));
    }

    [Fact]
    public async Task A_label_value_with_a_secret_is_redacted_and_no_secret_reaches_the_file()
    {
        var engine = Converged();
        var redis = engine.Container("multimodal-testing-redis-1");
        engine.Replace(redis with { Labels = new Dictionary<string, string>(redis.Labels) { ["io.example.dsn"] = $"postgres://u:{PostgresValue}@postgres/db" } });

        var snapshot = await ExportAsync(engine, PostgresValue, Secret("MINIO_ROOT_PASSWORD")!);

        var json = snapshot.ToJson();
        json.Should().NotContain(PostgresValue).And.NotContain(Secret("MINIO_ROOT_PASSWORD")!).And.Contain("\"io.example.dsn\": \"****\"");
        json.Should().Contain("io.llmstack.config-digests", "the digests are what a plan compares");
        snapshot.Containers.Should().HaveCount(4);
        snapshot.Images.Should().HaveCount(4);
        snapshot.Networks.Select(n => n.Name).Should().Equal("multimodal-testing_core");
    }

    [Fact]
    public async Task A_snapshot_of_another_environment_a_missing_file_or_another_format_is_one_line_naming_it()
    {
        var path = Save(await ExportAsync(Converged()) with { Environment = "staging", Project = "multimodal-staging" });
        var other = () => StateSnapshot.Load(path, "state.json", Core);
        other.Should().Throw<PipelineException>().WithMessage(
            "snapshot state.json is of environment staging (project multimodal-staging), not testing (project multimodal-testing): pass --environment staging, or export testing's");

        var missing = () => StateSnapshot.Load(Path.Combine(_directory, "none.json"), "none.json", Core);
        missing.Should().Throw<PipelineException>().WithMessage("snapshot none.json cannot be read (*): write one with ExportState --environment testing");

        File.WriteAllText(path, "{ \"containers\": 3 }");
        var garbage = () => StateSnapshot.Load(path, "state.json", Core);
        garbage.Should().Throw<PipelineException>().WithMessage("snapshot state.json is not a snapshot (*): write one with ExportState --environment testing");

        File.WriteAllText(path, (await ExportAsync(Converged()) with { Version = 9 }).ToJson());
        var version = () => StateSnapshot.Load(path, "state.json", Core);
        version.Should().Throw<PipelineException>().WithMessage("snapshot state.json is of version 9, not 1: export it again with this LlmStack (ExportState)");
    }
}
