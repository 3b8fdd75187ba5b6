using System.Formats.Tar;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Xml;
using System.Xml.Linq;
using Docker.DotNet.Models;
using LlmStack.Compose;
using LlmStack.Engine;
using LlmStack.Pipeline;
using LlmStack.Reporting;
using LlmStack.Sessions;
using Serilog;

namespace LlmStack.Testing;

/// <summary>Test cases by Allure's statuses: a JUnit <c>failure</c> is failed, an <c>error</c> broken, a <c>skipped</c> skipped, the rest passed.</summary>
public sealed record TestCounts(int Passed, int Failed, int Broken, int Skipped)
{
    public static TestCounts Zero { get; } = new(0, 0, 0, 0);

    public int Total => Passed + Failed + Broken + Skipped;

    public static TestCounts operator +(TestCounts a, TestCounts b) => new(a.Passed + b.Passed, a.Failed + b.Failed, a.Broken + b.Broken, a.Skipped + b.Skipped);
}

/// <summary>Where one kind of result comes from (unit, integration, smoke, load): its JUnit files and what they count.</summary>
public sealed record TestResultSource(string Name, string Where, IReadOnlyList<string> Files, TestCounts Counts);

/// <summary>
/// The JUnit files of a run, found where the targets write them: UnitTest and IntegrationTest under
/// <c>artifacts/test-results/{unit,integration}/*.junit.xml</c> (JunitXml.TestLogger, beside the TRX), SmokeTest under the
/// state directory's <c>artifacts/smoke-tests/*.xml</c> (one per environment), LoadTest under its
/// <c>artifacts/load-tests/&lt;plan&gt;-&lt;time&gt;-&lt;id&gt;/junit.xml</c>: the newest run of each plan (an older run of the same
/// plan has the same test names, which Allure would merge as retries).
/// </summary>
public static partial class TestResultFiles
{
    public static IReadOnlyList<TestResultSource> Find(string testResults, StatePaths state) =>
    [
        Source("unit", Path.Combine(testResults, "unit"), Glob(Path.Combine(testResults, "unit"), "*.junit.xml")),
        Source("integration", Path.Combine(testResults, "integration"), Glob(Path.Combine(testResults, "integration"), "*.junit.xml")),
        Source("smoke", state.SmokeTestResults, Glob(state.SmokeTestResults, "*.xml")),
        Source("load", state.LoadTestRuns, NewestLoadRuns(state.LoadTestRuns).Select(run => Path.Combine(run, "junit.xml")).Where(File.Exists).ToList()),
    ];

    /// <summary>A JUnit file's cases by status (any nesting of <c>testsuites</c>/<c>testsuite</c>); a file that is not JUnit XML is one line naming it.</summary>
    public static TestCounts Count(string path)
    {
        XDocument document;
        try
        {
            document = XDocument.Load(path);
        }
        catch (XmlException e)
        {
            throw new PipelineException($"{path} is not JUnit XML: {e.Message}");
        }

        int passed = 0, failed = 0, broken = 0, skipped = 0;
        foreach (var testCase in document.Descendants("testcase"))
        {
            if (testCase.Element("failure") is not null)
            {
                failed++;
            }
            else if (testCase.Element("error") is not null)
            {
                broken++;
            }
            else if (testCase.Element("skipped") is not null)
            {
                skipped++;
            }
            else
            {
                passed++;
            }
        }

        return new TestCounts(passed, failed, broken, skipped);
    }

    /// <summary>The newest run directory of each plan (<c>&lt;plan&gt;-&lt;yyyyMMdd-HHmmss&gt;-&lt;id&gt;</c>; another name is a plan of its own).</summary>
    public static IReadOnlyList<string> NewestLoadRuns(string loadRuns) =>
        !Directory.Exists(loadRuns)
            ? []
            : Directory.GetDirectories(loadRuns)
                .Select(d => (Path: d, Match: RunName().Match(Path.GetFileName(d))))
                .GroupBy(r => r.Match.Success ? r.Match.Groups["plan"].Value : Path.GetFileName(r.Path), StringComparer.Ordinal)
                .Select(g => g.OrderByDescending(r => r.Match.Success ? r.Match.Groups["time"].Value : string.Empty, StringComparer.Ordinal)
                    .ThenByDescending(r => Directory.GetLastWriteTimeUtc(r.Path)).First().Path)
                .Order(StringComparer.Ordinal)
                .ToList();

