using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Docker.DotNet.Models;
using LlmStack.Compose;
using YamlDotNet.RepresentationModel;

namespace LlmStack.IntegrationTests;

/// <summary>
/// A self-hosted runner's job, as the runner runs it: a <c>git clone</c> of the repository (the job's checkout), the
/// generated backup workflow's build step run by <c>bash -e</c> with the workflow's environment (state and secrets
/// directories outside the checkout), and the core stack of the testing environment started from that checkout.
/// </summary>
public sealed class RunnerCheckout : IAsyncLifetime
{
    public DockerFixture Docker { get; } = new();

    private readonly string _work = Path.Combine(Path.GetTempPath(), $"llmstack-it-gitops-{Guid.NewGuid():N}");

    /// <summary>The job's checkout (GITHUB_WORKSPACE).</summary>
    public string Checkout => Path.Combine(_work, "checkout");

    /// <summary>vars.LLMSTACK_STATE_DIR: outside the checkout, as on a runner host (/var/lib/llmstack).</summary>
    public string State => Path.Combine(_work, "state");

    /// <summary>vars.LLMSTACK_SECRETS_DIR: outside the checkout (/etc/llmstack/secrets).</summary>
    public string Secrets => Path.Combine(_work, "secrets");

    /// <summary>RUNNER_TEMP: the job's own temporary directory.</summary>
    public string RunnerTemp => Path.Combine(_work, "runner-temp");

    /// <summary>GITHUB_OUTPUT: the step's output file.</summary>
    public string Outputs => Path.Combine(RunnerTemp, "github-output");

    public string LogDirectory => Path.Combine(RunnerTemp, "llmstack-logs");

    /// <summary>The build step of backup-testing.yml, read from the checkout's generated workflow.</summary>
    public YamlMappingNode Job { get; private set; } = null!;

    public YamlMappingNode BuildStep { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await Docker.InitializeAsync();
        await Docker.CleanAsync("testing");
        Directory.CreateDirectory(RunnerTemp);
        await GitAsync(_work, "clone", "--quiet", Docker.Root, Checkout);
        InstallBuildProgram();

        var stream = new YamlStream();
        stream.Load(new StringReader(await File.ReadAllTextAsync(Path.Combine(Checkout, ".github", "workflows", "backup-testing.yml"))));
        Job = (YamlMappingNode)((YamlMappingNode)((YamlMappingNode)stream.Documents[0].RootNode)["jobs"])["backup"];
        BuildStep = ((YamlSequenceNode)Job["steps"]).Cast<YamlMappingNode>().Single(s => s.Children.ContainsKey(new YamlScalarNode("id")) && ((YamlScalarNode)s["id"]).Value == "build");

        var start = await Build.RunAsync("StartCore");
        if (start.ExitCode != 0)
        {
            throw new InvalidOperationException($"StartCore from the checkout failed: {start}");
        }
    }

    public async Task DisposeAsync()
    {
        await Docker.CleanAsync("testing");
        await Docker.DisposeAsync();
        Directory.Delete(_work, recursive: true);
    }

