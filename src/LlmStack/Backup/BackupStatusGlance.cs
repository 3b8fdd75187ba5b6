using System.Globalization;
using System.Text;

namespace LlmStack.Backup;

/// <summary>
/// BackupStatus at a glance: per service, the age of its last good backup against what its schedule allows (the
/// longest gap of the cron plus <see cref="BackupStatusPlanner.Grace"/>, the threshold of LlmStackBackupOverdue too) as
/// a bar, green, yellow past 75%, red when overdue or failed, and a small chart of the bytes its last runs added.
/// Colour and block characters only on an interactive terminal; plain ASCII when the output is redirected.
/// </summary>
public static class BackupStatusGlance
{
    private const int Width = 10;
    private const string Sparks = "▁▂▃▄▅▆▇█";
    private const string AsciiSparks = "_.-=+*#@";

    /// <summary>True when the console is a terminal that shows colour (not redirected, NO_COLOR unset).</summary>
    public static bool Interactive => !Console.IsOutputRedirected && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR"));

    /// <summary>The longest time between two consecutive runs of a five-field cron over a year (from a fixed date, so generated files never depend on today).</summary>
    public static TimeSpan LongestGap(string cron)
    {
        if (!BackupConfigLoader.TryParseCron(cron, out var expression, out var problem))
        {
            throw new Pipeline.PipelineException($"schedule \"{cron}\" is not a five-field cron ({problem}): fix it in configs/backup-strategies.yaml");
        }

        var from = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        var occurrences = expression!.GetOccurrences(from, from.AddDays(367), TimeZoneInfo.Utc).ToList();
        return occurrences.Count < 2 ? TimeSpan.FromDays(366) : occurrences.Zip(occurrences.Skip(1), (a, b) => b - a).Max();
    }

    public static IReadOnlyList<string> Lines(BackupStatusPlan plan, bool interactive)
    {
        var allowed = LongestGap(plan.Schedule) + BackupStatusPlanner.Grace;
        var width = plan.Services.Select(s => s.Service.Length).DefaultIfEmpty(0).Max();
        var lines = new List<string> { $"Age of the last good backup against the {Hours(allowed)} its schedule allows; bytes added by the last runs:" };
        foreach (var service in plan.Services)
        {
            var age = service.Last is { } last ? plan.Now - last.Started : (TimeSpan?)null;
            var share = age is { } a ? a / allowed : 1.0;
            var filled = (int)Math.Round(Math.Clamp(share, 0, 1) * Width);
            var bar = interactive ? new string('█', filled) + new string('░', Width - filled) : "[" + new string('#', filled) + new string('-', Width - filled) + "]";
            var colour = service.IsProblem ? "\u001b[31m" : share > 0.75 ? "\u001b[33m" : "\u001b[32m";
            var text = $"{service.Service.PadRight(width)}  {(interactive ? colour + bar + "\u001b[0m" : bar)}  {(age is { } shown ? $"{Hours(shown)} of {Hours(allowed)}" : "never"),-14}  {Spark(service.RecentAdded, interactive)}";
            lines.Add(text.TrimEnd());
        }

        return lines;
    }

    /// <summary>One character per run, scaled to the largest.</summary>
    public static string Spark(IReadOnlyList<long> values, bool interactive)
    {
        if (values.Count == 0)
        {
            return string.Empty;
        }

        var chars = interactive ? Sparks : AsciiSparks;
        var max = Math.Max(values.Max(), 1);
        var text = new StringBuilder();
        foreach (var value in values)
        {
            text.Append(chars[(int)Math.Round((double)Math.Max(value, 0) / max * (chars.Length - 1))]);
        }

        return text.ToString();
    }

    private static string Hours(TimeSpan value) =>
        value.TotalHours >= 48 ? $"{value.TotalDays.ToString("0.#", CultureInfo.InvariantCulture)} d" : $"{value.TotalHours.ToString("0.#", CultureInfo.InvariantCulture)} h";
}
