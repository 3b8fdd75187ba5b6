using LlmStack.Pipeline;
using LlmStack.Reporting;
using LlmStack.Schema;

namespace LlmStack.Images;

/// <summary>
/// The Images report, a quick answer to "will Start work here": per service of the environment its image (after
/// --image-map), where it comes from, present or missing, a build's state against its sources, its size; then what Start
/// would build and pull. It fails (after the table) when Start could not have an image: a build whose context is missing
/// and whose image is not present, or with --offline any missing image.
/// </summary>
public static class ImagesReport
{
    public sealed record Row(
        string Service, string Stack, string Image, string SchemaImage, ImageSource Source, string? Context, bool Present, BuildState Build,
        string? BuiltHash, string? CurrentHash, long? Size);

    public sealed record Document(string Environment, bool Offline, IReadOnlyList<Row> Services, IReadOnlyList<string> ToBuild, IReadOnlyList<string> ToPull, IReadOnlyList<string> Problems);

    public static Report Of(ResolvedEnvironment environment, IReadOnlyList<ImageState> states, ImagePlan plan, bool offline)
    {
        var rows = states.Select(s => new Row(
            s.Want.Service, s.Want.Stack, s.Want.Image, s.Want.SchemaImage, s.Want.Source, s.Want.Build?.Context, s.Present, s.Build, s.BuiltHash, s.CurrentHash, s.Size)).ToList();
        var report = new Report
        {
            Document = new Document(environment.Name, offline, rows, plan.ToBuild.Select(b => b.Want.Image).ToList(), plan.ToPull.Select(p => p.Image).ToList(), plan.Problems),
        };

        var table = new TextTable("Service", "Stack", "Image", "Source", "Present", "Build", "Size");
        foreach (var row in rows)
        {
            table.Add(row.Service, row.Stack, row.Image, Source(row), row.Present ? "present" : "missing", Word(row.Build), row.Size is { } size ? ByteSize.Format(size) : "-");
        }

        var images = states.DistinctBy(s => s.Want.Image).ToList();
        report.Table(table).Line()
            .Line($"{images.Count(s => s.Present)} of {images.Count} image(s) present in {environment.Name}; Start would build {Names(plan.ToBuild.Select(b => b.Want.Image))} and pull {Names(plan.ToPull.Select(p => p.Image))}{(offline ? " (--offline: never pulls)" : string.Empty)}");
        foreach (var notice in plan.Notices)
        {
            report.Line(notice);
        }

        foreach (var problem in plan.Problems)
        {
            report.Line(problem);
        }

        return report.FailWhen(plan.Problems, problems => $"Start cannot have {problems.Count} of the images of {environment.Name} (above): {problems.First()}");
    }

    /// <summary>A build's state as the table says it.</summary>
    public static string Word(BuildState state) => state switch
    {
        BuildState.NotBuilt => "-",
        BuildState.Current => "current",
        BuildState.Stale => "stale",
        BuildState.Missing => "not built",
        _ => "no context",
    };

    private static string Source(Row row) => row.Source switch
    {
        ImageSource.Build => $"build {row.Context}",
        ImageSource.Mapped => $"--image-map (for {row.SchemaImage})",
        _ => "pull",
    };

    private static string Names(IEnumerable<string> images) => images.ToList() is { Count: > 0 } list ? string.Join(", ", list) : "nothing";
}

/// <summary>The steps of Setup, each a target it depends on, in the order they run.</summary>
public enum SetupStep
{
    ValidateSchema,
    SetupSecrets,
    DetectGpu,
    Images,
    CheckNetworkConflicts,
}

/// <summary>How a step of Setup ended: passed, failed (with its one line), or did not run.</summary>
public sealed record SetupOutcome(SetupStep Step, bool? Passed, string? Line)
{
    /// <summary>A step from its target's status in the run (null: not planned).</summary>
    public static SetupOutcome Of(SetupStep step, ExecutionStatus? status, string? line) => status switch
    {
        ExecutionStatus.Succeeded => new(step, true, null),
        ExecutionStatus.Failed => new(step, false, line),
        _ => new(step, null, line),
    };
}

/// <summary>Setup's summary: each step's outcome and what to do next.</summary>
public static class SetupSummary
{
    public sealed record Document(string Environment, IReadOnlyList<SetupOutcome> Steps, IReadOnlyList<string> Next);

    public static Report Of(IReadOnlyList<SetupOutcome> steps, string environment, string startTarget)
    {
        var next = new List<string>();
        foreach (var step in steps.Where(s => s.Passed == false))
        {
            next.Add(step.Step switch
            {
                SetupStep.ValidateSchema => "fix the schema: ./build.sh ValidateSchema lists every problem with file:line:col",
                SetupStep.SetupSecrets => $"make the secrets file of {environment} readable (its line is above), then run Setup again",
                SetupStep.DetectGpu => $"this host cannot run {environment}'s GPU services: use an environment with gpu: false here, or install the NVIDIA Container Toolkit (./build.sh DetectGpu)",
                SetupStep.Images => "make the images above available: put the services' sources in services/, map images with --image-map, or run without --offline (./build.sh Images)",
                _ => $"move {environment}'s clashing subnets: ./build.sh SuggestSubnets --environment {environment} prints a snippet for the schema",
            });
        }

        if (steps.Any(s => s.Passed is null))
        {
            next.Add($"run Setup again once the above is fixed: {string.Join(", ", steps.Where(s => s.Passed is null).Select(s => s.Step))} did not run");
        }

        if (next.Count == 0)
        {
            next.Add($"./build.sh {startTarget} --environment {environment}: builds and pulls what Images lists as missing, then starts every stack health-gated (ahead of time: ./build.sh BuildImages PullImages)");
        }

        var table = new TextTable("Step", "Result", "Detail");
        foreach (var step in steps)
        {
            table.Add(step.Step.ToString(), step.Passed switch { true => "ok", false => "failed", _ => "not run" }, step.Line ?? string.Empty);
        }

        var report = new Report { Document = new Document(environment, steps, next) }.Line().Line($"Setup of {environment}:").Table(table).Line().Line("Next:");
        foreach (var line in next)
        {
            report.Line("  " + line);
        }

        return report;
    }
}
