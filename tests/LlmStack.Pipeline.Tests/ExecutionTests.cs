using LlmStack.Pipeline;

namespace LlmStack.Pipeline.Tests;

public class ExecutionTests
{
    public class SkipBuild : RecordingBuild
    {
        public Target Shared => _ => Record(_, "Shared");

        public Target Deeper => _ => Record(_, "Deeper");

        public Target OnlyForB => _ => Record(_.DependsOn(Deeper), "OnlyForB");

        public Target DeepOnlyForB => _ => Record(_, "DeepOnlyForB");

        public Target A => _ => Record(_.DependsOn(Shared), "A");

        public Target B => _ => Record(_.DependsOn(Shared, OnlyForB), "B");

        public Target C => _ => Record(_.DependsOn(DeepOnlyForB), "C");

        public Target Keep => _ => Record(_.DependsOn(DeepOnlyForB).WhenSkipped(DependencyBehavior.Execute), "Keep");

        public Target All => _ => Record(_.DependsOn(A, B, C, Keep), "All");
    }

    [Fact]
    public async Task Skip_cascades_to_dependencies_no_other_target_needs()
    {
        using var h = new Harness();
        (await h.RunAsync<SkipBuild>("All", "--skip", "B", "C")).Should().Be(0);
        h.BuildAs<SkipBuild>().Ran.Should().Equal("Shared", "DeepOnlyForB", "A", "Keep", "All");
        h.StatusOf("OnlyForB").Should().Be(ExecutionStatus.Skipped);
        h.Build!.ExecutionPlan.Single(t => t.Name == "OnlyForB").SummaryInfo.Should().Be("because of B");
        h.Build!.ExecutionPlan.Single(t => t.Name == "Deeper").SummaryInfo.Should().Be("because of OnlyForB");
        h.StatusOf("Shared").Should().Be(ExecutionStatus.Succeeded, "A still needs it");
        h.StatusOf("DeepOnlyForB").Should().Be(ExecutionStatus.Succeeded, "Keep still needs it");
        h.Output.Should().MatchRegex(@"B\s+Skipped\s+// via --skip");
        h.Build!.ExecutionPlan.Where(t => t.SkippedByParameter).Select(t => t.Name).Should().BeEquivalentTo(["B", "C", "OnlyForB", "Deeper"], "skipped on purpose, named or only needed by a named one");
    }

    [Theory]
    [InlineData("C+Keep")]
    [InlineData("Keep+C")]
    public async Task A_target_skipped_with_WhenSkipped_Execute_keeps_its_dependencies_whatever_the_order(string skip)
    {
        using var h = new Harness();
        (await h.RunAsync<SkipBuild>("All", "--skip", skip)).Should().Be(0);
        h.StatusOf("Keep").Should().Be(ExecutionStatus.Skipped);
        h.StatusOf("DeepOnlyForB").Should().Be(ExecutionStatus.Succeeded);
    }

    [Fact]
    public async Task Skipping_the_only_user_of_a_dependency_skips_it()
    {
        using var h = new Harness();
        (await h.RunAsync<SkipBuild>("C", "--skip", "DeepOnlyForB")).Should().Be(0);
        h.BuildAs<SkipBuild>().Ran.Should().Equal("C");
        (await h.RunAsync<SkipBuild>("All", "--skip", "C", "B")).Should().Be(0);
        h.StatusOf("DeepOnlyForB").Should().Be(ExecutionStatus.Succeeded, "Keep is still scheduled");
    }

    [Fact]
    public async Task Bare_skip_runs_only_invoked_targets()
    {
        using var h = new Harness();
        (await h.RunAsync<SkipBuild>("A", "--skip")).Should().Be(0);
        h.BuildAs<SkipBuild>().Ran.Should().Equal("A");
    }

    [Fact]
    public async Task Skip_from_an_environment_variable()
    {
        using var h = new Harness();
        h.Environment["BUILD_SKIP"] = "B";
        (await h.RunAsync<SkipBuild>("A")).Should().Be(0);
        h.BuildAs<SkipBuild>().Ran.Should().NotContain("B").And.Contain("A");
    }

    [Fact]
    public async Task An_empty_skip_variable_skips_nothing()
    {
        // A CI template passing an empty input must not turn into a bare --skip (fault 8).
        using var h = new Harness();
        h.Environment["BUILD_SKIP"] = "";
        (await h.RunAsync<SkipBuild>("A")).Should().Be(0, h.Error);
        h.BuildAs<SkipBuild>().Ran.Should().Contain("A").And.HaveCountGreaterThan(1);
    }

