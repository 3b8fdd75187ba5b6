using LlmStack.Backup;
using LlmStack.Sessions;

namespace LlmStack.Tests.Sessions;

/// <summary>Where persistent state lives (--state-dir, --secrets-dir), and the refusal of a state directory a CI checkout would delete.</summary>
public class StatePathsTests
{
    /// <summary>Every kind of persistent state a run keeps, as the code that keeps it asks for it.</summary>
    private static IReadOnlyDictionary<string, string> Kinds(StatePaths state) => new Dictionary<string, string>
    {
        ["audit log"] = state.AuditLog,
        ["retention record"] = state.RetentionRecord("production"),
        ["backup catalog cache"] = state.BackupCatalogCache,
        ["restore test reports"] = state.RestoreTestReports,
        ["restored files"] = state.RestoredFiles,
        ["tape catalog"] = state.TapeCatalog(null, "production"),
        ["secrets directory"] = state.Secrets,
        ["tier credentials"] = state.SecretsFile("s3-backup.env"),
        ["backup key"] = BackupKeys.DefaultFile(state, "production"),
        ["local tier"] = BackupPlanner.Resolve("local", new TierDefinition { Kind = "local", Path = "backups" }, "production", state).Repository,
        ["metrics file"] = state.Resolve("metrics/llmstack_backup.prom"),
        ["key file"] = state.Resolve("keys/production.key"),
    };

    [Fact]
    public void By_default_the_state_directory_is_the_repository_root_and_every_file_stays_where_it_always_was()
    {
        var state = StatePaths.Of("/repo");
        state.Directory.Should().Be("/repo");
        Kinds(state).Should().Equal(new Dictionary<string, string>
        {
            ["audit log"] = "/repo/audit/audit.jsonl",
            ["retention record"] = "/repo/.nuke/temp/retention-production.json",
            ["backup catalog cache"] = "/repo/.nuke/temp/backup-manifests",
            ["restore test reports"] = "/repo/artifacts/restore-test",
            ["restored files"] = "/repo/artifacts/restore",
            ["tape catalog"] = "/repo/backups/tape-catalog/production",
            ["secrets directory"] = "/repo/secrets",
            ["tier credentials"] = "/repo/secrets/s3-backup.env",
            ["backup key"] = "/repo/secrets/production.backup-key",
            ["local tier"] = "/repo/backups/production",
            ["metrics file"] = "/repo/metrics/llmstack_backup.prom",
            ["key file"] = "/repo/keys/production.key",
        });
    }

    [Theory]
    [InlineData("/var/lib/llmstack", "/var/lib/llmstack")]
    [InlineData("../llmstack-state", "/work/llmstack-state")]
    public void Every_kind_of_state_resolves_under_the_state_directory(string given, string expected)
    {
        var state = StatePaths.Of("/work/repo", given);
        state.Directory.Should().Be(expected, "a relative --state-dir is taken from the repository root");
        foreach (var (kind, path) in Kinds(state))
        {
            path.Should().StartWith(expected + "/", kind);
        }

        state.Input("ca.pem").Should().Be("/work/repo/ca.pem", "inputs of the repository stay in it");
        state.Cache("restic-cache").Should().Be("/work/repo/.nuke/temp/restic-cache", "a cache that can be rebuilt stays in the checkout");
    }

    [Fact]
    public void Absolute_paths_are_kept_and_a_relative_secrets_directory_is_under_the_state_directory()
    {
        var state = StatePaths.Of("/repo", "/var/lib/llmstack", "/etc/llmstack/secrets");
        state.Secrets.Should().Be("/etc/llmstack/secrets");
        BackupKeys.DefaultFile(state, "staging").Should().Be("/etc/llmstack/secrets/staging.backup-key");
        state.Resolve("/srv/backups").Should().Be("/srv/backups");
        state.TapeCatalog("/srv/catalog", "staging").Should().Be("/srv/catalog/staging");
        state.Input("/etc/ssl/ca.pem").Should().Be("/etc/ssl/ca.pem");
        StatePaths.Of("/repo", "/var/lib/llmstack", "vault").Secrets.Should().Be("/var/lib/llmstack/vault");
        StatePaths.Of("/repo", "", "").Should().Be(StatePaths.Of("/repo"), "an empty variable (an unset repository variable) is not given");
    }

    private static Func<string, string?> Actions(string workspace, string runner = "self-hosted") => new Dictionary<string, string?>
    {
        ["GITHUB_ACTIONS"] = "true", ["GITHUB_WORKSPACE"] = workspace, ["RUNNER_ENVIRONMENT"] = runner,
    }.GetValueOrDefault;

