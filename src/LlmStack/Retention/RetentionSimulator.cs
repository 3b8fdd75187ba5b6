using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using LlmStack.Pipeline;

namespace LlmStack.Retention;

/// <summary>The keep rules as given on the command line (counts: null = off, -1 = unlimited; durations as restic writes them).</summary>
public sealed record PolicyArguments(
    int? Last, int? Hourly, int? Daily, int? Weekly, int? Monthly, int? Yearly,
    string? Within, string? WithinHourly, string? WithinDaily, string? WithinWeekly, string? WithinMonthly, string? WithinYearly,
    IReadOnlyList<string>? Tags)
{
    public bool Any =>
        new[] { Last, Hourly, Daily, Weekly, Monthly, Yearly }.Any(c => c is not null)
        || new[] { Within, WithinHourly, WithinDaily, WithinWeekly, WithinMonthly, WithinYearly }.Any(d => d is not null)
        || Tags is { Count: > 0 };

    /// <summary>The policy, or a <see cref="PipelineException"/> naming the parameter that is wrong.</summary>
    public RetentionPolicy ToPolicy()
    {
        foreach (var (name, count) in new[] { ("keep-last", Last), ("keep-hourly", Hourly), ("keep-daily", Daily), ("keep-weekly", Weekly), ("keep-monthly", Monthly), ("keep-yearly", Yearly) })
        {
            if (count < -1)
            {
                throw new PipelineException($"--{name} {count}: give a count of 0 or more, or -1 for unlimited");
            }
        }

        return new RetentionPolicy
        {
            Last = Last ?? 0,
            Hourly = Hourly ?? 0,
            Daily = Daily ?? 0,
            Weekly = Weekly ?? 0,
            Monthly = Monthly ?? 0,
            Yearly = Yearly ?? 0,
            Within = Duration("keep-within", Within),
            WithinHourly = Duration("keep-within-hourly", WithinHourly),
            WithinDaily = Duration("keep-within-daily", WithinDaily),
            WithinWeekly = Duration("keep-within-weekly", WithinWeekly),
            WithinMonthly = Duration("keep-within-monthly", WithinMonthly),
            WithinYearly = Duration("keep-within-yearly", WithinYearly),
            Tags = (Tags ?? []).Select(t => (IReadOnlyList<string>)t.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).Where(t => t.Count > 0).ToList(),
        };
    }

    private static RetentionDuration? Duration(string name, string? text) =>
        text is null ? null
        : RetentionDuration.TryParse(text, out var duration, out var problem) ? duration
        : throw new PipelineException($"--{name}: {problem}");
}

/// <summary>
/// <c>RetentionSimulate</c>: the planner offline. Reads a JSON array of backups (<c>id</c>, <c>time</c> as RFC 3339 with
/// an offset, optional <c>tags</c>, optional <c>verified</c>) and prints each one as keep or remove with the rules that
/// keep it. With a policy given by parameters only restic's rules apply; with a policy from the configuration, LlmStack's
/// safety rules too.
/// </summary>
public static partial class RetentionSimulator
{
    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:\d{2})$", RegexOptions.CultureInvariant)]
    private static partial Regex Rfc3339();

    /// <summary>Reads the backups file; every problem is one line naming the file (and line:column for malformed JSON).</summary>
    public static IReadOnlyList<RetentionBackup> Load(string path, string display)
    {
        if (!File.Exists(path))
        {
            throw new PipelineException($"{display} does not exist: give --backups a JSON array of {{\"id\", \"time\", \"tags\", \"verified\"}}");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllText(path), new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            throw new PipelineException($"{display}:{(e.LineNumber ?? 0) + 1}:{(e.BytePositionInLine ?? 0) + 1}: malformed JSON: {e.Message.Split(" Path:")[0].Split(" LineNumber:")[0]}");
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Array)
            {
                throw new PipelineException($"{display}: expected a JSON array of backups");
            }

            var backups = new List<RetentionBackup>();
            var ids = new HashSet<string>(StringComparer.Ordinal);
            var index = 0;
            foreach (var item in document.RootElement.EnumerateArray())
            {
                var where = $"{display}: backup [{index++}]";
                if (item.ValueKind != JsonValueKind.Object)
                {
                    throw new PipelineException($"{where} is not an object");
                }

                var id = item.TryGetProperty("id", out var idValue) && idValue.ValueKind == JsonValueKind.String && idValue.GetString() is { Length: > 0 } s
                    ? s
                    : throw new PipelineException($"{where} has no \"id\" string");
                if (!ids.Add(id))
                {
                    throw new PipelineException($"{where}: id '{id}' appears twice");
                }

                var text = item.TryGetProperty("time", out var timeValue) && timeValue.ValueKind == JsonValueKind.String ? timeValue.GetString()! : null;
                if (text is null || !Rfc3339().IsMatch(text) || !DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out var time))
                {
                    throw new PipelineException($"{where} ('{id}'): \"time\" must be RFC 3339 with an offset, e.g. 2026-11-29T03:00:00+01:00 or 2026-11-29T02:00:00Z");
                }

                var tags = new List<string>();
                if (item.TryGetProperty("tags", out var tagsValue) && tagsValue.ValueKind != JsonValueKind.Null)
                {
                    if (tagsValue.ValueKind != JsonValueKind.Array || tagsValue.EnumerateArray().Any(t => t.ValueKind != JsonValueKind.String))
                    {
                        throw new PipelineException($"{where} ('{id}'): \"tags\" must be an array of strings");
                    }

                    tags.AddRange(tagsValue.EnumerateArray().Select(t => t.GetString()!));
                }

                var verified = false;
                if (item.TryGetProperty("verified", out var verifiedValue) && verifiedValue.ValueKind != JsonValueKind.Null)
                {
                    verified = verifiedValue.ValueKind switch
                    {
                        JsonValueKind.True => true,
                        JsonValueKind.False => false,
                        _ => throw new PipelineException($"{where} ('{id}'): \"verified\" must be true or false"),
                    };
                }

                backups.Add(new RetentionBackup(id, time, tags, verified));
            }

            return backups;
        }
    }

    /// <summary>The plan: a table and a summary line, or the JSON document (keep, remove, reasons).</summary>
    public static Reporting.Report Report(RetentionPlan plan, string policy)
    {
        var table = new TextTable("ID", "TIME", "VERIFIED", "TAGS", "ACTION", "KEPT BY");
        foreach (var decision in plan.Decisions)
        {
            var backup = decision.Backup;
            table.Add(backup.Id, backup.Time.ToString("yyyy-MM-dd HH:mm:sszzz", CultureInfo.InvariantCulture), backup.Verified ? "yes" : "-",
                backup.Tags.Count == 0 ? "-" : string.Join(",", backup.Tags), decision.Keep ? "keep" : "remove", string.Join("; ", decision.Reasons));
        }

        return new Reporting.Report
            {
                Document = new
                {
                    keep = plan.Kept.Select(b => b.Id),
                    remove = plan.Removed.Select(b => b.Id),
                    reasons = plan.Decisions.Where(d => d.Keep).ToDictionary(d => d.Backup.Id, d => d.Reasons),
                },
            }
            .Table(table)
            .Line($"Policy {policy}: keep {plan.Kept.Count}, remove {plan.Removed.Count} of {plan.Decisions.Count}");
    }
}
