using System.Globalization;
using LlmStack.Schema;

namespace LlmStack.Compose;

/// <summary>
/// The one place that builds labels. Every resource LlmStack creates — service containers, helper containers, networks,
/// volumes, and the same resources in generated compose files — carries compose's labels (so <c>docker compose</c> with a
/// generated file sees them as its own) and ours (so every query and every destructive operation can select by them,
/// never by name). The compose file gets only our part: compose writes its own <c>com.docker.compose.*</c> labels.
/// </summary>
public static class Labels
{
    /// <summary>Ours, for any resource of a stack (and of a service): environment, stack, service, managed.</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> Ours(string environment, string stack, string? service = null)
    {
        var labels = new List<KeyValuePair<string, string>> { new(Names.Environment, environment), new(Names.Stack, stack) };
        if (service is not null)
        {
            labels.Add(new(Names.Service, service));
        }

        labels.Add(new(Names.Managed, "true"));
        return labels;
    }

    /// <summary>A service's replica: compose's project/service/number/oneoff, ours, the schema's image (before --image-map), the service's own labels.</summary>
    public static Dictionary<string, string> ServiceContainer(ResolvedEnvironment environment, ResolvedService service, int number)
    {
        var labels = Create(environment.Project, Ours(environment.Name, service.Stack, service.Name));
        labels[Names.ComposeService] = service.Name;
        labels[Names.ComposeContainerNumber] = number.ToString(CultureInfo.InvariantCulture);
        labels[Names.ComposeOneoff] = "False";
        labels[Names.Image] = service.Image;
        return labels;
    }

    /// <summary>
    /// A replica's definition labels, added to its create call once the call is complete (so neither is part of what they
    /// describe): the config hash (a change means recreate) and the per-aspect digests that say what changed.
    /// </summary>
    public static void Definition(IDictionary<string, string> labels, string configHash, string digests)
    {
        labels[Names.ConfigHash] = configHash;
        labels[Names.ConfigDigests] = digests;
    }

    /// <summary>
    /// An image built from a service's context: managed, the service it is for and the content hash of what it was built from
    /// (<see cref="Names.BuildHash"/>), which tells a current image from a stale one. No environment: environments that run
    /// the same tag from the same sources share the image.
    /// </summary>
    public static Dictionary<string, string> BuiltImage(string service, string hash) =>
        new() { [Names.Managed] = "true", [Names.Service] = service, [Names.BuildHash] = hash };

    /// <summary>A stack's network: compose's network key and ours.</summary>
    public static Dictionary<string, string> Network(string project, string environment, string stack)
    {
        var labels = Create(project, Ours(environment, stack));
        labels[Names.ComposeNetwork] = stack;
        return labels;
    }

    /// <summary>A named volume: compose's volume key, ours, and the schema's key of the volume.</summary>
    public static Dictionary<string, string> Volume(string project, string environment, string stack, string key)
    {
        var labels = Create(project, Ours(environment, stack));
        labels[Names.ComposeVolume] = key;
        labels[Names.Volume] = key;
        return labels;
    }

    /// <summary>A one-off helper: a compose one-off of the project, ours without a stack or service (service queries never see it), what it is for and the run that made it.</summary>
    public static Dictionary<string, string> Helper(string project, string environment, string purpose, string run) =>
        new()
        {
            [Names.ComposeProject] = project,
            [Names.ComposeOneoff] = "True",
            [Names.Environment] = environment,
            [Names.Managed] = "true",
            [Names.Helper] = purpose,
            [Names.Run] = run,
        };

    /// <summary>A swarm service and its tasks' containers: compose's project and service, ours, the schema's image (before --image-map).</summary>
    public static Dictionary<string, string> SwarmService(ResolvedEnvironment environment, ResolvedService service)
    {
        var labels = Create(environment.Project, Ours(environment.Name, service.Stack, service.Name));
        labels[Names.ComposeService] = service.Name;
        labels[Names.Image] = service.Image;
        return labels;
    }

    /// <summary>
    /// A Swarm secret of an environment: compose's project, our environment, managed, and the schema's secret it carries.
    /// No stack: one secret can serve services of several stacks.
    /// </summary>
    public static Dictionary<string, string> SwarmSecret(string project, string environment, string secret) =>
        new()
        {
            [Names.ComposeProject] = project,
            [Names.Environment] = environment,
            [Names.Managed] = "true",
            [Names.Secret] = secret,
        };

    /// <summary>A swarm SwarmInit created: managed, and the project that created it.</summary>
    public static Dictionary<string, string> Swarm(string project) => new() { [Names.Managed] = "true", [Names.Swarm] = project };

    private static Dictionary<string, string> Create(string project, IEnumerable<KeyValuePair<string, string>> ours)
    {
        var labels = new Dictionary<string, string> { [Names.ComposeProject] = project };
        foreach (var (key, value) in ours)
        {
            labels[key] = value;
        }

        return labels;
    }
}
