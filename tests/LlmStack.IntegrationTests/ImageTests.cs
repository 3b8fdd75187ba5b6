using Docker.DotNet;
using Docker.DotNet.Models;
using LlmStack.Compose;
using LlmStack.Images;
using YamlDotNet.RepresentationModel;

namespace LlmStack.IntegrationTests;

/// <summary>
/// Builds, pulls and GPUs on the real engine (issue 21): a service of the testing stack (allure-results) built from a
/// context under tests/fixtures/build, copied per test; the image map is the fixture map plus the built image mapped to
/// itself (a map entry that substitutes an image means: run that one, do not build).
/// </summary>
[Collection(TestLane.MainCollection)]
[Trait("Category", "Integration")]
public sealed class ImageTests(DockerFixture docker) : IAsyncLifetime
{
    private const string BuiltService = "allure-results";

    private readonly string _work = Path.Combine(Path.GetTempPath(), "llmstack-it-images-" + Guid.NewGuid().ToString("N"));
    private readonly List<string> _tags = [];

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_work);
        await docker.CleanAsync("testing", "staging");
    }

    public async Task DisposeAsync()
    {
        await docker.CleanAsync("testing", "staging");
        foreach (var tag in _tags)
        {
            try
            {
                await docker.Docker.Images.DeleteImageAsync(tag, new ImageDeleteParameters { Force = true });
            }
            catch (DockerApiException)
            {
            }
        }

        Directory.Delete(_work, recursive: true);
    }

    private TestRun Build => new(docker.Root);

    /// <summary>A fresh tag for this test's image (removed after it).</summary>
    private string NewTag(string name = "built")
    {
        var tag = $"llmstack-it/{name}:{Guid.NewGuid():N}"[..36];
        _tags.Add(tag);
        return tag;
    }

    /// <summary>A copy of tests/fixtures/build/<paramref name="fixture"/> in the test's own directory.</summary>
    private string Context(string fixture)
    {
        var source = Path.Combine(docker.Root, "tests", "fixtures", "build", fixture);
        var target = Path.Combine(_work, fixture);
        foreach (var file in Directory.GetFiles(source, "*", SearchOption.AllDirectories))
        {
            var copy = Path.Combine(target, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(copy)!);
            File.Copy(file, copy);
        }

        return target;
    }

    /// <summary>Runs against a schema copy whose allure-results builds <paramref name="image"/> from <paramref name="context"/> (GREETING from a variable).</summary>
    private TestRun Run(string? context, string image, string service = BuiltService)
    {
        var schema = SchemaCopy.Write(docker.Root, root =>
        {
            var definition = root.Service(service);
            definition.Set("image", new YamlScalarNode(image));
            if (context is not null)
            {
                definition.Set("build", new YamlMappingNode
                {
                    { "context", context },
                    { "args", new YamlMappingNode { { "GREETING", "${LOG_LEVEL}" } } },
                });
            }
        });
        var map = Path.Combine(_work, $"map-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(map, File.ReadAllText(Path.Combine(docker.Root, TestRun.FixtureImageMap)) + $"\"{image}\": \"{image}\"\n");
        return Build with { ImageMap = map, Arguments = ["--schema", schema] };
    }

    /// <summary>The size of a path in an image (null: not there), read from a container created and never started.</summary>
    private async Task<long?> SizeInImageAsync(string image, string path)
    {
        var created = await docker.Docker.Containers.CreateContainerAsync(new CreateContainerParameters { Image = image });
        try
        {
            var archive = await docker.Docker.Containers.GetArchiveFromContainerAsync(created.ID, new ContainerPathStatParameters { Path = path }, statOnly: true);
            archive.Stream?.Dispose();
            return archive.Stat.Size;
        }
        catch (DockerApiException e) when (e.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return null;
        }
        finally
        {
            await docker.Docker.Containers.RemoveContainerAsync(created.ID, new ContainerRemoveParameters { Force = true });
        }
    }

    private async Task<IList<NetworkResponse>> NetworksAsync(string environment) =>
        await docker.Docker.Networks.ListNetworksAsync(new NetworksListParameters
        {
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"{Names.Environment}={environment}"] = true } },
        });

    [Fact]
    public async Task BuildImages_builds_the_context_with_its_hash_label_without_ignored_files_and_again_only_when_a_file_changes()
    {
        var context = Context("app");
        var payload = new byte[40 << 20];
        Random.Shared.NextBytes(payload);
        await File.WriteAllBytesAsync(Path.Combine(context, "payload.bin"), payload); // sent: the stream carries tens of MB
        using (var ignored = File.Create(Path.Combine(context, "weights.ignored")))
        {
            ignored.SetLength(64L << 20); // left out by .dockerignore: never reaches the image
        }

        var image = NewTag();
        var run = Run(context, image);

        var first = await run.RunAsync("BuildImages", "--service", BuiltService);

        first.ExitCode.Should().Be(0, first.ToString());
        var hash = await BuildContext.Of(context).HashAsync([new("GREETING", "DEBUG")], null, CancellationToken.None);
        first.Output.Should().Contain($"{BuiltService} | Step 1/7 : FROM llmstack-fixture/standin:1").And.Contain($"{BuiltService} | Step 4/7 : RUN")
            .And.Contain($"{BuiltService} | Step 5/7 : LABEL {Names.BuildHash}={hash}", "the engine's classic builder adds the labels as the last steps");
        var built = await docker.Docker.Images.InspectImageAsync(image);
        built.Config!.Labels.Should().Contain(Names.BuildHash, hash).And.Contain(Names.Service, BuiltService);
        (await SizeInImageAsync(image, "/context/payload.bin")).Should().Be(payload.Length);
        (await SizeInImageAsync(image, "/context/weights.ignored")).Should().BeNull(".dockerignore leaves it out");
        (await SizeInImageAsync(image, "/context/greeting")).Should().Be("DEBUG\n".Length, "the argument is the testing environment's LOG_LEVEL");

        var second = await run.RunAsync("BuildImages", "--service", BuiltService);
        second.ExitCode.Should().Be(0, second.ToString());
        second.Output.Should().Contain($"{image} of {BuiltService} is up to date").And.NotContain("Step 1/");
        (await docker.Docker.Images.InspectImageAsync(image)).ID.Should().Be(built.ID, "an unchanged context builds nothing");

        await File.AppendAllTextAsync(Path.Combine(context, "index.txt"), "one more line\n");
        var third = await run.RunAsync("BuildImages");
        third.ExitCode.Should().Be(0, third.ToString());
        third.Output.Should().Contain("built from other sources").And.Contain($"{BuiltService} | Step 3/7 : COPY");
        var rebuilt = await docker.Docker.Images.InspectImageAsync(image);
        rebuilt.ID.Should().NotBe(built.ID);
        rebuilt.Config!.Labels![Names.BuildHash].Should().Be(await BuildContext.Of(context).HashAsync([new("GREETING", "DEBUG")], null, CancellationToken.None)).And.NotBe(hash);
    }

    [Fact]
    public async Task Start_builds_a_missing_image_and_starts_it_healthy_a_second_start_builds_nothing_and_Rebuild_builds_without_cache()
    {
        var image = NewTag();
        var run = Run(Context("app"), image);

        var start = await run.RunAsync("StartTesting");

        start.ExitCode.Should().Be(0, start.ToString());
        start.Output.Should().Contain($"{image} of {BuiltService}: missing: building it").And.Contain($"{BuiltService} | Step 1/7");
        var container = (await docker.ContainersAsync("testing", "testing")).Single(c => c.Labels[Names.Service] == BuiltService);
        container.ImageID.Should().Be((await docker.Docker.Images.InspectImageAsync(image)).ID);
        (await run.RunAsync("StatusTesting")).ExitCode.Should().Be(0, "the built service is running and healthy");

        var again = await run.RunAsync("StartTesting");
        again.ExitCode.Should().Be(0, again.ToString());
        again.Output.Should().NotContain("Step 1/").And.NotContain("building it").And.Contain("4 unchanged");

        var rebuild = await run.RunAsync("RebuildTesting");
        rebuild.ExitCode.Should().Be(0, rebuild.ToString());
        rebuild.Output.Should().Contain("(no cache)").And.Contain($"{BuiltService} | Step 4/7 : RUN").And.NotContain("Using cache");
        var after = (await docker.ContainersAsync("testing", "testing")).Single(c => c.Labels[Names.Service] == BuiltService);
        after.ID.Should().NotBe(container.ID, "the stack was stopped and started again");
        (await run.RunAsync("StatusTesting")).ExitCode.Should().Be(0, "the stack came back healthy");
    }

    [Fact]
    public async Task A_failing_build_step_is_one_line_naming_the_service_and_the_step_and_nothing_of_the_stack_is_created()
    {
        var image = NewTag();
        var run = Run(Context("failing"), image);

        var result = await run.RunAsync("StartTesting", "--skip", "StartCore");

        result.ExitCode.Should().NotBe(0);
        var line = $"service '{BuiltService}': building {image} failed at step 2/6 (RUN echo \"about to fail\" && exit 3): The command '/bin/sh -c echo \"about to fail\" && exit 3' returned a non-zero code: 3";
        result.Output.Should().Contain(line);
        result.Output.Split('\n').Count(l => l.Contains("[ERR]", StringComparison.Ordinal)).Should().Be(1, "one line: " + result.Output);
        result.Output.Should().Contain($"{BuiltService} | about to fail", "the last lines of the build's output are shown");
        (await docker.ContainersAsync("testing", "testing")).Should().BeEmpty();
        (await NetworksAsync("testing")).Select(n => n.Name).Should().NotContain(TestNames.Network("testing"));
        var tagged = async () => await docker.Docker.Images.InspectImageAsync(image);
        await tagged.Should().ThrowAsync<DockerImageNotFoundException>();
    }

    [Fact]
    public async Task Ctrl_C_during_a_build_stops_it_cleanly_leaving_no_container_behind()
    {
        var image = NewTag();
        var run = Run(Context("slow"), image);
        var started = DateTime.UtcNow;

        var result = await run.RunAsync(["StartTesting", "--skip", "StartCore"], signalAt: line => line.Contains($"{BuiltService} | sleeping", StringComparison.Ordinal));

        result.ExitCode.Should().Be(130, result.ToString());
        (DateTime.UtcNow - started).Should().BeLessThan(TimeSpan.FromSeconds(45), "the build's minute-long step was stopped, not waited for");
        (await docker.ContainersAsync("testing", "testing")).Should().BeEmpty();
        await Cli.WaitUntilAsync(
            async () => (await docker.Docker.Containers.ListContainersAsync(new ContainersListParameters { All = true })).All(c => !c.Command.Contains("sleep 60", StringComparison.Ordinal)),
            "the engine removes the build's intermediate container once the request is gone",
            TimeSpan.FromSeconds(30));
        var tagged = async () => await docker.Docker.Images.InspectImageAsync(image);
        await tagged.Should().ThrowAsync<DockerImageNotFoundException>();
    }

    [Fact]
    public async Task An_image_neither_present_nor_buildable_is_one_line_with_the_fix_and_offline_lists_every_missing_image()
    {
        var image = NewTag("absent");
        var run = Run(null, image, service: "jmeter");

        var result = await run.RunAsync("StartTesting", "--skip", "StartCore");

        result.ExitCode.Should().NotBe(0);
        result.Output.Should().Contain($"image '{image}' (service jmeter) cannot be pulled from docker.io: ")
            .And.Contain("map it to an image you have with --image-map, log in to the registry (docker login docker.io), or give the service a build:");
        (await docker.ContainersAsync("testing", "testing")).Should().BeEmpty("nothing of the stack is created");

        var offline = await (Build with { ImageMap = null }).RunAsync("Images", "--offline");
        offline.ExitCode.Should().NotBe(0);
        offline.Output.Should().MatchRegex(@"--offline: \d+ image\(s\) missing and not pulled: .*postgres:16-alpine \(postgres\)")
            .And.Contain("vllm/vllm-openai:v0.6.3 (vllm)").And.Contain("frankescobar/allure-docker-service:2.27.0 (allure-results, allure-report, allure-cli)")
            .And.Contain("build context './services/ai-agents'");
        offline.Output.Should().MatchRegex(@"postgres\s+core\s+postgres:16-alpine\s+pull\s+missing");

        var start = await (Build with { ImageMap = null }).RunAsync("StartCore", "--offline");
        start.ExitCode.Should().NotBe(0);
        start.Output.Should().Contain("--offline: 4 image(s) missing and not pulled: postgres:16-alpine (postgres), redis:7-alpine (redis), qdrant/qdrant:v1.12.0 (qdrant), minio/minio:RELEASE.2024-10-13T13-34-11Z (minio)");
        (await docker.ContainersAsync("testing")).Should().BeEmpty();
    }

    [Fact]
    public async Task DetectGpu_finds_no_gpu_runtime_and_StartInference_in_staging_refuses_in_one_line_before_anything_is_created()
    {
        var secrets = Path.Combine(_work, "secrets");
        var staging = Build with { Environment = "staging", Arguments = ["--secrets-dir", secrets] };

        var detect = await staging.RunAsync("DetectGpu");
        detect.ExitCode.Should().NotBe(0, "staging's GPU services cannot run here");
        detect.Output.Should().Contain("Engine: GPU runtime no").And.MatchRegex(@"staging\s+true\s+vllm \(device ids 0, 1\)").And.MatchRegex(@"testing\s+false\s+-\s+not needed");
        (await Build.RunAsync("DetectGpu")).ExitCode.Should().Be(0, "testing has gpu: false");

        var start = await staging.RunAsync("StartInference");

        start.ExitCode.Should().NotBe(0);
        start.Output.Should().Contain("StartInference need(s) GPUs in environment staging (gpu: true): vllm (device ids 0, 1)")
            .And.Contain("use an environment with gpu: false on this host");
        start.Output.Split('\n').Count(l => l.Contains("[ERR]", StringComparison.Ordinal)).Should().Be(1, start.Output);
        (await docker.ContainersAsync("staging")).Should().BeEmpty();
        (await NetworksAsync("staging")).Should().BeEmpty("not even the core stack it depends on is created");
        Directory.Exists(secrets).Should().BeFalse("no secret is generated either");

        // Deploy is refused the same way, before its plan or its gate.
        var deploy = await staging.RunAsync("Deploy", "--confirm", "staging");
        deploy.ExitCode.Should().NotBe(0);
        deploy.Output.Should().Contain("Deploy need(s) GPUs in environment staging (gpu: true): vllm (device ids 0, 1)");
        (await docker.ContainersAsync("staging")).Should().BeEmpty();
        (await NetworksAsync("staging")).Should().BeEmpty();
    }

    [Fact]
    public async Task Setup_runs_every_check_even_after_a_failing_one_creates_only_the_secrets_and_says_what_to_do_next()
    {
        var secrets = Path.Combine(_work, "secrets");
        var staging = Build with { Environment = "staging", Arguments = ["--secrets-dir", secrets] };

        var setup = await staging.RunAsync("Setup");

        setup.ExitCode.Should().NotBe(0, "staging's GPU services cannot run here");
        setup.Output.Should().MatchRegex(@"ValidateSchema\s+ok").And.MatchRegex(@"SetupSecrets\s+ok").And.MatchRegex(@"DetectGpu\s+failed\s+environment staging cannot run its GPU services")
            .And.MatchRegex(@"Images\s+ok").And.MatchRegex(@"CheckNetworkConflicts\s+ok")
            .And.Contain("use an environment with gpu: false here").And.NotContain("./build.sh Start --environment staging");
        setup.Output.IndexOf("║ ValidateSchema", StringComparison.Ordinal).Should().BeLessThan(setup.Output.IndexOf("║ SetupSecrets", StringComparison.Ordinal));
        File.Exists(Path.Combine(secrets, "staging.env")).Should().BeTrue("Setup creates the missing secrets");
        (await docker.ContainersAsync("staging")).Should().BeEmpty();
        (await NetworksAsync("staging")).Should().BeEmpty("Setup is read-only but for the secrets");

        var testing = await (Build with { Arguments = ["--secrets-dir", secrets] }).RunAsync("Setup");
        testing.ExitCode.Should().Be(0, testing.ToString());
        testing.Output.Should().Contain("./build.sh Start --environment testing: builds and pulls what Images lists as missing");
    }
}
