using System.Diagnostics;

namespace LlmStack.IntegrationTests;

/// <summary>
/// How the tests of a class run ./build.sh (through <see cref="Cli.RunAsync"/>): the targets and the test's own
/// arguments first, then <c>--environment</c>, <c>--image-map</c> and the class's <see cref="Arguments"/>, with the
/// class's <see cref="EnvironmentVariables"/>. A class declares it once; a test that runs differently varies it with
/// <c>with</c>.
/// </summary>
public sealed record TestRun(string Root)
{
    /// <summary>The image map that puts the fixture images (./build.sh FixtureImages) in place of the schema's.</summary>
    public const string FixtureImageMap = "tests/fixtures/image-map.yaml";

    /// <summary>The value of <c>--environment</c>; null passes none.</summary>
    public string? Environment { get; init; } = "testing";

    /// <summary>The value of <c>--image-map</c>; null passes none.</summary>
    public string? ImageMap { get; init; } = FixtureImageMap;

    /// <summary>The class's arguments, after <c>--environment</c> and <c>--image-map</c>.</summary>
    public IReadOnlyList<string> Arguments { get; init; } = [];

    /// <summary>Environment variables of the run, over the test process's.</summary>
    public IReadOnlyDictionary<string, string>? EnvironmentVariables { get; init; }

    /// <summary>Called with the result of every run (for a check over all the runs of a test).</summary>
    public Action<Cli.Result>? Recorded { get; init; }

    public Task<Cli.Result> RunAsync(params string[] targetsAndArguments) => RunAsync(targetsAndArguments, whileRunning: null);

    /// <summary>A run with the options of <see cref="Cli.RunAsync"/>.</summary>
    public async Task<Cli.Result> RunAsync(
        IEnumerable<string> targetsAndArguments, Func<Process, Task>? whileRunning = null, bool processGroup = false, Func<string, bool>? signalAt = null, string signal = "INT")
    {
        var result = await Cli.RunAsync(Root, [.. targetsAndArguments, .. Options()], EnvironmentVariables, whileRunning, processGroup, signalAt, signal);
        Recorded?.Invoke(result);
        return result;
    }

    private IEnumerable<string> Options()
    {
        if (Environment is not null)
        {
            yield return "--environment";
            yield return Environment;
        }

        if (ImageMap is not null)
        {
            yield return "--image-map";
            yield return ImageMap;
        }

        foreach (var argument in Arguments)
        {
            yield return argument;
        }
    }
}
