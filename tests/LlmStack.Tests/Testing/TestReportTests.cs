using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using LlmStack.Testing;

namespace LlmStack.Tests.Testing;

/// <summary>
/// TestReport over known results (tests/fixtures/test-report: a real TRX and its JUnit twin, a JTL that LlmStack's own
/// LoadTest code turns into its junit.xml), run in-process in a scratch repository with the real npm allure (TestTools):
/// the report's own counts equal the TRX's and the JTL's; no result at all fails; and the report, served by
/// ServeTestReport, shows those totals in headless Chromium (Debian's chromium, which bash .ci/run installs).
/// </summary>
public sealed partial class TestReportTests : IDisposable
{
    private static readonly string Fixtures = Path.Combine(Repository.Root, "tests", "fixtures", "test-report");

    private readonly string _root = BuildRun.ScratchRoot("test-report");

    public TestReportTests()
    {
        // The npm tools of the repository (./build.sh TestTools installed them) serve the scratch repository too.
        var tools = LlmStack.Tooling.TestTools.ToolsDirectory(Repository.Root);
        File.Exists(LlmStack.Tooling.TestTools.AllureCli(Repository.Root)).Should().BeTrue($"npm allure is installed in {tools}: ./build.sh TestTools");
        Directory.CreateDirectory(Path.Combine(_root, ".nuke", "temp"));
        Directory.CreateSymbolicLink(LlmStack.Tooling.TestTools.ToolsDirectory(_root), tools);
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string State => Path.Combine(_root, "state");

    private string ReportDirectory => Path.Combine(_root, "artifacts", "test-report");

    /// <summary>The fixture's TRX and JUnit where UnitTest writes them; the TRX's own counts (one result per test case).</summary>
    private TestCounts PlaceUnitResults()
    {
        var unit = Directory.CreateDirectory(Path.Combine(_root, "artifacts", "test-results", "unit")).FullName;
        foreach (var file in Directory.GetFiles(Path.Combine(Fixtures, "unit")))
        {
            File.Copy(file, Path.Combine(unit, Path.GetFileName(file)));
        }

        var outcomes = XDocument.Load(Path.Combine(unit, "Sample.Tests.trx")).Descendants().Where(e => e.Name.LocalName == "UnitTestResult")
            .Select(e => e.Attribute("outcome")!.Value).ToList();
        return new TestCounts(outcomes.Count(o => o == "Passed"), outcomes.Count(o => o == "Failed"), 0, outcomes.Count(o => o == "NotExecuted"));
    }

    /// <summary>
    /// The fixture's JTL as LoadTest leaves it: a run directory with the JTL and the junit.xml LlmStack makes of it (a
    /// label passes without errors), and an older run of the same plan that the report must leave out. The JTL's counts.
    /// </summary>
    private TestCounts PlaceLoadResults()
    {
        var runs = Path.Combine(State, "artifacts", "load-tests");
        var older = Directory.CreateDirectory(Path.Combine(runs, "nginx-20261205-120000-0a1b2c")).FullName;
        JUnitXml.Write(Path.Combine(older, "junit.xml"), "LoadTest nginx", [.. Enumerable.Range(1, 5).Select(i => new JUnitCase("LoadTest.nginx", $"GET /old-{i}", 1, null))], DateTimeOffset.UtcNow.AddDays(-1));

        var run = Directory.CreateDirectory(Path.Combine(runs, "nginx-20261206-120000-3d4e5f")).FullName;
        File.Copy(Path.Combine(Fixtures, "load", "results.jtl"), Path.Combine(run, "results.jtl"));
        var samples = Jtl.Read(Path.Combine(run, "results.jtl"));
        var verdicts = LoadTestReport.Judge(new LoadPlanDefinition(), LabelStatistics.Of(samples));
        JUnitXml.Write(Path.Combine(run, "junit.xml"), "LoadTest nginx", LoadTestReport.Cases("nginx", verdicts), DateTimeOffset.UtcNow);

        var labels = samples.GroupBy(s => s.Label).ToList();
        labels.Should().HaveCount(2, "the fixture has GET /health and GET /missing");
        return new TestCounts(labels.Count(l => l.All(s => s.Success)), labels.Count(l => l.Any(s => !s.Success)), 0, 0);
    }

    private Task<(int Code, string StandardOutput, string StandardError)> TestReportAsync(params string[] arguments) =>
        BuildRun.RunSeparatedAsync(_root, ["TestReport", "--state-dir", State, .. arguments]);

    [Fact]
    public async Task The_reports_counts_are_the_TRX_and_JTL_counts_and_each_source_has_its_row()
    {
        var unit = PlaceUnitResults();
        var load = PlaceLoadResults();
        unit.Should().Be(new TestCounts(7, 1, 0, 1), "the fixture's TRX: seven passed, one failed, one skipped");
        load.Should().Be(new TestCounts(1, 1, 0, 0), "the fixture's JTL: GET /health without errors, GET /missing all 404");

        var (code, output, log) = await TestReportAsync("--json");
        code.Should().Be(0, log);

        // Allure's own figures, in the report it wrote.
        var summary = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(ReportDirectory, "summary.json"))).RootElement.GetProperty("stats");
        int Stat(string name) => summary.TryGetProperty(name, out var value) ? value.GetInt32() : 0;
        var expected = unit + load;
        new TestCounts(Stat("passed"), Stat("failed"), Stat("broken"), Stat("skipped")).Should().Be(expected);
        Stat("total").Should().Be(expected.Total).And.Be(11);
        File.Exists(Path.Combine(ReportDirectory, "index.html")).Should().BeTrue();