    /// <summary>
    /// The step's environment as the runner makes it: the job's and the build step's <c>env</c> with their expressions
    /// evaluated (the repository variables, an unset backup-key secret, the runner's temporary directory), what GitHub
    /// Actions sets, and the fixture images' map (registries are out of reach here).
    /// </summary>
    public IReadOnlyDictionary<string, string> StepEnvironment()
    {
        var expressions = new Dictionary<string, string>
        {
            ["${{ vars.LLMSTACK_STATE_DIR }}"] = State,
            ["${{ vars.LLMSTACK_SECRETS_DIR }}"] = Secrets,
            // The environment's secret is not set: the key is generated into the secrets directory, which must survive too.
            ["${{ secrets.LLMSTACK_BACKUP_KEY }}"] = string.Empty,
            ["${{ runner.temp }}"] = RunnerTemp,
        };
        string Evaluate(string value) => Regex.Replace(value, @"\$\{\{[^}]*\}\}", m => expressions.TryGetValue(m.Value, out var known)
            ? known
            : throw new InvalidOperationException($"the test does not know the expression {m.Value} of backup-testing.yml: add it"));

        var environment = new Dictionary<string, string>
        {
            ["GITHUB_ACTIONS"] = "true",
            ["GITHUB_WORKSPACE"] = Checkout,
            ["RUNNER_ENVIRONMENT"] = "self-hosted",
            ["RUNNER_TEMP"] = RunnerTemp,
            ["GITHUB_OUTPUT"] = Outputs,
            ["LLMSTACK_IMAGE_MAP"] = TestRun.FixtureImageMap,
        };
        foreach (var node in new[] { Job, BuildStep })
        {
            foreach (var (name, value) in ((YamlMappingNode)node["env"]).Children)
            {
                environment[((YamlScalarNode)name).Value!] = Evaluate(((YamlScalarNode)value).Value!);
            }
        }

        return environment;
    }

    /// <summary>Other commands in the checkout with the same environment (an operator on the runner host, or the next job).</summary>
    public TestRun Build => new(Checkout) { ImageMap = null, EnvironmentVariables = StepEnvironment() };

    /// <summary>What actions/checkout does to a self-hosted runner's workspace before a job.</summary>
    public async Task CleanCheckoutAsync()
    {
        await GitAsync(Checkout, "clean", "-ffdx", "--quiet");
        InstallBuildProgram();
    }

    /// <summary>
    /// The build program as the checkout's <c>./build.sh</c> would compile it (the same sources: this repository's), copied
    /// with a fresh stamp so the bootstrap runs it without compiling again: a compile is not what these tests are about.
    /// </summary>
    private void InstallBuildProgram()
    {
        var from = Path.Combine(Docker.Root, "build", "bin", "Release", "net10.0");
        var to = Path.Combine(Checkout, "build", "bin", "Release", "net10.0");
        foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target, overwrite: true);
            File.SetUnixFileMode(target, File.GetUnixFileMode(file));
        }

        Directory.CreateDirectory(Path.Combine(Checkout, ".nuke", "temp"));
        File.Copy(Path.Combine(Docker.Root, ".nuke", "temp", "build.stamp"), Path.Combine(Checkout, ".nuke", "temp", "build.stamp"), overwrite: true);
        File.SetLastWriteTimeUtc(Path.Combine(Checkout, ".nuke", "temp", "build.stamp"), DateTime.UtcNow.AddMinutes(1));
    }

    private static async Task GitAsync(string directory, params string[] arguments)
    {
        var output = new List<string>();
        var result = await LlmStack.Pipeline.ProcessRunner.RunAsync("git", arguments, directory, output.Add, CancellationToken.None, onErrorLine: output.Add);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"git {string.Join(' ', arguments)} failed: {string.Join('\n', output)}");
        }
    }
}

/// <summary>The generated backup workflow's job on a self-hosted runner: its state outlives the checkout, and a cancel leaves nothing behind.</summary>
[Collection(TestLane.MainCollection)]
[Trait("Category", "Integration")]
public sealed class GitOpsRunTests(RunnerCheckout runner, Xunit.Abstractions.ITestOutputHelper output) : IClassFixture<RunnerCheckout>
{
    private static readonly string Minio = TestNames.Container("minio");

    private DockerFixture Docker => runner.Docker;

    private string Run => ((YamlScalarNode)runner.BuildStep["run"]).Value!;

