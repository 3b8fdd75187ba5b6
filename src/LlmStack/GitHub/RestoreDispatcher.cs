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

/// <summary>How DispatchRestore waits: the poll interval, and how long the dispatched run may take to appear.</summary>
public sealed record RunPolling(TimeSpan Interval, TimeSpan AppearTimeout);

/// <summary>
/// DispatchRestore: dispatches restore.yml (workflow_dispatch), finds the run it created and follows it to its
/// conclusion. GitHub's dispatch answers 204 with nothing, so the run is found by listing the workflow's
/// workflow_dispatch runs on that ref created since the dispatch that were not there before it.
/// </summary>
public sealed class RestoreDispatcher(GitHubApi api, TextWriter output, TimeProvider time)
{
    public const string Workflow = "restore.yml";

    /// <summary>Runs created up to this long before our clock's dispatch time still count (GitHub's clock is not ours).</summary>
    private static readonly TimeSpan ClockSkew = TimeSpan.FromMinutes(1);

    /// <summary>The local refusal, before anything talks to GitHub.</summary>
    public static void CheckConfirmation(RestoreDispatch request)
    {
        if (request.Confirm != request.Environment)
        {
            throw new PipelineException(
                $"DispatchRestore replaces data of {request.Environment}: confirm with --confirm {request.Environment}{(request.Confirm is null ? "" : $" (--confirm says '{request.Confirm}')")}");
        }
    }

    /// <summary>Dispatches, finds and follows the run; returns it when it concluded success, otherwise throws one line.</summary>
    public async Task<WorkflowRun> RunAsync(RestoreDispatch request, RunPolling polling, CancellationToken cancellationToken)
    {
        CheckConfirmation(request);
        var gitRef = request.Ref ?? (await api.CallAsync(
            $"reading the default branch of {api.Repository}", c => c.Repository.Get(api.Owner, api.Name), cancellationToken)).DefaultBranch;
        var before = (await DispatchRunsAsync(null, cancellationToken)).Select(r => r.Id).ToHashSet();
        var dispatchedAt = time.GetUtcNow();
        var inputs = new Dictionary<string, object>
        {
            ["environment"] = request.Environment,
            ["service"] = request.Service,
            ["backup"] = request.Backup,
            ["confirm"] = request.Confirm!,
        };
        await api.CallAsync(
            $"dispatching {Workflow} on {gitRef} (the token needs actions: write)",
            c => c.Actions.Workflows.CreateDispatch(api.Owner, api.Name, Workflow, new CreateWorkflowDispatch(gitRef) { Inputs = inputs }),
            cancellationToken);
        output.WriteLine($"Dispatched {Workflow} on {gitRef}: restore {request.Service} of {request.Environment} from {request.Backup}");

        WorkflowRun run;
        try
        {
            run = await FindRunAsync(gitRef, before, dispatchedAt, polling, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            output.WriteLine($"Stopped waiting for the run; {Workflow} was dispatched and runs on GitHub: see Actions of {api.Repository}");
            throw;
        }

        output.WriteLine($"{Workflow} run #{run.RunNumber}: {run.HtmlUrl}");
        return await FollowAsync(run, polling.Interval, cancellationToken);
    }

    private async Task<WorkflowRun> FindRunAsync(string gitRef, HashSet<long> before, DateTimeOffset dispatchedAt, RunPolling polling, CancellationToken cancellationToken)
    {
        var deadline = dispatchedAt + polling.AppearTimeout;
        while (true)
        {
            var created = await DispatchRunsAsync(dispatchedAt - ClockSkew, cancellationToken);
            var ours = created
                .Where(r => !before.Contains(r.Id) && r.Event == "workflow_dispatch" && (r.HeadBranch is null || r.HeadBranch == gitRef))
                .OrderBy(r => r.CreatedAt)
                .FirstOrDefault();
            if (ours is not null)
            {
                return ours;
            }

            if (time.GetUtcNow() >= deadline)
            {
                throw new PipelineException(
                    $"the dispatched {Workflow} run did not appear within {Schema.Duration.Format(polling.AppearTimeout)}: look for it under Actions of {api.Repository} on GitHub");
            }

            await Task.Delay(polling.Interval, time, cancellationToken);
        }
    }

    private async Task<IReadOnlyList<WorkflowRun>> DispatchRunsAsync(DateTimeOffset? since, CancellationToken cancellationToken)
    {
        var request = new WorkflowRunsRequest { Event = "workflow_dispatch" };
        if (since is { } from)
        {
            request.Created = ">=" + from.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
        }

        var response = await api.CallAsync(
            $"listing the runs of {Workflow} (the token needs actions: read; is {Workflow} on the default branch? GenerateWorkflows writes it)",
            c => c.Actions.Workflows.Runs.ListByWorkflow(api.Owner, api.Name, Workflow, request, new ApiOptions { PageSize = 30, PageCount = 1, StartPage = 1 }),
            cancellationToken);
        return response.WorkflowRuns;
    }

    /// <summary>Polls the run until it completes, printing each status change; Ctrl-C stops following, not the run.</summary>
    public async Task<WorkflowRun> FollowAsync(WorkflowRun run, TimeSpan interval, CancellationToken cancellationToken)
    {
        var label = $"{Workflow} run #{run.RunNumber}";
        string? shown = null;
        try
        {
            while (true)
            {
                var status = run.Status.StringValue;
                if (status != shown)
                {
                    output.WriteLine($"{time.GetUtcNow().UtcDateTime.ToString("HH:mm:ss", CultureInfo.InvariantCulture)}  {label}: {status}");
                    shown = status;
                }

                if (status == "completed")
                {
                    break;
                }

                await Task.Delay(interval, time, cancellationToken);
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
        if (conclusion != "success")
        {
            throw new PipelineException($"{label} concluded {conclusion}: {run.HtmlUrl}");
        }

        output.WriteLine($"{label} concluded success: {run.HtmlUrl}");
        return run;
    }
}
