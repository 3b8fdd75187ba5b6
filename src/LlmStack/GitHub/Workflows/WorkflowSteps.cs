using LlmStack.Sessions;

namespace LlmStack.GitHub.Workflows;

/// <summary>
/// The steps and jobs the declarations share: set-up, a build step, the environment job (one per environment workflow:
/// one plan of targets in one process), its log artifact, and the report job on a GitHub-hosted runner.
/// </summary>
public static class WorkflowSteps
{
    /// <summary>The GitHub token the ReportFailure target reads (the report job's own, with issues: write).</summary>
    public const string TokenVariable = "GITHUB_TOKEN";

    /// <summary>The build step of an environment job (its outputs are read by id).</summary>
    public const string BuildStepId = "build";

    /// <summary>The job output naming the target that failed (or was cancelled), written by the build itself (<see cref="StepOutputs"/>).</summary>
    public const string FailedTargetOutput = StepOutputs.FailedTarget;

    /// <summary>Where an environment job's build writes build.log and build.json (LLMSTACK_LOG_DIRECTORY): the job's own temporary directory.</summary>
    public const string LogDirectory = "${{ runner.temp }}/llmstack-logs";

    /// <summary>The same directory as the report job's shell sees it (the downloaded artifact).</summary>
    public const string LogFile = "\"$RUNNER_TEMP/llmstack-logs/build.log\"";

    /// <summary>How long log artifacts are kept (days).</summary>
    public const int ArtifactRetentionDays = 30;

    /// <summary>
    /// Checkout (no token left in <c>.git/config</c>), the SDK of global.json installed under the runner's tool cache
    /// (writable by a non-root runner user; setup-dotnet's default <c>/usr/share/dotnet</c> is not), and the NuGet cache
    /// keyed on the package versions and project files.
    /// </summary>
    public static WorkflowJob Setup(this WorkflowJob job) => job
        .Step(new WorkflowStep("Check out") { Uses = ActionPins.Checkout, With = [("persist-credentials", "false")] })
        .Step(new WorkflowStep("Set up .NET")
        {
            Uses = ActionPins.SetupDotnet,
            With = [("global-json-file", "global.json")],
            Env = [("DOTNET_INSTALL_DIR", "${{ runner.tool_cache }}/dotnet")],
        })
        .Step(new WorkflowStep("NuGet cache")
        {
            Uses = ActionPins.Cache,
            With =
            [
                ("path", "~/.nuget/packages"),
                ("key", "nuget-${{ runner.os }}-${{ hashFiles('Directory.Packages.props', '**/*.csproj') }}"),
                ("restore-keys", "nuget-${{ runner.os }}-"),
            ],
        });

    /// <summary>
    /// <c>exec ./build.sh &lt;targets&gt; &lt;arguments&gt;</c>: the build replaces the step's shell, so the runner's SIGINT (and
    /// SIGTERM 7.5 s later) on a cancel or a timeout reaches the build itself, which stops the running target and cleans up
    /// (paused services resumed, helpers removed) before it exits. No pipe: the build writes its own log.
    /// </summary>
    public static string Command(IEnumerable<string> targets, params string[] arguments) =>
        "exec " + string.Join(" ", ["./build.sh", .. targets, .. arguments]);

    /// <summary>A build step on a hosted runner (nothing of an environment).</summary>
    public static WorkflowJob Build(this WorkflowJob job, string[] targets, params string[] arguments) =>
        job.Step(new WorkflowStep(string.Join(" ", targets)) { Run = Command(targets, arguments) });

    /// <summary>
    /// A job that touches an environment: its runner, its GitHub environment (secrets, required reviewers, deployment
    /// branches), one job per environment at a time (never cancelled half-way), the state and secrets directories of the
    /// runner host from repository variables (never a secret at job level), a first step that stops when the state
    /// directory is not set, then the set-up.
    /// </summary>
    public static WorkflowJob ForEnvironment(this WorkflowJob job, string environment, IEnumerable<string> runnerLabels, string concurrencyEnvironment) => job
        .InEnvironment(environment)
        .Concurrent($"llmstack-{concurrencyEnvironment}", cancelInProgress: false)
        .OnRunnerOf(runnerLabels);

    /// <summary>
    /// A job that only reads an environment on its runner (the drift check): no GitHub environment (so no approval and no
    /// environment secret), no concurrency group (a pending check must never replace a pending deploy or backup); the
    /// runner host's state and secrets directories as every environment job has them.
    /// </summary>
    public static WorkflowJob OnRunnerOf(this WorkflowJob job, IEnumerable<string> runnerLabels) => job
        .On([.. runnerLabels])
        .Permission("contents", "read")
        .Variable(StatePaths.Variable, $"${{{{ {StatePaths.WorkflowVariable} }}}}")
        .Variable("LLMSTACK_SECRETS_DIR", "${{ vars.LLMSTACK_SECRETS_DIR }}")
        .Step(new WorkflowStep("Check the runner's variables")
        {
            Run = $"if [ -z \"${StatePaths.Variable}\" ]; then echo \"::error::the repository variable {StatePaths.Variable} is empty: set it to an absolute directory on the runner host outside the checkout, e.g. {StatePaths.RunnerDefault} (docs/GITOPS.md); nothing ran\"; exit 1; fi",
        })
        .Setup();

