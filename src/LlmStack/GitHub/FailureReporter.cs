using System.Text;
using System.Text.RegularExpressions;
using LlmStack.Pipeline;
using Octokit;

namespace LlmStack.GitHub;

/// <summary>One failure (or recovery) of a scheduled workflow, as ReportFailure reports it.</summary>
public sealed record WorkflowOutcome(string Workflow, string Environment, string? FailedTarget = null, string? LogFile = null, string? RunUrl = null);

/// <summary>
/// ReportFailure: one open issue per (workflow, environment), labelled <see cref="Label"/> and found by the hidden
/// marker in its body. A failure opens it, or comments on it when it is open already; a success closes it with a
/// comment (and does nothing when none is open). The log tail in the issue passes through the run's
/// <see cref="SecretMasker"/>.
/// </summary>
public sealed partial class FailureReporter(GitHubApi api, SecretMasker masker, TextWriter output)
{
    public const string Label = "llmstack-failure";

    public const int TailLines = 50;

    private const int MaxLineLength = 1000;

    public static string Marker(string workflow, string environment) => $"<!-- llmstack:failure workflow={workflow} environment={environment} -->";

    /// <summary>The hidden line that makes each comment findable, so that one GitHub failed to answer is not posted twice.</summary>
    public static string CommentMarker(string id) => $"<!-- llmstack:comment id={id} -->";

    /// <summary>The run's page, from what GitHub Actions sets (GITHUB_SERVER_URL, GITHUB_REPOSITORY, GITHUB_RUN_ID); null outside Actions.</summary>
    public static string? RunUrl(Func<string, string?> environment) =>
        (environment("GITHUB_SERVER_URL"), environment("GITHUB_REPOSITORY"), environment("GITHUB_RUN_ID")) is ({ Length: > 0 } server, { Length: > 0 } repository, { Length: > 0 } id)
            ? $"{server.TrimEnd('/')}/{repository}/actions/runs/{id}"
            : null;

    /// <summary>
    /// ReportFailure's decision: the issue is closed when the workflow says it succeeded (<paramref name="succeeded"/>)
    /// or, with other targets in the run, when each of them (<paramref name="others"/>) succeeded or was skipped;
    /// otherwise it is opened or commented on.
    /// </summary>
    public async Task ReportOrResolveAsync(WorkflowOutcome outcome, bool succeeded, IReadOnlyCollection<ExecutionStatus> others, CancellationToken cancellationToken)
    {
        if (succeeded || (others.Count > 0 && others.All(s => s is ExecutionStatus.Succeeded or ExecutionStatus.Skipped)))
        {
            await ResolveAsync(outcome, cancellationToken);
        }
        else
        {
            await ReportAsync(outcome, cancellationToken);
        }
    }

    /// <summary>A failure: opens the issue, or comments on the open one. Returns the issue.</summary>
    public async Task<Issue> ReportAsync(WorkflowOutcome outcome, CancellationToken cancellationToken)
    {
        await EnsureLabelAsync(cancellationToken);
        var details = Details(outcome);
        if (await FindOpenAsync(outcome, cancellationToken) is { } open)
        {
            await CommentAsync(open, $"Failed again.\n\n{details}", cancellationToken);
            output.WriteLine($"{outcome.Workflow} failed again in {outcome.Environment}: commented on issue #{open.Number} {open.HtmlUrl}");
            return open;
        }

        var issue = new NewIssue($"{outcome.Workflow} failed in {outcome.Environment}")
        {
            Body = masker.Mask($"{Marker(outcome.Workflow, outcome.Environment)}\n{details}\n\nThis issue closes itself when {outcome.Workflow} succeeds in {outcome.Environment} again."),
        };
        issue.Labels.Add(Label);
        // A 502/503/504 leaves open whether the issue was opened: the marked issue is looked for before opening it again.
        var created = await api.CreateAsync(
            "opening an issue (the token needs issues: write)", c => c.Issue.Create(api.Owner, api.Name, issue), ct => FindOpenAsync(outcome, ct), cancellationToken);
        output.WriteLine($"{outcome.Workflow} failed in {outcome.Environment}: opened issue #{created.Number} {created.HtmlUrl}");
        return created;
    }

    /// <summary>A success: closes the open issue with a comment. Returns it, or null when none was open.</summary>
    public async Task<Issue?> ResolveAsync(WorkflowOutcome outcome, CancellationToken cancellationToken)
    {
        if (await FindOpenAsync(outcome, cancellationToken) is not { } open)
        {
            output.WriteLine($"{outcome.Workflow} succeeded in {outcome.Environment}: no open failure issue");
            return null;
        }

        var comment = $"{outcome.Workflow} succeeded in {outcome.Environment}{(outcome.RunUrl is null ? "" : $" ([run]({outcome.RunUrl}))")}: closing.";
        await CommentAsync(open, comment, cancellationToken);
        var update = new IssueUpdate { State = ItemState.Closed, StateReason = ItemStateReason.Completed };
        var closed = await api.CallAsync(
            $"closing issue #{open.Number} (the token needs issues: write)", c => c.Issue.Update(api.Owner, api.Name, open.Number, update), cancellationToken);
        output.WriteLine($"{outcome.Workflow} succeeded in {outcome.Environment}: closed issue #{open.Number} {open.HtmlUrl}");
        return closed;
    }