    private async Task<IList<ContainerListResponse>> HelpersAsync() =>
        await Docker.Docker.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [Names.Helper] = true, [$"{Names.Environment}=testing"] = true } },
        });

    private async Task AssertCoreRunsUnpausedAsync()
    {
        var containers = await Docker.ContainersAsync("testing", "core");
        containers.Should().NotBeEmpty();
        foreach (var container in containers)
        {
            var state = (await Docker.Docker.Containers.InspectContainerAsync(container.ID)).State!;
            state.Running.Should().BeTrue($"{container.Names[0]} runs again");
            state.Paused.Should().BeFalse($"{container.Names[0]} is not left paused");
        }
    }

    [Fact]
    public async Task The_backup_workflow_run_keeps_its_state_outside_the_checkout_and_after_git_clean_BackupList_lists_it_and_BackupVerify_passes()
    {
        Run.Should().Be("exec ./build.sh BackupFull BackupCopy BackupVerify --environment testing");
        var backup = await Cli.RunStepAsync(runner.Checkout, Run, runner.StepEnvironment());
        backup.ExitCode.Should().Be(0, backup.ToString());
        backup.Output.Should().MatchRegex(@"BackupFull\s+Succeeded[\s\S]*BackupCopy\s+Succeeded[\s\S]*BackupVerify\s+Succeeded", "one plan, in the declared order");
        var set = Regex.Match(backup.Output, @"Set: (?<set>\d{8}T\d{6}Z-[0-9a-f]{4})").Groups["set"].Value;
        set.Should().NotBeEmpty(backup.Output);

        File.Exists(Path.Combine(runner.State, "backups", "testing", "config")).Should().BeTrue("the local tier's repository is under the state directory");
        // The catalog is the repository's own snapshot tags (one restic snapshots): no manifest is cached beside it.
        Directory.Exists(Path.Combine(runner.Checkout, ".nuke", "temp", "backup-manifests")).Should().BeFalse("nothing of the catalog is kept in the checkout");
        File.Exists(Path.Combine(runner.Secrets, "testing.backup-key")).Should().BeTrue("the generated key is in the secrets directory");
        File.Exists(Path.Combine(runner.Secrets, "testing.env")).Should().BeTrue();
        File.ReadAllText(Path.Combine(runner.LogDirectory, "build.log")).Should().Contain("BackupVerify", "the build wrote its own log for the report job");
        foreach (var inCheckout in new[] { "backups", "audit", "secrets", "artifacts" })
        {
            Directory.Exists(Path.Combine(runner.Checkout, inCheckout)).Should().BeFalse($"nothing of the run's state is in the checkout ({inCheckout}/)");
        }

        await runner.CleanCheckoutAsync();
        Directory.Exists(Path.Combine(runner.Checkout, ".nuke", "temp", "restic-cache")).Should().BeFalse("git clean removed what the checkout held");

        var list = await runner.Build.RunAsync("BackupList", "--environment", "testing", "--json");
        list.ExitCode.Should().Be(0, list.ToString());
        var rows = JsonDocument.Parse(list.StandardOutput).RootElement.EnumerateArray().ToList();
        rows.Should().Contain(r => r.GetProperty("set").GetString() == set && r.GetProperty("service").GetString() == "postgres", list.StandardOutput);

        var verify = await runner.Build.RunAsync("BackupVerify", "--environment", "testing");
        verify.ExitCode.Should().Be(0, verify.ToString());
    }

    [Fact]
    public async Task A_cancel_mid_BackupFull_resumes_the_paused_writer_removes_its_helpers_releases_the_lock_and_names_the_target_within_the_runners_budget()
    {
        await Docker.ExecAsync(Minio, "sh", "-c", "dd if=/dev/urandom of=/data/big.bin bs=1M count=300 2>/dev/null");
        var mountpoint = (await Docker.Docker.Volumes.InspectAsync(TestNames.Volume("minio_data"))).Mountpoint;
        try
        {
            File.Delete(runner.Outputs);
            var exited = TimeSpan.Zero;
            var cancelled = await Cli.RunStepAsync(runner.Checkout, Run, runner.StepEnvironment(), async process =>
            {
                // The known point: minio is paused and restic reads its volume (on this host in the mountpoint, or in a restic helper).
                await Cli.WaitUntilAsync(async () => (await Docker.Docker.Containers.InspectContainerAsync(Minio)).State!.Paused
                                                      && (BackupBed.ResticRunsIn(mountpoint) || (await HelpersAsync()).Any(h => h.Labels[Names.Helper] == "restic")),
                    "the backup pauses minio and restic reads its volume");
                exited = await CancelAsRunnerAsync(process);
            });

            cancelled.ExitCode.Should().Be(130, cancelled.ToString());
            cancelled.Output.Should().MatchRegex(@"BackupFull\s+Aborted").And.MatchRegex(@"BackupCopy\s+NotRun");
            // A figure, not an assertion: the runner's budget is enforced by CancelAsRunnerAsync itself (exit 130 means the build exited on its own).
            output.WriteLine($"SIGINT to exit: {exited.TotalSeconds:0.00} s (the runner sends SIGTERM at 7.5 s and kills the tree at 10 s)");
            (await HelpersAsync()).Should().BeEmpty("every helper is removed");
            await AssertCoreRunsUnpausedAsync();
            File.ReadAllText(runner.Outputs).Should().Be("failed-target=BackupFull\n", "the report job names the target");

            var next = await runner.Build.RunAsync("BackupService", "--environment", "testing", "--service", "redis", "--lock-timeout", "1s");
            next.ExitCode.Should().Be(0, $"the lock was released: a run that needs it gets it at once\n{next}");
        }
        finally
        {
            await Docker.ExecAsync(Minio, "sh", "-c", "rm -f /data/big.bin");
        }
    }

    /// <summary>
    /// GitHub's cancel of a step: SIGINT to the step's process; SIGTERM when it has not exited 7.5 s later; the process tree
    /// killed when it has not exited 2.5 s after that. Returns how long the process took to exit after the SIGINT.
    /// </summary>
    private static async Task<TimeSpan> CancelAsRunnerAsync(Process process)
    {
        var clock = Stopwatch.StartNew();
        Signal(process, "INT");
        using (var first = new CancellationTokenSource(TimeSpan.FromMilliseconds(7500)))
        {
            try
            {
                await process.WaitForExitAsync(first.Token);
                return clock.Elapsed;
            }
            catch (OperationCanceledException)
            {
                Signal(process, "TERM");
            }
        }

        using var second = new CancellationTokenSource(TimeSpan.FromMilliseconds(2500));
        try
        {
            await process.WaitForExitAsync(second.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
        }

        return clock.Elapsed;
    }

    private static void Signal(Process process, string signal)
    {
        using var kill = Process.Start("kill", ["-" + signal, process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
        kill.WaitForExit();
    }

    [Fact]
    public async Task Without_the_state_variable_the_first_step_stops_and_the_build_refuses_a_state_directory_in_the_checkout()
    {
        var environment = new Dictionary<string, string>(runner.StepEnvironment()) { ["LLMSTACK_STATE_DIR"] = string.Empty };
        var check = ((YamlScalarNode)((YamlSequenceNode)runner.Job["steps"]).Cast<YamlMappingNode>().First()["run"]).Value!;
        var stopped = await Cli.RunStepAsync(runner.Checkout, check, environment);
        stopped.ExitCode.Should().Be(1);
        stopped.Output.Should().StartWith("::error::the repository variable LLMSTACK_STATE_DIR is empty");

        var refused = await Cli.RunStepAsync(runner.Checkout, Run, environment);
        refused.ExitCode.Should().Be(1, refused.ToString());
        refused.Output.Should().Contain($"the state directory {runner.Checkout} is inside the checkout ({runner.Checkout}), which actions/checkout cleans before every job: set vars.LLMSTACK_STATE_DIR")
            .And.NotContain("   at ");
        refused.Output.Should().NotMatchRegex(@"BackupFull\s+(Succeeded|Failed|Aborted)", "nothing ran");
        Directory.Exists(Path.Combine(runner.Checkout, "backups")).Should().BeFalse();
    }
}
