using System.Globalization;
using LlmStack.Pipeline;
using LlmStack.Reporting;

namespace LlmStack.Testing;

/// <summary>One label's figures against its threshold: the breaches, each a sentence naming the figure and the limit.</summary>
public sealed record LabelVerdict(LabelStatistics Statistics, LoadThreshold? Threshold, IReadOnlyList<string> Breaches)
{
    public bool Passed => Breaches.Count == 0;
}

/// <summary>What LoadTest writes: the summary (per label and total), the JUnit cases, and the report that fails on a breach.</summary>
public static class LoadTestReport
{
    /// <summary>Every label against its threshold (its own, else <c>"*"</c>). A label that has errors and no threshold breaches the default of 0 errors.</summary>
    public static IReadOnlyList<LabelVerdict> Judge(LoadPlanDefinition plan, IReadOnlyList<LabelStatistics> labels) =>
        labels.Select(s =>
        {
            var threshold = LoadTestConfigLoader.ThresholdOf(plan, s.Label);
            var breaches = new List<string>();
            var maxErrorRate = threshold?.MaxErrorRate ?? 0;
            if (s.ErrorRate > maxErrorRate)
            {
                breaches.Add($"error rate {Percent(s.ErrorRate)} ({s.Errors} of {s.Samples}{(s.FirstError is { } e ? $", first: {e}" : string.Empty)}) above {Percent(maxErrorRate)}");
            }

            if (threshold?.MaxP95Ms is { } maxP95 && s.P95 > maxP95)
            {
                breaches.Add($"p95 {s.P95} ms above {LoadTestConfigLoader.Text(maxP95)} ms");
            }

            return new LabelVerdict(s, threshold, breaches);
        }).ToList();

    /// <summary>The JUnit cases: one per label, failed with its breaches.</summary>
    public static IReadOnlyList<JUnitCase> Cases(string planName, IReadOnlyList<LabelVerdict> verdicts) =>
        verdicts.Select(v => new JUnitCase(
            $"LoadTest.{planName}",
            v.Statistics.Label,
            v.Statistics.Samples * (v.Statistics.P50 / 1000.0),
            v.Passed ? null : string.Join("; ", v.Breaches),
            $"samples {v.Statistics.Samples}, errors {v.Statistics.Errors}, p50 {v.Statistics.P50} ms, p95 {v.Statistics.P95} ms, p99 {v.Statistics.P99} ms, throughput {Rate(v.Statistics.Throughput)}/s")).ToList();

    /// <summary>The summary as a document (<c>summary.json</c> and <c>--json</c>).</summary>
    public static LoadTestSummary Summary(string planName, string environment, string target, string runDirectory, string jmeterVersion, IReadOnlyList<LabelVerdict> verdicts, LabelStatistics total) =>
        new(planName, environment, target, runDirectory, jmeterVersion, total.Samples, total.Errors, total.ErrorRate, total.P50, total.P95, total.P99, total.Throughput,
            verdicts.Select(v => new LoadLabelSummary(v.Statistics.Label, v.Statistics.Samples, v.Statistics.Errors, v.Statistics.ErrorRate, v.Statistics.P50, v.Statistics.P95, v.Statistics.P99,
                v.Statistics.Throughput, v.Threshold?.MaxErrorRate, v.Threshold?.MaxP95Ms, v.Passed ? LoadVerdictState.Passed : LoadVerdictState.Failed, v.Breaches)).ToList());

    public static Report Report(LoadTestSummary summary, string displayDirectory)
    {
        var table = new TextTable("Label", "Samples", "Errors", "Error rate", "p50 ms", "p95 ms", "p99 ms", "Throughput/s", "Max p95 ms", "Verdict");
        foreach (var label in summary.Labels)
        {
            table.Add(label.Label, Count(label.Samples), Count(label.Errors), Percent(label.ErrorRate), Count(label.P50), Count(label.P95), Count(label.P99), Rate(label.Throughput),
                label.MaxP95Ms is { } max ? LoadTestConfigLoader.Text(max) : "—", label.Verdict == LoadVerdictState.Passed ? "passed" : "FAILED: " + string.Join("; ", label.Breaches));
        }

        table.Add("TOTAL", Count(summary.Samples), Count(summary.Errors), Percent(summary.ErrorRate), Count(summary.P50), Count(summary.P95), Count(summary.P99), Rate(summary.Throughput), string.Empty, string.Empty);
        var report = new Report { Document = summary }
            .Line($"Load test '{summary.Plan}' against {summary.Target} in {summary.Environment} (JMeter {summary.JmeterVersion}); results in {displayDirectory}")
            .Table(table);
        var breaches = summary.Labels.Where(l => l.Verdict == LoadVerdictState.Failed).Select(l => $"'{l.Label}': {string.Join("; ", l.Breaches)}").ToList();
        if (summary.Samples == 0)
        {
            report.Failure = $"load test '{summary.Plan}' recorded no samples: see jmeter.log in {displayDirectory}";
        }
        else
        {
            report.FailWhen(breaches, b => $"load test '{summary.Plan}' breached its thresholds (configs/load-tests.yaml) for {b.Count} label(s): {string.Join(" | ", b)}");
        }

        return report;
    }

    private static string Percent(double share) => (share * 100).ToString("0.##", CultureInfo.InvariantCulture) + " %";

    private static string Rate(double value) => value.ToString("0.0", CultureInfo.InvariantCulture);

    private static string Count(long value) => value.ToString(CultureInfo.InvariantCulture);
}

public enum LoadVerdictState
{
    Passed,
    Failed,
}

public sealed record LoadLabelSummary(
    string Label, int Samples, int Errors, double ErrorRate, long P50, long P95, long P99, double Throughput, double? MaxErrorRate, double? MaxP95Ms, LoadVerdictState Verdict, IReadOnlyList<string> Breaches);

public sealed record LoadTestSummary(
    string Plan, string Environment, string Target, string Directory, string JmeterVersion, int Samples, int Errors, double ErrorRate, long P50, long P95, long P99, double Throughput,
    IReadOnlyList<LoadLabelSummary> Labels);
