using System.Xml.Linq;
using Serilog;

namespace LlmStack.Pipeline;

/// <summary><c>dotnet test</c> with a filter and a TRX report whose counters go to the summary table.</summary>
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
        var trx = Path.Combine(resultsDirectory, name + ".trx");
        File.Delete(trx);
        var result = await ProcessRunner.RunAsync(
            "dotnet",
            ["test", project, "--filter", filter, "--logger", $"trx;LogFileName={name}.trx", "--results-directory", resultsDirectory, "--nologo"],
            rootDirectory,
            line => log.Information("{Line}", line),
            cancellationToken,
            new Dictionary<string, string> { ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1", ["DOTNET_NOLOGO"] = "1" });

        if (File.Exists(trx))
        {
            var counters = XDocument.Load(trx).Descendants().FirstOrDefault(e => e.Name.LocalName == "Counters");
            if (counters is not null)
            {
                reportSummary("Passed", counters.Attribute("passed")?.Value ?? "?");
                reportSummary("Failed", counters.Attribute("failed")?.Value ?? "?");
                var skipped = int.Parse(counters.Attribute("notExecuted")?.Value ?? "0", System.Globalization.CultureInfo.InvariantCulture);
                if (skipped > 0)
                {
                    reportSummary("Skipped", skipped.ToString(System.Globalization.CultureInfo.InvariantCulture));
                }
            }
        }

        if (result.ExitCode != 0)
        {
            throw new PipelineException($"{name} tests failed (exit code {result.ExitCode}): see the output above and {Path.GetRelativePath(rootDirectory, trx)}.");
        }
    }
}