        // The table's document: each source's counts, and the report's.
        var document = JsonDocument.Parse(output).RootElement;
        TestCounts Counts(JsonElement e) => new(e.GetProperty("passed").GetInt32(), e.GetProperty("failed").GetInt32(), e.GetProperty("broken").GetInt32(), e.GetProperty("skipped").GetInt32());
        var sources = document.GetProperty("sources").EnumerateArray().ToDictionary(s => s.GetProperty("source").GetString()!, s => s);
        sources.Keys.Should().Equal("unit", "integration", "smoke", "load");
        Counts(sources["unit"].GetProperty("counts")).Should().Be(unit);
        Counts(sources["load"].GetProperty("counts")).Should().Be(load);
        sources["load"].GetProperty("files").EnumerateArray().Select(f => f.GetString()).Should().Equal("state/artifacts/load-tests/nginx-20261206-120000-3d4e5f/junit.xml");
        sources["integration"].GetProperty("files").GetArrayLength().Should().Be(0);
        Counts(document.GetProperty("total")).Should().Be(expected);
        document.GetProperty("allureResults").GetString().Should().Contain("no service of environment development mounts a volume at /app/allure-results");

        // The table for people.
        var (textCode, text) = await BuildRun.RunAsync(_root, "TestReport", "--state-dir", State);
        textCode.Should().Be(0, text);
        text.Should().MatchRegex(@"unit\s+1\s+7\s+1\s+0\s+1\s+9").And.MatchRegex(@"load\s+1\s+1\s+1\s+0\s+0\s+2").And.MatchRegex(@"TOTAL \(the report\)\s+2\s+8\s+2\s+0\s+1\s+11");
    }

    [Fact]
    public void UnitTests_summary_counts_a_skipped_xUnit_test_which_the_TRX_counters_leave_out_of_notExecuted()
    {
        LlmStack.Tooling.TestRunner.Counts(Path.Combine(Fixtures, "unit", "Sample.Tests.trx")).Should().Be((7, 1, 1));
    }

    [Fact]
    public async Task No_result_at_all_fails_in_one_line_where_Allure_would_exit_0()
    {
        Directory.CreateDirectory(Path.Combine(_root, "artifacts", "test-results", "unit"));
        File.WriteAllText(Path.Combine(_root, "artifacts", "test-results", "unit", "Empty.junit.xml"), "<testsuites />");

        var (code, _, log) = await TestReportAsync();

        code.Should().NotBe(0);
        log.Should().Contain("no test results to report: no JUnit test case in artifacts/test-results/unit (1 file(s)), artifacts/test-results/integration (0 file(s)), state/artifacts/smoke-tests (0 file(s)), state/artifacts/load-tests (0 file(s)); run UnitTest, IntegrationTest, SmokeTest or LoadTest first");
        Directory.Exists(ReportDirectory).Should().BeFalse("no report is made of nothing");
    }

    [Fact]
    public async Task The_report_served_on_loopback_shows_the_expected_totals_in_headless_Chromium()
    {
        var chromium = Tools.Require("chromium", "apt-get install chromium");
        var expected = PlaceUnitResults() + PlaceLoadResults();
        var (code, _, log) = await TestReportAsync();
        code.Should().Be(0, log);

        var port = FreePort();
        var url = $"http://127.0.0.1:{port}/";
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var serve = BuildRun.RunUntilAsync(_root, stop.Token, "ServeTestReport", "--report-port", port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        string dom;
        try
        {
            await WaitForAsync(url, serve);
            dom = await DumpDomAsync(chromium, url);
        }
        finally
        {
            await stop.CancelAsync();
        }

        var (served, output) = await serve;
        served.Should().Be(0, output);
        output.Should().Contain($"at {url} (127.0.0.1 only; Ctrl-C stops)");

        // The numbers the page shows (Allure's statistic, filled in by its scripts from the report's data).
        var shown = Metadata().Matches(dom).ToDictionary(m => m.Groups["status"].Value, m => int.Parse(m.Groups["count"].Value, System.Globalization.CultureInfo.InvariantCulture));
        shown.Should().ContainKey("total", $"the page rendered its statistic; the DOM was:\n{dom[..Math.Min(dom.Length, 2000)]}");
        shown["total"].Should().Be(expected.Total).And.Be(11);
        shown.GetValueOrDefault("passed").Should().Be(expected.Passed);
        shown.GetValueOrDefault("failed").Should().Be(expected.Failed);
        shown.GetValueOrDefault("broken").Should().Be(expected.Broken);
        shown.GetValueOrDefault("skipped").Should().Be(expected.Skipped);
        dom.Should().Contain("Upper_case_is_wrong_on_purpose").And.Contain("GET /missing", "the test tree lists the cases");

        // Stopped with the token: nothing listens any more.
        using var client = new TcpClient();
        var connect = async () => await client.ConnectAsync(IPAddress.Loopback, port);
        await connect.Should().ThrowAsync<SocketException>();
    }

    [Fact]
    public async Task ServeTestReport_listens_on_127_0_0_1_only_and_never_serves_outside_the_report()
    {
        Directory.CreateDirectory(Path.Combine(ReportDirectory, "data"));
        File.WriteAllText(Path.Combine(ReportDirectory, "index.html"), "<html>report</html>");
        File.WriteAllText(Path.Combine(ReportDirectory, "data", "a.json"), "{}");
        File.WriteAllText(Path.Combine(_root, "artifacts", "secret.txt"), "not served");

        var port = FreePort();
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        var serve = BuildRun.RunUntilAsync(_root, stop.Token, "ServeTestReport", "--report-port", port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        try
        {
            await WaitForAsync($"http://127.0.0.1:{port}/", serve);
            using var http = new HttpClient();
            (await http.GetStringAsync($"http://127.0.0.1:{port}/")).Should().Be("<html>report</html>");
            var json = await http.GetAsync($"http://127.0.0.1:{port}/data/a.json");
            json.Content.Headers.ContentType!.MediaType.Should().Be("application/json");
            (await http.GetAsync($"http://127.0.0.1:{port}/..%2Fsecret.txt")).StatusCode.Should().Be(HttpStatusCode.NotFound);
            (await http.GetAsync($"http://127.0.0.1:{port}/missing.js")).StatusCode.Should().Be(HttpStatusCode.NotFound);
            (await http.PostAsync($"http://127.0.0.1:{port}/", new StringContent("x"))).StatusCode.Should().Be(HttpStatusCode.MethodNotAllowed);

            // Bound to the loopback address, not every interface: the kernel's table of listening sockets has the port on
            // 127.0.0.1 and on no other address (read there, so no traffic leaves loopback).
            Listening(port).Should().Equal(["0100007F"], "the port listens on 127.0.0.1 alone, not 0.0.0.0 or ::");
        }
        finally
        {
            await stop.CancelAsync();
        }

        (await serve).Code.Should().Be(0);
    }

    [Fact]
    public async Task ServeTestReport_without_a_report_says_to_make_one()
    {
        var (code, output) = await BuildRun.RunAsync(_root, "ServeTestReport");
        code.Should().NotBe(0);
        output.Should().Contain("no report in").And.Contain("./build.sh TestReport makes it");
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    /// <summary>The local addresses (hex, as /proc/net/tcp and tcp6 write them) of the sockets listening on <paramref name="port"/>.</summary>
    private static List<string> Listening(int port)
    {
        var suffix = ":" + port.ToString("X4", System.Globalization.CultureInfo.InvariantCulture);
        return new[] { "/proc/net/tcp", "/proc/net/tcp6" }.Where(File.Exists)
            .SelectMany(f => File.ReadAllLines(f).Skip(1))
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(c => c.Length > 3 && c[3] == "0A" && c[1].EndsWith(suffix, StringComparison.Ordinal)) // 0A: LISTEN
            .Select(c => c[1][..^suffix.Length])
            .ToList();
    }

    private static async Task WaitForAsync(string url, Task running)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            if (running.IsCompleted)
            {
                throw new InvalidOperationException($"ServeTestReport ended before it answered: {(await (Task<(int, string)>)running).Item2}");
            }

            try
            {
                using var response = await http.GetAsync(url);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }

            await Task.Delay(200);
        }

        throw new TimeoutException($"{url} did not answer within 60 s");
    }

    /// <summary>The DOM after the page's scripts ran (virtual time: the fetches of the report's data complete first).</summary>
    private static async Task<string> DumpDomAsync(string chromium, string url)
    {
        var profile = Repository.TempDirectory("chromium");
        try
        {
            var start = new ProcessStartInfo(chromium)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            // Root needs --no-sandbox; the rest keeps Chromium off every network but the loopback page (no updates, pings, sync).
            string[] arguments =
            [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-default-apps", "--no-pings", $"--user-data-dir={profile}",
                "--virtual-time-budget=20000", "--dump-dom", url,
            ];
            foreach (var argument in arguments)
            {
                start.ArgumentList.Add(argument);
            }

            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"chromium --dump-dom {url} did not finish within 120 s: {await error}");
            }

            process.ExitCode.Should().Be(0, await error);
            return await output;
        }
        finally
        {
            Directory.Delete(profile, recursive: true);
        }
    }

    /// <summary>Allure's statistic: <c>data-testid="metadata-item-&lt;status&gt;"</c>, its label, then the number in a span.</summary>
    [GeneratedRegex(@"data-testid=""metadata-item-(?<status>[a-z]+)""[^>]*>(?:(?!data-testid=""metadata-item-).)*?<span[^>]*>(?<count>\d+)</span>", RegexOptions.Singleline)]
    private static partial Regex Metadata();
}