    [Fact]
    public async Task Skipping_a_target_that_is_not_planned_is_ignored_but_a_typo_is_an_error()
    {
        using var h = new Harness();
        var planned = (await h.RunAsync<SkipBuild>("A")).Should().Be(0, h.Error);
        var ran = h.BuildAs<SkipBuild>().Ran.ToList();
        var unrelated = h.BuildAs<SkipBuild>().Targets.Select(t => t.Name).First(n => !h.PlanNames.Contains(n));

        (await h.RunAsync<SkipBuild>("A", "--skip", unrelated)).Should().Be(0, h.Error);
        h.BuildAs<SkipBuild>().Ran.Should().Equal(ran);

        (await h.RunAsync<SkipBuild>("A", "--skip", "Nonexistent")).Should().Be(PipelineRunner.Failure);
        h.Error.Should().Contain("Target 'Nonexistent' does not exist");
    }

    public class InitializedBuild : RecordingBuild
    {
        protected virtual bool FailInitialization => false;

        public Target First => _ => Record(_, "First");

        public Target Second => _ => Record(_.DependsOn(First), "Second");

        protected internal override void OnBuildInitialized()
        {
            Ran.Add("initialized");
            if (FailInitialization)
            {
                throw new PipelineException("not ready: fix it");
            }
        }
    }

    [Fact]
    public async Task OnBuildInitialized_runs_once_before_the_first_target_and_never_for_plan_or_help()
    {
        using var h = new Harness();
        (await h.RunAsync<InitializedBuild>("Second")).Should().Be(0);
        h.BuildAs<InitializedBuild>().Ran.Should().Equal("initialized", "First", "Second");

        (await h.RunAsync<InitializedBuild>("Second", "--plan")).Should().Be(0);
        h.BuildAs<InitializedBuild>().Ran.Should().BeEmpty();
        (await h.RunAsync<InitializedBuild>("--help")).Should().Be(0);
        h.BuildAs<InitializedBuild>().Ran.Should().BeEmpty();
    }

    public class FailingInitializedBuild : InitializedBuild
    {
        protected override bool FailInitialization => true;
    }

    [Fact]
    public async Task A_failing_OnBuildInitialized_fails_the_run_before_any_target()
    {
        using var h = new Harness();
        (await h.RunAsync<FailingInitializedBuild>("Second")).Should().NotBe(0);
        h.BuildAs<FailingInitializedBuild>().Ran.Should().Equal("initialized");
        (h.Output + h.Error).Should().Contain("not ready: fix it").And.NotContain("   at ", "a user-facing failure is one line, not a stack trace");
    }

    public class ConditionBuild : RecordingBuild
    {
        public bool StaticFlag { get; set; }

        public Target Dep => _ => Record(_, "Dep");

        public Target Static => _ => Record(_.DependsOn(Dep).OnlyWhenStatic(() => StaticFlag), "Static");

        public Target Setter => _ => _.Executes(() =>
        {
            Ran.Add("Setter");
            StaticFlag = true;
        });

        public Target Dynamic => _ => Record(_.DependsOn(Setter).OnlyWhenDynamic(() => StaticFlag), "Dynamic");

        public Target StaticAfterSetter => _ => Record(_.DependsOn(Setter).OnlyWhenStatic(() => StaticFlag), "StaticAfterSetter");

        public string Note { get; set; } = "before";

        public Target Reasoned => _ => Record(_.OnlyWhenStatic(() => StaticFlag, () => $"the flag is off ({Note})"), "Reasoned");

        public Target NoteSetter => _ => _.Executes(() =>
        {
            Ran.Add("NoteSetter");
            Note = "after NoteSetter";
        });

        public Target ReasonedDynamic => _ => Record(_.DependsOn(NoteSetter).OnlyWhenDynamic(() => false, () => $"not wanted ({Note})"), "ReasonedDynamic");
    }

