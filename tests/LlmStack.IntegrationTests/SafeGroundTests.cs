using System.Globalization;
using Docker.DotNet.Models;
using LlmStack.ChangeControl;
using LlmStack.Security;

namespace LlmStack.IntegrationTests;

/// <summary>
/// The environment lock across processes, and the faults a new user hit: concurrent starts, a lock held too long, a
/// killed holder, unreadable secrets, status as a check, restart of a partly running environment.
/// </summary>
[Collection(TestLane.MainCollection)]
[Trait("Category", "Integration")]
public sealed class SafeGroundTests(DockerFixture docker) : IAsyncLifetime
{
    private readonly string _locks = Path.Combine(Path.GetTempPath(), $"llmstack-it-locks-{Guid.NewGuid():N}");

    public Task InitializeAsync() => docker.CleanAsync("testing", "development");

    public async Task DisposeAsync()
    {
        await docker.CleanAsync("testing", "development");
        if (Directory.Exists(_locks))
        {
            Directory.Delete(_locks, recursive: true);
        }
    }

    private TestRun Testing => new(docker.Root) { EnvironmentVariables = new Dictionary<string, string> { ["LLMSTACK_LOCK_DIR"] = _locks } };

    private TestRun Development => Testing with { Environment = "development" };

    [Fact]
    public async Task Two_StartCore_at_once_on_one_environment_one_waits_then_both_succeed()
    {
        // Fault 1: the loser failed with a wrong "not LlmStack's" message, a conflict with its sibling's bridge, or a stack trace.
        var first = Development.RunAsync("StartCore");
        var second = Development.RunAsync("StartCore");
        var results = await Task.WhenAll(first, second);
        foreach (var result in results)
        {
            result.ExitCode.Should().Be(0, result.ToString());
            result.Output.Should().NotContain("   at ").And.NotContain("not LlmStack's").And.NotContain("conflict");
        }

        results.Count(r => r.Output.Contains("Environment development is locked by StartCore (pid ", StringComparison.Ordinal)).Should().Be(1, "exactly one run waited");
        results.Select(r => r.Output).Should().Contain(o => o.Contains("Containers: 4 created", StringComparison.Ordinal))
            .And.Contain(o => o.Contains("Containers: 4 unchanged", StringComparison.Ordinal));
        var containers = await docker.ContainersAsync("development");
        containers.Should().HaveCount(4).And.OnlyContain(c => c.State == "running");
    }

    [Fact]
    public async Task A_run_that_cannot_get_the_lock_in_time_fails_with_one_line_naming_the_holder_and_changes_nothing()
    {
        (await Testing.RunAsync("StartCore")).ExitCode.Should().Be(0);
        using var held = await EnvironmentLock.AcquireAsync(
            _locks, "unix:///var/run/docker.sock", TestNames.Project(), "testing",
            new LockHolder("BackupFull", "BackupFull", Environment.ProcessId, "ops", Environment.MachineName, DateTimeOffset.Now, "/srv/llmstack"),
            TimeSpan.FromSeconds(1), _ => { }, CancellationToken.None);

        var stop = await Testing.RunAsync("StopCore", "--lock-timeout", "2s");
        stop.ExitCode.Should().Be(1, stop.ToString());
        stop.Output.Should().Contain($"Environment testing is locked by BackupFull (pid {Environment.ProcessId}, user ops")
            .And.Contain($"environment testing ({TestNames.Project()}) is locked by BackupFull")
            .And.Contain("gave up after 2s (--lock-timeout); wait for it to finish, or raise --lock-timeout")
            .And.NotContain("   at ");
        (await docker.ContainersAsync("testing")).Should().HaveCount(4).And.OnlyContain(c => c.State == "running", "nothing was stopped");

        // Read-only targets take no lock.
        var status = await Testing.RunAsync("StatusCore", "--lock-timeout", "1s");
        status.ExitCode.Should().Be(0, status.ToString());
        status.Output.Should().NotContain("locked by");
    }

