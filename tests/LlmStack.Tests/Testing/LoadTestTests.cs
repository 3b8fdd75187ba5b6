using System.Xml.Linq;
using LlmStack.Schema;
using LlmStack.Testing;

namespace LlmStack.Tests.Testing;

/// <summary>The JTL parser, the figures, the thresholds, the JUnit file and SmokeTest's request and status parsing.</summary>
public sealed class LoadTestTests
{
    private const string Header = "timeStamp,elapsed,label,responseCode,responseMessage,threadName,dataType,success,failureMessage,bytes,sentBytes,grpThreads,allThreads,URL,Latency,IdleTime,Connect";

    private static IReadOnlyList<JtlSample> Parse(string text) => Jtl.Read(new StringReader(text), "results.jtl");

    [Fact]
    public void A_JMeter_5_file_with_a_header_and_a_quoted_label_is_read_by_column_name()
    {
        var samples = Parse($"""
            {Header}
            1000,12,"GET /a, with comma",200,OK,Users 1-1,text,true,,10,5,1,1,http://nginx/a,11,0,1
            1010,30,"GET /a, with comma",404,Not Found,Users 1-1,text,false,"Test failed: code expected 200",10,5,1,1,http://nginx/a,29,0,1
            """);
        samples.Should().HaveCount(2);
        samples[0].Label.Should().Be("GET /a, with comma");
        samples[1].Should().Be(new JtlSample(1010, 30, "GET /a, with comma", "404", false, "Test failed: code expected 200"));
    }

    [Fact]
    public void A_JMeter_2_13_file_without_a_header_is_read_in_its_default_column_order()
    {
        var samples = Parse("1796565051166,113,GET /,200,OK,Health endpoint 1-2,text,true,569,2,2,113\n");
        samples.Should().ContainSingle().Which.Should().Be(new JtlSample(1796565051166, 113, "GET /", "200", true, string.Empty));
    }

    [Fact]
    public void A_file_that_is_not_CSV_results_is_one_line_naming_the_row()
    {
        var parse = () => Parse($"{Header}\n<xml/>\n");
        parse.Should().Throw<LlmStack.Pipeline.PipelineException>().WithMessage("results.jtl: row 2 is not a JMeter CSV sample*");
    }

    [Fact]
    public void Percentiles_are_nearest_rank_and_throughput_is_samples_per_second_of_the_span()
    {
        // 20 samples of 1..20 ms, one every 100 ms: the span is 1900 ms + the last sample's 20 ms.
        var samples = Enumerable.Range(1, 20).Select(i => new JtlSample(1000 + ((i - 1) * 100), i, "GET /health", i == 20 ? "500" : "200", i != 20, string.Empty)).ToList();
        var label = LabelStatistics.Of(samples).Should().ContainSingle().Subject;
        label.Samples.Should().Be(20);
        label.Errors.Should().Be(1);
        label.ErrorRate.Should().Be(0.05);
        label.P50.Should().Be(10);
        label.P95.Should().Be(19);
        label.P99.Should().Be(20);
        label.Throughput.Should().BeApproximately(20 / 1.92, 0.001);
        label.FirstError.Should().Be("500");
        LabelStatistics.Percentile([], 95).Should().Be(0);
    }

    [Fact]
    public void Each_label_is_judged_by_its_own_threshold_else_the_star_and_a_label_with_errors_and_no_threshold_fails()
    {
        var plan = new LoadPlanDefinition
        {
            Thresholds = new()
            {
                ["*"] = new LoadThreshold { MaxErrorRate = 0.1, MaxP95Ms = 15 },
                ["GET /slow"] = new LoadThreshold { MaxP95Ms = 100 },
            },
        };
        var samples = Enumerable.Range(1, 20).SelectMany(i => new[]
        {
            new JtlSample(i, i, "GET /fast", "200", true, string.Empty),
            new JtlSample(i, 50, "GET /slow", "200", true, string.Empty),
            new JtlSample(i, 1, "GET /broken", i <= 4 ? "404" : "200", i > 4, string.Empty),
        }).ToList();
        var verdicts = LoadTestReport.Judge(plan, LabelStatistics.Of(samples)).ToDictionary(v => v.Statistics.Label);
        verdicts["GET /fast"].Breaches.Should().Equal("p95 19 ms above 15 ms");
        verdicts["GET /slow"].Passed.Should().BeTrue();
        verdicts["GET /broken"].Breaches.Should().Equal("error rate 20 % (4 of 20, first: 404) above 10 %");

        var none = LoadTestReport.Judge(new LoadPlanDefinition(), LabelStatistics.Of(samples)).Single(v => v.Statistics.Label == "GET /broken");
        none.Breaches.Should().Equal("error rate 20 % (4 of 20, first: 404) above 0 %");
    }

