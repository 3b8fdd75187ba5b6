using System.Diagnostics;
using Docker.DotNet;
using Docker.DotNet.Models;
using LlmStack.Compose;

namespace LlmStack.IntegrationTests;

/// <summary>The first lane (<see cref="TestLane.Main"/>): the testing environment's classes, one after another.</summary>
[CollectionDefinition(TestLane.MainCollection)]
public sealed class DockerCollection : ICollectionFixture<DockerFixture>;

/// <summary>The second lane (<see cref="TestLane.Second"/>), beside the first: its classes, one after another, in an environment of their own.</summary>
[CollectionDefinition(TestLane.SecondCollection)]
public sealed class SecondLaneCollection : ICollectionFixture<DockerFixture>;

/// <summary>
/// The real Docker engine and the repository's build program. Integration tests never skip: without an engine
/// or the fixture images they fail, saying what to do.
/// </summary>
public sealed class DockerFixture : IAsyncLifetime
{
    public static readonly string[] FixtureImages =
        ["llmstack-fixture/postgres:15", "llmstack-fixture/redis:7", "llmstack-fixture/standin:1", "llmstack-fixture/restic:0.14", "llmstack-fixture/prometheus:2", "llmstack-fixture/node-exporter:1",
         "llmstack-fixture/jmeter:2.13"];

    public DockerClient Docker { get; } = new DockerClientBuilder()
        .WithEndpoint(new Uri("unix:///var/run/docker.sock"))
        .WithApiVersion(new System.Version(1, 41))
        .Build();

    public string Root { get; } = FindRoot();

    public async Task InitializeAsync()
    {
        try
        {
            await Docker.System.PingAsync();
        }
        catch (Exception e)
        {
            throw new InvalidOperationException("integration tests need a running Docker engine at /var/run/docker.sock (bash .ci/run starts one): " + e.Message, e);
        }

        foreach (var image in FixtureImages)
        {
            try
            {
                await Docker.Images.InspectImageAsync(image);
            }
            catch (DockerImageNotFoundException)
            {
                throw new InvalidOperationException($"fixture image {image} is missing: run ./build.sh FixtureImages");
            }
        }

        // Make sure the build program is built before tests time their runs.
        var help = await Cli.RunAsync(Root, ["--help"]);
        if (help.ExitCode != 0)
        {
            throw new InvalidOperationException("./build.sh --help failed: " + help.Output);
        }
    }

    public Task DisposeAsync()
    {
        Docker.Dispose();
        return Task.CompletedTask;
    }

    /// <summary>Removes every container, network and volume of an environment, selected by our environment label.</summary>
    public async Task CleanAsync(params string[] environments)
    {
        foreach (var environment in environments)
        {
            var filter = new Dictionary<string, IDictionary<string, bool>>
            {
                ["label"] = new Dictionary<string, bool> { [$"{Names.Environment}={environment}"] = true, [$"{Names.ComposeProject}={TestNames.Project(environment)}"] = true },
            };
            foreach (var container in await Docker.Containers.ListContainersAsync(new ContainersListParameters { All = true, Filters = filter }))
            {
                await Docker.Containers.RemoveContainerAsync(container.ID, new ContainerRemoveParameters { Force = true });
            }

            foreach (var network in await Docker.Networks.ListNetworksAsync(new NetworksListParameters { Filters = filter }))
            {
                await Docker.Networks.DeleteNetworkAsync(network.ID);
            }

            foreach (var volume in (await Docker.Volumes.ListAsync(new VolumesListParameters { Filters = filter })).Volumes ?? [])
            {
                await Docker.Volumes.RemoveAsync(volume.Name, force: true);
            }
        }
    }

