using System.Globalization;
using System.Text;
using System.Text.Json;
using LlmStack.Reporting;
using LlmStack.Sessions;

namespace LlmStack.Backup;

/// <summary>
/// Backup metrics in the Prometheus text format for node_exporter's textfile collector, and the GitHub Actions step
/// summary. Every backup, copy, verification and restore test updates its samples; the file is rewritten whole and
/// atomically (a temporary file, then a rename), so a scrape never sees half of it. The samples of earlier runs are
/// kept in a state file beside it.
/// </summary>
public sealed class BackupMetrics(string? file, string? stepSummary)
{
    private static readonly IReadOnlyDictionary<string, string> Help = new Dictionary<string, string>
    {
        ["llmstack_backup_last_success_timestamp_seconds"] = "When the last successful backup of a service finished (Unix time), per tier it reached.",
        ["llmstack_backup_duration_seconds"] = "How long the last backup of a service took.",
        ["llmstack_backup_bytes"] = "Bytes read by the last backup of a service.",
        ["llmstack_backup_added_bytes"] = "Bytes the last backup of a service added to the repository (after deduplication).",
        ["llmstack_backup_copy_ok"] = "1 if the last copy to a tier succeeded, 0 if it failed.",
        ["llmstack_backup_verify_ok"] = "1 if the last BackupVerify of a tier passed, 0 if it failed.",
        ["llmstack_backup_verify_timestamp_seconds"] = "When a tier was last verified (Unix time).",
        ["llmstack_backup_restore_test_ok"] = "1 if the last RestoreTest passed, 0 if it failed.",
        ["llmstack_backup_restore_test_timestamp_seconds"] = "When the last RestoreTest ran (Unix time).",
        ["llmstack_backup_restore_test_duration_seconds"] = "How long the last RestoreTest took.",
    };

    private readonly List<string> _summary = [];

    /// <summary>From the configuration (<c>metrics.file</c>, relative to the state directory) and the environment (GITHUB_STEP_SUMMARY).</summary>
    public static BackupMetrics For(BackupConfig config, StatePaths paths) =>
        new(config.Metrics?.File is { Length: > 0 } path ? paths.Resolve(path) : null, Environment.GetEnvironmentVariable("GITHUB_STEP_SUMMARY"));

    public void Backup(BackupSetManifest set)
    {
        var finished = set.Finished.ToUnixTimeSeconds();
        var samples = new List<(string, Dictionary<string, string>, double)>();
        foreach (var member in set.Members.Where(m => m.Succeeded))
        {
            var labels = Labels(set.Environment, ("service", member.Key), ("tier", set.Tier));
            samples.Add(("llmstack_backup_last_success_timestamp_seconds", labels, finished));
            var byService = Labels(set.Environment, ("service", member.Key));
            samples.Add(("llmstack_backup_duration_seconds", byService, member.Parts.Sum(p => p.Seconds)));
            samples.Add(("llmstack_backup_bytes", byService, member.Bytes));
            samples.Add(("llmstack_backup_added_bytes", byService, member.Added));
        }

        Update(samples);
        Summary($"### Backup set {set.Set} of {set.Environment}: {set.Status.Word()}", ["Member", "Status", "Read", "Added"],
            set.Members.Select(m => new[] { m.Key, m.Status.Word() + (m.Error is null ? string.Empty : $": {m.Error}"), BackupProgress.Size(m.Bytes), BackupProgress.Size(m.Added) }));
    }

    public void Copy(BackupSetManifest? set, string environment, IReadOnlyList<TierResult> results)
    {
        var samples = new List<(string, Dictionary<string, string>, double)>();
        foreach (var result in results)
        {
            samples.Add(("llmstack_backup_copy_ok", Labels(environment, ("tier", result.Tier)), result.Ok ? 1 : 0));
            if (result.Ok && set is not null)
            {
                samples.AddRange(set.Members.Where(m => m.Succeeded).Select(m =>
                    ("llmstack_backup_last_success_timestamp_seconds", Labels(environment, ("service", m.Key), ("tier", result.Tier)), (double)set.Finished.ToUnixTimeSeconds())));
            }
        }

        Update(samples);
        if (results.Count > 0)
        {
            Summary($"### Copies to the other tiers of {environment}", ["Tier", "Kind", "Result"], results.Select(r => new[] { r.Tier, r.Kind.Word(), (r.Ok ? "ok: " : "failed: ") + r.Outcome }));
        }
    }

    public void Verify(string environment, IReadOnlyList<VerifyResult> results)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        Update(results.GroupBy(r => r.Tier).SelectMany(g => new[]
        {
            ("llmstack_backup_verify_ok", Labels(environment, ("tier", g.Key)), g.All(r => r.Ok) ? 1.0 : 0.0),
            ("llmstack_backup_verify_timestamp_seconds", Labels(environment, ("tier", g.Key)), (double)now),
        }).ToList());
        Summary($"### BackupVerify of {environment}", ["Tier", "Set", "Check", "Result"], results.Select(r => new[] { r.Tier, r.Set ?? "-", r.Check, (r.Ok ? "ok: " : "**failed**: ") + r.Detail }));
    }

    public void RestoreTest(RestoreTestReport report)
    {
        var labels = Labels(report.Environment);
        Update(
        [
            ("llmstack_backup_restore_test_ok", labels, report.Passed ? 1 : 0),
            ("llmstack_backup_restore_test_timestamp_seconds", labels, report.Started.ToUnixTimeSeconds()),
            ("llmstack_backup_restore_test_duration_seconds", labels, report.Seconds),
        ]);
        _summary.Add(RestoreTester.Markdown(report).Replace("# Restore test", "### Restore test", StringComparison.Ordinal));
        FlushSummary();
    }

    /// <summary>Renders the Prometheus text format: HELP and TYPE per metric, then its samples, sorted.</summary>
    public static string Render(IReadOnlyDictionary<string, double> samples)
    {
        var text = new StringBuilder();
        foreach (var metric in samples.GroupBy(s => s.Key[..(s.Key.IndexOf('{') is var i and >= 0 ? i : s.Key.Length)]).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            text.Append(CultureInfo.InvariantCulture, $"# HELP {metric.Key} {Help.GetValueOrDefault(metric.Key, metric.Key)}\n");
            text.Append(CultureInfo.InvariantCulture, $"# TYPE {metric.Key} gauge\n");
            foreach (var (series, value) in metric.OrderBy(s => s.Key, StringComparer.Ordinal))
            {
                text.Append(CultureInfo.InvariantCulture, $"{series} {value.ToString("R", CultureInfo.InvariantCulture)}\n");
            }
        }

        return text.ToString();
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
        name + "{" + string.Join(",", labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}=\"{Escape(l.Value)}\"")) + "}";

    private static string Escape(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    private void Update(IReadOnlyList<(string Name, Dictionary<string, string> Labels, double Value)> samples)
    {
        if (file is null)
        {
            return;
        }

        var state = file + ".state.json";
        var all = File.Exists(state) ? JsonSerializer.Deserialize<Dictionary<string, double>>(File.ReadAllText(state), JsonDefaults.Line) ?? [] : [];
        foreach (var (name, labels, value) in samples)
        {
            all[Series(name, labels)] = value;
        }

        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        File.WriteAllText(state + ".tmp", JsonSerializer.Serialize(all, JsonDefaults.Line));
        File.Move(state + ".tmp", state, overwrite: true);
        File.WriteAllText(file + ".tmp", Render(all));
        File.Move(file + ".tmp", file, overwrite: true);
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
            File.AppendAllText(path, string.Join('\n', _summary) + "\n");
            _summary.Clear();
        }
    }
}