    [Fact]
    public void The_report_fails_naming_each_breached_label_and_the_JUnit_file_has_a_case_per_label()
    {
        var plan = new LoadPlanDefinition { Thresholds = new() { ["*"] = new LoadThreshold { MaxP95Ms = 5 } } };
        var samples = new[] { new JtlSample(0, 10, "GET /a", "200", true, string.Empty), new JtlSample(0, 1, "GET /b", "200", true, string.Empty) };
        var verdicts = LoadTestReport.Judge(plan, LabelStatistics.Of(samples));
        var summary = LoadTestReport.Summary("smoke", "testing", "nginx:80", "artifacts/load-tests/x", "2.13", verdicts, LabelStatistics.Total(samples));
        var report = LoadTestReport.Report(summary, "artifacts/load-tests/x");
        report.Failure.Should().Be("load test 'smoke' breached its thresholds (configs/load-tests.yaml) for 1 label(s): 'GET /a': p95 10 ms above 5 ms");

        var path = Path.Combine(Path.GetTempPath(), $"llmstack-junit-{Guid.NewGuid():N}.xml");
        try
        {
            JUnitXml.Write(path, "LoadTest smoke", LoadTestReport.Cases("smoke", verdicts), DateTimeOffset.UnixEpoch);
            var suite = XDocument.Load(path).Root!.Element("testsuite")!;
            suite.Attribute("tests")!.Value.Should().Be("2");
            suite.Attribute("failures")!.Value.Should().Be("1");
            suite.Elements("testcase").Select(c => (c.Attribute("name")!.Value, c.Element("failure")?.Attribute("message")!.Value))
                .Should().Equal(("GET /a", "p95 10 ms above 5 ms"), ("GET /b", null));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void No_samples_fail_the_report()
    {
        var summary = LoadTestReport.Summary("smoke", "testing", "nginx:80", "d", "5.5", [], LabelStatistics.Total([]));
        LoadTestReport.Report(summary, "d").Failure.Should().Be("load test 'smoke' recorded no samples: see jmeter.log in d");
    }

    [Fact]
    public void The_JMeter_properties_carry_the_target_by_name_the_load_and_the_plans_own()
    {
        var plan = new LoadPlanDefinition { Target = "nginx", Port = 80, Threads = 2, Loops = 10, Properties = new() { ["path"] = "/health", ["host"] = "ignored" } };
        LoadTestOperations.Properties(plan, new LoadTestOptions("smoke", "c")).Select(p => $"{p.Key}={p.Value}")
            .Should().Equal("host=nginx", "port=80", "threads=2", "rampup=1", "loops=10", "path=/health");
        LoadTestOperations.Properties(plan, new LoadTestOptions("smoke", "c", Threads: 5, Duration: 30)).Select(p => $"{p.Key}={p.Value}")
            .Should().Equal("host=nginx", "port=80", "threads=5", "rampup=1", "loops=-1", "scheduler=true", "duration=30", "path=/health");
    }

    [Fact]
    public void A_smoke_request_carries_the_bearer_only_in_its_header_and_the_status_is_read_from_the_status_line()
    {
        var check = new SmokeCheck("GET /v1/models (bearer)", SmokeMethod.Get, "/v1/models", 4000, 200, "LITELLM_MASTER_KEY");
        SmokeTestReport.Request("litellm", check, "s3cret").Should().Be(
            "GET /v1/models HTTP/1.0\r\nHost: litellm:4000\r\nUser-Agent: llmstack-smoke-test\r\nConnection: close\r\nAuthorization: Bearer s3cret\r\n\r\n");
        SmokeTestReport.Status("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n").Should().Be(401);
        SmokeTestReport.Status("HTTP/1.0 200 OK\r\n").Should().Be(200);
        SmokeTestReport.Status(string.Empty).Should().BeNull();
        SmokeTestReport.Status("SSH-2.0-OpenSSH").Should().BeNull();
        SmokeTestReport.SameServiceLocation("HTTP/1.0 302 Found\r\nLocation: /health/\r\n\r\n", "nginx").Should().Be("/health/");
        SmokeTestReport.SameServiceLocation("HTTP/1.0 302 Found\r\nlocation: http://nginx:80/a?b=1\r\n\r\n", "nginx").Should().Be("/a?b=1");
        SmokeTestReport.SameServiceLocation("HTTP/1.0 302 Found\r\nLocation: https://login.example/\r\n\r\n", "nginx").Should().BeNull();
    }
}
