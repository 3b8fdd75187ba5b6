using System.Diagnostics;
using LlmStack.Retention;

namespace LlmStack.Benchmarks;

/// <summary>
/// Planner figures for the README, never assertions: a GFS policy over a history of hourly backups (100 000 by
/// default, about 11 years), with restic's rules alone and with the safety rules; median of several runs after a warm-up.
/// </summary>
public static class RetentionBenchmark
{
    public static IReadOnlyList<Timing> Run(int backups, int runs)
    {
        var random = new Random(42);
        var start = DateTimeOffset.Parse("2015-01-01T00:00:00+01:00", System.Globalization.CultureInfo.InvariantCulture);
        var history = Enumerable.Range(0, backups)
            .Select(i => new RetentionBackup($"b{i:D6}", start.AddHours(i).AddMinutes(random.Next(0, 50)), i % 500 == 0 ? ["pre-upgrade"] : [], i % 97 == 0))
            .ToList();
        var policy = new RetentionPolicy
        {
            Last = 24, Hourly = 48, Daily = 14, Weekly = 8, Monthly = 24, Yearly = -1,
            Within = RetentionDuration.Parse("2d"), WithinDaily = RetentionDuration.Parse("1m"), Tags = [["pre-upgrade"]],
        };
        var now = history[^1].Time.AddHours(1);
        return
        [
            Measure($"plan {backups} backups, restic's rules", runs, () => RetentionPlanner.Plan(history, policy, now)),
            Measure($"plan {backups} backups, with the safety rules", runs, () => RetentionPlanner.PlanSafe(history, policy, new RetentionSafety(7), now)),
        ];
    }

    private static Timing Measure(string name, int runs, Func<RetentionPlan> plan)
    {
        plan();
        var times = new List<TimeSpan>();
        for (var i = 0; i < runs; i++)
        {
            var stopwatch = Stopwatch.StartNew();
            var result = plan();
            times.Add(stopwatch.Elapsed);
            if (result.Kept.Count == 0)
            {
                throw new InvalidOperationException("the benchmark policy kept nothing");
            }
        }

        return new Timing(name, times);
    }
}
