using LlmStack.ChangeControl;
using LlmStack.Pipeline;
using LlmStack.Security;

namespace LlmStack.Tests.ChangeControl;

/// <summary>The one change gate: plan, table, dry-run or confirmation, apply, audit.</summary>
public sealed class ChangeGateTests : IDisposable
{
    private readonly string _directory = Repository.TempDirectory("gate");
    private readonly List<string> _applied = [];
    private readonly StringWriter _output = new();
    private int _locks;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private AuditLog Audit => new(Path.Combine(_directory, "audit.jsonl"), Serilog.Core.Logger.None);

    private ChangeGate Gate(bool dryRun = false, string? confirm = null, string typed = "", bool interactive = false) =>
        new(new GateOptions(dryRun, confirm, new StringReader(typed), interactive, Audit), _output, Serilog.Core.Logger.None);

    private PlannedChange Change(string resource, Func<Task<string?>>? apply = null) =>
        new(ChangeKind.Network, resource, ChangeAction.Remove, "unused", async _ =>
        {
            _applied.Add(resource);
            return apply is null ? "10.83.9.0/24" : await apply();
        });

    private Task<GateOutcome> Run(ChangeGate gate, params PlannedChange[] changes) =>
        gate.RunAsync("CleanupNetworks", "testing", _ => { _locks++; return Task.CompletedTask; },
            _ => Task.FromResult(new ChangePlan($"remove {changes.Length} network(s)", changes, [new KeptResource(ChangeKind.Network, "in-use", "used by 1 container")])),
            CancellationToken.None);

    [Fact]
    public async Task A_dry_run_lists_every_change_and_changes_nothing_without_the_lock()
    {
        var outcome = await Run(Gate(dryRun: true), Change("a"), Change("b"));
        outcome.Should().Be(GateOutcome.DryRun);
        _applied.Should().BeEmpty();
        _locks.Should().Be(0, "a dry run is read-only");
        _output.ToString().Should().Contain("would remove").And.Contain("a").And.Contain("b").And.Contain("keep").And.Contain("used by 1 container");
        Audit.Read().Should().BeEmpty();
    }

    [Fact]
    public async Task Without_confirm_a_non_interactive_run_changes_nothing_and_says_how()
    {
        var run = () => Run(Gate(), Change("a"));
        (await run.Should().ThrowAsync<PipelineException>()).WithMessage(
            "CleanupNetworks would remove 1 network(s) in environment testing: pass --confirm testing to do it, or --dry-run to only list it");
        _applied.Should().BeEmpty();
        _locks.Should().Be(1, "the plan is made under the lock");
    }

    [Fact]
    public async Task Confirm_must_name_the_environment_even_when_there_is_nothing_to_do()
    {
        var run = () => Run(Gate(confirm: "staging"));
        (await run.Should().ThrowAsync<PipelineException>()).WithMessage("--confirm staging does not match the environment testing: CleanupNetworks changed nothing");
        _locks.Should().Be(0);
    }

    [Theory]
    [InlineData("testing\n", true)]
    [InlineData("yes\n", false)]
    [InlineData("", false)]
    public async Task Interactive_runs_must_type_the_environment_name(string typed, bool accepted)
    {
        var run = () => Run(Gate(typed: typed, interactive: true), Change("a"));
        if (accepted)
        {
            (await run()).Should().Be(GateOutcome.Applied);
            _applied.Should().Equal("a");
        }
        else
        {
            await run.Should().ThrowAsync<PipelineException>().WithMessage("not confirmed*");
            _applied.Should().BeEmpty();
        }

        _output.ToString().Should().Contain("Type the environment name to confirm");
    }

    private Task<GateOutcome> RunAcross(ChangeGate gate, params PlannedChange[] changes) =>
        gate.RunAsync("WipeNuclear", "project multimodal", _ => { _locks++; return Task.CompletedTask; },
            _ => Task.FromResult(new ChangePlan("wipe everything of environments development, testing", changes, []) { Notices = ["BackupBeforeNuclear skipped (--skip): no backup of development exists"] }),
            CancellationToken.None, phrase: "wipe multimodal everywhere");