    [Fact]
    public async Task Static_condition_is_evaluated_before_anything_runs_and_skips_exclusive_dependencies()
    {
        using var h = new Harness();
        (await h.RunAsync<ConditionBuild>("Static")).Should().Be(0);
        h.BuildAs<ConditionBuild>().Ran.Should().BeEmpty();
        h.StatusOf("Static").Should().Be(ExecutionStatus.Skipped);
        h.StatusOf("Dep").Should().Be(ExecutionStatus.Skipped);
        h.Output.Should().Contain("// OnlyWhen: StaticFlag");
        h.Build!.ExecutionPlan.Should().NotContain(t => t.SkippedByParameter, "a false condition is not a skip on purpose");
    }

    [Fact]
    public async Task A_condition_with_a_reason_is_skipped_with_the_reason_made_when_it_was_false_never_its_source_text()
    {
        using var h = new Harness();
        (await h.RunAsync<ConditionBuild>("Reasoned", "ReasonedDynamic")).Should().Be(0);
        h.BuildAs<ConditionBuild>().Ran.Should().Equal("NoteSetter");
        h.StatusOf("Reasoned").Should().Be(ExecutionStatus.Skipped);
        h.StatusOf("ReasonedDynamic").Should().Be(ExecutionStatus.Skipped);
        h.Output.Should().Contain("// the flag is off (before)")
            .And.Contain("// not wanted (after NoteSetter)", "a dynamic reason is made when the condition is evaluated, after the dependencies ran")
            .And.NotContain("OnlyWhen", "the condition's source text is internal");
    }

    [Fact]
    public async Task Dynamic_condition_sees_what_dependencies_did()
    {
        using var h = new Harness();
        (await h.RunAsync<ConditionBuild>("Dynamic", "StaticAfterSetter")).Should().Be(0);
        h.BuildAs<ConditionBuild>().Ran.Should().Equal("Setter", "Dynamic");
        h.StatusOf("StaticAfterSetter").Should().Be(ExecutionStatus.Skipped, "static conditions are evaluated before Setter ran");
    }

    public class FailureBuild : RecordingBuild
    {
        public Target First => _ => Record(_, "First");

        public Target Fails => _ => _.DependsOn(First).Executes(() => throw new InvalidOperationException("boom\nsecond line"));

        public Target FailsButProceeds => _ => _.DependsOn(First).ProceedAfterFailure().Executes(() => throw new PipelineException("soft failure"));

        public Target After => _ => Record(_.DependsOn(Fails), "After");

        public Target AfterProceed => _ => Record(_.DependsOn(FailsButProceeds), "AfterProceed");

        public Target Cleanup => _ => Record(_.AssuredAfterFailure().After(After, AfterProceed), "Cleanup");

        public Target Unrelated => _ => Record(_.After(Cleanup), "Unrelated");
    }

    [Fact]
    public async Task A_failure_stops_the_run_but_assured_targets_still_run()
    {
        using var h = new Harness();
        (await h.RunAsync<FailureBuild>("After", "Cleanup", "Unrelated")).Should().Be(PipelineRunner.Failure);
        h.BuildAs<FailureBuild>().Ran.Should().Equal("First", "Cleanup");
        h.StatusOf("Fails").Should().Be(ExecutionStatus.Failed);
        h.StatusOf("After").Should().Be(ExecutionStatus.NotRun);
        h.StatusOf("Unrelated").Should().Be(ExecutionStatus.NotRun);
        h.Output.Should().MatchRegex(@"\nFails\s+Failed\s+(< 1sec|\d+:\d\d)\s+// InvalidOperationException: boom\n").And.Contain("Run failed on");
    }

    [Fact]
    public async Task Proceed_after_failure_continues_and_still_fails_the_run()
    {
        using var h = new Harness();
        (await h.RunAsync<FailureBuild>("AfterProceed", "Cleanup")).Should().Be(PipelineRunner.Failure);
        h.BuildAs<FailureBuild>().Ran.Should().Equal("First", "AfterProceed", "Cleanup");
        h.StatusOf("FailsButProceeds").Should().Be(ExecutionStatus.Failed);
        h.Output.Should().Contain("// soft failure");
    }

    public class ExitCodeBuild : RecordingBuild
    {
        public Target Plan => _ => _.Executes(() => ((IPipelineBuild)this).ExitCode = 2);

        public Target FailsAfter => _ => _.After(Plan).Executes(() => throw new InvalidOperationException("later failure"));
    }