    public async Task<IList<ContainerListResponse>> ContainersAsync(string environment, string? stack = null)
    {
        var labels = new Dictionary<string, bool> { [$"{Names.Environment}={environment}"] = true };
        if (stack is not null)
        {
            labels[$"{Names.Stack}={stack}"] = true;
        }

        return await Docker.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = labels },
        });
    }

    /// <summary>docker exec, returning exit code and output.</summary>
    public async Task<(long ExitCode, string Output)> ExecAsync(string container, params string[] command)
    {
        var exec = await Docker.Exec.CreateContainerExecAsync(container, new ContainerExecCreateParameters { Cmd = command, AttachStdout = true, AttachStderr = true });
        using var stream = await Docker.Exec.StartContainerExecAsync(exec.ID, new ContainerExecStartParameters(), default);
        var (stdout, stderr) = await stream.ReadOutputToEndAsync(default);
        var inspect = await Docker.Exec.InspectContainerExecAsync(exec.ID);
        return (inspect.ExitCode ?? -1, stdout + stderr);
    }

    internal static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "build.sh")) && Directory.Exists(Path.Combine(directory.FullName, ".nuke")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("repository root not found above " + AppContext.BaseDirectory);
    }
}

/// <summary>Stacks of a lane's environment started once (by a Start target) for the tests of a class, removed after.</summary>
public abstract class RunningStacks(string startTarget, TestLane? lane = null) : IAsyncLifetime
{
    /// <summary>The lane the class runs in (the testing environment unless it names another).</summary>
    public TestLane Lane { get; } = lane ?? TestLane.Main;

    public DockerFixture Docker { get; } = new();

    public Engine.DockerEngine Engine { get; private set; } = null!;

    public Schema.ResolvedEnvironment Testing { get; private set; } = null!;

    /// <summary>The schema the stacks are started from: the lane's (<see cref="TestLane.Schema"/>), or a class's copy (<see cref="SchemaCopy"/>).</summary>
    public virtual string SchemaPath => Lane.Schema(Docker.Root);

    /// <summary>A run in the lane's environment (its arguments, the class's <see cref="SchemaPath"/>).</summary>
    public TestRun Run => Lane.Run(Docker.Root, SchemaPath);

    public async Task InitializeAsync()
    {
        await Docker.InitializeAsync();
        await Docker.CleanAsync(Lane.Environment);
        var start = await Run.RunAsync(startTarget);
        if (start.ExitCode != 0)
        {
            throw new InvalidOperationException($"{startTarget} failed: {start}");
        }

        Engine = await LlmStack.Engine.DockerEngine.ConnectAsync(null, Serilog.Core.Logger.None, CancellationToken.None);
        Testing = new Schema.SchemaFile(Docker.Root, SchemaPath).Resolve(Lane.Environment);
    }

    public virtual async Task DisposeAsync()
    {
        await Docker.CleanAsync(Lane.Environment);
        Engine.Dispose();
        await Docker.DisposeAsync();
    }
}

/// <summary>Runs ./build.sh as a user would, with its logs in a directory of the test's own.</summary>
public static class Cli
{
    public sealed record Result(int ExitCode, string Output, string LogDirectory)
    {
        /// <summary>Standard output alone (Output interleaves both streams): with --json, exactly the document.</summary>
        public string StandardOutput { get; init; } = string.Empty;

        public string Log => File.Exists(Path.Combine(LogDirectory, "build.log")) ? File.ReadAllText(Path.Combine(LogDirectory, "build.log")) : string.Empty;

        public string JsonLog => File.Exists(Path.Combine(LogDirectory, "build.json")) ? File.ReadAllText(Path.Combine(LogDirectory, "build.json")) : string.Empty;

        public override string ToString() => $"exit {ExitCode}\n{Output}";
    }

    /// <param name="processGroup">
    /// Run in a process group of its own (<c>setsid</c>: the build program keeps the pid), so that
    /// <see cref="InterruptGroupAsync"/> can signal it and every tool it runs at once, as a terminal's Ctrl-C does.
    /// </param>
    /// <param name="signalAt">Sends <c>signal</c> (a name for kill: INT, TERM) to the run once a line of its output matches: a known point, never a guessed delay.</param>
    public static Task<Result> RunAsync(
        string root, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null, Func<Process, Task>? whileRunning = null, bool processGroup = false,
        Func<string, bool>? signalAt = null, string signal = "INT") =>
        RunBashAsync(root, [Path.Combine(root, "build.sh"), .. arguments], environment, whileRunning, processGroup, signalAt, signal);

