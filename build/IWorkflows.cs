using LlmStack.GitHub;
using LlmStack.GitHub.Workflows;
using LlmStack.Pipeline;

/// <summary>
/// The GitHub Actions workflows, declared here next to the targets they run; GenerateWorkflows writes .github/workflows
/// from these declarations and the configurations (crons, environments, runner labels, services), CheckWorkflows fails
/// when the committed files differ. See docs/GITOPS.md.
/// </summary>
interface IWorkflows : IHazEnvironment
{
    const string Hosted = "ubuntu-latest";

    IEnumerable<Workflow> Workflows(WorkflowSources sources)
    {
        yield return Workflow.Define("pr.yml", "Pull request")
            .OnPullRequest().OnPush("main")
            .Permission("contents", "read")
            .Concurrent("pr-${{ github.event.pull_request.number || github.ref }}", cancelInProgress: true)
            .Job("schema", "Schema and compose", j => j.On(Hosted).Timeout(20).Setup().Build([nameof(ISchema.ValidateSchema), nameof(ISchema.GenerateCompose)]))
            .Job("security", "Secret scan", j => j.On(Hosted).Timeout(20).Permission("contents", "read").Permission("security-events", "write").Setup()
                .Build([nameof(ISecretScan.ValidateSecurity)], "--sarif", "artifacts/security.sarif")
                .Step(new WorkflowStep("Upload SARIF") { If = "always()", Uses = ActionPins.UploadSarif, With = [("sarif_file", "artifacts/security.sarif")] }))
            .Job("unit", "Unit tests", j => j.On(Hosted).Timeout(45).Setup().Build([nameof(ITests.TestTools), nameof(ITests.UnitTest)]))
            .Job("workflows", "Workflows up to date", j => j.On(Hosted).Timeout(20).Setup().Build([nameof(CheckWorkflows)]));

        var reports = new[] { ".nuke/temp/build.log", ".nuke/temp/build.json", "artifacts/" }.Concat(sources.MetricsFile is { } metrics ? [metrics] : []).ToList();
        foreach (var environment in sources.Environments)
        {
            var labels = sources.RunnerLabels[environment];
            var backup = $"backup-{environment}.yml";
            yield return Workflow.Define(backup, $"Backup {environment}")
                .OnSchedule(sources.BackupSchedules[environment]).OnDispatch()
                .Permission("contents", "read")
                .Job("full", $"BackupFull {environment}", j => j.ForEnvironment(environment, labels, environment).Timeout(180).Setup()
                    .Build([nameof(IBackup.BackupFull)], "--environment", environment).UploadReports($"backup-full-{environment}", reports).ReportFailure(backup, environment, nameof(IBackup.BackupFull), closesOnSuccess: false))
                .Job("copy", $"BackupCopy {environment}", j => j.After("full").ForEnvironment(environment, labels, environment).Timeout(180).Setup()
                    .Build([nameof(IBackup.BackupCopy)], "--environment", environment).UploadReports($"backup-copy-{environment}", reports).ReportFailure(backup, environment, nameof(IBackup.BackupCopy), closesOnSuccess: false))
                .Job("verify", $"BackupVerify {environment}", j => j.After("copy").ForEnvironment(environment, labels, environment).Timeout(120).Setup()
                    .Build([nameof(IBackup.BackupVerify)], "--environment", environment).UploadReports($"backup-verify-{environment}", reports).ReportFailure(backup, environment, nameof(IBackup.BackupVerify)));

            var retention = $"retention-{environment}.yml";
            yield return Workflow.Define(retention, $"Retention {environment}")
                .OnSchedule(sources.RetentionSchedules[environment]).OnDispatch()
                .Permission("contents", "read")
                .Job("cleanup", $"RetentionCleanup {environment}", j => j.ForEnvironment(environment, labels, environment).Timeout(120).Setup()
                    .Build([nameof(IRetention.RetentionCleanup)], "--environment", environment, "--confirm", environment)
                    .UploadReports($"retention-{environment}", reports).ReportFailure(retention, environment, nameof(IRetention.RetentionCleanup)));
        }

        yield return sources.Environments.Aggregate(
            Workflow.Define("restore-test.yml", "Restore test").OnSchedule(sources.RestoreTestSchedule).OnDispatch().Permission("contents", "read"),
            (workflow, environment) => workflow.Job($"restore-test-{environment}", $"RestoreTest {environment}", j => j
                .ForEnvironment(environment, sources.RunnerLabels[environment], environment).Timeout(120).Setup()
                .Build([nameof(IBackup.RestoreTest)], "--environment", environment)
                .UploadReports($"restore-test-{environment}", reports).ReportFailure("restore-test.yml", environment, nameof(IBackup.RestoreTest))));

        yield return Workflow.Define("restore.yml", "Restore")
            .NameRuns("Restore ${{ inputs.service }} in ${{ inputs.environment }}${{ inputs.dispatch_id != '' && format(' [{0}]', inputs.dispatch_id) || '' }}")
            .OnDispatch(
                WorkflowInput.Choice("environment", "The environment to restore into", sources.Environments),
                WorkflowInput.Choice("service", "The service to restore, or all for a whole backup set", [.. sources.BackedUpServices, RestoreDispatch.AllServices]),
                WorkflowInput.Text("backup", "A set id, a snapshot id or latest (service all: a set id, see BackupList)", "latest"),
                WorkflowInput.Text("confirm", "Type the environment's name again to confirm"),
                WorkflowInput.Text(RestoreDispatcher.DispatchIdInput, "Leave empty: DispatchRestore sets it to find its own run (shown in the run's title)", ""))
            .Permission("contents", "read")
            .Job("restore", "Restore ${{ inputs.service }} in ${{ inputs.environment }}", j => j
                .ForEnvironment("${{ inputs.environment }}", [.. WorkflowSources.SelfHostedLabels, "${{ inputs.environment }}"], "${{ inputs.environment }}")
                .Timeout(120)
                .Step(new WorkflowStep("Confirm")
                {
                    Env = [("ENVIRONMENT", "${{ inputs.environment }}"), ("CONFIRM", "${{ inputs.confirm }}"), ("SERVICE", "${{ inputs.service }}"), ("BACKUP", "${{ inputs.backup }}")],
                    Run = $"""
                          if [ "$CONFIRM" != "$ENVIRONMENT" ]; then echo "::error::confirm must be the environment's name ($ENVIRONMENT): nothing was restored"; exit 1; fi
                          if [ "$SERVICE" = {RestoreDispatch.AllServices} ] && [ "$BACKUP" = latest ]; then echo "::error::service {RestoreDispatch.AllServices} restores a whole backup set: give backup = a set id (BackupList shows them)"; exit 1; fi
                          """,
                })
                .Setup()
                .Step(new WorkflowStep(nameof(IBackup.Restore))
                {
                    If = $"inputs.service != '{RestoreDispatch.AllServices}'",
                    Env = [("ENVIRONMENT", "${{ inputs.environment }}"), ("SERVICE", "${{ inputs.service }}"), ("BACKUP", "${{ inputs.backup }}"), ("CONFIRM", "${{ inputs.confirm }}")],
                    Run = $"./build.sh {nameof(IBackup.Restore)} --environment \"$ENVIRONMENT\" --service \"$SERVICE\" --backup \"$BACKUP\" --confirm \"$CONFIRM\"",
                })
                .Step(new WorkflowStep(nameof(IBackup.RestoreSet))
                {
                    If = $"inputs.service == '{RestoreDispatch.AllServices}'",
                    Env = [("ENVIRONMENT", "${{ inputs.environment }}"), ("BACKUP", "${{ inputs.backup }}"), ("CONFIRM", "${{ inputs.confirm }}")],
                    Run = $"./build.sh {nameof(IBackup.RestoreSet)} --environment \"$ENVIRONMENT\" --backup-set \"$BACKUP\" --confirm \"$CONFIRM\"",
                })
                .UploadReports("restore-${{ inputs.environment }}", reports));
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
