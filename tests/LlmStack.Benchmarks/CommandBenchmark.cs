using System.Diagnostics;
using System.Globalization;
using LlmStack.Pipeline;

namespace LlmStack.Benchmarks;

/// <summary>Wall-clock timings of repeated runs of something, reported as median, min and max (figures, never assertions).</summary>
public sealed record Timing(string Name, IReadOnlyList<TimeSpan> Runs)
{
    public TimeSpan Median
    {
        get
        {
            var sorted = Runs.Order().ToList();
            return sorted.Count % 2 == 1
                ? sorted[sorted.Count / 2]
                : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
        }
    }

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture,
            $"{Name}: median {Median.TotalSeconds:0.000} s (min {Runs.Min().TotalSeconds:0.000}, max {Runs.Max().TotalSeconds:0.000}, n={Runs.Count})");
}

public static class CommandBenchmark
{
    /// <summary>Runs <paramref name="action"/> <paramref name="warmups"/> times untimed, then <paramref name="runs"/> times timed.</summary>
    public static async Task<Timing> MeasureAsync(string name, Func<CancellationToken, Task> action, int runs, int warmups, CancellationToken cancellationToken)
    {
        for (var i = 0; i < warmups; i++)
        {
            await action(cancellationToken);
        }

        var timings = new List<TimeSpan>(runs);
        for (var i = 0; i < runs; i++)
        {
            var stopwatch = Stopwatch.StartNew();
            await action(cancellationToken);
            timings.Add(stopwatch.Elapsed);
        }

        return new Timing(name, timings);
    }

    /// <summary>Times a command line (output discarded; a non-zero exit fails the benchmark).</summary>
    public static Task<Timing> MeasureCommandAsync(
        string name, string fileName, IReadOnlyList<string> arguments, string workingDirectory, int runs, int warmups, CancellationToken cancellationToken,
        IReadOnlyDictionary<string, string>? environment = null) =>
        MeasureAsync(name, ct => ProcessRunner.RunCheckedAsync(fileName, arguments, workingDirectory, null, ct, environment), runs, warmups, cancellationToken);
}

/// <summary>A start-up figure and how many times a .NET hello world's start-up it is.</summary>
public sealed record StartupFigure(Timing Timing, double RatioToHelloWorld)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Timing} = {RatioToHelloWorld:0.0}x hello world");
}

/// <summary>
/// BenchmarkStartup's figures (never assertions): medians of warm runs of a .NET hello world, the build program alone
/// (<c>--help</c>), <c>./build.sh --help</c> and <c>./build.sh ValidateSchema --plan</c> (no target is a no-op: the plan
/// of a trivial one does everything a run does before the first target, with no help cache). The hello world is built
/// the way build.sh builds the build program (published ReadyToRun for this machine's runtime, else a plain Release
/// build) into .nuke/temp/hello-world and started the way build.sh starts it: its apphost, directly.
/// </summary>
public static class StartupBenchmark
{
    private const int Warmups = 2;

    /// <param name="program">The build program's apphost (build.sh's <c>build/bin/Release/net10.0/_build</c>).</param>
    public static async Task<IReadOnlyList<StartupFigure>> RunAsync(string root, string program, int runs, Serilog.ILogger log, CancellationToken cancellationToken)
    {
        var hello = await HelloWorldAsync(Path.Combine(root, ".nuke", "temp", "hello-world"), log, cancellationToken);
        // Nested runs of the build log elsewhere: the running build's build.log stays intact.
        var nested = new Dictionary<string, string> { ["LLMSTACK_LOG_DIRECTORY"] = Path.Combine(root, ".nuke", "temp", "benchmark-startup") };
        var buildSh = Path.Combine(root, "build.sh");
        var timings = new List<Timing>
        {
            await CommandBenchmark.MeasureCommandAsync("hello world (apphost)", hello, [], root, runs, Warmups, cancellationToken),
            await CommandBenchmark.MeasureCommandAsync("build program alone: _build --help", program, ["--help"], root, runs, Warmups, cancellationToken, nested),
            await CommandBenchmark.MeasureCommandAsync("./build.sh --help", buildSh, ["--help"], root, runs, Warmups, cancellationToken, nested),
            await CommandBenchmark.MeasureCommandAsync("./build.sh ValidateSchema --plan", buildSh, ["ValidateSchema", "--plan"], root, runs, Warmups, cancellationToken, nested),
        };
        return timings.Select(t => new StartupFigure(t, t.Median / timings[0].Median)).ToList();
    }

    /// <summary>Writes and builds the hello world once (again only when its directory was removed); returns its apphost.</summary>
    private static async Task<string> HelloWorldAsync(string directory, Serilog.ILogger log, CancellationToken cancellationToken)
    {
        var output = Path.Combine(directory, "out");
        var apphost = Path.Combine(output, OperatingSystem.IsWindows() ? "hello.exe" : "hello");
        if (File.Exists(apphost))
        {
            return apphost;
        }

        Directory.CreateDirectory(directory);
        // Empty Directory.Build.props and Directory.Packages.props: the repository's (warnings as errors, central package
        // versions) stop here; global.json and nuget.config still apply, as they do to the build program.
        File.WriteAllText(Path.Combine(directory, "Directory.Build.props"), "<Project />\n");
        File.WriteAllText(Path.Combine(directory, "Directory.Packages.props"), "<Project />\n");
        File.WriteAllText(Path.Combine(directory, "hello.csproj"), """
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <Nullable>enable</Nullable>
              </PropertyGroup>
            </Project>

            """);
        File.WriteAllText(Path.Combine(directory, "Program.cs"), "Console.WriteLine(\"Hello, World!\");\n");
        void Line(string line) => log.Debug("{Line}", line);
        var project = Path.Combine(directory, "hello.csproj");
        var published = await ProcessRunner.RunAsync("dotnet",
            ["publish", project, "--configuration", "Release", "--use-current-runtime", "--self-contained", "false", "-p:PublishReadyToRun=true", "-o", output, "-nologo"],
            directory, Line, cancellationToken);
        if (published.ExitCode != 0)
        {
            log.Information("hello world: ReadyToRun publish failed, a plain Release build (as build.sh falls back to)");
            await ProcessRunner.RunCheckedAsync("dotnet", ["build", project, "--configuration", "Release", "-o", output, "-nologo"], directory, Line, cancellationToken);
        }

        return apphost;
    }
}
