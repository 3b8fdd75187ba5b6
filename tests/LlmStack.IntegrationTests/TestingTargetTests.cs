using System.Globalization;
using System.Text.Json;
using System.Xml.Linq;

namespace LlmStack.IntegrationTests;

/// <summary>The testing environment's ui stack (with core, inference and ai) and its testing stack, started once for the test targets.</summary>
public sealed class RunningUiAndTesting() : RunningStacks("StartUi");

/// <summary>
/// The targets that test a running environment, on the real engine: LoadTest runs JMeter (Debian's 2.13, the fixture
/// image) in the testing stack's jmeter service against the nginx stand-in by its DNS name, and LlmStack's figures come
/// from the JTL it copied out.
/// </summary>
[Collection(TestLane.MainCollection)]
[Trait("Category", "Integration")]
public sealed class TestingTargetTests(RunningUiAndTesting stacks) : IClassFixture<RunningUiAndTesting>, IAsyncLifetime
{
    private readonly string _state = Directory.CreateTempSubdirectory("llmstack-it-testing-").FullName;

    private DockerFixture Docker => stacks.Docker;

    private string ConfigFile => Path.Combine(_state, "load-tests.yaml");

    /// <summary>Runs with a state directory of the test's own (the secrets stay the repository's, where StartUi made them).</summary>
    private TestRun Build => new(Docker.Root) { Arguments = ["--state-dir", _state, "--secrets-dir", Path.Combine(Docker.Root, "secrets"), "--load-config", ConfigFile] };

    public async Task InitializeAsync()
    {
        var testing = await new TestRun(Docker.Root).RunAsync("StartTesting");
        testing.ExitCode.Should().Be(0, testing.ToString());
        await WriteConfigAsync(maxP95: 5000);
    }

    public Task DisposeAsync()
    {
        Directory.Delete(_state, recursive: true);
        return Task.CompletedTask;
    }

    private Task WriteConfigAsync(double maxP95) => File.WriteAllTextAsync(ConfigFile, $$"""
        plans:
          nginx:
            file: smoke.jmx
            target: nginx
            port: 80
            threads: 2
            loops: 10
            properties: { path: /health }
            thresholds:
              "*": { max_error_rate: 0, max_p95_ms: {{maxP95.ToString(CultureInfo.InvariantCulture)}} }
          missing:
            file: smoke.jmx
            target: nginx
            port: 80
            threads: 1
            loops: 3
            properties: { path: /missing }
        """);

    private string[] RunDirectories() => Directory.Exists(Path.Combine(_state, "artifacts", "load-tests"))
        ? Directory.GetDirectories(Path.Combine(_state, "artifacts", "load-tests"))
        : [];

