using System.Globalization;
using System.Text;

namespace LlmStack.Pipeline;

/// <summary>
/// The run as GitHub Actions shows it, when <c>GITHUB_ACTIONS=true</c>: each target's output folded in a
/// <c>::group::</c>, a failing target as an <c>::error::</c> annotation with its one-line message (masked like every
/// output), and the run's summary table appended to the job summary (<c>GITHUB_STEP_SUMMARY</c>). Reports add their own
/// tables through <see cref="AppendSummary"/>. Outside GitHub Actions it does nothing.
/// </summary>
public sealed class GitHubActionsLog
{
    private readonly string? _summaryFile;
    private readonly SecretMasker _masker;

    private GitHubActionsLog(string? summaryFile, SecretMasker masker)
    {
        _summaryFile = summaryFile;
        _masker = masker;
    }

    /// <summary>From the run's environment variables; null outside GitHub Actions.</summary>
    public static GitHubActionsLog? From(IReadOnlyDictionary<string, string> variables, SecretMasker masker) =>
        variables.GetValueOrDefault("GITHUB_ACTIONS") == "true"
            ? new GitHubActionsLog(variables.GetValueOrDefault("GITHUB_STEP_SUMMARY") is { Length: > 0 } file ? file : null, masker)
            : null;

    public void Group(TextWriter output, string target)
    {
        output.WriteLine($"::group::{Escape(target)}");
        output.Flush();
    }

    public void EndGroup(TextWriter output)
    {
        output.WriteLine("::endgroup::");
        output.Flush();
    }

    /// <summary>The failing target's one line as an error annotation (outside the group, so it shows in the collapsed log).</summary>
    public void Error(TextWriter output, string target, string message)
    {
        output.WriteLine($"::error title={EscapeProperty(target + " failed")}::{Escape(_masker.Mask(message))}");
        output.Flush();
    }

    /// <summary>Appends Markdown to the job summary (masked); nothing when there is no summary file.</summary>
    public void AppendSummary(string markdown)
    {
        if (_summaryFile is not null)
        {
            File.AppendAllText(_summaryFile, _masker.Mask(markdown));
        }
    }

    /// <summary>The run's summary table in Markdown: target, status, duration, what it reported.</summary>
    public static string SummaryMarkdown(IReadOnlyList<ExecutableTarget> plan, bool succeeded)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"### LlmStack run: {(succeeded ? "succeeded" : "failed")}\n\n");
        text.Append("| Target | Status | Duration | Reported |\n|---|---|---|---|\n");
        foreach (var target in plan.Where(t => t.Status != ExecutionStatus.Collective))
        {
            var timed = target.Status is ExecutionStatus.Succeeded or ExecutionStatus.Failed or ExecutionStatus.Aborted;
            text.Append(CultureInfo.InvariantCulture,
                $"| {target.Name} | {(target.Status == ExecutionStatus.Failed ? "**Failed**" : target.Status.ToString())} | {(timed ? SummaryWriter.Format(target.Duration) : string.Empty)} | {Cell(target.SummaryInfo)} |\n");
        }

        return text.Append('\n').ToString();
    }

    /// <summary>A report's text (a table as the console shows it) as a job-summary block.</summary>
    public static string TextBlock(string target, string text) =>
        $"#### {target}\n\n```text\n{text.TrimEnd()}\n```\n\n";

    private static string Cell(string? text) => (text ?? string.Empty).Replace("|", "\\|", StringComparison.Ordinal).Replace("\n", " ", StringComparison.Ordinal);

    // Workflow command data: %, CR and LF are escaped (GitHub's toolkit does the same); properties also : and ,.
    private static string Escape(string text) => text.Replace("%", "%25", StringComparison.Ordinal).Replace("\r", "%0D", StringComparison.Ordinal).Replace("\n", "%0A", StringComparison.Ordinal);

    private static string EscapeProperty(string text) => Escape(text).Replace(":", "%3A", StringComparison.Ordinal).Replace(",", "%2C", StringComparison.Ordinal);
}
