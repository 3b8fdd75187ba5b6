using LlmStack.GitHub;
using LlmStack.Pipeline;
using LlmStack.Schema;
using LlmStack.Security;

/// <summary>
/// The GitHub API side of GitOps (Octokit): dispatching restores, failure issues, workflow status. See docs/GITHUB-API.md.
/// DispatchRestore is Restore run by restore.yml, so this component extends IBackup for --backup.
/// </summary>
interface IGitHub : IBackup
{
    [Parameter("DispatchRestore: the branch or tag to run restore.yml from (default: the repository's default branch)")]
    string? Ref => TryGetValue(() => Ref);

    [Parameter("DispatchRestore: the first wait between polls of the run (10s, the floor; 30s): an unchanged status waits longer, up to 1m running, 2m queued or waiting")]
    string PollInterval => TryGetValue(() => PollInterval) ?? "10s";

    [Parameter("DispatchRestore: how long the dispatched run may take to appear (2m)")]
    string DispatchTimeout => TryGetValue(() => DispatchTimeout) ?? "2m";

    [Parameter("ReportFailure: the workflow file (backup-production.yml)", Name = "Workflow")]
    string? WorkflowFile => TryGetValue(() => WorkflowFile);

    [Parameter("ReportFailure: the target that failed (also LLMSTACK_FAILED_TARGET; default: the failed target of this run)")]
    string? FailedTarget => TryGetValue(() => FailedTarget);

    [Parameter("ReportFailure: a log file whose last 50 lines go into the issue, secrets masked")]
    string? LogFile => TryGetValue(() => LogFile);

    [Parameter("ReportFailure: the workflow succeeded: close its open failure issue")]
    bool Succeeded => TryGetValue<bool?>(() => Succeeded) ?? false;

    Target DispatchRestore => _ => _
        .Description("Run restore.yml on GitHub (--environment, --service X or all, --backup, --confirm <environment>, [--ref]) and follow the run to its conclusion; non-zero unless it succeeds.")
        .Executes(async ct =>
        {
            var request = new RestoreDispatch(Environment, Service ?? RestoreDispatch.AllServices, Backup, Confirm, Ref);
            RestoreDispatcher.CheckConfirmation(request);
            var polling = new RunPolling(Duration.ParseParameter("--poll-interval", PollInterval), Duration.ParseParameter("--dispatch-timeout", DispatchTimeout));
            var run = await new RestoreDispatcher(await GitHubAsync(ct), Out, TimeProvider.System).RunAsync(request, polling, ct);
            ReportSummary("Run", run.HtmlUrl);
        });

    Target ReportFailure => _ => _
        .Description("Open (or comment on) the issue of a failing --workflow in the environment, with the failed target, run URL and log tail; --succeeded closes it. With other targets in the run, their outcome decides.")
        .Requires(() => WorkflowFile)
        .AssuredAfterFailure()
        .Executes(async ct =>
        {
            // The environment's secret values, so a log tail that carries one is masked.
            SecretStore.Mask(SecretStore.FileFor(State.Repository, State.Secrets, Environment), Secrets);
            var outcome = new WorkflowOutcome(WorkflowFile!, Environment, FailedTarget ?? FailedTargets.FirstOrDefault()?.Name, LogFile is null ? null : Path.GetFullPath(LogFile, RootDirectory),
                FailureReporter.RunUrl(System.Environment.GetEnvironmentVariable));
            await new FailureReporter(await GitHubAsync(ct), Secrets, Out)
                .ReportOrResolveAsync(outcome, Succeeded, ExecutionPlan.Where(t => t.Name != nameof(ReportFailure)).Select(t => t.Status).ToList(), ct);
        });

    /// <summary>Under GitHub Actions, the run's failed target as a step output (GITHUB_OUTPUT) for the report job; Build calls it when the run ends.</summary>
    void WriteStepOutputs() => StepOutputs.Write(name => Variables.GetValueOrDefault(name), ExecutionPlan);

    Target WorkflowStatus => _ => _
        .Description("The last run on the default branch of every generated workflow in .github/workflows (state, age, URL; --json); non-zero when one failed, was cancelled or waits for approval, or missed its schedule by over an hour.")
        .Executes(async ct => await new WorkflowStatusReport(await GitHubAsync(ct), Reports, TimeProvider.System)
            .RunAsync(Path.Combine(RootDirectory, ".github", "workflows"), ct));
}
