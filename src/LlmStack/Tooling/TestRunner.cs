using System.Globalization;
using System.Xml.Linq;
using LlmStack.Pipeline;
using Serilog;

namespace LlmStack.Tooling;

/// <summary>
/// <c>dotnet test</c> with a filter, a TRX report whose counters go to the summary table, and JUnit XML beside it
/// (JunitXml.TestLogger: <c>&lt;assembly&gt;.junit.xml</c>) for TestReport and CI.
/// </summary>
public static class TestRunner
{
    public static async Task RunAsync(
        string rootDirectory,
        string project,
        string filter,
        string resultsDirectory,
        string name,
        ILogger log,
        Action<string, string> reportSummary,
        CancellationToken cancellationToken)
    {
        // One TRX per test project, in a directory of this run's own; the summary adds them up.
        var directory = Path.Combine(resultsDirectory, name);
        if (Directory.Exists(directory))
        {
            Directory.Delete(directory, recursive: true);
        }

        Directory.CreateDirectory(directory);
        var result = await ProcessRunner.RunAsync(
            "dotnet",
            ["test", project, "--filter", filter, "--logger", "trx", "--logger", $"junit;LogFilePath={Path.Combine(directory, "{assembly}.junit.xml")};MethodFormat=Class;FailureBodyFormat=Verbose", "--results-directory", directory, "--nologo"],
            rootDirectory,
            line => log.Information("{Line}", line),
            cancellationToken,
            new Dictionary<string, string> { ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1", ["DOTNET_NOLOGO"] = "1" });

        int passed = 0, failed = 0, skipped = 0;
        foreach (var trx in Directory.GetFiles(directory, "*.trx"))
        {
            var counts = Counts(trx);
            passed += counts.Passed;
            failed += counts.Failed;
            skipped += counts.Skipped;
        }

        reportSummary("Passed", passed.ToString(CultureInfo.InvariantCulture));
        reportSummary("Failed", failed.ToString(CultureInfo.InvariantCulture));
        if (skipped > 0)
        {
            reportSummary("Skipped", skipped.ToString(CultureInfo.InvariantCulture));
        }

        if (result.ExitCode == 0 && passed + failed == 0)
        {
            throw new PipelineException($"no {name} tests ran (filter '{filter}' matched nothing in {project}): a suite that runs nothing proves nothing.");
        }

        if (result.ExitCode != 0)
        {
            throw new PipelineException($"{name} tests failed (exit code {result.ExitCode}): see the output above and {Path.GetRelativePath(rootDirectory, directory)}.");
        }
    }

    /// <summary>A TRX file's counters: passed, failed, and skipped (xUnit's skipped tests are NotExecuted results, which its TRX counts only as total minus executed).</summary>
    internal static (int Passed, int Failed, int Skipped) Counts(string trx)
    {
        var counters = XDocument.Load(trx).Descendants().FirstOrDefault(e => e.Name.LocalName == "Counters");
        return (Count(counters, "passed"), Count(counters, "failed"), Math.Max(Count(counters, "notExecuted"), Count(counters, "total") - Count(counters, "executed")));
    }

    private static int Count(XElement? counters, string attribute) =>
        int.TryParse(counters?.Attribute(attribute)?.Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : 0;
}
