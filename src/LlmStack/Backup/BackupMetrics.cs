using System.Globalization;
using System.Text;
using System.Text.Json;
using LlmStack.Reporting;
using LlmStack.Sessions;

namespace LlmStack.Backup;

/// <summary>The Prometheus type of a metric LlmStack writes.</summary>
public enum MetricType
{
    Gauge,
    Counter,
}

/// <summary>One metric of the metrics file: its name (units in the name, <c>_total</c> for counters), type, labels and help.</summary>
public sealed record BackupMetric(string Name, MetricType Type, IReadOnlyList<string> Labels, string Help)
{
    public string TypeWord => Type == MetricType.Counter ? "counter" : "gauge";
}

/// <summary>
/// Backup metrics in the Prometheus text format for node_exporter's textfile collector, and the GitHub Actions step
/// summary. Every backup, copy, verification, restore test and retention run updates its samples, failures as much as
/// successes; the file is rewritten whole and atomically (a temporary file, then a rename), so a scrape never sees half
/// of it. The samples of earlier runs (and the counters) are kept in a state file beside it. <see cref="All"/> is the one
/// list of what is written: the monitoring rules, the dashboard and docs/BACKUP.md are checked against it.
/// </summary>
public sealed class BackupMetrics(string? file, string? stepSummary)
{
    public const string LastRunTimestamp = "llmstack_backup_last_run_timestamp_seconds";
    public const string LastRunOk = "llmstack_backup_last_run_ok";
    public const string LastSuccessTimestamp = "llmstack_backup_last_success_timestamp_seconds";
    public const string SuccessTotal = "llmstack_backup_success_total";
    public const string FailureTotal = "llmstack_backup_failure_total";
    public const string Duration = "llmstack_backup_duration_seconds";
    public const string ReadBytes = "llmstack_backup_read_bytes";
    public const string AddedBytes = "llmstack_backup_added_bytes";
    public const string CopyOk = "llmstack_backup_copy_ok";
    public const string CopyTimestamp = "llmstack_backup_copy_timestamp_seconds";
    public const string CopyLag = "llmstack_backup_copy_lag_seconds";
    public const string VerifyOk = "llmstack_backup_verify_ok";
    public const string VerifyTimestamp = "llmstack_backup_verify_timestamp_seconds";
    public const string RestoreTestOk = "llmstack_backup_restore_test_ok";
    public const string RestoreTestTimestamp = "llmstack_backup_restore_test_timestamp_seconds";
    public const string RestoreTestDuration = "llmstack_backup_restore_test_duration_seconds";
    public const string RetentionRemovedTotal = "llmstack_backup_retention_removed_total";
    public const string RetentionOk = "llmstack_backup_retention_ok";
    public const string RetentionTimestamp = "llmstack_backup_retention_timestamp_seconds";
    public const string FileWritten = "llmstack_backup_metrics_written_timestamp_seconds";

    private static readonly string[] Member = ["environment", "service", "tier"];
    private static readonly string[] Tier = ["environment", "tier"];
    private static readonly string[] Env = ["environment"];

