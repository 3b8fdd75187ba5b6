using System.Diagnostics;
using System.Globalization;
using LlmStack.Pipeline;

namespace LlmStack.Benchmarks;

/// <summary>Wall-clock timings of repeated runs of something, reported as median, min and max (figures, never assertions).</summary>
public sealed record Timing(string Name, IReadOnlyList<TimeSpan> Runs)
{
    public TimeSpan Median
    {
        get
        {
            var sorted = Runs.Order().ToList();
            return sorted.Count % 2 == 1
                ? sorted[sorted.Count / 2]
                : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
        }
    }

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture,
            $"{Name}: median {Median.TotalSeconds:0.000} s (min {Runs.Min().TotalSeconds:0.000}, max {Runs.Max().TotalSeconds:0.000}, n={Runs.Count})");
}

public static class CommandBenchmark
{
    /// <summary>Runs <paramref name="action"/> <paramref name="warmups"/> times untimed, then <paramref name="runs"/> times timed.</summary>
    public static async Task<Timing> MeasureAsync(string name, Func<CancellationToken, Task> action, int runs, int warmups, CancellationToken cancellationToken)
    {
        for (var i = 0; i < warmups; i++)
        {
            await action(cancellationToken);
        }

        var timings = new List<TimeSpan>(runs);
        for (var i = 0; i < runs; i++)
        {
            var stopwatch = Stopwatch.StartNew();
            await action(cancellationToken);
            timings.Add(stopwatch.Elapsed);
        }

        return new Timing(name, timings);
    }

    /// <summary>Times a command line (output discarded; a non-zero exit fails the benchmark).</summary>
    public static Task<Timing> MeasureCommandAsync(string name, string fileName, IReadOnlyList<string> arguments, string workingDirectory, int runs, int warmups, CancellationToken cancellationToken) =>
        MeasureAsync(name, ct => ProcessRunner.RunCheckedAsync(fileName, arguments, workingDirectory, null, ct), runs, warmups, cancellationToken);
}
