using System.Globalization;
using LlmStack.Pipeline;
using Octokit;

namespace LlmStack.GitHub;

/// <summary>What DispatchRestore asks restore.yml to do.</summary>
public sealed record RestoreDispatch(string Environment, string Service, string Backup, string? Confirm, string? Ref = null)
{
    /// <summary>restore.yml's service for a whole backup set (RestoreSet instead of Restore); DispatchRestore's without --service.</summary>
    public const string AllServices = "all";
}

/// <summary>
/// How DispatchRestore polls, within GITHUB_TOKEN's 1,000 requests an hour per repository: every
/// <see cref="Interval"/> (never less than <see cref="Floor"/>) while it waits for the run to appear (up to
/// <see cref="AppearTimeout"/>) and after each status change; while the status stays the same the wait doubles, up to
/// <see cref="MaxWaitRunning"/> in progress and <see cref="MaxWaitQueued"/> while queued or waiting for approval
/// (which can take hours).
/// </summary>
public sealed record RunPolling(TimeSpan Interval, TimeSpan AppearTimeout)
{
    public static readonly TimeSpan Floor = TimeSpan.FromSeconds(10);

    public static readonly TimeSpan MaxWaitRunning = TimeSpan.FromMinutes(1);

    public static readonly TimeSpan MaxWaitQueued = TimeSpan.FromMinutes(2);

    /// <summary>The poll interval, raised to <see cref="Floor"/>.</summary>
    public TimeSpan Interval { get; } = Interval < Floor ? Floor : Interval;

    /// <summary>The wait before the next poll of a run: the interval after a change, else twice the last wait, up to the status's cap.</summary>
    public TimeSpan Next(TimeSpan last, bool changed, StringEnum<WorkflowRunStatus> status)
    {
        if (changed)
        {
            return Interval;
        }

        var cap = status.TryParse(out var known) && known is WorkflowRunStatus.Queued or WorkflowRunStatus.Waiting or WorkflowRunStatus.Pending or WorkflowRunStatus.Requested
            ? MaxWaitQueued
            : MaxWaitRunning;
        var doubled = last * 2;
        return doubled < cap ? doubled : cap;
    }
}

/// <summary>
/// DispatchRestore: dispatches restore.yml (workflow_dispatch) with a unique <see cref="DispatchIdInput"/>, finds the
/// run it created by that id (restore.yml's <c>run-name</c> carries it, GitHub's runs list it as
/// <c>display_title</c>) and follows it to its conclusion. GitHub's dispatch answers 204 with nothing (Octokit has no
/// <c>return_run_details</c>), and another operator's dispatch of the same minute is told apart only by the id.
/// </summary>
public sealed class RestoreDispatcher(GitHubApi api, TextWriter output, TimeProvider time)
{
    public const string Workflow = "restore.yml";

    /// <summary>The workflow_dispatch input restore.yml shows in its run-name.</summary>
    public const string DispatchIdInput = "dispatch_id";

    /// <summary>Runs created up to this long before our clock's dispatch time are listed too (GitHub's clock is not ours; the id decides).</summary>
    private static readonly TimeSpan ClockSkew = TimeSpan.FromMinutes(5);

    /// <summary>The local refusal, before anything talks to GitHub.</summary>
    public static void CheckConfirmation(RestoreDispatch request)
    {
        if (request.Confirm != request.Environment)
        {
            throw new PipelineException(
                $"DispatchRestore replaces data of {request.Environment}: confirm with --confirm {request.Environment}{(request.Confirm is null ? "" : $" (--confirm says '{request.Confirm}')")}");
        }
    }

    /// <summary>A dispatch: the run when it was already found (after an ambiguous answer), else null.</summary>
    private sealed record Dispatched(WorkflowRun? Run);

    /// <summary>Dispatches, finds and follows the run; returns it when it concluded success, otherwise throws one line.</summary>
    public async Task<WorkflowRun> RunAsync(RestoreDispatch request, RunPolling polling, CancellationToken cancellationToken)
    {
        CheckConfirmation(request);
        var gitRef = request.Ref ?? (await api.CallAsync(
            $"reading the default branch of {api.Repository}", c => c.Repository.Get(api.Owner, api.Name), cancellationToken)).DefaultBranch;
        var dispatchId = Guid.NewGuid().ToString("N");
        var since = time.GetUtcNow() - ClockSkew;
        var inputs = new Dictionary<string, object>
        {
            ["environment"] = request.Environment,
            ["service"] = request.Service,
            ["backup"] = request.Backup,
            ["confirm"] = request.Confirm!,
            [DispatchIdInput] = dispatchId,
        };

        WorkflowRun run;
        try
        {
            // A 502/503/504 leaves open whether GitHub dispatched: before dispatching again, look for the run with this id
            // as long as a run may take to appear; only when none appeared is the dispatch repeated (with the same id).
            var dispatched = await api.CreateAsync(
                $"dispatching {Workflow} on {gitRef} (the token needs actions: write; a 422 on {DispatchIdInput}: regenerate and push restore.yml)",
                async c =>
                {
                    await c.Actions.Workflows.CreateDispatch(api.Owner, api.Name, Workflow, new CreateWorkflowDispatch(gitRef) { Inputs = inputs });
                    return new Dispatched(null);
                },
                async ct => await FindRunAsync(dispatchId, since, polling, ct) is { } found ? new Dispatched(found) : null,
                cancellationToken);
            output.WriteLine($"Dispatched {Workflow} on {gitRef}: restore {request.Service} of {request.Environment} from {request.Backup} (dispatch id {dispatchId})");
            run = dispatched.Run ?? await FindRunAsync(dispatchId, since, polling, cancellationToken)
                ?? throw new PipelineException(
                    $"the dispatched {Workflow} run (dispatch id {dispatchId}) did not appear within {Schema.Duration.Format(polling.AppearTimeout)}: look for it under Actions of {api.Repository} on GitHub");
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            output.WriteLine($"Stopped waiting for the run; {Workflow} may have been dispatched and run on GitHub (dispatch id {dispatchId}): see Actions of {api.Repository}");
            throw;
        }

        output.WriteLine($"{Workflow} run #{run.RunNumber}: {run.HtmlUrl}");
        return await FollowAsync(run, polling, cancellationToken);
    }