    /// <summary>
    /// A workflow step's <c>run</c>, as a GitHub Actions runner on Linux runs it when the step names no shell: written to a
    /// file and run by <c>bash -e {0}</c> in <paramref name="directory"/>, with the step's environment
    /// (<paramref name="environment"/>). The process is that bash: a signal to it is what the runner sends the step on a
    /// cancel (SIGINT, SIGTERM 7.5 s later, then the process tree killed 2.5 s after that).
    /// </summary>
    public static async Task<Result> RunStepAsync(string directory, string run, IReadOnlyDictionary<string, string> environment, Func<Process, Task>? whileRunning = null)
    {
        var script = Path.Combine(Path.GetTempPath(), $"llmstack-it-step-{Guid.NewGuid():N}.sh");
        await File.WriteAllTextAsync(script, run);
        try
        {
            return await RunBashAsync(directory, ["-e", script], environment, whileRunning, processGroup: false, signalAt: null, signal: "INT");
        }
        finally
        {
            File.Delete(script);
        }
    }

    private static async Task<Result> RunBashAsync(
        string directory, string[] bashArguments, IReadOnlyDictionary<string, string>? environment, Func<Process, Task>? whileRunning, bool processGroup,
        Func<string, bool>? signalAt, string signal)
    {
        var logs = environment?.GetValueOrDefault("LLMSTACK_LOG_DIRECTORY") ?? Path.Combine(Path.GetTempPath(), "llmstack-it-logs-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(logs);
        // A test host started from a background job (`bash .ci/run &` without job control) inherits SIGINT ignored, the
        // build program then inherits it too, and .NET installs no Ctrl-C handler for an ignored SIGINT: the tests' INT
        // would do nothing. perl (always on Debian) puts the default back and execs, keeping the pid, so an INT here
        // acts as a terminal's Ctrl-C whatever started the tests.
        var start = new ProcessStartInfo("perl", ["-e", "$SIG{INT} = 'DEFAULT'; exec { $ARGV[0] } @ARGV or die \"exec $ARGV[0]: $!\\n\"", .. (processGroup ? new[] { "setsid", "bash" } : ["bash"]), .. bashArguments])
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true, // never interactive: confirmations must come from --confirm
        };
        start.Environment["LLMSTACK_LOG_DIRECTORY"] = logs;
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var output = new System.Text.StringBuilder();
        var gate = new object();
        var standardOutput = new System.Text.StringBuilder();
        var signalled = 0;
        void Received(string? line, bool stdout)
        {
            if (line is null)
            {
                return;
            }

            lock (gate)
            {
                output.AppendLine(line);
                if (stdout)
                {
                    standardOutput.AppendLine(line);
                }
            }

            if (signalAt is not null && signalAt(line) && Interlocked.Exchange(ref signalled, 1) == 0)
            {
                using var kill = Process.Start("kill", ["-" + signal, process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
                kill.WaitForExit();
            }
        }

        process.OutputDataReceived += (_, e) => Received(e.Data, stdout: true);
        process.ErrorDataReceived += (_, e) => Received(e.Data, stdout: false);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (whileRunning is not null)
        {
            await whileRunning(process);
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await process.WaitForExitAsync(timeout.Token);
        process.WaitForExit();
        lock (gate)
        {
            return new Result(process.ExitCode, output.ToString(), logs) { StandardOutput = standardOutput.ToString() };
        }
    }

    /// <summary>SIGINT to the process group of a run started with <c>processGroup: true</c>: the build and the tools it runs (restic) all get it.</summary>
    public static async Task InterruptGroupAsync(Process process)
    {
        using var kill = Process.Start("kill", ["-INT", "--", "-" + process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
        await kill.WaitForExitAsync();
        kill.ExitCode.Should().Be(0, "the run's process group exists");
    }

    /// <summary>Waits (polling) until <paramref name="reached"/> holds: a known point of a run, never a guessed delay.</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> reached, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromMinutes(2));
        while (!await reached())
        {
            DateTime.UtcNow.Should().BeBefore(deadline, what);
            await Task.Delay(20);
        }
    }
}
