using Docker.DotNet.Models;
using LlmStack.Engine;
using LlmStack.Images;
using LlmStack.Pipeline;
using LlmStack.Reporting;
using LlmStack.Schema;

namespace LlmStack.Tests.Images;

/// <summary>Which image comes from where, what a run builds and pulls, the Images report and Setup's summary.</summary>
public class ImagePlanTests
{
    private static readonly ResolvedBuild Build = new() { Context = "./services/api", ContextPath = "/repo/services/api", Location = new SourceLocation("schema.yaml", 3, 7) };

    private static ImageState State(string service, ImageSource source, bool present, string? built = null, string? current = "sha256:now", string? image = null) =>
        new(new ServiceImage(service, "ai", image ?? $"demo/{service}:1", image ?? $"demo/{service}:1", source, source == ImageSource.Build ? Build : null),
            present, present ? 1L << 20 : null, built, source == ImageSource.Build ? current : null,
            current is null ? $"service '{service}': build context './services/api' (schema.yaml:3:7) does not exist" : null);

    [Fact]
    public void The_image_map_decides_first_then_build_then_pull()
    {
        var environment = new SchemaFile(Repository.Root, "schemas/compose-schema.yaml").Resolve("testing");
        var file = Path.Combine(Repository.TempDirectory("map"), "map.yaml");
        File.WriteAllText(file, "\"multimodal/ai-agents:1.0.0\": \"multimodal/ai-agents:1.0.0\"\n\"*\": llmstack-fixture/standin:1\n");

        var mapped = ServiceImage.Of(environment.Services, ImageMap.Load(file, "/").Apply).ToDictionary(i => i.Service);
        mapped["ai-agents"].Source.Should().Be(ImageSource.Build, "a map entry to itself leaves the image alone: it is built");
        mapped["search-engine"].Source.Should().Be(ImageSource.Mapped, "a substituted image is not built");
        mapped["search-engine"].Image.Should().Be("llmstack-fixture/standin:1");
        mapped["postgres"].Source.Should().Be(ImageSource.Mapped);

        var plain = ServiceImage.Of(environment.Services, ImageMap.None.Apply).ToDictionary(i => i.Service);
        plain["postgres"].Source.Should().Be(ImageSource.Pull);
        plain["ai-agents"].Source.Should().Be(ImageSource.Build);
        plain["ai-agents"].Build!.Context.Should().Be("./services/ai-agents");
    }

    [Fact]
    public void Missing_and_stale_builds_are_built_current_ones_never_and_missing_pulls_are_pulled_once_per_image()
    {
        var plan = ImagePlan.For(
        [
            State("fresh", ImageSource.Build, present: true, built: "sha256:now"),
            State("stale", ImageSource.Build, present: true, built: "sha256:before"),
            State("unlabelled", ImageSource.Build, present: true, built: null),
            State("new", ImageSource.Build, present: false),
            State("db", ImageSource.Pull, present: false, image: "postgres:16"),
            State("db2", ImageSource.Pull, present: false, image: "postgres:16"),
            State("cache", ImageSource.Pull, present: true, image: "redis:7"),
        ], offline: false);

        plan.ToBuild.Select(b => b.Want.Service).Should().Equal("stale", "unlabelled", "new");
        plan.ToBuild.Select(b => b.Build).Should().Equal(BuildState.Stale, BuildState.Stale, BuildState.Missing);
        plan.ToPull.Should().ContainSingle().Which.Should().BeEquivalentTo(new ImageNeed("postgres:16", ["db", "db2"]));
        plan.Problems.Should().BeEmpty();

        ImagePlan.For([State("fresh", ImageSource.Build, present: true, built: "sha256:now")], offline: false, rebuild: true)
            .ToBuild.Should().ContainSingle("a rebuild builds current ones too");
    }

    [Fact]
    public void A_missing_context_is_an_error_only_when_the_image_is_needed()
    {
        ImagePlan.For([State("api", ImageSource.Build, present: false, current: null)], offline: false)
            .Problems.Should().ContainSingle().Which.Should().Contain("build context './services/api' (schema.yaml:3:7) does not exist");

        var present = ImagePlan.For([State("api", ImageSource.Build, present: true, built: "sha256:old", current: null)], offline: false);
        present.Problems.Should().BeEmpty("a present image is used as it is");
        present.Notices.Should().ContainSingle().Which.Should().Contain("is used as it is");
        present.ToBuild.Should().BeEmpty();
    }

    [Fact]
    public void Offline_never_pulls_and_lists_every_missing_image_in_one_line()
    {
        var plan = ImagePlan.For(
        [
            State("db", ImageSource.Pull, present: false, image: "postgres:16"),
            State("web", ImageSource.Mapped, present: false, image: "fixture/web:1"),
            State("new", ImageSource.Build, present: false),
        ], offline: true);

        plan.ToPull.Should().BeEmpty();
        plan.ToBuild.Should().ContainSingle("builds still run offline");
        plan.Problems.Should().ContainSingle().Which.Should().Be(
            "--offline: 2 image(s) missing and not pulled: postgres:16 (db), fixture/web:1 (web): load them (docker load), map them with --image-map, or run without --offline");
    }

