using System.Globalization;
using CsvHelper;
using LlmStack.Pipeline;

namespace LlmStack.Testing;

/// <summary>One sample of a JMeter results file: when it started, how long it took, its label and whether it passed.</summary>
public sealed record JtlSample(long TimeStamp, long Elapsed, string Label, string ResponseCode, bool Success, string FailureMessage);

/// <summary>
/// JMeter's CSV results file (JTL), read by LlmStack itself (CsvHelper, RFC 4180 quoting): with the header row that
/// LoadTest asks every JMeter version for (<c>jmeter.save.saveservice.print_field_names=true</c>), or without one in JMeter
/// 2.13's default column order. Columns are found by name, so 5.x's extra ones (sentBytes, URL, …) do not matter.
/// </summary>
public static class Jtl
{
    /// <summary>JMeter 2.13's default CSV columns, for a file written without the header row.</summary>
    private static readonly string[] DefaultColumns =
        ["timeStamp", "elapsed", "label", "responseCode", "responseMessage", "threadName", "dataType", "success", "bytes", "grpThreads", "allThreads", "Latency"];

    public static IReadOnlyList<JtlSample> Read(string path)
    {
        using var reader = new StreamReader(path);
        return Read(reader, path);
    }

    public static IReadOnlyList<JtlSample> Read(TextReader text, string displayPath)
    {
        using var csv = CsvReader.Create(text, new CsvReaderOptions { HasHeader = false }, true);
        var samples = new List<JtlSample>();
        Dictionary<string, int>? columns = null;
        var row = 0;
        while (csv.Read())
        {
            row++;
            var record = Enumerable.Range(0, csv.FieldCount).Select(i => csv.GetString(i) ?? string.Empty).ToArray();
            if (columns is null)
            {
                if (record.Length > 0 && record[0] == "timeStamp")
                {
                    columns = Index(record);
                    continue;
                }

                columns = Index(DefaultColumns);
            }

            if (record.Length == 0 || (record.Length == 1 && record[0].Length == 0))
            {
                continue;
            }

            string Field(string name) => columns.TryGetValue(name, out var i) && i < record.Length ? record[i] : string.Empty;
            if (!long.TryParse(Field("timeStamp"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var timeStamp)
                || !long.TryParse(Field("elapsed"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var elapsed))
            {
                throw new PipelineException($"{displayPath}: row {row} is not a JMeter CSV sample (timeStamp '{Field("timeStamp")}', elapsed '{Field("elapsed")}'): is the plan's result format CSV?");
            }

            samples.Add(new JtlSample(timeStamp, elapsed, Field("label"), Field("responseCode"), string.Equals(Field("success"), "true", StringComparison.OrdinalIgnoreCase), Field("failureMessage")));
        }

        return samples;
    }

    private static Dictionary<string, int> Index(IReadOnlyList<string> header) =>
        header.Select((name, i) => (name, i)).GroupBy(c => c.name, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First().i, StringComparer.Ordinal);
}

/// <summary>What a label (a sampler's name) measured: JMeter's Aggregate Report figures, computed here from the samples.</summary>
public sealed record LabelStatistics(
    string Label, int Samples, int Errors, double ErrorRate, long P50, long P95, long P99, double Throughput, string? FirstError)
{
    /// <summary>
    /// Per label, in order of first appearance: percentiles by the nearest-rank method over the elapsed times (as JMeter's
    /// Aggregate Report), throughput = samples ÷ (last sample's end − first sample's start), per second.
    /// </summary>
    public static IReadOnlyList<LabelStatistics> Of(IReadOnlyList<JtlSample> samples) =>
        samples.GroupBy(s => s.Label, StringComparer.Ordinal).Select(g => Of(g.Key, g.ToList())).ToList();

    /// <summary>Every sample as one row (JMeter's TOTAL).</summary>
    public static LabelStatistics Total(IReadOnlyList<JtlSample> samples) => Of("TOTAL", samples);

    private static LabelStatistics Of(string label, IReadOnlyList<JtlSample> samples)
    {
        var sorted = samples.Select(s => s.Elapsed).Order().ToArray();
        var errors = samples.Count(s => !s.Success);
        var span = samples.Count == 0 ? 0 : samples.Max(s => s.TimeStamp + s.Elapsed) - samples.Min(s => s.TimeStamp);
        var firstError = samples.FirstOrDefault(s => !s.Success) is { } failed
            ? $"{failed.ResponseCode}{(failed.FailureMessage.Length > 0 ? " " + failed.FailureMessage : string.Empty)}".Trim()
            : null;
        return new LabelStatistics(
            label,
            samples.Count,
            errors,
            samples.Count == 0 ? 0 : (double)errors / samples.Count,
            Percentile(sorted, 50),
            Percentile(sorted, 95),
            Percentile(sorted, 99),
            span <= 0 ? 0 : samples.Count * 1000.0 / span,
            firstError);
    }

    /// <summary>Nearest rank: the smallest value with at least <paramref name="percent"/> % of the values at or below it.</summary>
    internal static long Percentile(long[] sorted, int percent)
    {
        if (sorted.Length == 0)
        {
            return 0;
        }

        var rank = (int)Math.Ceiling(percent / 100.0 * sorted.Length);
        return sorted[Math.Clamp(rank, 1, sorted.Length) - 1];
    }
}
