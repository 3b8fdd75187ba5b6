using LlmStack.ChangeControl;
using LlmStack.Pipeline;
using LlmStack.Security;

namespace LlmStack.Tests.ChangeControl;

public sealed class EnvironmentLockTests : IDisposable
{
    private readonly string _directory = Path.Combine(Repository.TempDirectory("locks"), "locks");

    public void Dispose() => Directory.Delete(Path.GetDirectoryName(_directory)!, recursive: true);

    private static LockHolder Holder(string target) =>
        new(target, $"{target} --environment testing", Environment.ProcessId, "tester", Environment.MachineName, DateTimeOffset.Now, "/repo");

    private Task<EnvironmentLock> Acquire(string target, TimeSpan timeout, Action<LockHolder?>? waiting = null, string project = "multimodal-testing", string endpoint = "unix:///var/run/docker.sock") =>
        EnvironmentLock.AcquireAsync(_directory, endpoint, project, "testing", Holder(target), timeout, waiting ?? (_ => { }), CancellationToken.None);

    [Fact]
    public async Task A_second_holder_waits_is_told_who_holds_it_then_gives_up_with_one_line()
    {
        using var first = await Acquire("StartCore", TimeSpan.FromSeconds(1));
        var told = new List<LockHolder?>();
        var second = () => Acquire("StopCore", TimeSpan.FromSeconds(1.5), told.Add);
        var error = (await second.Should().ThrowAsync<PipelineException>()).Which;
        error.Message.Should().StartWith("environment testing (multimodal-testing) is locked by StartCore (pid ")
            .And.EndWith("gave up after 1.5s (--lock-timeout); wait for it to finish, or raise --lock-timeout");
        told.Should().ContainSingle("the holder is announced once").Which!.Target.Should().Be("StartCore");
    }

    [Fact]
    public async Task A_waiter_gets_the_lock_as_soon_as_it_is_released()
    {
        var first = await Acquire("StartCore", TimeSpan.FromSeconds(1));
        var waiting = Acquire("StartCore", TimeSpan.FromSeconds(20));
        await Task.Delay(500);
        waiting.IsCompleted.Should().BeFalse();
        first.Dispose();
        using var second = await waiting.WaitAsync(TimeSpan.FromSeconds(5));
        second.IsHeld.Should().BeTrue();
        EnvironmentLock.ReadHolder(second.LockPath)!.Target.Should().Be("StartCore");
    }

    [Fact]
    public async Task Other_projects_and_other_engines_have_locks_of_their_own()
    {
        using var testing = await Acquire("StartCore", TimeSpan.FromSeconds(1));
        using var staging = await Acquire("StartCore", TimeSpan.FromSeconds(1), project: "multimodal-staging");
        using var remote = await Acquire("StartCore", TimeSpan.FromSeconds(1), endpoint: "tcp://10.0.0.5:2375");
        new[] { testing.LockPath, staging.LockPath, remote.LockPath }.Should().OnlyHaveUniqueItems();
    }

    [Fact]
    public void One_engine_has_one_lock_however_its_endpoint_is_spelled()
    {
        EnvironmentLock.CanonicalEndpoint("TCP://Host:2375/").Should().Be("tcp://host:2375");
        EnvironmentLock.FileFor(_directory, "tcp://host:2375/", "p").Should().Be(EnvironmentLock.FileFor(_directory, "TCP://HOST:2375", "p"));
    }

    [Fact]
    public void A_unix_socket_is_known_by_its_real_path_through_symbolic_links_as_var_run_is_run_on_Debian()
    {
        // Made here, so the case holds on any host (on Debian /var/run -> /run; elsewhere it may be a directory).
        var root = Path.GetDirectoryName(_directory)!;
        var run = Directory.CreateDirectory(Path.Combine(root, "run")).FullName;
        var varDirectory = Directory.CreateDirectory(Path.Combine(root, "var")).FullName;
        Directory.CreateSymbolicLink(Path.Combine(varDirectory, "run"), "../run");
        File.WriteAllText(Path.Combine(run, "docker.sock"), string.Empty);
        File.CreateSymbolicLink(Path.Combine(run, "engine.sock"), "docker.sock");
        var other = Directory.CreateDirectory(Path.Combine(root, "other")).FullName;

        var real = EnvironmentLock.FileFor(_directory, $"unix://{run}/docker.sock", "p");
        EnvironmentLock.FileFor(_directory, $"unix://{varDirectory}/run/docker.sock", "p").Should().Be(real, "a directory on the way is a link");
        EnvironmentLock.FileFor(_directory, $"unix://{run}/engine.sock", "p").Should().Be(real, "the socket itself is a link");
        EnvironmentLock.FileFor(_directory, $"unix://{varDirectory}/run/../run/docker.sock/", "p").Should().Be(real);
        EnvironmentLock.FileFor(_directory, $"unix://{other}/docker.sock", "p").Should().NotBe(real, "another socket is another engine");
        EnvironmentLock.CanonicalEndpoint($"unix://{varDirectory}/run/docker.sock").Should().Be($"unix://{run}/docker.sock");
    }

    [Fact]
    public async Task The_lock_directory_is_shared_by_every_user_like_tmp()
    {
        using var held = await Acquire("StartCore", TimeSpan.FromSeconds(1));
        var mode = File.GetUnixFileMode(_directory);
        mode.Should().HaveFlag(UnixFileMode.StickyBit).And.HaveFlag(UnixFileMode.OtherWrite);
    }
}