    /// <summary>
    /// The build step of an environment job: the only step that sees the backup key (from the environment's secrets); the
    /// build writes its log under <see cref="LogDirectory"/>. <paramref name="env"/> carries workflow inputs (never spliced
    /// into the command).
    /// </summary>
    public static WorkflowJob RunBuild(this WorkflowJob job, string name, string run, string? id = null, string? condition = null, IReadOnlyList<(string Name, string Value)>? env = null, bool backupKey = true) => job
        .Step(new WorkflowStep(name)
        {
            Id = id,
            If = condition,
            Env = [.. backupKey ? [("LLMSTACK_BACKUP_KEY", "${{ secrets.LLMSTACK_BACKUP_KEY }}")] : Array.Empty<(string, string)>(), ("LLMSTACK_LOG_DIRECTORY", LogDirectory), .. env ?? []],
            Run = run,
        });

    /// <summary>The build step of a scheduled environment job, its failed target a job output for the report job.</summary>
    public static WorkflowJob RunBuild(this WorkflowJob job, string[] targets, params string[] arguments) => job
        .RunBuild(string.Join(" ", targets), Command(targets, arguments), BuildStepId)
        .Output(FailedTargetOutput, $"${{{{ steps.{BuildStepId}.outputs.{FailedTargetOutput} }}}}");

    /// <summary>The build step of a job that needs no backup key (a deploy, the drift check): the key is not in its environment at all.</summary>
    public static WorkflowJob RunBuildWithoutKey(this WorkflowJob job, string[] targets, params string[] arguments) => job
        .RunBuild(string.Join(" ", targets), Command(targets, arguments), BuildStepId, backupKey: false)
        .Output(FailedTargetOutput, $"${{{{ steps.{BuildStepId}.outputs.{FailedTargetOutput} }}}}");

    /// <summary>An artifact's name: unique per run attempt, so a re-run never collides with the first attempt's.</summary>
    public static string ArtifactName(string workflowFile, string kind) => $"{Path.GetFileNameWithoutExtension(workflowFile)}-{kind}-${{{{ github.run_id }}}}-${{{{ github.run_attempt }}}}";

    /// <summary>
    /// The build's log directory as an artifact (what the report job downloads), then <paramref name="reports"/> (restore
    /// test reports, the metrics file) as another, both also after a failure or a cancel, kept
    /// <see cref="ArtifactRetentionDays"/> days; an upload that fails or finds nothing never fails the job.
    /// </summary>
    public static WorkflowJob UploadLog(this WorkflowJob job, string workflowFile, IReadOnlyList<string> reports)
    {
        job.Step(Upload("Upload the log", ArtifactName(workflowFile, "log"), [LogDirectory + "/"]));
        return reports.Count == 0 ? job : job.Step(Upload("Upload the reports", ArtifactName(workflowFile, "reports"), reports));
    }

    private static WorkflowStep Upload(string name, string artifact, IEnumerable<string> paths) => new(name)
    {
        If = "always()",
        ContinueOnError = true,
        Uses = ActionPins.UploadArtifact,
        With =
        [
            ("name", artifact),
            ("path", string.Join("\n", paths)),
            ("if-no-files-found", "ignore"),
            ("retention-days", ArtifactRetentionDays.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        ],
    };

    /// <summary>
    /// The last job of a scheduled workflow, on a GitHub-hosted runner, so a failed set-up, an offline runner or a cancel is
    /// reported as well: it runs whatever the environment job did (<c>always()</c>), downloads its log, and runs
    /// ReportFailure — which opens or comments on the issue of this workflow and environment, or closes it when the
    /// environment job succeeded. The only job with <c>issues: write</c>.
    /// </summary>
    public static Workflow Report(this Workflow workflow, string environmentJob, string environment) => workflow
        .Job("report", $"Report {environment}", j => j
            .On("ubuntu-latest")
            .After(environmentJob)
            .When("always()")
            .Permission("contents", "read")
            .Permission("issues", "write")
            .Timeout(20)
            .Setup()
            .Step(new WorkflowStep("Download the log")
            {
                ContinueOnError = true,
                Uses = ActionPins.DownloadArtifact,
                With = [("name", ArtifactName(workflow.FileName, "log")), ("path", LogDirectory)],
            })
            .Step(new WorkflowStep("Close the failure report")
            {
                If = $"needs.{environmentJob}.result == 'success'",
                Env = [(TokenVariable, "${{ secrets.GITHUB_TOKEN }}")],
                Run = Command(["ReportFailure"], "--workflow", workflow.FileName, "--environment", environment, "--succeeded"),
            })
            .Step(new WorkflowStep("Report the failure")
            {
                If = $"needs.{environmentJob}.result != 'success'",
                Env = [(TokenVariable, "${{ secrets.GITHUB_TOKEN }}"), ("LLMSTACK_FAILED_TARGET", $"${{{{ needs.{environmentJob}.outputs.{FailedTargetOutput} }}}}")],
                Run = Command(["ReportFailure"], "--workflow", workflow.FileName, "--environment", environment, "--log-file", LogFile),
            }));
}
