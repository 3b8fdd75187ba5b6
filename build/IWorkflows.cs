using LlmStack.Backup;
using LlmStack.GitHub;
using LlmStack.GitHub.Workflows;
using LlmStack.Pipeline;
using LlmStack.Sessions;

/// <summary>
/// The GitHub Actions workflows, declared here next to the targets they run; GenerateWorkflows writes .github/workflows
/// from these declarations and the configurations (crons, environments, runner labels, services), CheckWorkflows fails
/// when the committed files differ. See docs/GITOPS.md.
/// </summary>
interface IWorkflows : IHazEnvironment
{
    const string Hosted = "ubuntu-latest";

    /// <summary>What a deploy is made from: a push to main that changes one of these deploys (schema, configurations, the build).</summary>
    static readonly string[] DeployInputs =
        ["schemas/**", "configs/**", "sql/**", "build/**", "src/**", "build.sh", "global.json", "Directory.Build.props", "Directory.Packages.props", "nuget.config"];

    IEnumerable<Workflow> Workflows(WorkflowSources sources)
    {
        const string sarif = "artifacts/security.sarif";
        yield return Workflow.Define("pr.yml", "Pull request")
            .OnPullRequest().OnPush("main")
            .Permission("contents", "read")
            // A newer push cancels the running check of the same pull request; a push to main has a group of its own.
            .Concurrent("pr-${{ github.event.pull_request.number || github.run_id }}", cancelInProgress: true)
            .Job("schema", "Schema, compose and docs", j => j.On(Hosted).Timeout(20).Setup().Build([nameof(ISchema.ValidateSchema), nameof(ISchema.GenerateCompose), nameof(ITesting.CheckDocs)]))
            .Job("security", "Secret scan", j => j.On(Hosted).Timeout(20).Permission("contents", "read").Permission("security-events", "write").Setup()
                .Build([nameof(ISecretScan.ValidateSecurity)], "--sarif", sarif)
                .Step(new WorkflowStep("Upload SARIF")
                {
                    // Also after findings (the scan fails), never without a file, never for a fork's pull request (its token cannot write).
                    If = $"always() && hashFiles('{sarif}') != '' && (github.event_name == 'push' || github.event.pull_request.head.repo.full_name == github.repository)",
                    Uses = ActionPins.UploadSarif,
                    With = [("sarif_file", sarif)],
                }))
            .Job("unit", "Unit tests", j => j.On(Hosted).Timeout(45).Setup().Build([nameof(ITests.TestTools), nameof(ITests.UnitTest)]))
            .Job("workflows", "Workflows up to date", j => j.On(Hosted).Timeout(20).Setup().Build([nameof(CheckWorkflows)]))
            .Job("monitoring", "Monitoring files up to date", j => j.On(Hosted).Timeout(20).Setup().Build([nameof(IMonitoring.CheckMonitoring)]));

        // Relative to the state directory, as the build resolves it.
        var metrics = sources.MetricsFile is { } file ? [Path.IsPathRooted(file) ? file : $"${{{{ {StatePaths.WorkflowVariable} }}}}/{file}"] : Array.Empty<string>();
        foreach (var environment in sources.Environments)
        {
            var labels = sources.RunnerLabels[environment];

            // One job, one plan, one process: the order is BackupCopy's and BackupVerify's declared After.
            yield return Workflow.Define($"backup-{environment}.yml", $"Backup {environment}")
                .OnSchedule(sources.BackupSchedules[environment]).OnDispatch()
                .Permission("contents", "read")
                .Job("backup", $"Backup {environment}", j => j.ForEnvironment(environment, labels, environment).Timeout(480)
                    .RunBuild([nameof(IBackup.BackupFull), nameof(IBackup.BackupCopy), nameof(IBackup.BackupVerify)], "--environment", environment)
                    .UploadLog($"backup-{environment}.yml", metrics))
                .Report("backup", environment);

            yield return Workflow.Define($"retention-{environment}.yml", $"Retention {environment}")
                .OnSchedule(sources.RetentionSchedules[environment]).OnDispatch()
                .Permission("contents", "read")
                .Job("retention", $"RetentionCleanup {environment}", j => j.ForEnvironment(environment, labels, environment).Timeout(180)
                    .RunBuild([nameof(IRetention.RetentionCleanup)], "--environment", environment, "--confirm", environment)
                    .UploadLog($"retention-{environment}.yml", metrics))
                .Report("retention", environment);

            // Deploy on push: the environment converges on main; production waits for its GitHub environment's reviewers.
            yield return Workflow.Define($"deploy-{environment}.yml", $"Deploy {environment}")
                .OnPushTo("main", DeployInputs).OnDispatch()
                .Permission("contents", "read")
                .Job("deploy", $"Deploy {environment}", j => j.ForEnvironment(environment, labels, environment).Timeout(120)
                    .RunBuildWithoutKey([nameof(IDeploy.Deploy)], "--environment", environment, "--confirm", environment)
                    .UploadLog($"deploy-{environment}.yml", []))
                .Report("deploy", environment);

            // Drift: what runs against the schema on main, read-only on the environment's runner; a difference fails the
            // check and the report job opens the environment's drift issue (closed by the next clean check).
            yield return Workflow.Define($"drift-{environment}.yml", $"Drift {environment}")
                .OnSchedule(sources.DriftSchedules[environment]).OnDispatch()
                .Permission("contents", "read")
                .Job("drift", $"CheckDrift {environment}", j => j.OnRunnerOf(labels).Timeout(30)
                    .RunBuildWithoutKey([nameof(IDeploy.CheckDrift)], "--environment", environment)
                    .UploadLog($"drift-{environment}.yml", []))
                .Report("drift", environment);

            yield return Workflow.Define($"restore-test-{environment}.yml", $"Restore test {environment}")
                .OnSchedule(sources.RestoreTestSchedule).OnDispatch()
                .Permission("contents", "read")
                .Job("restore-test", $"RestoreTest {environment}", j => j.ForEnvironment(environment, labels, environment).Timeout(120)
                    .RunBuild([nameof(IBackup.RestoreTest)], "--environment", environment)
                    .UploadLog($"restore-test-{environment}.yml", [.. metrics, $"${{{{ {StatePaths.WorkflowVariable} }}}}/artifacts/restore-test/{environment}/*.md", $"${{{{ {StatePaths.WorkflowVariable} }}}}/artifacts/restore-test/{environment}/*.json"]))
                .Report("restore-test", environment);
        }

        // The request is checked on a hosted runner before the approval-gated job: a typo never waits for a reviewer.
        var inputs = new (string Name, string Value)[] { ("ENVIRONMENT", "${{ inputs.environment }}"), ("SERVICE", "${{ inputs.service }}"), ("BACKUP", "${{ inputs.backup }}"), ("CONFIRM", "${{ inputs.confirm }}") };
        yield return Workflow.Define("restore.yml", "Restore")
            .NameRuns("Restore ${{ inputs.service }} in ${{ inputs.environment }}${{ inputs.dispatch_id != '' && format(' [{0}]', inputs.dispatch_id) || '' }}")
            .OnDispatch(
                WorkflowInput.Choice("environment", "The environment to restore into", sources.Environments),
                WorkflowInput.Choice("service", "The service to restore, or all for a whole backup set", [.. sources.BackedUpServices, RestoreDispatch.AllServices]),
                WorkflowInput.Text("backup", "A set id, a snapshot id or latest (service all: a set id, see BackupList)", "latest"),
                WorkflowInput.Text("confirm", "Type the environment's name again to confirm"),
                WorkflowInput.Text(RestoreDispatcher.DispatchIdInput, "Leave empty: DispatchRestore sets it to find its own run (shown in the run's title)", ""))
            .Permission("contents", "read")
            .Job("check", "Check the request", j => j.On(Hosted).Timeout(5)
                .Step(new WorkflowStep("Check the request")
                {
                    Env = [.. inputs, ("BACKUP_ID", RestorePlanner.BackupPattern), ("SET_ID", RestorePlanner.SetPattern)],
                    Run = $"""
                          if [ "$CONFIRM" != "$ENVIRONMENT" ]; then echo "::error::confirm must be the environment's name ($ENVIRONMENT): nothing was restored"; exit 1; fi
                          if [ "$SERVICE" = {RestoreDispatch.AllServices} ]; then
                            if ! [[ "$BACKUP" =~ $SET_ID ]]; then echo "::error::service {RestoreDispatch.AllServices} restores a whole backup set: give backup = a set id such as 20261129T201500Z-3fa2 (BackupList shows them); nothing was restored"; exit 1; fi
                          elif ! [[ "$BACKUP" =~ $BACKUP_ID ]]; then echo "::error::backup takes {RestorePlanner.Latest}, {RestorePlanner.LatestSafety}, a set id such as 20261129T201500Z-3fa2 or a snapshot id (8 to 64 hex digits; BackupList shows them); nothing was restored"; exit 1; fi
                          """,
                }))
            .Job("restore", "Restore ${{ inputs.service }} in ${{ inputs.environment }}", j => j
                .After("check")
                .ForEnvironment("${{ inputs.environment }}", [sources.RunnerLabelsExpression("inputs.environment")], "${{ inputs.environment }}")
                .Timeout(120)
                .RunBuild(nameof(IBackup.Restore),
                    WorkflowSteps.Command([nameof(IBackup.Restore)], "--environment", "\"$ENVIRONMENT\"", "--service", "\"$SERVICE\"", "--backup", "\"$BACKUP\"", "--confirm", "\"$CONFIRM\""),
                    condition: $"inputs.service != '{RestoreDispatch.AllServices}'", env: inputs)
                .RunBuild(nameof(IBackup.RestoreSet),
                    WorkflowSteps.Command([nameof(IBackup.RestoreSet)], "--environment", "\"$ENVIRONMENT\"", "--backup-set", "\"$BACKUP\"", "--confirm", "\"$CONFIRM\""),
                    condition: $"inputs.service == '{RestoreDispatch.AllServices}'", env: inputs)
                .UploadLog("restore.yml", []));
    }