    /// <summary>The file's name among all the run's results: <c>llmstack-&lt;source&gt;-&lt;its path under the source, / as _&gt;</c> (always <c>.xml</c>, which Allure 2 reads as JUnit too).</summary>
    public static string StagedName(TestResultSource source, string file)
    {
        var relative = Path.GetRelativePath(source.Where, file).Replace(Path.DirectorySeparatorChar, '_');
        return $"{StagedPrefix}{source.Name}-{relative}{(relative.EndsWith(".xml", StringComparison.OrdinalIgnoreCase) ? string.Empty : ".xml")}";
    }

    /// <summary>What every file TestReport puts among Allure's results starts with (the earlier ones are replaced by name).</summary>
    public const string StagedPrefix = "llmstack-";

    private static TestResultSource Source(string name, string directory, IReadOnlyList<string> files) =>
        new(name, directory, files, files.Aggregate(TestCounts.Zero, (sum, file) => sum + Count(file)));

    private static List<string> Glob(string directory, string pattern) =>
        Directory.Exists(directory) ? [.. Directory.GetFiles(directory, pattern).Order(StringComparer.Ordinal)] : [];

    [GeneratedRegex(@"^(?<plan>.+)-(?<time>\d{8}-\d{6})-[0-9a-f]+$")]
    private static partial Regex RunName();
}

/// <summary>The table and document of TestReport (pure).</summary>
public static class TestReportSummary
{
    /// <summary>Allure's own counts of a generated report (its <c>summary.json</c>: <c>stats</c>, a status with no test left out), or null without one.</summary>
    public static TestCounts? ReadAllure(string reportDirectory)
    {
        var path = Path.Combine(reportDirectory, "summary.json");
        if (!File.Exists(path))
        {
            return null;
        }

        using var document = JsonDocument.Parse(File.ReadAllText(path));
        if (!document.RootElement.TryGetProperty("stats", out var stats))
        {
            return null;
        }

        int Get(string name) => stats.TryGetProperty(name, out var value) ? value.GetInt32() : 0;
        return new TestCounts(Get("passed"), Get("failed"), Get("broken"), Get("skipped"));
    }

    public static Report Report(string reportDisplay, IReadOnlyList<TestResultSource> sources, TestCounts report, string root, string copied)
    {
        var table = new TextTable("Source", "Files", "Passed", "Failed", "Broken", "Skipped", "Total");
        foreach (var source in sources)
        {
            table.Add(source.Name, Number(source.Files.Count), Number(source.Counts.Passed), Number(source.Counts.Failed), Number(source.Counts.Broken), Number(source.Counts.Skipped), Number(source.Counts.Total));
        }

        table.Add("TOTAL (the report)", Number(sources.Sum(s => s.Files.Count)), Number(report.Passed), Number(report.Failed), Number(report.Broken), Number(report.Skipped), Number(report.Total));
        var files = sources.Aggregate(TestCounts.Zero, (sum, s) => sum + s.Counts);
        var result = new Report
        {
            Document = new
            {
                report = reportDisplay,
                sources = sources.Select(s => new { source = s.Name, directory = Path.GetRelativePath(root, s.Where), files = s.Files.Select(f => Path.GetRelativePath(root, f)).ToList(), counts = Document(s.Counts) }).ToList(),
                total = Document(report),
                allureResults = copied,
            },
        }
            .Line($"Test report: {reportDisplay}/index.html ({report.Total} test(s): {report.Passed} passed, {report.Failed} failed, {report.Broken} broken, {report.Skipped} skipped); ./build.sh ServeTestReport serves it")
            .Table(table);
        if (files != report)
        {
            result.Line($"The JUnit files have {files.Total} case(s), the report {report.Total}: Allure shows cases of the same class and name once (the last as the result, the others as retries).");
        }

        return result.Line(copied);
    }