    /// <summary>The open issue of (workflow, environment): labelled <see cref="Label"/> with the marker in its body.</summary>
    public async Task<Issue?> FindOpenAsync(WorkflowOutcome outcome, CancellationToken cancellationToken)
    {
        var request = new RepositoryIssueRequest { State = ItemStateFilter.Open };
        request.Labels.Add(Label);
        var issues = await api.CallAsync(
            $"listing the open {Label} issues of {api.Repository} (the token needs issues: read)",
            c => c.Issue.GetAllForRepository(api.Owner, api.Name, request, new ApiOptions { PageSize = 100 }),
            cancellationToken);
        var marker = Marker(outcome.Workflow, outcome.Environment);
        return issues.Where(i => i.PullRequest is null && i.Body?.Contains(marker, StringComparison.Ordinal) == true).OrderBy(i => i.Number).FirstOrDefault();
    }

    /// <summary>
    /// Comments on an issue, the comment marked with an id: a 502/503/504 leaves open whether it was posted, so the
    /// issue's comments since just before are looked through for the id before posting it again.
    /// </summary>
    private async Task<IssueComment> CommentAsync(Issue issue, string text, CancellationToken cancellationToken)
    {
        var marker = CommentMarker(Guid.NewGuid().ToString("N"));
        var body = $"{masker.Mask(text)}\n\n{marker}";
        var since = DateTimeOffset.UtcNow - TimeSpan.FromMinutes(10);
        return await api.CreateAsync(
            $"commenting on issue #{issue.Number} (the token needs issues: write)",
            c => c.Issue.Comment.Create(api.Owner, api.Name, issue.Number, body),
            async ct => (await api.CallAsync(
                    $"reading the comments of issue #{issue.Number} (the token needs issues: read)",
                    c => c.Issue.Comment.GetAllForIssue(api.Owner, api.Name, issue.Number, new IssueCommentRequest { Since = since }),
                    ct))
                .FirstOrDefault(comment => comment.Body?.Contains(marker, StringComparison.Ordinal) == true),
            cancellationToken);
    }

    /// <summary>The label, created when the repository lacks it (a 422 on create: another run created it meanwhile).</summary>
    private async Task EnsureLabelAsync(CancellationToken cancellationToken)
    {
        var exists = await api.CallAsync(
            $"reading the {Label} label (the token needs issues: read)",
            async c =>
            {
                try
                {
                    await c.Issue.Labels.Get(api.Owner, api.Name, Label);
                    return true;
                }
                catch (NotFoundException)
                {
                    return false;
                }
            },
            cancellationToken);
        if (exists)
        {
            return;
        }

        var created = await api.CallAsync(
            $"creating the {Label} label (the token needs issues: write)",
            async c =>
            {
                try
                {
                    await c.Issue.Labels.Create(api.Owner, api.Name, new NewLabel(Label, "d73a4a") { Description = "A scheduled LlmStack workflow is failing" });
                    return true;
                }
                catch (ApiValidationException)
                {
                    return false; // created meanwhile by another run (or by our own attempt GitHub failed to answer): what we wanted
                }
            },
            cancellationToken);
        if (created)
        {
            output.WriteLine($"Created the {Label} label");
        }
    }

    private string Details(WorkflowOutcome outcome)
    {
        var text = new StringBuilder();
        text.AppendLine($"**Workflow:** `{outcome.Workflow}`  ");
        text.AppendLine($"**Environment:** `{outcome.Environment}`  ");
        text.AppendLine($"**Failed target:** {(outcome.FailedTarget is { Length: > 0 } target ? $"`{target}`" : "not given (--failed-target / LLMSTACK_FAILED_TARGET)")}  ");
        text.AppendLine($"**Run:** {outcome.RunUrl ?? "not in GitHub Actions (GITHUB_RUN_ID unset)"}  ");
        text.Append($"**When:** {DateTimeOffset.UtcNow.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z");
        if (outcome.LogFile is { Length: > 0 } logFile)
        {
            text.AppendLine().AppendLine();
            if (File.Exists(logFile))
            {
                var tail = LogTail(logFile, TailLines, masker);
                text.AppendLine($"Last {TailLines} lines of `{Path.GetFileName(logFile)}`:").AppendLine();
                text.Append(Fenced(tail));
            }
            else
            {
                text.Append($"The log file `{Path.GetFileName(logFile)}` does not exist.");
            }
        }

        return text.ToString();
    }

    /// <summary>The last <paramref name="lines"/> lines of a file, colour codes stripped, long lines cut, every known secret masked.</summary>
    public static IReadOnlyList<string> LogTail(string path, int lines, SecretMasker masker)
    {
        var tail = new Queue<string>(lines + 1);
        foreach (var line in File.ReadLines(path))
        {
            tail.Enqueue(line);
            if (tail.Count > lines)
            {
                tail.Dequeue();
            }
        }

        // Masked before cutting, so a secret across the cut is still masked whole.
        return tail.Select(line => masker.Mask(TerminalText.Clean(line)))
            .Select(line => line.Length > MaxLineLength ? line[..MaxLineLength] + " …" : line)
            .ToList();
    }

    /// <summary>A Markdown code block whose fence is longer than any backtick run inside.</summary>
    public static string Fenced(IReadOnlyList<string> lines)
    {
        var longest = lines.SelectMany(l => Regex.Matches(l, "`+").Select(m => m.Length)).DefaultIfEmpty(0).Max();
        var fence = new string('`', Math.Max(3, longest + 1));
        return $"{fence}text\n{string.Join('\n', lines)}\n{fence}";
    }
}