    [Fact]
    public async Task A_target_sets_the_exit_code_of_a_successful_run_and_a_failure_still_wins()
    {
        using var h = new Harness();
        (await h.RunAsync<ExitCodeBuild>("Plan")).Should().Be(2);
        (await h.RunAsync<ExitCodeBuild>("Plan", "FailsAfter")).Should().Be(PipelineRunner.Failure, "a plan's 2 never hides a later failure");
    }

    public class AsyncBuild : RecordingBuild
    {
        public Target Slow => _ => _.Executes(async () =>
        {
            await Task.Delay(50);
            Ran.Add("Slow");
        });

        public Target WithToken => _ => _.DependsOn(Slow).Executes(async ct =>
        {
            await Task.Yield();
            ct.ThrowIfCancellationRequested();
            Ran.Add("WithToken");
        });

        public Target Hangs => _ => _.Executes(async ct =>
        {
            Ran.Add("Hangs");
            await Task.Delay(Timeout.Infinite, ct);
        });

        public Target Never => _ => Record(_.DependsOn(Hangs), "Never");

        public Target Assured => _ => Record(_.AssuredAfterFailure().After(Never), "Assured");
    }

    [Fact]
    public async Task Async_targets_are_awaited_in_order()
    {
        using var h = new Harness();
        (await h.RunAsync<AsyncBuild>("WithToken")).Should().Be(0);
        h.BuildAs<AsyncBuild>().Ran.Should().Equal("Slow", "WithToken");
        h.Output.Should().MatchRegex(@"Slow\s+Succeeded\s+(< 1sec|\d+:\d\d)").And.Contain("Run succeeded on");
    }

    [Fact]
    public async Task Cancellation_aborts_the_running_target_and_runs_assured_targets()
    {
        using var h = new Harness();
        using var cts = new CancellationTokenSource();
        var output = new StringWriter();
        PipelineBuild? build = null;
        var run = PipelineRunner.RunAsync<AsyncBuild>(new RunOptions
        {
            Arguments = ["Never", "Assured"],
            Output = output,
            Error = output,
            EnvironmentVariables = h.Environment,
            WorkingDirectory = h.Root,
            CancellationToken = cts.Token,
            Created = b => build = b,
        });
        while (build is null || !((AsyncBuild)build).Ran.Contains("Hangs"))
        {
            await Task.Delay(10);
        }

        await cts.CancelAsync();
        (await run).Should().Be(PipelineRunner.Cancelled);
        ((AsyncBuild)build).Ran.Should().Equal("Hangs", "Assured");
        build.ExecutionPlan.Single(t => t.Name == "Hangs").Status.Should().Be(ExecutionStatus.Aborted);
        build.ExecutionPlan.Single(t => t.Name == "Never").Status.Should().Be(ExecutionStatus.NotRun);
    }

    public class CancelledBuild : RecordingBuild
    {
        public TaskCompletionSource Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>As a tool killed by the same Ctrl-C: the target sees its failure, never an OperationCanceledException.</summary>
        public Target ToolDies => _ => _.Executes(async ct =>
        {
            var died = new TaskCompletionSource();
            using var registration = ct.Register(() => died.SetResult());
            Started.SetResult();
            await died.Task;
            throw new PipelineException("restic backup failed (exit 130): signal interrupt received");
        });

