using LlmStack.Compose;
using LlmStack.Engine;
using LlmStack.Pipeline;
using LlmStack.Reporting;
using LlmStack.Schema;
using Serilog;

namespace LlmStack.Images;

/// <summary>How a run treats images: never pull (<c>--offline</c>), progress bars or lines, the registry logins (read when first needed).</summary>
public sealed record ImageSettings(bool Offline, bool Bars, Func<RegistryCredentials> Credentials);

/// <summary>
/// The images of one environment on one engine: which service runs which image and where it comes from
/// (<see cref="ServiceImage"/>), what the engine has (<see cref="ImageState"/>), the plan (<see cref="ImagePlan"/>), and
/// its application: builds (<see cref="ImageBuilder"/>) one after the other, pulls (<see cref="ImagePuller"/>) in parallel.
/// Start's image step, BuildImages, PullImages, the Images report and the GPU check are its methods. The --image-map is
/// read when a method first needs it (the network checks that use this only for their probe image never read it).
/// </summary>
public sealed class ImageOperations(DockerEngine engine, ResolvedEnvironment environment, Func<ImageMap> map, ImageSettings settings, ILogger log)
{
    private RegistryCredentials? _credentials;

    private RegistryCredentials Credentials => _credentials ??= settings.Credentials();

    public ResolvedEnvironment Environment => environment;

    /// <summary>The images of these services (all of the environment's when null).</summary>
    public IReadOnlyList<ServiceImage> Wanted(IEnumerable<ResolvedService>? services = null) => ServiceImage.Of(services ?? environment.Services, map().Apply);

    /// <summary>What the engine has of each image, and each build's hash of its sources now.</summary>
    public async Task<IReadOnlyList<ImageState>> InspectAsync(IReadOnlyList<ServiceImage> wanted, CancellationToken cancellationToken)
    {
        var states = new List<ImageState>();
        var hashes = new Dictionary<string, (string? Hash, string? Problem)>(StringComparer.Ordinal);
        foreach (var want in wanted)
        {
            var found = await EngineImages.InspectAsync(engine, want.Image, cancellationToken);
            string? hash = null;
            string? problem = null;
            if (want.Build is { } build)
            {
                if (!hashes.TryGetValue(want.Image, out var known))
                {
                    try
                    {
                        var context = BuildContext.Open(want.Service, build);
                        known = (await context.HashAsync(Args(build), build.Target, cancellationToken), null);
                    }
                    catch (PipelineException e)
                    {
                        known = (null, e.Message);
                    }

                    hashes[want.Image] = known;
                }

                (hash, problem) = known;
            }

            states.Add(new ImageState(want, found is not null, found?.Size, found?.Config?.Labels is { } labels && labels.TryGetValue(Names.BuildHash, out var built) ? built : null, hash, problem));
        }

        return states;
    }

    /// <summary>
    /// Start's image step, before anything of the stack is created: builds what is missing or stale, pulls what is missing
    /// (never with --offline), or fails in one line naming what cannot be had. A second Start builds and pulls nothing.
    /// </summary>
    public async Task EnsureAsync(IReadOnlyList<ResolvedService> services, CancellationToken cancellationToken)
    {
        var plan = ImagePlan.For(await InspectAsync(Wanted(services), cancellationToken), settings.Offline);
        await ApplyAsync(plan, noCache: false, cancellationToken);
    }

    /// <summary>
    /// BuildImages (<paramref name="service"/>: one, else every build service of the environment): builds what is missing or
    /// stale. Returns how many were built.
    /// </summary>
    public async Task<int> BuildAsync(string? service, CancellationToken cancellationToken)
    {
        var wanted = Wanted().Where(w => service is null || w.Service == service).ToList();
        if (service is not null)
        {
            var one = wanted.SingleOrDefault() ?? throw new PipelineException(
                $"service '{service}' is not part of environment {environment.Name}{References.DidYouMean(service, environment.Services.Select(s => s.Name))}: name one of its services with build: ({string.Join(", ", Wanted().Where(w => w.Source == ImageSource.Build).Select(w => w.Service))})");
            if (one.Source == ImageSource.Mapped)
            {
                throw new PipelineException($"service '{service}': --image-map substitutes its image ({one.SchemaImage} → {one.Image}), so it is not built: run without that map entry to build it");
            }

            if (one.Source == ImageSource.Pull)
            {
                throw new PipelineException($"service '{service}' has no build: its image {one.Image} is pulled (PullImages): give it a build: to build it");
            }
        }

        var states = await InspectAsync(wanted.Where(w => w.Source == ImageSource.Build).ToList(), cancellationToken);
        var plan = ImagePlan.For(states, offline: true) with { Notices = [] };
        Fail(plan.Problems);
        foreach (var current in states.Where(s => s.Build == BuildState.Current).DistinctBy(s => s.Want.Image))
        {
            log.Information("{Image} of {Service} is up to date ({Hash})", current.Want.Image, current.Want.Service, Short(current.CurrentHash!));
        }

        await ApplyAsync(plan, noCache: false, cancellationToken);
        return plan.ToBuild.Count;
    }

    /// <summary>Rebuild&lt;Stack&gt;'s build: every build service of the stack built again without the cache. Returns how many.</summary>
    public async Task<int> RebuildAsync(string stack, CancellationToken cancellationToken)
    {
        var wanted = Wanted(environment.Services.Where(s => s.Stack == stack)).Where(w => w.Source == ImageSource.Build).ToList();
        var plan = ImagePlan.For(await InspectAsync(wanted, cancellationToken), offline: true, rebuild: true);
        Fail(plan.Problems);
        await ApplyAsync(plan, noCache: true, cancellationToken);
        return plan.ToBuild.Count;
    }