    /// <summary>Every metric of the file. The <c>service</c> label is the member: <c>service/type</c> or <c>service/volume</c>.</summary>
    public static readonly IReadOnlyList<BackupMetric> All =
    [
        new(LastRunTimestamp, MetricType.Gauge, Member, "When the last backup of a member finished, whatever its outcome (Unix time)."),
        new(LastRunOk, MetricType.Gauge, Member, "1 if the last backup of a member succeeded, 0 if it failed."),
        new(LastSuccessTimestamp, MetricType.Gauge, Member, "When the last successful backup of a member finished (Unix time), per tier it reached."),
        new(SuccessTotal, MetricType.Counter, Member, "Successful backups of a member."),
        new(FailureTotal, MetricType.Counter, Member, "Failed backups of a member."),
        new(Duration, MetricType.Gauge, Member, "How long the last backup of a member took."),
        new(ReadBytes, MetricType.Gauge, Member, "Bytes read by the last backup of a member."),
        new(AddedBytes, MetricType.Gauge, Member, "Bytes the last backup of a member added to the repository (after deduplication)."),
        new(CopyOk, MetricType.Gauge, Tier, "1 if the last copy to a tier succeeded, 0 if it failed."),
        new(CopyTimestamp, MetricType.Gauge, Tier, "When a copy to a tier last ran (Unix time)."),
        new(CopyLag, MetricType.Gauge, Tier, "How far a tier is behind the first tier: the newest backup there minus the newest here, the largest over the members (0: up to date)."),
        new(VerifyOk, MetricType.Gauge, Tier, "1 if the last BackupVerify of a tier passed, 0 if it failed."),
        new(VerifyTimestamp, MetricType.Gauge, Tier, "When a tier was last verified (Unix time)."),
        new(RestoreTestOk, MetricType.Gauge, Env, "1 if the last RestoreTest passed, 0 if it failed."),
        new(RestoreTestTimestamp, MetricType.Gauge, Env, "When the last RestoreTest ran (Unix time)."),
        new(RestoreTestDuration, MetricType.Gauge, Env, "How long the last RestoreTest took."),
        new(RetentionRemovedTotal, MetricType.Counter, Env, "Backups and backup sets removed by RetentionCleanup."),
        new(RetentionOk, MetricType.Gauge, Env, "1 if the last RetentionCleanup succeeded, 0 if it failed."),
        new(RetentionTimestamp, MetricType.Gauge, Env, "When RetentionCleanup last ran (Unix time)."),
        new(FileWritten, MetricType.Gauge, [], "When LlmStack last wrote this file (Unix time)."),
    ];

    private static readonly Dictionary<string, BackupMetric> ByName = All.ToDictionary(m => m.Name, StringComparer.Ordinal);

    private readonly List<string> _summary = [];

    /// <summary>The file this instance writes, or null when metrics are off.</summary>
    public string? File => file;

    /// <summary>The clock (tests set it).</summary>
    public Func<DateTimeOffset> Now { get; init; } = () => DateTimeOffset.UtcNow;

    /// <summary>From the configuration (<c>metrics.file</c>, relative to the state directory) and the environment (GITHUB_STEP_SUMMARY).</summary>
    public static BackupMetrics For(BackupConfig config, StatePaths paths) =>
        new(config.Metrics?.File is { Length: > 0 } path ? paths.Resolve(path) : null, System.Environment.GetEnvironmentVariable("GITHUB_STEP_SUMMARY"));

    /// <summary>A backup set written to its first tier: every member's outcome, the failed ones too (skipped members are left as they were).</summary>
    public void Backup(BackupSetManifest set)
    {
        var finished = (double)set.Finished.ToUnixTimeSeconds();
        var samples = new List<Sample>();
        foreach (var member in set.Members.Where(m => m.Status != MemberStatus.Skipped))
        {
            var labels = Labels(set.Environment, ("service", member.Key), ("tier", set.Tier));
            samples.Add(Sample.Set(LastRunTimestamp, labels, finished));
            samples.Add(Sample.Set(LastRunOk, labels, member.Succeeded ? 1 : 0));
            samples.Add(Sample.Add(member.Succeeded ? SuccessTotal : FailureTotal, labels, 1));
            samples.Add(Sample.Add(member.Succeeded ? FailureTotal : SuccessTotal, labels, 0));
            if (member.Succeeded)
            {
                samples.Add(Sample.Set(LastSuccessTimestamp, labels, finished));
                samples.Add(Sample.Set(Duration, labels, member.Parts.Sum(p => p.Seconds)));
                samples.Add(Sample.Set(ReadBytes, labels, member.Bytes));
                samples.Add(Sample.Set(AddedBytes, labels, member.Added));
            }
        }

        Update(samples);
        Summary($"### Backup set {set.Set} of {set.Environment}: {set.Status.Word()}", ["Member", "Status", "Read", "Added"],
            set.Members.Select(m => new[] { m.Key, m.Status.Word() + (m.Error is null ? string.Empty : $": {m.Error}"), BackupProgress.Size(m.Bytes), BackupProgress.Size(m.Added) }));
    }

