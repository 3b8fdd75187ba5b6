using System.Text;
using Docker.DotNet.Models;
using LlmStack.Compose;
using LlmStack.Engine;
using LlmStack.Lifecycle;
using LlmStack.Pipeline;
using LlmStack.Schema;

namespace LlmStack.IntegrationTests;

/// <summary>The core and inference stacks of the testing environment, started once for the tests of a class.</summary>
public sealed class RunningInference() : RunningStacks("StartInference");

/// <summary>Helper containers and the service lifecycle on the real engine.</summary>
[Collection(TestLane.MainCollection)]
[Trait("Category", "Integration")]
public sealed class SharedPiecesTests(RunningInference running) : IClassFixture<RunningInference>
{
    private static readonly string Volume = TestNames.Volume("helper_test");
    private const string Image = "llmstack-fixture/standin:1";
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(1);

    private HelperContainers Helpers => new(running.Engine, Scope.Of(running.Testing), Serilog.Core.Logger.None);

    private ServiceLifecycle Lifecycle => new(running.Engine, running.Testing, Serilog.Core.Logger.None);

    private async Task<ContainerInspectResponse> Inspect(string service) =>
        await running.Docker.Docker.Containers.InspectContainerAsync(TestNames.Container(service));

    private async Task<IList<ContainerListResponse>> HelpersLeft() =>
        await running.Docker.Docker.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [Names.Helper] = true, [$"{Names.Environment}=testing"] = true } },
        });

    [Fact]
    public async Task A_helper_streams_stdin_in_and_stdout_out_through_a_volume_and_is_removed_after()
    {
        await running.Docker.Docker.Volumes.CreateAsync(new VolumesCreateParameters { Name = Volume });
        try
        {
            var content = string.Concat(Enumerable.Range(0, 20000).Select(i => $"line {i}\n"));
            var labels = new List<IDictionary<string, string>>();
            var write = await Helpers.RunAsync(new HelperSpec
            {
                Purpose = "volume-restore",
                Image = Image,
                Entrypoint = ["/bin/sh", "-c"],
                Command = ["cat > /data/file.txt && chmod 640 /data/file.txt"],
                Mounts = [new HelperMount(Volume, "/data", ReadOnly: false)],
                Timeout = Limit,
                Stdin = async (stream, ct) =>
                {
                    labels.AddRange((await HelpersLeft()).Select(c => c.Labels));
                    await stream.WriteAsync(Encoding.UTF8.GetBytes(content), ct);
                },
            }, CancellationToken.None);
            write.ExitCode.Should().Be(0, string.Join('\n', write.Errors));

            var label = labels.Should().ContainSingle().Subject;
            label.Should().Contain(Names.ComposeProject, TestNames.Project()).And.Contain(Names.ComposeOneoff, "True")
                .And.Contain(Names.Environment, "testing").And.Contain(Names.Helper, "volume-restore")
                .And.Contain(Names.Run, $"{Environment.MachineName}/{Environment.ProcessId}");
            label.Should().NotContainKey(Names.Service, "a helper is never mistaken for a service");

            var read = await Helpers.RunAsync(new HelperSpec
            {
                Purpose = "volume-read", Image = Image, Entrypoint = ["cat"], Command = ["/data/file.txt"], Mounts = [new HelperMount(Volume, "/data")], Timeout = Limit,
            }, CancellationToken.None);
            read.ExitCode.Should().Be(0);
            read.Output.Should().Be(content);

            using var tar = new MemoryStream();
            var archive = await Helpers.RunAsync(new HelperSpec
            {
                Purpose = "volume-backup", Image = Image, Entrypoint = ["tar"], Command = ["-c", "-C", "/data", "."], Mounts = [new HelperMount(Volume, "/data")], Stdout = tar,
                Timeout = Limit,
            }, CancellationToken.None);
            archive.ExitCode.Should().Be(0);
            tar.Length.Should().BeGreaterThan(content.Length);
            Encoding.ASCII.GetString(tar.ToArray()).Should().Contain("./file.txt").And.Contain("line 19999");
            archive.Output.Should().BeEmpty("streamed output is not also collected");

            var readOnly = await Helpers.RunAsync(new HelperSpec
            {
                Purpose = "volume-read", Image = Image, Entrypoint = ["/bin/sh", "-c"], Command = ["echo x > /data/other.txt"], Mounts = [new HelperMount(Volume, "/data")],
                Timeout = Limit,
            }, CancellationToken.None);
            readOnly.ExitCode.Should().NotBe(0);
            readOnly.Errors.Should().Contain(e => e.Contains("Read-only file system", StringComparison.Ordinal));

            (await HelpersLeft()).Should().BeEmpty("every helper is removed after use");
        }
        finally
        {
            await running.Docker.Docker.Volumes.RemoveAsync(Volume, force: true);
        }
    }

    [Fact]
    public async Task A_helper_that_exits_before_reading_all_its_input_ends_when_it_exits_not_when_the_input_ends()
    {
        // An endless input: only the process's exit can end this run. (Docker 20.10 keeps reading an attached stdin after
        // the process exited, slowly: writing on after the exit made pg_restore --list of a 58 MB dump take 40–100 s.)
        var sent = 0L;
        var result = await Helpers.RunAsync(new HelperSpec
        {
            Purpose = "backup-verify",
            Image = Image,
            Entrypoint = ["/bin/sh", "-c"],
            Command = ["head -c 100000 >/dev/null && echo read enough"],
            Timeout = TimeSpan.FromSeconds(30),
            Stdin = async (stream, ct) =>
            {
                var block = new byte[64 << 10];
                while (true)
                {
                    await stream.WriteAsync(block, ct);
                    sent += block.Length;
                }
            },
        }, CancellationToken.None);
        result.ExitCode.Should().Be(0, string.Join('\n', result.Errors));
        result.Output.Should().Contain("read enough");
        result.InputCut.Should().BeTrue("the process exited before the input ended");
        sent.Should().BeGreaterThanOrEqualTo(100000);
        (await HelpersLeft()).Should().BeEmpty();
    }

    [Fact]
    public async Task A_helper_that_read_all_its_input_and_exited_before_the_input_said_its_end_did_not_leave_input_unread()
    {
        // As restic's dump behind pg_restore: every byte is given, the process has what it needs and exits 0, and only
        // then does the source end (restic closes its pipe after). Nothing was left unread: a restore must not fail on it.
        var result = await Helpers.RunAsync(new HelperSpec
        {
            Purpose = "volume-restore",
            Image = Image,
            Entrypoint = ["/bin/sh", "-c"],
            Command = ["head -c 100000 >/dev/null && echo read all"],
            Timeout = TimeSpan.FromSeconds(30),
            Stdin = async (stream, ct) =>
            {
                await stream.WriteAsync(new byte[100000], ct);
                while (!(await HelpersLeft()).Any(c => c.State == "exited"))
                {
                    await Task.Delay(20, ct); // the source ends once the process has exited, not before
                }
            },
        }, CancellationToken.None);
        result.ExitCode.Should().Be(0, string.Join('\n', result.Errors));
        result.Output.Should().Contain("read all");
        result.InputCut.Should().BeFalse("every byte the source had was given to the process, which read them all");
    }

    [Fact]
    public async Task A_cancelled_helper_is_removed_and_a_killed_runs_leftovers_are_swept()
    {
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        var slow = () => Helpers.RunAsync(new HelperSpec { Purpose = "slow", Image = Image, Entrypoint = ["sleep"], Command = ["60"] }, cancel.Token);
        await slow.Should().ThrowAsync<OperationCanceledException>();
        (await HelpersLeft()).Should().BeEmpty();

        var timed = () => Helpers.RunAsync(new HelperSpec { Purpose = "slow", Image = Image, Entrypoint = ["sleep"], Command = ["60"], Timeout = TimeSpan.FromSeconds(1) }, CancellationToken.None);
        (await timed.Should().ThrowAsync<PipelineException>()).WithMessage("the slow helper (llmstack-fixture/standin:1) did not finish within 1s");
        (await HelpersLeft()).Should().BeEmpty();

        Task<CreateContainerResponse> Helper(int pid) => running.Docker.Docker.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Image = Image,
            Cmd = ["sleep", "60"],
            Labels = new Dictionary<string, string>
            {
                [Names.ComposeProject] = TestNames.Project(),
                [Names.Environment] = "testing",
                [Names.Helper] = "volume-backup",
                [Names.Run] = $"{Environment.MachineName}/{pid}",
            },
        });
        var leftover = await Helper(int.MaxValue - 1); // a run that is gone
        var live = await Helper(Environment.ProcessId);
        try
        {
            (await Helpers.SweepAsync(CancellationToken.None)).Should().Be(1);
            (await HelpersLeft()).Select(c => c.ID).Should().Equal(live.ID);
        }
        finally
        {
            await running.Docker.Docker.Containers.RemoveContainerAsync(live.ID, new ContainerRemoveParameters { Force = true });
            try
            {
                await running.Docker.Docker.Containers.RemoveContainerAsync(leftover.ID, new ContainerRemoveParameters { Force = true });
            }
            catch (Docker.DotNet.DockerContainerNotFoundException)
            {
            }
        }
    }

    [Fact]
    public async Task Stopping_a_service_stops_its_dependents_first_and_brings_them_back_in_dependency_order()
    {
        // litellm needs postgres (core) and vllm (inference).
        await using (var suspended = await Lifecycle.SuspendAsync(["postgres"], SuspendMode.Stop, CancellationToken.None))
        {
            suspended.Services.Should().Equal("postgres", "litellm");
            (await Inspect("postgres")).State!.Running.Should().BeFalse();
            (await Inspect("litellm")).State!.Running.Should().BeFalse();
            (await Inspect("vllm")).State!.Running.Should().BeTrue("vllm does not depend on postgres");
            (await Inspect("redis")).State!.Running.Should().BeTrue();
            Finished(await Inspect("litellm")).Should().BeOnOrBefore(Finished(await Inspect("postgres")), "dependents stop first");
            await suspended.ResumeAsync(CancellationToken.None);
        }

        var postgres = await Inspect("postgres");
        var litellm = await Inspect("litellm");
        postgres.State!.Running.Should().BeTrue();
        litellm.State!.Running.Should().BeTrue();
        Started(postgres).Should().BeBefore(Started(litellm), "what is needed comes back first");
        (await running.Docker.ExecAsync(TestNames.Container("postgres"), "pg_isready", "-U", "multimodal")).ExitCode.Should().Be(0);
    }

    [Fact]
    public async Task Paused_services_resume_even_when_the_work_in_between_fails()
    {
        var failing = async () =>
        {
            await using var paused = await Lifecycle.SuspendAsync(["vllm"], SuspendMode.Pause, CancellationToken.None);
            paused.Services.Should().Equal("vllm", "litellm");
            (await Inspect("vllm")).State!.Paused.Should().BeTrue();
            (await Inspect("litellm")).State!.Paused.Should().BeTrue();
            throw new InvalidOperationException("the backup failed");
        };
        await failing.Should().ThrowAsync<InvalidOperationException>().WithMessage("the backup failed");
        foreach (var service in new[] { "vllm", "litellm" })
        {
            var state = (await Inspect(service)).State!;
            state.Paused.Should().BeFalse();
            state.Running.Should().BeTrue();
        }
    }

    /// <summary>
    /// A Ctrl-C while a service is being stopped. The engine finishes a stop whatever its client does (the container dies
    /// at the end of its grace period), so the suspend waits for it, then brings the service back: never left stopped,
    /// never "brought back" while about to die. (A RestoreSet cancelled during redis's stop left redis down, and putting
    /// the safety set back failed on it.)
    /// </summary>
    [Fact]
    public async Task A_Ctrl_C_while_a_service_is_being_stopped_waits_for_the_stop_and_starts_it_again()
    {
        var before = await Inspect("litellm");
        // Its PID 1 frozen (SIGSTOP from the host: inside its PID namespace, init ignores it), litellm's stand-in cannot act
        // on the stop's SIGTERM: the engine kills it at the end of the grace period (10 s).
        await SignalAsync("STOP", before.State!.Pid);
        // The signal is delivered when the process is next scheduled: the known point is its state, stopped.
        await Cli.WaitUntilAsync(async () => (await File.ReadAllLinesAsync($"/proc/{before.State.Pid}/status")).Contains("State:\tT (stopped)"), "the stand-in's PID 1 is stopped");
        try
        {
            using var cancel = new CancellationTokenSource();
            using var watch = new CancellationTokenSource(TimeSpan.FromMinutes(1));
            var signalled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var events = running.Docker.Docker.System.MonitorEventsAsync(
                new ContainerEventsParameters
                {
                    Filters = new Dictionary<string, IDictionary<string, bool>>
                    {
                        ["container"] = new Dictionary<string, bool> { [before.ID] = true },
                        ["event"] = new Dictionary<string, bool> { ["kill"] = true },
                    },
                },
                new Progress<Message>(_ => signalled.TrySetResult()),
                watch.Token);
            var suspend = Lifecycle.SuspendAsync(["litellm"], SuspendMode.Stop, cancel.Token);
            await signalled.Task.WaitAsync(TimeSpan.FromMinutes(1)); // the known point: the stop's SIGTERM was sent
            await cancel.CancelAsync();

            var cancelled = () => suspend;
            await cancelled.Should().ThrowAsync<OperationCanceledException>();
            await watch.CancelAsync();
            await events.ContinueWith(_ => { }, TaskScheduler.Default);

            var after = await Inspect("litellm");
            after.State!.Running.Should().BeTrue("the service is back");
            Started(after).Should().BeAfter(Started(before), "it was started again once the stop had ended, not left as the container the engine was killing");
            Finished(after).Should().BeAfter(Started(before), "the stop ran to its end");
            Started(after).Should().BeAfter(Finished(after), "it was started again after the engine's stop had finished");
        }
        finally
        {
            if ((await Inspect("litellm")).State!.StartedAt == before.State!.StartedAt)
            {
                await SignalAsync("CONT", before.State!.Pid);
            }
        }
    }

    private static async Task SignalAsync(string signal, long pid)
    {
        using var kill = System.Diagnostics.Process.Start("kill", ["-" + signal, pid.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
        await kill.WaitForExitAsync();
        kill.ExitCode.Should().Be(0, $"kill -{signal} {pid}");
    }

    [Fact]
    public async Task Only_what_was_running_is_suspended_and_brought_back()
    {
        await running.Docker.Docker.Containers.StopContainerAsync(TestNames.Container("minio"), new ContainerStopParameters { WaitBeforeKillSeconds = 1 });
        try
        {
            await using (var suspended = await Lifecycle.SuspendAsync(["minio", "qdrant"], SuspendMode.Stop, CancellationToken.None))
            {
                suspended.Containers.Select(c => c.Service).Should().Equal("qdrant");
            }

            (await Inspect("minio")).State!.Running.Should().BeFalse("it was stopped before, it stays stopped");
            (await Inspect("qdrant")).State!.Running.Should().BeTrue();
            var unknown = () => Lifecycle.SuspendAsync(["qdrantt"], SuspendMode.Stop, CancellationToken.None);
            await unknown.Should().ThrowAsync<SchemaException>().WithMessage("service 'qdrantt' is not part of this environment");
        }
        finally
        {
            await running.Docker.Docker.Containers.StartContainerAsync(TestNames.Container("minio"), new ContainerStartParameters());
        }
    }

    private static DateTime Finished(ContainerInspectResponse container) =>
        DateTime.Parse(container.State!.FinishedAt, null, System.Globalization.DateTimeStyles.AdjustToUniversal);

    private static DateTime Started(ContainerInspectResponse container) =>
        DateTime.Parse(container.State!.StartedAt, null, System.Globalization.DateTimeStyles.AdjustToUniversal);
}