    /// <summary>PullImages: every missing image of the environment that is not built, pulled ahead of Start. Returns how many.</summary>
    public async Task<int> PullAsync(CancellationToken cancellationToken)
    {
        var states = await InspectAsync(Wanted().Where(w => w.Source != ImageSource.Build).ToList(), cancellationToken);
        var plan = ImagePlan.For(states, settings.Offline);
        Fail(plan.Problems);
        log.Information("{Present} of {Count} image(s) present; {Missing} to pull", states.Where(s => s.Present).DistinctBy(s => s.Want.Image).Count(),
            states.DistinctBy(s => s.Want.Image).Count(), plan.ToPull.Count);
        await Puller().PullAsync(plan.ToPull, cancellationToken);
        return plan.ToPull.Count;
    }

    /// <summary>One image a tool needs (the network probe): pulled when missing, never with --offline.</summary>
    public async Task EnsurePresentAsync(string image, string neededFor, CancellationToken cancellationToken)
    {
        if (await EngineImages.ExistsAsync(engine, image, cancellationToken))
        {
            return;
        }

        var need = new ImageNeed(image, [neededFor]);
        if (settings.Offline)
        {
            throw new PipelineException($"--offline: image '{image}' ({neededFor}) is missing and not pulled: load it (docker load), map it with --image-map, or run without --offline");
        }

        await Puller().PullAsync([need], cancellationToken);
    }

    /// <summary>The Images report: per service its image, present or missing, a build's state against its sources, the size.</summary>
    public async Task<Report> ReportAsync(CancellationToken cancellationToken)
    {
        var states = await InspectAsync(Wanted(), cancellationToken);
        return ImagesReport.Of(environment, states, ImagePlan.For(states, settings.Offline), settings.Offline);
    }

    /// <summary>
    /// The refusal of a run that needs GPUs on an engine without a GPU runtime (or device ids the host does not have), before
    /// anything of it is created: <paramref name="run"/> is each stack the run starts with the target that starts it (the
    /// refusal names the targets whose stacks ask for GPUs). Nothing is asked of the engine when none of them does.
    /// </summary>
    public async Task CheckGpuAsync(IReadOnlyList<(string Stack, string Target)> run, CancellationToken cancellationToken)
    {
        var stacks = run.Select(r => r.Stack).ToList();
        var requests = GpuRequest.Of(environment, stacks);
        if (requests.Count == 0)
        {
            return;
        }

        var targets = string.Join(", ", run.Where(r => requests.Any(q => q.Stack == r.Stack)).Select(r => r.Target));
        var verdict = GpuVerdict.Judge(await GpuHost.ReadAsync(engine, cancellationToken), environment, stacks);
        if (verdict.Refused)
        {
            throw new PipelineException(verdict.Refusal(targets));
        }

        log.Information("GPUs for {Targets} in {Environment}: {Verdict}", targets, environment.Name, verdict.Text);
    }

    /// <summary>DetectGpu: the host's GPU runtime, CDI devices and GPUs, and the verdict of every environment given.</summary>
    public async Task<Report> GpuReportAsync(IReadOnlyList<ResolvedEnvironment> environments, CancellationToken cancellationToken)
    {
        var host = await GpuHost.ReadAsync(engine, cancellationToken);
        return GpuReport.Of(host, environments.Select(e => GpuVerdict.Judge(host, e)).ToList(), environment.Name);
    }

    private async Task ApplyAsync(ImagePlan plan, bool noCache, CancellationToken cancellationToken)
    {
        Fail(plan.Problems);
        foreach (var notice in plan.Notices)
        {
            log.Warning("{Notice}", notice);
        }

        if (plan.ToBuild.Count > 0)
        {
            var builder = new ImageBuilder(engine, Credentials, log);
            foreach (var state in plan.ToBuild)
            {
                var build = state.Want.Build!;
                log.Information("{Image} of {Service}: {Why}", state.Want.Image, state.Want.Service, state.Build switch
                {
                    BuildState.Missing => "missing: building it",
                    BuildState.Stale => $"built from other sources ({(state.BuiltHash is null ? "no hash label" : Short(state.BuiltHash))}, now {Short(state.CurrentHash!)}): building it",
                    _ => "building it again without the cache",
                });
                await builder.BuildAsync(
                    new BuildRequest(state.Want.Service, state.Want.Image, BuildContext.Open(state.Want.Service, build), Args(build), build.Target, state.CurrentHash!),
                    noCache,
                    cancellationToken);
            }
        }

        await Puller().PullAsync(plan.ToPull, cancellationToken);
    }

    private ImagePuller Puller() => new(engine, Credentials, settings.Bars, log);

    private static void Fail(IReadOnlyList<string> problems)
    {
        if (problems.Count == 1)
        {
            throw new PipelineException(problems[0]);
        }

        if (problems.Count > 1)
        {
            throw new PipelineException($"{problems.Count} images cannot be had: {string.Join("; ", problems)}");
        }
    }

    /// <summary>A build's arguments as the engine gets them (compose form materialized; no secret can be among them).</summary>
    internal static IReadOnlyList<KeyValuePair<string, string>> Args(ResolvedBuild build) =>
        build.Args.Select(a => new KeyValuePair<string, string>(a.Key, Interpolation.Materialize(a.Value, _ => null))).ToList();

    internal static string Short(string hash) => hash.Length > BuildContext.HashPrefix.Length + 12 ? hash[..(BuildContext.HashPrefix.Length + 12)] : hash;
}