    [Fact]
    public async Task LoadTest_runs_the_plan_in_the_jmeter_service_and_judges_the_JTL_it_parsed_itself()
    {
        var run = await Build.RunAsync("LoadTest", "--load-plan", "nginx", "--json");
        run.ExitCode.Should().Be(0, run.ToString());
        run.Output.Should().Contain("JMeter 2.13").And.Contain("nginx:80");

        var directory = RunDirectories().Should().ContainSingle().Subject;
        var jtl = await File.ReadAllLinesAsync(Path.Combine(directory, "results.jtl"));
        jtl[0].Should().StartWith("timeStamp,elapsed,label,responseCode");
        jtl.Skip(1).Should().HaveCount(20, "2 threads × 10 loops").And.OnlyContain(l => l.Contains(",GET /health,200,", StringComparison.Ordinal));

        var summary = JsonDocument.Parse(run.StandardOutput).RootElement;
        summary.GetProperty("samples").GetInt32().Should().Be(20);
        summary.GetProperty("errors").GetInt32().Should().Be(0);
        var label = summary.GetProperty("labels").EnumerateArray().Should().ContainSingle().Subject;
        label.GetProperty("label").GetString().Should().Be("GET /health");
        label.GetProperty("verdict").GetString().Should().Be("passed");
        JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(directory, "summary.json"))).RootElement.GetProperty("samples").GetInt32().Should().Be(20);

        var junit = XDocument.Load(Path.Combine(directory, "junit.xml"));
        var testCase = junit.Descendants("testcase").Should().ContainSingle().Subject;
        testCase.Attribute("name")!.Value.Should().Be("GET /health");
        testCase.Element("failure").Should().BeNull();

        // A second run gets a directory of its own, with a threshold below anything JMeter can measure: it counts whole
        // milliseconds, and the first requests of a fresh JVM take several (as this run's p95 shows), so its p95 is at
        // least 1 ms. (A threshold derived from the first run's p95 was flaky: the second JVM can be twice as fast.)
        label.GetProperty("p95").GetInt64().Should().BeGreaterThan(0, "JMeter measures whole milliseconds; the first requests of a fresh JVM take several");
        await WriteConfigAsync(maxP95: 0.5);
        var tight = await Build.RunAsync("LoadTest", "--load-plan", "nginx");
        tight.ExitCode.Should().Be(1, tight.ToString());
        tight.Output.Should().Contain("load test 'nginx' breached its thresholds").And.Contain("'GET /health': p95 ").And.Contain("ms above");
        RunDirectories().Should().HaveCount(2);
    }

    [Fact]
    public async Task LoadTest_fails_naming_the_label_whose_requests_fail()
    {
        var run = await Build.RunAsync("LoadTest", "--load-plan", "missing");
        run.ExitCode.Should().Be(1, run.ToString());
        run.Output.Should().Contain("'GET /missing': error rate 100 % (3 of 3, first: 404").And.Contain("above 0 %").And.Contain("joins multimodal-testing_ui");
        var junit = XDocument.Load(Path.Combine(RunDirectories().Should().ContainSingle().Subject, "junit.xml"));
        junit.Descendants("failure").Should().ContainSingle().Which.Attribute("message")!.Value.Should().Contain("error rate 100 %");
    }

    [Fact]
    public async Task SmokeTest_passes_on_the_running_environment_and_writes_JUnit()
    {
        var run = await Build.RunAsync("SmokeTest");
        run.ExitCode.Should().Be(0, run.ToString());
        run.Output.Should().MatchRegex(@"litellm\s+GET /v1/models \(bearer\)\s+passed\s+200").And.MatchRegex(@"nginx\s+GET /health\s+passed");
        var secret = File.ReadAllLines(Path.Combine(Docker.Root, "secrets", "testing.env")).Single(l => l.StartsWith("LITELLM_MASTER_KEY=", StringComparison.Ordinal))["LITELLM_MASTER_KEY=".Length..];
        run.Output.Should().NotContain(secret);
        run.Log.Should().NotContain(secret);
        var junit = XDocument.Load(Path.Combine(_state, "artifacts", "smoke-tests", "testing.xml"));
        junit.Descendants("testcase").Should().Contain(c => c.Attribute("classname")!.Value == "SmokeTest.testing.nginx" && c.Attribute("name")!.Value == "GET /health");
        junit.Descendants("failure").Should().BeEmpty();
    }

    [Fact]
    public async Task SmokeTest_fails_naming_a_stopped_service_and_a_failing_declared_check()
    {
        var schema = SchemaCopy.Write(Docker.Root, s => ((YamlDotNet.RepresentationModel.YamlSequenceNode)s.Service("qdrant")["smoke"]).Add(
            new YamlDotNet.RepresentationModel.YamlMappingNode { { "path", "/nope" }, { "port", "6333" } }));
        var stopped = TestNames.Container("ai-agents-web");
        try
        {
            await Docker.Docker.Containers.StopContainerAsync(stopped, new Docker.DotNet.Models.ContainerStopParameters { WaitBeforeKillSeconds = 1 });
            var run = await Build.RunAsync("SmokeTest", "--schema", schema);
            run.ExitCode.Should().Be(1, run.ToString());
            run.Output.Should().Contain("ai-agents-web running: not running (exited): StartUi brings it back")
                .And.Contain("qdrant GET /nope: answered 404, expected 200")
                .And.Contain("smoke test of testing: 2 check(s) failed");
            XDocument.Load(Path.Combine(_state, "artifacts", "smoke-tests", "testing.xml")).Descendants("failure").Should().HaveCount(2);
        }
        finally
        {
            File.Delete(schema);
            var back = await new TestRun(Docker.Root).RunAsync("StartUi"); // health-gated: the next test finds it ready
            back.ExitCode.Should().Be(0, back.ToString());
        }
    }

    [Fact]
    public async Task TestReport_reports_the_smoke_and_load_results_and_puts_them_into_the_allure_results_volume()
    {
        // The smoke results of a real run; the load results of a run as LoadTest leaves them (LoadTest's own tests run JMeter).
        (await Build.RunAsync("SmokeTest")).ExitCode.Should().Be(0);
        var loadRun = Directory.CreateDirectory(Path.Combine(_state, "artifacts", "load-tests", "nginx-20261206-120000-3d4e5f")).FullName;
        LlmStack.Testing.JUnitXml.Write(Path.Combine(loadRun, "junit.xml"), "LoadTest nginx", [new LlmStack.Testing.JUnitCase("LoadTest.nginx", "GET /health", 0.1, null)], DateTimeOffset.UtcNow);

        // What an earlier TestReport left in the volume goes; what others put there stays.
        var allure = TestNames.Container("allure-results");
        (await Docker.ExecAsync(allure, "sh", "-c", "echo '<testsuites/>' > /app/allure-results/llmstack-stale.xml && echo '<testsuites/>' > /app/allure-results/other-tool.xml")).ExitCode.Should().Be(0);

        var run = await Build.RunAsync("TestReport", "--json");
        run.ExitCode.Should().Be(0, run.ToString());
        var document = JsonDocument.Parse(run.StandardOutput).RootElement;
        var sources = document.GetProperty("sources").EnumerateArray().ToDictionary(s => s.GetProperty("source").GetString()!, s => s);
        int Cases(string file, string? failed = null) => XDocument.Load(Path.Combine(Docker.Root, file)).Descendants("testcase").Count(c => failed is null || c.Element(failed) is not null);
        int Count(string source, string what) => sources[source].GetProperty("counts").GetProperty(what).GetInt32();

        var smoke = sources["smoke"].GetProperty("files").EnumerateArray().Select(f => f.GetString()!).Should().ContainSingle().Subject;
        smoke.Should().EndWith("artifacts/smoke-tests/testing.xml");
        Count("smoke", "total").Should().Be(Cases(smoke)).And.BeGreaterThan(5);
        Count("smoke", "failed").Should().Be(0);
        var loadFile = sources["load"].GetProperty("files").EnumerateArray().Select(f => f.GetString()!).Should().ContainSingle().Subject;
        Count("load", "total").Should().Be(Cases(loadFile)).And.Be(1, "one label, GET /health");
        Count("load", "passed").Should().Be(1);

        // The report holds every source's cases (none merged), and the volume the same files.
        var total = document.GetProperty("total").GetProperty("total").GetInt32();
        total.Should().Be(sources.Values.Sum(s => s.GetProperty("counts").GetProperty("total").GetInt32()));
        JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(Docker.Root, "artifacts", "test-report", "summary.json"))).RootElement
            .GetProperty("stats").GetProperty("total").GetInt32().Should().Be(total);
        document.GetProperty("allureResults").GetString().Should().StartWith($"Copied {sources.Values.Sum(s => s.GetProperty("files").GetArrayLength())} JUnit file(s) into volume {TestNames.Volume("allure_results")}");

        var (code, listing) = await Docker.ExecAsync(allure, "ls", "/app/allure-results");
        code.Should().Be(0, listing);
        var files = listing.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        files.Should().Contain("llmstack-smoke-testing.xml").And.Contain($"llmstack-load-{Path.GetFileName(Path.GetDirectoryName(loadFile))}_junit.xml")
            .And.Contain("other-tool.xml").And.NotContain("llmstack-stale.xml");
        var (_, copied) = await Docker.ExecAsync(allure, "cat", "/app/allure-results/llmstack-smoke-testing.xml");
        copied.Should().Be(System.Text.Encoding.UTF8.GetString(await File.ReadAllBytesAsync(Path.Combine(Docker.Root, smoke))), "the file byte for byte (its BOM too)");
        await Docker.ExecAsync(allure, "rm", "-f", "/app/allure-results/other-tool.xml");
    }

    [Fact]
    public async Task LoadTest_names_an_unknown_plan_and_the_closest_one()
    {
        var unknown = await Build.RunAsync("LoadTest", "--load-plan", "nginks");
        unknown.ExitCode.Should().Be(1);
        unknown.Output.Should().Contain("no load test plan 'nginks'").And.Contain("did you mean 'nginx'?");
    }
}