        public TaskCompletionSource CleanupStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Puts something back after Ctrl-C with the cleanup token, which only a second Ctrl-C cancels.</summary>
        public Target CleansUp => _ => _.Executes(async ct =>
        {
            Started.SetResult();
            try
            {
                await Task.Delay(Timeout.Infinite, ct);
            }
            catch (OperationCanceledException)
            {
                CleanupStarted.SetResult();
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(CleanupMilliseconds), CleanupToken);
                    Ran.Add("cleaned up");
                }
                catch (OperationCanceledException) when (CleanupToken.IsCancellationRequested)
                {
                    Ran.Add("cleanup cancelled");
                }

                throw;
            }
        });

        public static int CleanupMilliseconds { get; set; } = 20;
    }

    private static async Task<(int Code, CancelledBuild Build, string Output)> CancelAsync(Harness h, string target, bool twice = false)
    {
        using var cts = new CancellationTokenSource();
        using var second = new CancellationTokenSource();
        var output = new StringWriter();
        CancelledBuild? build = null;
        var run = PipelineRunner.RunAsync<CancelledBuild>(new RunOptions
        {
            Arguments = [target],
            Output = output,
            Error = output,
            EnvironmentVariables = h.Environment,
            WorkingDirectory = h.Root,
            CancellationToken = cts.Token,
            CleanupCancellationToken = second.Token,
            Created = b => build = (CancelledBuild)b,
        });
        while (build is null)
        {
            await Task.Delay(5);
        }

        await build.Started.Task;
        await cts.CancelAsync();
        if (twice)
        {
            await build.CleanupStarted.Task;
            await second.CancelAsync();
        }

        var code = await run;
        return (code, build, output.ToString());
    }

    [Fact]
    public async Task A_target_that_fails_after_Ctrl_C_is_aborted_with_exit_130_and_its_message_shown()
    {
        using var h = new Harness();
        var (code, build, output) = await CancelAsync(h, "ToolDies");
        code.Should().Be(PipelineRunner.Cancelled, output);
        build.ExecutionPlan.Single(t => t.Name == "ToolDies").Status.Should().Be(ExecutionStatus.Aborted);
        output.Should().MatchRegex(@"ToolDies\s+Aborted").And.Contain("was cancelled: restic backup failed (exit 130)").And.NotContain("Failed");
    }

    [Fact]
    public async Task The_cleanup_token_outlives_the_first_Ctrl_C_and_the_second_cancels_it()
    {
        using var h = new Harness();
        CancelledBuild.CleanupMilliseconds = 20;
        var (code, build, output) = await CancelAsync(h, "CleansUp");
        code.Should().Be(PipelineRunner.Cancelled, output);
        build.Ran.Should().Equal("cleaned up");

        using var again = new Harness();
        CancelledBuild.CleanupMilliseconds = 10_000; // without the second Ctrl-C reaching it, the cleanup would finish
        (code, build, output) = await CancelAsync(again, "CleansUp", twice: true);
        code.Should().Be(PipelineRunner.Cancelled, output);
        build.Ran.Should().Equal(["cleanup cancelled"], "the second Ctrl-C cancels the cleanup token");
    }

    public class EscapeBuild : PipelineBuild
    {
        public Target Logs => _ => _.Executes(() =>
        {
            Log.Error("restic said {Error}", "\u001b[2Ksignal interrupt received");
            Log.Warning("\u001b[31mred\u001b[0m template");
            throw new PipelineException("restic failed: \u001b[2Ksignal interrupt received\r");
        });
    }

    [Fact]
    public async Task Terminal_escapes_never_reach_the_console_build_log_or_build_json()
    {
        using var h = new Harness();
        (await h.RunAsync<EscapeBuild>("Logs")).Should().Be(PipelineRunner.Failure);
        var log = File.ReadAllText(Path.Combine(h.Root, ".nuke", "temp", "build.log"));
        var json = File.ReadAllText(Path.Combine(h.Root, ".nuke", "temp", "build.json"));
        foreach (var text in new[] { h.Output + h.Error, log, json })
        {
            text.Should().NotContain("\u001b").And.NotContain("\\u001b").And.NotContain("[2K");
        }

        log.Should().Contain("restic said signal interrupt received").And.Contain("red template").And.Contain("restic failed: signal interrupt received");
    }

    public class CollectiveBuild : RecordingBuild
    {
        public Target Part => _ => Record(_, "Part");

        public Target Group => _ => _.DependsOn(Part).Description("no actions");

        public Target Reports => _ => _.Executes(() => ReportSummary("Files", "3"));
    }

    [Fact]
    public async Task Targets_without_actions_are_collective_and_reports_show_in_the_summary()
    {
        using var h = new Harness();
        (await h.RunAsync<CollectiveBuild>("Group", "Reports")).Should().Be(0);
        h.StatusOf("Group").Should().Be(ExecutionStatus.Collective);
        h.Output.Should().NotMatchRegex(@"\nGroup\s").And.Contain("// Files: 3");
        h.Output.Should().Contain("║ Part");
    }
}

public class DocumentRunTests
{
    public class DocumentBuild : PipelineBuild
    {
        [Parameter("print JSON")]
        public readonly bool Json;

        protected internal override bool WritesDocument => Json;

        Target Show => _ => _.Executes(() =>
        {
            Log.Information("looking things up");
            Out.WriteLine("a table for people");
            Document.WriteLine(Json ? "{\"ok\": true}" : "not a document");
        });
    }

