using LlmStack.GitHub;
using LlmStack.Pipeline;
using LlmStack.Reporting;
using LlmStack.Schema;
using LlmStack.Security;

/// <summary>The GitHub API side of GitOps (Octokit): dispatching restores, failure issues, workflow status. See docs/GITHUB-API.md.</summary>
partial class Build
{
    [Parameter("GitHub token for DispatchRestore, ReportFailure, WorkflowStatus and BackupStatus's workflow line", Sources = ParameterSources.Default | ParameterSources.BareVariable)]
    [Secret]
    readonly string? GitHubToken;

    [Parameter("GitHub repository as owner/name (default: the origin remote)", Sources = ParameterSources.Default | ParameterSources.BareVariable)]
    readonly string? GitHubRepository;

    [Parameter("GitHub API URL (default https://api.github.com/; Enterprise: https://HOST/api/v3)", Sources = ParameterSources.Default | ParameterSources.BareVariable)]
    readonly string? GitHubApiUrl;

    [Parameter("DispatchRestore: the branch or tag to run restore.yml from (default: the repository's default branch)")]
    readonly string? Ref;

    [Parameter("DispatchRestore: how often to poll GitHub for the run (5s, 500ms)")]
    readonly string PollInterval = "5s";

    [Parameter("DispatchRestore: how long the dispatched run may take to appear (2m)")]
    readonly string DispatchTimeout = "2m";

    [Parameter("ReportFailure: the workflow file (backup-production.yml)", Name = "Workflow")]
    readonly string? WorkflowFile;

    [Parameter("ReportFailure: the target that failed (also LLMSTACK_FAILED_TARGET; default: the failed target of this run)")]
    readonly string? FailedTarget;

    [Parameter("ReportFailure: a log file whose last 50 lines go into the issue, secrets masked")]
    readonly string? LogFile;

    [Parameter("ReportFailure: the workflow succeeded: close its open failure issue")]
    readonly bool Succeeded;

    Task<GitHubApi> GitHubAsync(CancellationToken ct) => GitHubClientFactory.CreateAsync(
        new GitHubSettings { Token = GitHubToken, Repository = GitHubRepository, ApiUrl = GitHubApiUrl, RootDirectory = RootDirectory, Masker = Secrets }, ct);

    Target DispatchRestore => _ => _
        .Description("Run restore.yml on GitHub (--environment, --service X or all, --backup, --confirm <environment>, [--ref]) and follow the run to its conclusion; non-zero unless it succeeds.")
        .Executes(async ct =>
        {
            var request = new RestoreDispatch(Environment, Service ?? "all", Backup, Confirm, Ref);
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
            RegisterEnvironmentSecrets();
            var others = ExecutionPlan.Where(t => t.Name != nameof(ReportFailure)).ToList();
            var outcome = new WorkflowOutcome(WorkflowFile!, Environment, FailedTarget ?? FailedTargets.FirstOrDefault()?.Name, LogFile is null ? null : Path.GetFullPath(LogFile, RootDirectory),
                FailureReporter.RunUrl(System.Environment.GetEnvironmentVariable));
            var reporter = new FailureReporter(await GitHubAsync(ct), Secrets, Out);
            if (Succeeded || (others.Count > 0 && others.All(t => t.Status is ExecutionStatus.Succeeded or ExecutionStatus.Skipped)))
            {
                await reporter.ResolveAsync(outcome, ct);
            }
            else
            {
                await reporter.ReportAsync(outcome, ct);
            }
        });

    Target WorkflowStatus => _ => _
        .Description("The last run of every generated workflow in .github/workflows (conclusion, age, URL; --json); non-zero when one failed or missed its schedule by over an hour.")
        .Executes(async ct => await new WorkflowStatusReport(await GitHubAsync(ct), Reports, TimeProvider.System)
            .RunAsync(Path.Combine(RootDirectory, ".github", "workflows"), ct));

    /// <summary>The environment's secret values, so a log tail that carries one is masked (the file is only read).</summary>
    void RegisterEnvironmentSecrets()
    {
        foreach (var value in SecretStore.Read(SecretStore.FileFor(RootDirectory, SecretsDir, Environment)).Values)
        {
            Secrets.Register(value);
        }
    }

    /// <summary>BackupStatus's GitHub line: only with a token, so without one nothing talks to the network.</summary>
    Func<string, CancellationToken, Task<string>>? ScheduledBackupRun => string.IsNullOrWhiteSpace(GitHubToken)
        ? null
        : async (workflow, ct) => await new WorkflowStatusReport(await GitHubAsync(ct), Reports, TimeProvider.System).LastRunLineAsync(workflow, ct);
}