    [Fact]
    public void Under_GitHub_Actions_a_state_directory_inside_the_checkout_is_refused_in_one_line_naming_it_and_the_fix()
    {
        var refusal = StatePaths.Of("/runner/_work/stack/stack").Refusal(Actions("/runner/_work/stack/stack"));
        refusal.Should().Be(
            "the state directory /runner/_work/stack/stack is inside the checkout (/runner/_work/stack/stack), which actions/checkout cleans before every job: "
            + "set vars.LLMSTACK_STATE_DIR to an absolute directory outside it, e.g. /var/lib/llmstack (docs/GITOPS.md)");
        StatePaths.Of("/runner/_work/stack/stack", "state").Refusal(Actions("/runner/_work/stack/stack")).Should().StartWith("the state directory /runner/_work/stack/stack/state is inside");

        var secrets = StatePaths.Of("/runner/_work/stack/stack", "/var/lib/llmstack", "/runner/_work/stack/stack/secrets").Refusal(Actions("/runner/_work/stack/stack"));
        secrets.Should().Be(
            "the secrets directory /runner/_work/stack/stack/secrets is inside the checkout (/runner/_work/stack/stack), which actions/checkout cleans before every job: "
            + "set vars.LLMSTACK_SECRETS_DIR to an absolute directory outside it, or leave it empty for /var/lib/llmstack/secrets (docs/GITOPS.md)");
        foreach (var line in new[] { refusal!, secrets! })
        {
            line.Should().NotContain("\n");
        }
    }

    [Fact]
    public void Outside_the_checkout_outside_GitHub_Actions_and_on_a_hosted_runner_nothing_is_refused()
    {
        StatePaths.Of("/runner/_work/stack/stack", "/var/lib/llmstack").Refusal(Actions("/runner/_work/stack/stack")).Should().BeNull();
        StatePaths.Of("/runner/_work/stack/stack", "/runner/_work/stack/stack-state").Refusal(Actions("/runner/_work/stack/stack")).Should().BeNull("a sibling whose name starts alike is outside");
        StatePaths.Of("/runner/_work/stack/stack").Refusal(Actions("/runner/_work/stack/stack", runner: "github-hosted")).Should().BeNull("a hosted runner is a new machine for every job");
        StatePaths.Of("/home/dev/stack").Refusal(_ => null).Should().BeNull("a developer's checkout keeps its state in it");
    }

    [Fact]
    public async Task A_run_under_GitHub_Actions_with_its_state_in_the_checkout_is_refused_before_any_target_and_runs_once_it_is_outside()
    {
        var root = BuildRun.ScratchRoot("state-refusal");
        var state = Repository.TempDirectory("state-outside");
        try
        {
            var actions = new Dictionary<string, string> { ["GITHUB_ACTIONS"] = "true", ["GITHUB_WORKSPACE"] = root, ["RUNNER_ENVIRONMENT"] = "self-hosted" };
            var (code, output) = await BuildRun.RunWithAsync(root, actions, "ValidateSchema");
            code.Should().Be(1, output);
            output.Should().Contain($"the state directory {root} is inside the checkout ({root}), which actions/checkout cleans before every job: set vars.LLMSTACK_STATE_DIR to an absolute directory outside it, e.g. /var/lib/llmstack (docs/GITOPS.md)")
                .And.NotContain("Exception").And.NotContain("   at ");
            output.Should().NotMatchRegex(@"ValidateSchema\s+Succeeded", "nothing ran");

            var (outside, text) = await BuildRun.RunWithAsync(root, new Dictionary<string, string>(actions) { [StatePaths.Variable] = state }, "ValidateSchema");
            outside.Should().Be(0, text);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
            Directory.Delete(state, recursive: true);
        }
    }

    [Fact]
    public async Task Under_GitHub_Actions_the_run_names_its_failed_target_as_a_step_output_for_the_report_job()
    {
        var root = BuildRun.ScratchRoot("step-outputs");
        try
        {
            var outputs = Path.Combine(root, "github-output");
            var (code, _) = await BuildRun.RunWithAsync(root, new Dictionary<string, string> { ["GITHUB_OUTPUT"] = outputs }, "ValidateSchema", "--schema", "schemas/missing.yaml");
            code.Should().Be(1);
            File.ReadAllText(outputs).Should().Be("failed-target=ValidateSchema\n");

            File.Delete(outputs);
            (await BuildRun.RunWithAsync(root, new Dictionary<string, string> { ["GITHUB_OUTPUT"] = outputs }, "ValidateSchema")).Code.Should().Be(0);
            File.Exists(outputs).Should().BeFalse("a run that succeeded names no failed target");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