    /// <summary>Every generated file under .github/, from the declarations above and the configurations.</summary>
    SortedDictionary<string, string> RenderWorkflows()
    {
        var sources = WorkflowSources.Load(SchemaFile, BackupConfig, RetentionConfig);
        return WorkflowFiles.Render(Workflows(sources), sources);
    }

    string WorkflowKey => WorkflowStaleness.Key(RootDirectory, typeof(IWorkflows).Assembly.ManifestModule.ModuleVersionId, [Schema, BackupConfig, RetentionConfig]);

    Target GenerateWorkflows => _ => _
        .Description("Write .github/workflows/*.yml and .github/actionlint.yaml from the declarations in build/IWorkflows.cs and the configurations (crons, environments, runner labels, services); byte-identical on a re-run; removes generated files no longer declared, never a hand-written one.")
        .Executes(() => WorkflowCommands.Generate(RootDirectory, RenderWorkflows(), () => WorkflowKey, Log));

    Target CheckWorkflows => _ => _
        .Description("Regenerate the workflows into a temporary directory and fail, naming every differing, missing or extra file, when the committed .github/ files differ.")
        .Executes(() => WorkflowCommands.Check(RootDirectory, RenderWorkflows(), Log));

    /// <summary>A local run warns once when the committed workflows no longer match the declarations (cheap: a stamp in .nuke/temp); Build calls it before the first target.</summary>
    void WarnWhenStale() =>
        WorkflowCommands.WarnWhenStale(RootDirectory, InvokedTargets.Select(t => t.Name), () => WorkflowKey, RenderWorkflows, Log);
}