    public void Copy(BackupSetManifest? set, string environment, IReadOnlyList<TierResult> results)
    {
        var now = (double)Now().ToUnixTimeSeconds();
        var samples = new List<Sample>();
        foreach (var result in results)
        {
            samples.Add(Sample.Set(CopyOk, Labels(environment, ("tier", result.Tier)), result.Ok ? 1 : 0));
            samples.Add(Sample.Set(CopyTimestamp, Labels(environment, ("tier", result.Tier)), now));
            if (result.Ok && set is not null)
            {
                samples.AddRange(set.Members.Where(m => m.Succeeded).Select(m =>
                    Sample.Set(LastSuccessTimestamp, Labels(environment, ("service", m.Key), ("tier", result.Tier)), set.Finished.ToUnixTimeSeconds())));
            }
        }

        Update(samples, lagOf: environment);
        if (results.Count > 0)
        {
            Summary($"### Copies to the other tiers of {environment}", ["Tier", "Kind", "Result"], results.Select(r => new[] { r.Tier, r.Kind.Word(), (r.Ok ? "ok: " : "failed: ") + r.Outcome }));
        }
    }

    public void Verify(string environment, IReadOnlyList<VerifyResult> results)
    {
        var now = (double)Now().ToUnixTimeSeconds();
        Update(results.GroupBy(r => r.Tier).SelectMany(g => new[]
        {
            Sample.Set(VerifyOk, Labels(environment, ("tier", g.Key)), g.All(r => r.Ok) ? 1.0 : 0.0),
            Sample.Set(VerifyTimestamp, Labels(environment, ("tier", g.Key)), now),
        }).ToList());
        Summary($"### BackupVerify of {environment}", ["Tier", "Set", "Check", "Result"], results.Select(r => new[] { r.Tier, r.Set ?? "-", r.Check, (r.Ok ? "ok: " : "**failed**: ") + r.Detail }));
    }

    public void RestoreTest(RestoreTestReport report)
    {
        var labels = Labels(report.Environment);
        Update(
        [
            Sample.Set(RestoreTestOk, labels, report.Passed ? 1 : 0),
            Sample.Set(RestoreTestTimestamp, labels, report.Started.ToUnixTimeSeconds()),
            Sample.Set(RestoreTestDuration, labels, report.Seconds),
        ]);
        _summary.Add(RestoreTester.Markdown(report).Replace("# Restore test", "### Restore test", StringComparison.Ordinal));
        FlushSummary();
    }

    /// <summary>A RetentionCleanup run: how much it removed and whether it succeeded.</summary>
    public void Retention(string environment, int removed, bool ok)
    {
        var labels = Labels(environment);
        Update(
        [
            Sample.Add(RetentionRemovedTotal, labels, removed),
            Sample.Set(RetentionOk, labels, ok ? 1 : 0),
            Sample.Set(RetentionTimestamp, labels, Now().ToUnixTimeSeconds()),
        ]);
    }

    /// <summary>Renders the Prometheus text format: HELP and TYPE per metric, then its samples, sorted.</summary>
    public static string Render(IReadOnlyDictionary<string, double> samples)
    {
        var text = new StringBuilder();
        foreach (var metric in samples.GroupBy(s => NameOf(s.Key)).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var known = ByName.GetValueOrDefault(metric.Key);
            text.Append(CultureInfo.InvariantCulture, $"# HELP {metric.Key} {known?.Help ?? metric.Key}\n");
            text.Append(CultureInfo.InvariantCulture, $"# TYPE {metric.Key} {known?.TypeWord ?? "gauge"}\n");
            foreach (var (series, value) in metric.OrderBy(s => s.Key, StringComparer.Ordinal))
            {
                text.Append(CultureInfo.InvariantCulture, $"{series} {value.ToString("R", CultureInfo.InvariantCulture)}\n");
            }
        }

        return text.ToString();
    }

    /// <summary>
    /// The copy lag of every tier of an environment from the last-success samples: per member, the newest backup on any
    /// tier (the first tier receives every backup) minus the newest on this one; the largest over the members.
    /// </summary>
    public static IReadOnlyDictionary<string, double> CopyLags(IReadOnlyDictionary<string, double> samples, string environment)
    {
        var successes = samples
            .Where(s => NameOf(s.Key) == LastSuccessTimestamp)
            .Select(s => (Labels: ParseLabels(s.Key), s.Value))
            .Where(s => s.Labels.GetValueOrDefault("environment") == environment)
            .ToList();
        var newest = successes.GroupBy(s => s.Labels["service"]).ToDictionary(g => g.Key, g => g.Max(s => s.Value), StringComparer.Ordinal);
        return successes.GroupBy(s => s.Labels["tier"]).ToDictionary(
            g => g.Key,
            g => g.Max(s => Math.Max(0, newest[s.Labels["service"]] - s.Value)),
            StringComparer.Ordinal);
    }