    private static object Document(TestCounts counts) => new { counts.Passed, counts.Failed, counts.Broken, counts.Skipped, counts.Total };

    private static string Number(int value) => value.ToString(CultureInfo.InvariantCulture);
}

/// <summary>Where TestReport reads and writes: the unit and integration results, the report, Allure's input (rebuilt each run), the Allure CLI.</summary>
public sealed record TestReportOptions(string TestResults, string ReportDirectory, string StagingDirectory, string AllureCli);

/// <summary>
/// TestReport: every JUnit file of the run (<see cref="TestResultFiles"/>) put together in one directory, one Allure
/// report over them (npm allure 3: <c>allure generate</c>) in <c>artifacts/test-report/</c>, its counts (Allure's own
/// <c>summary.json</c>) and each source's in a table; and the same files copied into the environment's Allure results
/// volume (the schema's volume its services mount at <see cref="AllureResultsPath"/>, found by our labels) so the testing
/// stack's Allure service shows them. No test case anywhere fails the run: Allure would make an empty report and exit 0.
/// </summary>
public sealed class TestReportOperations(EnvironmentSession session, string helperImage, ILogger log)
{
    /// <summary>Where the allure-docker-service reads results (its image's documented directory).</summary>
    public const string AllureResultsPath = "/app/allure-results";

    private string Root => session.Options.Schema.RootDirectory;

    public async Task<string> RunAsync(TestReportOptions options, CancellationToken cancellationToken)
    {
        var sources = TestResultFiles.Find(options.TestResults, session.Options.State);
        var cases = sources.Aggregate(TestCounts.Zero, (sum, s) => sum + s.Counts);
        if (cases.Total == 0)
        {
            var where = string.Join(", ", sources.Select(s => $"{Path.GetRelativePath(Root, s.Where)} ({s.Files.Count} file(s))"));
            throw new PipelineException($"no test results to report: no JUnit test case in {where}; run UnitTest, IntegrationTest, SmokeTest or LoadTest first");
        }

        if (!File.Exists(options.AllureCli))
        {
            throw new PipelineException($"the Allure command line is not installed ({Path.GetRelativePath(Root, options.AllureCli)}): ./build.sh TestTools installs it (npm allure)");
        }

        // Allure's input: the files under names of their own, in a directory made again for this run.
        var staged = Restage(options.StagingDirectory, sources);
        var display = Path.GetRelativePath(Root, options.ReportDirectory);
        if (Directory.Exists(options.ReportDirectory))
        {
            Directory.Delete(options.ReportDirectory, recursive: true);
        }

        log.Information("Allure: {Files} JUnit file(s), {Cases} case(s) into {Report}", staged.Count, cases.Total, display);
        var allure = await ProcessRunner.RunAsync(
            "node",
            [options.AllureCli, "generate", options.StagingDirectory, "--output", options.ReportDirectory, "--report-name", "LlmStack tests"],
            options.StagingDirectory,
            line => log.Debug("allure | {Line}", line),
            cancellationToken);
        if (allure.ExitCode != 0)
        {
            throw new PipelineException($"allure generate failed (exit {allure.ExitCode}): {allure.Output.LastOrDefault(l => l.Trim().Length > 0)?.Trim() ?? "no output"}");
        }

        var report = TestReportSummary.ReadAllure(options.ReportDirectory)
            ?? throw new PipelineException($"allure generate wrote no summary.json into {display}: is {Path.GetRelativePath(Root, options.AllureCli)} Allure 3?");
        if (report.Total == 0)
        {
            throw new PipelineException($"Allure read no test from the {staged.Count} JUnit file(s) in {Path.GetRelativePath(Root, options.StagingDirectory)} ({cases.Total} case(s)): see them there");
        }

        var copied = await CopyToAllureServiceAsync(staged, cancellationToken);
        session.Options.Reports.Write(TestReportSummary.Report(display, sources, report, Root, copied));
        return $"{report.Total} test(s), {report.Failed + report.Broken} not passed";
    }