    /// <summary>
    /// The run whose display title (restore.yml's run-name) carries <paramref name="dispatchId"/>, polling the
    /// workflow's workflow_dispatch runs created since <paramref name="since"/> every interval; null when none appeared
    /// within the appear timeout. More than one (a dispatch repeated after an ambiguous answer): the first, and a warning.
    /// </summary>
    private async Task<WorkflowRun?> FindRunAsync(string dispatchId, DateTimeOffset since, RunPolling polling, CancellationToken cancellationToken)
    {
        var deadline = time.GetUtcNow() + polling.AppearTimeout;
        while (true)
        {
            var ours = (await DispatchRunsAsync(since, cancellationToken))
                .Where(r => r.DisplayTitle?.Contains(dispatchId, StringComparison.Ordinal) == true)
                .OrderBy(r => r.CreatedAt).ThenBy(r => r.Id)
                .ToList();
            if (ours.Count > 0)
            {
                if (ours.Count > 1)
                {
                    output.WriteLine(
                        $"Warning: {ours.Count} {Workflow} runs carry dispatch id {dispatchId} (a dispatch was repeated after GitHub failed to answer): following #{ours[0].RunNumber}; cancel {string.Join(", ", ours.Skip(1).Select(r => r.HtmlUrl))} on GitHub unless it is wanted");
                }

                return ours[0];
            }

            if (time.GetUtcNow() >= deadline)
            {
                return null;
            }

            await Task.Delay(polling.Interval, time, cancellationToken);
        }
    }

    private async Task<IReadOnlyList<WorkflowRun>> DispatchRunsAsync(DateTimeOffset since, CancellationToken cancellationToken)
    {
        var request = new WorkflowRunsRequest
        {
            Event = "workflow_dispatch",
            Created = ">=" + since.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
        };
        var response = await api.CallAsync(
            $"listing the runs of {Workflow} (the token needs actions: read; is {Workflow} on the default branch? GenerateWorkflows writes it)",
            c => c.Actions.Workflows.Runs.ListByWorkflow(api.Owner, api.Name, Workflow, request, new ApiOptions { PageSize = 30, PageCount = 1, StartPage = 1 }),
            cancellationToken);
        return response.WorkflowRuns;
    }

    /// <summary>Polls the run until it completes, printing each status change; Ctrl-C stops following, not the run.</summary>
    public async Task<WorkflowRun> FollowAsync(WorkflowRun run, RunPolling polling, CancellationToken cancellationToken)
    {
        var label = $"{Workflow} run #{run.RunNumber}";
        string? shown = null;
        var wait = polling.Interval;
        try
        {
            while (true)
            {
                var status = run.Status.StringValue;
                var changed = status != shown;
                if (changed)
                {
                    output.WriteLine($"{time.GetUtcNow().UtcDateTime.ToString("HH:mm:ss", CultureInfo.InvariantCulture)}  {label}: {Words(run.Status)}");
                    shown = status;
                }

                if (run.Status.TryParse(out var known) && known == WorkflowRunStatus.Completed)
                {
                    break;
                }

                wait = polling.Next(wait, changed, run.Status);
                await Task.Delay(wait, time, cancellationToken);
                var id = run.Id;
                run = await api.CallAsync($"reading {label}", c => c.Actions.Workflows.Runs.Get(api.Owner, api.Name, id), cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            output.WriteLine($"Stopped following {label}; it continues on GitHub: {run.HtmlUrl}");
            throw;
        }

        var conclusion = run.Conclusion?.StringValue ?? "unknown";
        if (run.Conclusion?.TryParse(out var concluded) != true || concluded != WorkflowRunConclusion.Success)
        {
            throw new PipelineException($"{label} concluded {conclusion}: {run.HtmlUrl}");
        }

        output.WriteLine($"{label} concluded success: {run.HtmlUrl}");
        return run;
    }

    /// <summary>A run's status as the follow loop prints it.</summary>
    private static string Words(StringEnum<WorkflowRunStatus> status) =>
        status.TryParse(out var known) && known == WorkflowRunStatus.Waiting ? "waiting (for a reviewer's approval of the environment)" : status.StringValue;
}