    [Fact]
    public void The_images_report_lists_each_service_and_fails_when_start_could_not_have_an_image()
    {
        var environment = new SchemaFile(Repository.Root, "schemas/compose-schema.yaml").Resolve("testing");
        var states = new[]
        {
            State("api", ImageSource.Build, present: true, built: "sha256:before"),
            State("db", ImageSource.Pull, present: false, image: "postgres:16"),
        };

        var output = new StringWriter();
        ReportWriter.Text(output).Write(ImagesReport.Of(environment, states, ImagePlan.For(states, offline: false), offline: false));
        output.ToString().Should().MatchRegex(@"api\s+ai\s+demo/api:1\s+build \./services/api\s+present\s+stale\s+1\.0 MiB")
            .And.MatchRegex(@"db\s+ai\s+postgres:16\s+pull\s+missing\s+-\s+-")
            .And.Contain("1 of 2 image(s) present in testing; Start would build demo/api:1 and pull postgres:16");

        var json = new StringWriter();
        new ReportWriter(new StringWriter(), json, json: true).Write(ImagesReport.Of(environment, states, ImagePlan.For(states, offline: false), offline: false));
        using (var document = System.Text.Json.JsonDocument.Parse(json.ToString()))
        {
            var api = document.RootElement.GetProperty("services")[0];
            api.GetProperty("source").GetString().Should().Be("build");
            api.GetProperty("build").GetString().Should().Be("stale");
            api.GetProperty("builtHash").GetString().Should().Be("sha256:before");
            api.GetProperty("currentHash").GetString().Should().Be("sha256:now");
            document.RootElement.GetProperty("toPull")[0].GetString().Should().Be("postgres:16");
        }

        var offline = () => ReportWriter.Text(new StringWriter()).Write(ImagesReport.Of(environment, states, ImagePlan.For(states, offline: true), offline: true));
        offline.Should().Throw<PipelineException>().WithMessage("Start cannot have 1 of the images of testing (above): --offline: 1 image(s) missing*");
    }

    [Fact]
    public void Setup_says_what_to_do_next()
    {
        var allGood = Enum.GetValues<SetupStep>().Select(s => new SetupOutcome(s, true, null)).ToList();
        var output = new StringWriter();
        ReportWriter.Text(output).Write(SetupSummary.Of(allGood, "staging", "Start"));
        output.ToString().Should().Contain("./build.sh Start --environment staging: builds and pulls what Images lists as missing");

        var gpuRefused = allGood.Select(s => s.Step == SetupStep.DetectGpu ? s with { Passed = false, Line = "environment staging cannot run its GPU services" } : s).ToList();
        output = new StringWriter();
        ReportWriter.Text(output).Write(SetupSummary.Of(gpuRefused, "staging", "Start"));
        output.ToString().Should().MatchRegex(@"DetectGpu\s+failed\s+environment staging cannot run its GPU services")
            .And.Contain("use an environment with gpu: false here").And.NotContain("./build.sh Start --environment");
    }

    [Fact]
    public void A_pulls_bytes_add_up_over_its_layers()
    {
        var tally = new PullTally();
        tally.Add(new JSONMessage { ID = "a", Status = "Pulling fs layer" });
        tally.Add(new JSONMessage { ID = "b", Status = "Already exists" });
        tally.Add(new JSONMessage { ID = "a", Status = "Downloading", Progress = new JSONProgress { Current = 300, Total = 1000 } });
        tally.Current.Should().Be(301);
        tally.Total.Should().Be(1001);
        tally.Add(new JSONMessage { ID = "a", Status = "Download complete" });
        tally.Add(new JSONMessage { ID = "a", Status = "Pull complete" });
        tally.Current.Should().Be(1001);
        tally.Layers.Should().Be((2, 2));
        tally.Add(new JSONMessage { Status = "Digest: sha256:abc" });
        tally.Layers.Should().Be((2, 2), "a message without a layer is not one");
    }

    [Fact]
    public void An_image_that_cannot_be_pulled_is_one_line_with_the_registrys_answer_and_the_fixes()
    {
        ImagePuller.CannotPull(new ImageNeed("vllm/vllm-openai:v0.6.3", ["vllm"]), "Get \"https://registry-1.docker.io/v2/\": dial tcp: lookup registry-1.docker.io: no such host.")
            .Should().Be("image 'vllm/vllm-openai:v0.6.3' (service vllm) cannot be pulled from docker.io: Get \"https://registry-1.docker.io/v2/\": dial tcp: lookup registry-1.docker.io: no such host — map it to an image you have with --image-map, log in to the registry (docker login docker.io), or give the service a build:");
    }
}