    [Fact]
    public async Task A_holder_killed_mid_run_never_blocks_the_next_run()
    {
        (await Testing.RunAsync("StartCore")).ExitCode.Should().Be(0);
        var killed = await Testing.RunAsync(["RestartCore"], whileRunning: async process =>
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (!Directory.Exists(_locks) || Directory.GetFiles(_locks, "*.holder").Length == 0)
            {
                DateTime.UtcNow.Should().BeBefore(deadline, "RestartCore should take the lock");
                await Task.Delay(50);
            }

            using var kill = System.Diagnostics.Process.Start("kill", ["-KILL", process.Id.ToString(CultureInfo.InvariantCulture)])!;
            await kill.WaitForExitAsync();
        });
        killed.ExitCode.Should().Be(137, killed.ToString());

        var next = await Testing.RunAsync("StartCore", "--lock-timeout", "10s");
        next.ExitCode.Should().Be(0, next.ToString());
        next.Output.Should().NotContain("locked by", "the kernel released the dead holder's lock");
        (await docker.ContainersAsync("testing")).Should().HaveCount(4).And.OnlyContain(c => c.State == "running");
    }

    [Fact]
    public async Task A_secrets_file_that_cannot_be_read_is_one_line_and_nothing_is_created_or_written()
    {
        // Fault 3: new secrets were generated into testing.env.tmp and the run crashed with an IOException stack trace.
        var secrets = Path.Combine(Path.GetTempPath(), $"llmstack-it-secrets-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path.Combine(secrets, "testing.env"));
        try
        {
            var start = await Testing.RunAsync("StartCore", "--secrets-dir", secrets);
            start.ExitCode.Should().Be(1, start.ToString());
            start.Output.Should().Contain($"secrets file {secrets}/testing.env is a directory: move it away (LlmStack never replaces a secrets file)")
                .And.NotContain("   at ");
            Directory.GetFileSystemEntries(secrets).Should().Equal(Path.Combine(secrets, "testing.env"));
            (await docker.ContainersAsync("testing")).Should().BeEmpty();
        }
        finally
        {
            Directory.Delete(secrets, recursive: true);
        }
    }

    [Fact]
    public async Task Status_is_a_check_and_Restart_restarts_only_what_runs()
    {
        (await Testing.RunAsync("StartCore")).ExitCode.Should().Be(0);
        var healthy = await Testing.RunAsync("StatusCore");
        healthy.ExitCode.Should().Be(0, healthy.ToString());
        healthy.Output.Should().MatchRegex(@"postgres\s+core\s+running\s+healthy");

        // Fault 5: Restart failed on the first stopped stack of a partly running environment.
        var restart = await Testing.RunAsync("Restart");
        restart.ExitCode.Should().Be(0, restart.ToString());
        restart.Output.Should().MatchRegex(@"RestartCore +Succeeded .*// Restarted: 4")
            .And.MatchRegex(@"RestartAi +Succeeded .*// Restarted: 0")
            .And.Contain("Stack ai is not running in testing: nothing to restart");
        var named = await Testing.RunAsync("RestartAi");
        named.ExitCode.Should().Be(1);
        named.Output.Should().Contain("stack ai is not running in environment testing: use StartAi");

        // Fault 12: StatusCore exited 0 while a service was down.
        await docker.Docker.Containers.StopContainerAsync(TestNames.Container("redis"), new ContainerStopParameters { WaitBeforeKillSeconds = 1 });
        var down = await Testing.RunAsync("StatusCore");
        down.ExitCode.Should().Be(1, down.ToString());
        down.Output.Should().MatchRegex(@"redis\s+core\s+exited").And.Contain("1 of 4 service(s) of stack core are not running and healthy in testing: redis (exited)");
        var json = await Testing.RunAsync("StatusCore", "--json");
        json.ExitCode.Should().Be(1);
        var system = await Testing.RunAsync("SystemStatus");
        system.ExitCode.Should().Be(1, "the core stack is up but not whole");
        system.Output.Should().Contain("redis (exited)").And.NotContain("vllm (missing)", "a stack that is wholly stopped is not a failure of SystemStatus");
        var stopped = await Testing.RunAsync("StatusInference");
        stopped.ExitCode.Should().Be(1);
        stopped.Output.Should().Contain("vllm (missing)");

        (await Testing.RunAsync("StartCore")).ExitCode.Should().Be(0);
        (await Testing.RunAsync("StatusCore")).ExitCode.Should().Be(0);

        await docker.CleanAsync("testing");
        var nothing = await Testing.RunAsync("Restart");
        nothing.ExitCode.Should().Be(1);
        nothing.Output.Should().Contain("nothing is running in environment testing: use Start");
    }
}