    [Theory]
    [InlineData("testing")]
    [InlineData("development")]
    [InlineData("wipe multimodal")]
    public async Task A_gate_over_several_environments_takes_only_its_phrase_not_an_environment_name(string confirm)
    {
        var run = () => RunAcross(Gate(confirm: confirm), Change("a") with { Environment = "development" });
        (await run.Should().ThrowAsync<PipelineException>()).WithMessage($"--confirm {(confirm.Contains(' ') ? $"\"{confirm}\"" : confirm)} is not \"wipe multimodal everywhere\": WipeNuclear changed nothing");
        _applied.Should().BeEmpty();
        _locks.Should().Be(0);
    }

    [Fact]
    public async Task A_gate_over_several_environments_asks_for_its_phrase_shows_its_notices_and_audits_each_change_in_its_environment()
    {
        var unconfirmed = () => RunAcross(Gate(), Change("a"));
        (await unconfirmed.Should().ThrowAsync<PipelineException>()).WithMessage(
            "WipeNuclear would wipe everything of environments development, testing in project multimodal: pass --confirm \"wipe multimodal everywhere\" to do it, or --dry-run to only list it");

        var typedName = () => RunAcross(Gate(typed: "testing\n", interactive: true), Change("a"));
        await typedName.Should().ThrowAsync<PipelineException>().WithMessage("not confirmed ('testing' is not 'wipe multimodal everywhere')*");
        _output.ToString().Should().Contain("Type 'wipe multimodal everywhere' to confirm")
            .And.Contain("! BackupBeforeNuclear skipped (--skip): no backup of development exists");
        _applied.Should().BeEmpty();

        (await RunAcross(Gate(typed: "wipe multimodal everywhere\n", interactive: true), Change("a") with { Environment = "development" }, Change("b") with { Environment = "testing" }))
            .Should().Be(GateOutcome.Applied);
        _applied.Should().Equal("a", "b");
        Audit.Read().Select(e => (e.Resource, e.Environment, e.Target)).Should().Equal(("a", "development", "WipeNuclear"), ("b", "testing", "WipeNuclear"));
    }

    [Fact]
    public async Task Ctrl_c_at_the_prompt_cancels_without_changing_anything()
    {
        // Fault 11: the prompt blocked in Console.ReadLine and ignored Ctrl-C.
        var reader = new BlockingReader();
        var gate = new ChangeGate(new GateOptions(false, null, reader, true, Audit), _output, Serilog.Core.Logger.None);
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var run = () => gate.RunAsync("CleanupNetworks", "testing", _ => Task.CompletedTask,
            _ => Task.FromResult(ChangePlan.Of("remove 1 network(s)", [Change("a")])), cancel.Token);
        await run.Should().ThrowAsync<OperationCanceledException>();
        _applied.Should().BeEmpty();
        reader.Release();
    }

    [Fact]
    public async Task Every_applied_change_is_audited_with_who_when_target_environment_resource_and_result()
    {
        (await Run(Gate(confirm: "testing"), Change("multimodal-testing_legacy"), Change("multimodal-testing_old"))).Should().Be(GateOutcome.Applied);
        var entries = Audit.Read();
        entries.Select(e => e.Resource).Should().Equal("multimodal-testing_legacy", "multimodal-testing_old");
        entries.Should().OnlyContain(e => e.Target == "CleanupNetworks" && e.Environment == "testing" && e.Kind == "network" && e.Action == "remove" && e.Result == "done");
        entries[0].Detail.Should().Be("10.83.9.0/24");
        entries[0].User.Should().NotBeNullOrEmpty();
        entries[0].Host.Should().NotBeNullOrEmpty();
        entries[0].Pid.Should().Be(Environment.ProcessId);
        entries[0].Time.Should().BeCloseTo(DateTimeOffset.UtcNow, TimeSpan.FromMinutes(1));
    }

    [Fact]
    public async Task A_failing_change_stops_the_rest_and_says_how_far_it_got()
    {
        var run = () => Run(Gate(confirm: "testing"), Change("a"), Change("b", () => throw new InvalidOperationException("engine said no")), Change("c"));
        (await run.Should().ThrowAsync<PipelineException>()).WithMessage(
            "CleanupNetworks could not remove network b: engine said no; 1 of 3 change(s) were applied before it; not done: network b, network c (audit log: *)");
        _applied.Should().Equal("a", "b");
        Audit.Read().Select(e => (e.Resource, e.Result)).Should().Equal(("a", "done"), ("b", "failed"));
    }

    [Fact]
    public async Task Changes_that_may_fail_alone_let_the_rest_run_and_the_run_fails_at_the_end_naming_each()
    {
        var run = () => Run(Gate(confirm: "testing"),
            Change("a", () => throw new InvalidOperationException("table locked")) with { ContinueOnFailure = true },
            Change("b"),
            Change("c", () => throw new InvalidOperationException("gone")) with { ContinueOnFailure = true });
        (await run.Should().ThrowAsync<PipelineException>()).WithMessage(
            "CleanupNetworks: 2 of 3 change(s) failed (remove network a: table locked; remove network c: gone); 1 applied (audit log: *)");
        _applied.Should().Equal("a", "b", "c");
        Audit.Read().Select(e => (e.Resource, e.Result)).Should().Equal(("a", "failed"), ("b", "done"), ("c", "failed"));
    }

    [Fact]
    public async Task A_change_that_fails_after_Ctrl_C_is_audited_as_cancelled_with_what_it_said_and_stops_the_rest()
    {
        // A tool killed by the same Ctrl-C (or a rollback's outcome) surfaces as a failure, not an OperationCanceledException.
        using var cancel = new CancellationTokenSource();
        var gate = Gate(confirm: "testing");
        var run = () => gate.RunAsync("RestoreSet", "testing", _ => Task.CompletedTask,
            _ => Task.FromResult(ChangePlan.Of("restore 3 member(s)", [
                Change("a"),
                Change("b", async () =>
                {
                    await cancel.CancelAsync();
                    throw new PipelineException("RestoreSet was cancelled; the data from before the restore was put back (safety set s)");
                }) with { ContinueOnFailure = true },
                Change("c"),
            ])), cancel.Token);
        (await run.Should().ThrowAsync<PipelineException>()).WithMessage("RestoreSet was cancelled; the data from before the restore was put back (safety set s)",
            "the message goes on unchanged: the engine shows it as the cancel's outcome");
        _applied.Should().Equal("a", "b");
        Audit.Read().Select(e => (e.Resource, e.Result, e.Detail)).Should().Equal(
            ("a", "done", "10.83.9.0/24"), ("b", "cancelled", "RestoreSet was cancelled; the data from before the restore was put back (safety set s)"));
    }

    [Fact]
    public async Task A_change_that_no_longer_applies_is_skipped_and_the_rest_go_on()
    {
        (await Run(Gate(confirm: "testing"), Change("a", () => throw new ChangeSkippedException("now in use by x")), Change("b"))).Should().Be(GateOutcome.Applied);
        Audit.Read().Select(e => (e.Resource, e.Result, e.Detail)).Should().Equal(("a", "skipped", "now in use by x"), ("b", "done", "10.83.9.0/24"));
    }

    [Fact]
    public async Task Nothing_to_change_is_a_success_that_writes_nothing()
    {
        (await Run(Gate())).Should().Be(GateOutcome.NothingToDo);
        Audit.Read().Should().BeEmpty();
    }

    /// <summary>A console that never answers until released.</summary>
    private sealed class BlockingReader : TextReader
    {
        private readonly ManualResetEventSlim _gate = new();

        public override string? ReadLine()
        {
            _gate.Wait(TimeSpan.FromSeconds(10));
            return null;
        }

        public void Release() => _gate.Set();
    }
}

public class ChangeTextTests
{
    [Theory]
    [InlineData(ChangeKind.BackupSet, "backup set")]
    [InlineData(ChangeKind.OrphanedMembers, "orphaned members")]
    [InlineData(ChangeKind.Container, "container")]
    public void Kinds_read_as_words(ChangeKind kind, string words) => ChangeText.Of(kind).Should().Be(words);

    [Theory]
    [InlineData(ChangeAction.BackUp, "back up")]
    [InlineData(ChangeAction.ArchiveAndDelete, "archive and delete")]
    [InlineData(ChangeAction.SetPassword, "set password")]
    public void Actions_read_as_words(ChangeAction action, string words) => ChangeText.Of(action).Should().Be(words);
}
