using LlmStack.Pipeline;
using LlmStack.Testing;

/// <summary>
/// Tests of a running environment of the stack (SmokeTest, LoadTest): they start nothing, say what is not running, and
/// write JUnit XML under the state directory's artifacts/; TestReport puts every JUnit file of the run (these and
/// ITests' UnitTest and IntegrationTest) into one Allure report, ServeTestReport shows it; CheckDocs keeps the docs true.
/// </summary>
interface ITesting : IHazEnvironment, ITests
{
    [Parameter("LoadTest: the plan of --load-config to run (default smoke)")]
    string LoadPlan => TryGetValue(() => LoadPlan) ?? "smoke";

    [Parameter("LoadTest: concurrent users (JMeter property threads; default the plan's)")]
    int? Threads => TryGetValue<int?>(() => Threads);

    [Parameter("LoadTest: iterations per user (JMeter property loops; default the plan's)")]
    int? Loops => TryGetValue<int?>(() => Loops);

    [Parameter("LoadTest: seconds to run instead of a number of loops (JMeter properties duration, scheduler)")]
    int? LoadDuration => TryGetValue<int?>(() => LoadDuration);

    [Parameter("LoadTest: seconds to start all users (JMeter property rampup; default the plan's)")]
    int? RampUp => TryGetValue<int?>(() => RampUp);

    Target SmokeTest => _ => _
        .Description("Every service of the environment's running stacks: running, ready (its healthcheck run now in the container), and the schema's smoke: checks (HTTP from a helper on the service's stack network, to the service by name; a bearer secret by name, never shown); a table (--json) and JUnit XML in artifacts/smoke-tests/<environment>.xml under the state directory; non-zero naming service and check. Starts nothing.")
        .Executes(async ct => ReportSummary("Checks", await new SmokeTestOperations(Session, HelperImage, Log).RunAsync(ct)));

    Target LoadTest => _ => _
        .Description("Run a JMeter plan of configs/jmeter/ (--load-plan, configs/load-tests.yaml) in the environment's running jmeter service against its target by DNS name; results in a fresh artifacts/load-tests/<plan>-<time>-<id>/ under the state directory (results.jtl, summary.json, junit.xml); per label samples, errors, error rate, p50/p95/p99, throughput (--json); non-zero naming each label over its thresholds. Starts nothing.")
        .Executes(async ct => ReportSummary("Results", await new LoadTestOperations(Session, Log).RunAsync(new LoadTestOptions(LoadPlan, LoadConfig, Threads, Loops, LoadDuration, RampUp), ct)));

    [Parameter("ServeTestReport: the port on 127.0.0.1 (default 0: a free one, printed)")]
    int ReportPort => TryGetValue<int?>(() => ReportPort) ?? 0;

    /// <summary>TestReport's Allure report.</summary>
    string TestReportDirectory => Path.Combine(ArtifactsDirectory, "test-report");

    Target TestReport => _ => _
        .Description("One Allure report (npm allure 3, installed like the test tools) in artifacts/test-report/ over every JUnit file of the run: unit and integration (artifacts/test-results/), smoke and load (artifacts/smoke-tests/, the newest run of each plan in artifacts/load-tests/, under the state directory); a table of passed, failed, broken and skipped per source and in the report (--json); the files also copied into the environment's Allure results volume when it exists (else it says why not). Runs also when a test named before it in the same run failed. Non-zero when there is no test result at all.")
        .After(UnitTest, IntegrationTest, SmokeTest, LoadTest)
        .AssuredAfterFailure()
        .Executes(async ct =>
        {
            await LlmStack.Tooling.TestTools.EnsureNpmAsync(RootDirectory, Log, ct);
            var options = new TestReportOptions(TestResults, TestReportDirectory, Path.Combine(RootDirectory, ".nuke", "temp", "allure-results"), LlmStack.Tooling.TestTools.AllureCli(RootDirectory));
            ReportSummary("Tests", await new TestReportOperations(Session, HelperImage, Log).RunAsync(options, ct));
        });

    Target ServeTestReport => _ => _
        .Description("Serve artifacts/test-report (TestReport's) on 127.0.0.1 only, --report-port (default a free port), until Ctrl-C; prints the URL.")
        .After(TestReport)
        .Executes(ct => ReportServer.ServeAsync(TestReportDirectory, ReportPort, url =>
        {
            Log.Information("Serving {Directory} at {Url} (127.0.0.1 only; Ctrl-C stops)", Path.GetRelativePath(RootDirectory, TestReportDirectory), url);
            ReportSummary("URL", url);
        }, Log, ct));

    Target CheckDocs => _ => _
        .Description("Every ./build.sh command in README.md and docs/*.md names real targets, real parameters and allowed values (read from the .nuke/build.schema.json this run wrote), and every key a table of keys in docs/SCHEMA.md, BACKUP.md and RETENTION.md lists is a key of its configuration; non-zero naming file:line and what is wrong.")
        .Executes(() => Reports.Write(DocsCheck.Run(RootDirectory, BuildVocabulary.Read(Path.Combine(RootDirectory, ".nuke", "build.schema.json")))));
}