    private static string NameOf(string series) => series[..(series.IndexOf('{') is var i and >= 0 ? i : series.Length)];

    private static Dictionary<string, string> ParseLabels(string series)
    {
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        var open = series.IndexOf('{');
        if (open < 0)
        {
            return labels;
        }

        var i = open + 1;
        while (i < series.Length && series[i] != '}')
        {
            var eq = series.IndexOf('=', i);
            var key = series[i..eq];
            var value = new StringBuilder();
            var j = eq + 2;
            for (; series[j] != '"'; j++)
            {
                if (series[j] == '\\')
                {
                    j++;
                    value.Append(series[j] == 'n' ? '\n' : series[j]);
                }
                else
                {
                    value.Append(series[j]);
                }
            }

            labels[key] = value.ToString();
            i = j + 1;
            if (i < series.Length && series[i] == ',')
            {
                i++;
            }
        }

        return labels;
    }

    private static Dictionary<string, string> Labels(string environment, params (string Key, string Value)[] more)
    {
        var labels = new Dictionary<string, string>(StringComparer.Ordinal) { ["environment"] = environment };
        foreach (var (key, value) in more)
        {
            labels[key] = value;
        }

        return labels;
    }

    private static string Series(string name, IReadOnlyDictionary<string, string> labels) =>
        labels.Count == 0 ? name : name + "{" + string.Join(",", labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}=\"{Escape(l.Value)}\"")) + "}";

    private static string Escape(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    private void Update(IReadOnlyList<Sample> samples, string? lagOf = null)
    {
        if (file is null)
        {
            return;
        }

        var state = file + ".state.json";
        var all = System.IO.File.Exists(state) ? JsonSerializer.Deserialize<Dictionary<string, double>>(System.IO.File.ReadAllText(state), JsonDefaults.Line) ?? [] : [];
        foreach (var sample in samples)
        {
            var series = Series(sample.Name, sample.Labels);
            all[series] = sample.Increment ? all.GetValueOrDefault(series) + sample.Value : sample.Value;
        }

        if (lagOf is not null)
        {
            foreach (var (tier, lag) in CopyLags(all, lagOf))
            {
                all[Series(CopyLag, Labels(lagOf, ("tier", tier)))] = lag;
            }
        }

        all[FileWritten] = Now().ToUnixTimeSeconds();
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        System.IO.File.WriteAllText(state + ".tmp", JsonSerializer.Serialize(all, JsonDefaults.Line));
        System.IO.File.Move(state + ".tmp", state, overwrite: true);
        System.IO.File.WriteAllText(file + ".tmp", Render(all));
        System.IO.File.Move(file + ".tmp", file, overwrite: true);
    }

    private void Summary(string title, string[] headers, IEnumerable<string[]> rows)
    {
        var text = new StringBuilder();
        text.AppendLine(title).AppendLine();
        text.AppendLine("| " + string.Join(" | ", headers) + " |");
        text.AppendLine("|" + string.Concat(headers.Select(_ => "---|")));
        foreach (var row in rows)
        {
            text.AppendLine("| " + string.Join(" | ", row.Select(c => c.Replace("|", "\\|", StringComparison.Ordinal))) + " |");
        }

        _summary.Add(text.ToString());
        FlushSummary();
    }

    /// <summary>Appends what this run did to the GitHub Actions step summary, when there is one.</summary>
    private void FlushSummary()
    {
        if (stepSummary is { Length: > 0 } path && _summary.Count > 0)
        {
            System.IO.File.AppendAllText(path, string.Join('\n', _summary) + "\n");
            _summary.Clear();
        }
    }

    private sealed record Sample(string Name, IReadOnlyDictionary<string, string> Labels, double Value, bool Increment)
    {
        public static Sample Set(string name, IReadOnlyDictionary<string, string> labels, double value) => new(name, labels, value, false);

        public static Sample Add(string name, IReadOnlyDictionary<string, string> labels, double value) => new(name, labels, value, true);
    }
}
