using LlmStack.Schema;

namespace LlmStack.Images;

/// <summary>Where a service's image comes from in this run.</summary>
public enum ImageSource
{
    /// <summary>Pulled from its registry (the service has no build:).</summary>
    Pull,

    /// <summary>Built from the service's build: context.</summary>
    Build,

    /// <summary>Substituted by --image-map (a build: is then not used): present, or pulled.</summary>
    Mapped,
}

/// <summary>A built image against its sources.</summary>
public enum BuildState
{
    /// <summary>Not a built image (pulled or mapped).</summary>
    NotBuilt,

    /// <summary>Present, and its label holds the hash of its sources as they are now.</summary>
    Current,

    /// <summary>Present, but built from other sources (or not by LlmStack): Start builds it again.</summary>
    Stale,

    /// <summary>Not present: Start builds it.</summary>
    Missing,

    /// <summary>Its build context is not there: it cannot be built (a present image is used as it is).</summary>
    NoContext,
}

/// <summary>The image one service runs: the schema's, the one run (after --image-map), where it comes from, its build.</summary>
public sealed record ServiceImage(string Service, string Stack, string SchemaImage, string Image, ImageSource Source, ResolvedBuild? Build)
{
    /// <summary>Every service's image in an environment: built when it has build: and the map leaves its image alone.</summary>
    public static IReadOnlyList<ServiceImage> Of(IEnumerable<ResolvedService> services, Func<string, string> map) => services
        .Select(s => map(s.Image) is var image && image != s.Image
            ? new ServiceImage(s.Name, s.Stack, s.Image, image, ImageSource.Mapped, null)
            : new ServiceImage(s.Name, s.Stack, s.Image, s.Image, s.Build is null ? ImageSource.Pull : ImageSource.Build, s.Build))
        .ToList();
}

/// <summary>
/// What the engine has of a service's image: present or not, its size, the hash label of a built one, and for a build the
/// hash of its sources now (null, with <see cref="Problem"/>, when the context cannot be read).
/// </summary>
public sealed record ImageState(ServiceImage Want, bool Present, long? Size, string? BuiltHash, string? CurrentHash, string? Problem)
{
    public BuildState Build => Want.Source != ImageSource.Build
        ? BuildState.NotBuilt
        : CurrentHash is null ? BuildState.NoContext : !Present ? BuildState.Missing : BuiltHash == CurrentHash ? BuildState.Current : BuildState.Stale;
}

/// <summary>What a run must do before it creates anything: images to build, images to pull, and what it cannot have.</summary>
public sealed record ImagePlan(IReadOnlyList<ImageState> ToBuild, IReadOnlyList<ImageNeed> ToPull, IReadOnlyList<string> Problems, IReadOnlyList<string> Notices)
{
    /// <summary>
    /// The plan over the states (pure): a build service whose image is missing or stale is built (every one with its context,
    /// when <paramref name="rebuild"/>); one whose context is missing is an error when its image is missing, a notice when it is
    /// present; a missing pulled or mapped image is pulled, or with <paramref name="offline"/> listed in one line, never pulled.
    /// </summary>
    public static ImagePlan For(IReadOnlyList<ImageState> states, bool offline, bool rebuild = false)
    {
        var build = new List<ImageState>();
        var problems = new List<string>();
        var notices = new List<string>();
        foreach (var state in states.Where(s => s.Want.Source == ImageSource.Build).DistinctBy(s => s.Want.Image))
        {
            switch (state.Build)
            {
                case BuildState.Missing or BuildState.Stale:
                case BuildState.Current when rebuild:
                    build.Add(state);
                    break;
                case BuildState.NoContext when !state.Present || rebuild:
                    problems.Add(state.Problem!);
                    break;
                case BuildState.NoContext:
                    notices.Add($"{state.Want.Image} of service '{state.Want.Service}' is used as it is: its build context '{state.Want.Build!.Context}' is not here to check it against");
                    break;
            }
        }

        var missing = states.Where(s => s.Want.Source != ImageSource.Build && !s.Present)
            .GroupBy(s => s.Want.Image)
            .Select(g => new ImageNeed(g.Key, g.Select(s => s.Want.Service).Distinct().ToList()))
            .ToList();
        if (offline && missing.Count > 0)
        {
            problems.Add($"--offline: {missing.Count} image(s) missing and not pulled: {string.Join(", ", missing.Select(m => $"{m.Image} ({m.ServicesText})"))}: load them (docker load), map them with --image-map, or run without --offline");
            missing = [];
        }

        return new ImagePlan(build, missing, problems, notices);
    }
}
