namespace LlmStack.GitHub.Workflows;

/// <summary>The steps and job settings the declarations share: set-up, a build run, the environment's job settings, the failure report.</summary>
public static class WorkflowSteps
{
    /// <summary>The GitHub token the ReportFailure target reads (the job's own, with issues: write).</summary>
    public const string TokenVariable = "GITHUB_TOKEN";

    /// <summary>Checkout, the SDK of global.json, and the NuGet cache keyed on the package versions and project files.</summary>
    public static WorkflowJob Setup(this WorkflowJob job) => job
        .Step(new WorkflowStep("Check out") { Uses = ActionPins.Checkout })
        .Step(new WorkflowStep("Set up .NET") { Uses = ActionPins.SetupDotnet, With = [("global-json-file", "global.json")] })
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

    /// <summary>The job's build output, kept for ReportFailure's log tail (RUNNER_TEMP is the job's own).</summary>
    public const string LogFile = "\"$RUNNER_TEMP/llmstack.log\"";

    /// <summary>
    /// A step running <c>./build.sh &lt;targets&gt; &lt;arguments&gt;</c>, its output also appended to <see cref="LogFile"/>
    /// (never a secret on the command line: those are variables).
    /// </summary>
    public static WorkflowJob Build(this WorkflowJob job, string[] targets, params string[] arguments) =>
        job.Step(new WorkflowStep(string.Join(" ", targets)) { Run = $"set -o pipefail; {string.Join(" ", ["./build.sh", .. targets, .. arguments])} 2>&1 | tee -a {LogFile}" });

    /// <summary>
    /// A job that touches an environment: its GitHub environment (secrets, required reviewers), one run per environment at a
    /// time (never cancelled half-way), its runner, the backup key from the environment's secrets and the secrets directory
    /// of the self-hosted host from a repository variable.
    /// </summary>
    public static WorkflowJob ForEnvironment(this WorkflowJob job, string environment, IEnumerable<string> runnerLabels, string concurrencyEnvironment) => job
        .On([.. runnerLabels])
        .InEnvironment(environment)
        .Permission("contents", "read")
        .Concurrent($"llmstack-{concurrencyEnvironment}", cancelInProgress: false)
        .Variable("LLMSTACK_BACKUP_KEY", "${{ secrets.LLMSTACK_BACKUP_KEY }}")
        .Variable("LLMSTACK_SECRETS_DIR", "${{ vars.LLMSTACK_SECRETS_DIR }}");

    /// <summary>
    /// The last steps of a scheduled job: on failure, ReportFailure opens or comments on the issue of this workflow and
    /// environment (the job's target and the tail of its log); when <paramref name="closesOnSuccess"/> (the workflow's last
    /// job), a success closes that issue.
    /// </summary>
    public static WorkflowJob ReportFailure(this WorkflowJob job, string workflowFile, string environment, string target, bool closesOnSuccess = true)
    {
        job.Permission("issues", "write")
            .Step(new WorkflowStep("Report the failure")
            {
                If = "failure()",
                Run = $"./build.sh ReportFailure --workflow {workflowFile} --environment {environment} --failed-target {target} --log-file {LogFile}",
                Env = [(TokenVariable, "${{ secrets.GITHUB_TOKEN }}")],
            });
        return closesOnSuccess
            ? job.Step(new WorkflowStep("Close the failure report")
            {
                If = "success()",
                Run = $"./build.sh ReportFailure --workflow {workflowFile} --environment {environment} --succeeded",
                Env = [(TokenVariable, "${{ secrets.GITHUB_TOKEN }}")],
            })
            : job;
    }

    /// <summary>The run's logs, reports and metrics as an artifact, also when the job failed.</summary>
    public static WorkflowJob UploadReports(this WorkflowJob job, string name, IEnumerable<string> paths) => job
        .Step(new WorkflowStep("Upload reports")
        {
            If = "always()",
            Uses = ActionPins.UploadArtifact,
            With = [("name", name), ("path", string.Join("\n", paths)), ("if-no-files-found", "ignore"), ("include-hidden-files", "true")],
        });
}