    [Fact]
    public async Task A_document_run_has_only_its_document_on_standard_output_and_everything_else_on_standard_error()
    {
        using var harness = new Harness();
        (await harness.RunAsync<DocumentBuild>("Show", "--json")).Should().Be(0, harness.Error);

        System.Text.Json.JsonDocument.Parse(harness.Output).RootElement.GetProperty("ok").GetBoolean().Should().BeTrue(harness.Output);
        harness.Output.Trim().Should().Be("{\"ok\": true}");
        harness.Error.Should().Contain("looking things up").And.Contain("a table for people").And.Contain("║ Show").And.Contain("Run succeeded");
    }

    [Fact]
    public async Task Without_a_document_the_console_is_as_before()
    {
        using var harness = new Harness();
        (await harness.RunAsync<DocumentBuild>("Show")).Should().Be(0, harness.Error);

        harness.Output.Should().Contain("looking things up").And.Contain("a table for people").And.Contain("║ Show").And.Contain("not a document");
        harness.Error.Should().BeEmpty();
    }
}

public class HelpCacheTests
{
    public class ListedBuild : PipelineBuild
    {
        [Parameter("a value from the list file", ValueProviderMember = nameof(Choices))]
        public readonly string? Choice;

        IEnumerable<string> Choices => File.ReadAllLines(Path.Combine(RootDirectory, "choices.txt"));

        protected internal override IReadOnlyList<string> HelpInputs => [Path.Combine(RootDirectory, "choices.txt")];

        Target Show => _ => _.Description("shows").Executes(() => { });
    }

    [Fact]
    public async Task A_warm_help_is_the_cached_text_and_a_changed_input_makes_it_again()
    {
        using var harness = new Harness();
        File.WriteAllLines(Path.Combine(harness.Root, "choices.txt"), ["alpha", "beta"]);

        (await harness.RunAsync<ListedBuild>("--help")).Should().Be(0);
        var first = harness.Output;
        first.Should().Contain("alpha").And.Contain("beta").And.Contain("Show");
        var cache = Path.Combine(harness.Root, ".nuke", "temp", "help.cache");
        File.Exists(cache).Should().BeTrue();

        // Served from the cache: a marker put into the cached text comes out.
        File.WriteAllText(cache, File.ReadAllText(cache).Replace("shows", "shows (from the cache)", StringComparison.Ordinal));
        (await harness.RunAsync<ListedBuild>("--help")).Should().Be(0);
        harness.Output.Should().Contain("shows (from the cache)");

        // An input of the help changed: made again, with the new value.
        File.WriteAllLines(Path.Combine(harness.Root, "choices.txt"), ["alpha", "beta", "gamma"]);
        File.SetLastWriteTimeUtc(Path.Combine(harness.Root, "choices.txt"), DateTime.UtcNow.AddMinutes(1));
        (await harness.RunAsync<ListedBuild>("--help")).Should().Be(0);
        harness.Output.Should().Contain("gamma").And.NotContain("(from the cache)");

        // A run with other arguments never uses it.
        (await harness.RunAsync<ListedBuild>("--help", "--verbosity", "quiet")).Should().Be(0);
        harness.Output.Should().NotContain("(from the cache)");

        // Nor does one whose root comes from a variable; and a prefixed variable's value (a secret, maybe) keys the
        // cache without being written into it.
        File.WriteAllText(cache, File.ReadAllText(cache).Replace("shows", "shows (from the cache)", StringComparison.Ordinal));
        harness.Environment["BUILD_ROOT"] = harness.Root;
        (await harness.RunAsync<ListedBuild>("--help")).Should().Be(0);
        harness.Output.Should().NotContain("(from the cache)");
        harness.Environment.Remove("BUILD_ROOT");
        harness.Environment["BUILD_TOKEN"] = "s3cr3t-value-of-a-token";
        (await harness.RunAsync<ListedBuild>("--help")).Should().Be(0);
        harness.Output.Should().NotContain("(from the cache)", "a new variable is a new key");
        File.ReadAllText(cache).Should().NotContain("s3cr3t-value-of-a-token");
        File.WriteAllText(cache, File.ReadAllText(cache).Replace("shows", "shows (from the cache)", StringComparison.Ordinal));
        (await harness.RunAsync<ListedBuild>("--help")).Should().Be(0);
        harness.Output.Should().Contain("(from the cache)", "the same variables give the same key");
    }
}