    private static List<string> Restage(string directory, IReadOnlyList<TestResultSource> sources)
    {
        if (Directory.Exists(directory))
        {
            Directory.Delete(directory, recursive: true);
        }

        Directory.CreateDirectory(directory);
        var staged = new List<string>();
        foreach (var source in sources)
        {
            foreach (var file in source.Files)
            {
                var target = Path.Combine(directory, TestResultFiles.StagedName(source, file));
                File.Copy(file, target);
                staged.Add(target);
            }
        }

        return staged;
    }

    /// <summary>
    /// The files into the environment's Allure results volume, replacing the ones an earlier TestReport put there: through a
    /// helper container (the helper image's <c>sh</c> and <c>tar</c>; the tar on its standard input). Returns what was done,
    /// or why nothing was (no such volume in the schema, the engine not reachable, the volume not created yet): never a failure.
    /// </summary>
    private async Task<string> CopyToAllureServiceAsync(IReadOnlyList<string> files, CancellationToken cancellationToken)
    {
        var environment = session.Environment;
        var key = environment.Services.SelectMany(s => s.Volumes)
            .Where(m => m.Kind == Schema.MountKind.Volume && m.Target.TrimEnd('/') == AllureResultsPath)
            .Select(m => m.Source)
            .Distinct(StringComparer.Ordinal)
            .FirstOrDefault();
        if (key is null)
        {
            return $"Not copied into an Allure results volume: no service of environment {environment.Name} mounts a volume at {AllureResultsPath} (its testing stack is not enabled).";
        }

        DockerEngine engine;
        try
        {
            engine = await session.EngineAsync(cancellationToken);
        }
        catch (EngineUnreachableException e)
        {
            return $"Not copied into the {key} volume of environment {environment.Name}: {e.Message}.";
        }

        var scope = Scope.Of(environment);
        var filter = scope.Filter();
        filter["label"][$"{Names.Volume}={key}"] = true;
        var volumes = (await engine.CallAsync(ct => engine.Client.Volumes.ListAsync(new VolumesListParameters { Filters = filter }, ct), cancellationToken)).Volumes ?? [];
        if (volumes.FirstOrDefault(v => scope.Owns(v.Labels)) is not { } volume)
        {
            return $"Not copied into the {key} volume of environment {environment.Name}: it does not exist (the environment's testing stack has not run: StartTesting creates it).";
        }

        var helpers = await session.HelpersAsync(cancellationToken);
        var result = await helpers.RunAsync(
            new HelperSpec
            {
                Purpose = "test-results",
                Image = session.MapImage(helperImage),
                Entrypoint = ["sh", "-c"],
                Command = ["rm -f \"$0\"/" + TestResultFiles.StagedPrefix + "*.xml && tar -x -f - -C \"$0\"", "/results"],
                Mounts = [new HelperMount(volume.Name, "/results", ReadOnly: false)],
                Stdin = (stdin, ct) => WriteTarAsync(stdin, files, ct),
                Timeout = TimeSpan.FromMinutes(2),
            },
            cancellationToken);
        if (result.ExitCode != 0)
        {
            throw new PipelineException($"copying the results into volume {volume.Name} failed (exit {result.ExitCode}): {string.Join(" ", result.Errors.TakeLast(3))}");
        }

        log.Information("Copied {Count} JUnit file(s) into {Volume}", files.Count, volume.Name);
        return $"Copied {files.Count} JUnit file(s) into volume {volume.Name} ({key}, {AllureResultsPath} of the testing stack's Allure services), replacing the earlier ones.";
    }

    private static async Task WriteTarAsync(Stream output, IReadOnlyList<string> files, CancellationToken cancellationToken)
    {
        await using var tar = new TarWriter(output, TarEntryFormat.Gnu, leaveOpen: true);
        foreach (var file in files)
        {
            await using var data = File.OpenRead(file);
            var entry = new GnuTarEntry(TarEntryType.RegularFile, Path.GetFileName(file))
            {
                DataStream = data,
                Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
                ModificationTime = File.GetLastWriteTimeUtc(file),
            };
            await tar.WriteEntryAsync(entry, cancellationToken);
        }
    }
}
