using System.Text.Json;
using LlmStack.Pipeline;
using LlmStack.Reporting;
using LlmStack.Schema;

namespace LlmStack.Lifecycle;

/// <summary>
/// What an engine held of one environment at one time, as JSON (<c>ExportState</c> writes it, <c>Plan --against</c> reads
/// it): the environment's containers with their labels, image ids, states and networks, its networks and volumes (and
/// any with one of the schema's names), and the ids of the images the schema references. It holds no secret value: the
/// definition labels carry digests only, and a label value that contains one of the environment's secrets is written as
/// <see cref="Redacted"/>. A plan against it answers as a plan against that engine would have.
/// </summary>
public sealed record StateSnapshot : IEngineState
{
    public const int CurrentVersion = 1;

    /// <summary>What a label value that contained a secret becomes.</summary>
    public const string Redacted = SecretMasker.Placeholder;

    public int Version { get; init; } = CurrentVersion;

    public required string Environment { get; init; }

    public required string Project { get; init; }

    public required DateTimeOffset Taken { get; init; }

    /// <summary>The Docker endpoint it was read from.</summary>
    public required string Endpoint { get; init; }

    public required IReadOnlyList<ContainerState> Containers { get; init; }

    public required IReadOnlyList<NetworkState> Networks { get; init; }

    public required IReadOnlyList<VolumeState> Volumes { get; init; }

    /// <summary>Image (as the run used it, after --image-map) → id, for the images the engine had; one it lacked is not listed.</summary>
    public required IReadOnlyDictionary<string, string> Images { get; init; }

    /// <summary>
    /// Reads the engine as a plan of this environment would: its containers, networks and volumes (and those with the
    /// schema's names), and the ids of <paramref name="images"/>. Label values that contain one of
    /// <paramref name="secretValues"/> are redacted.
    /// </summary>
    public static async Task<StateSnapshot> ExportAsync(
        IEngineState engine, ResolvedEnvironment environment, IReadOnlyCollection<string> images, IReadOnlyCollection<string> secretValues, string endpoint, DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        var ids = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var image in images.Distinct())
        {
            if (await engine.ImageIdAsync(image, cancellationToken) is { } id)
            {
                ids[image] = id;
            }
        }

        IReadOnlyDictionary<string, string> Clean(IReadOnlyDictionary<string, string> labels) =>
            new SortedDictionary<string, string>(
                labels.ToDictionary(l => l.Key, l => secretValues.Any(s => s.Length > 0 && l.Value.Contains(s, StringComparison.Ordinal)) ? Redacted : l.Value),
                StringComparer.Ordinal);

        return new StateSnapshot
        {
            Environment = environment.Name,
            Project = environment.Project,
            Taken = now,
            Endpoint = endpoint,
            Containers = (await engine.ContainersAsync(cancellationToken)).OrderBy(c => c.Name, StringComparer.Ordinal).Select(c => c with { Labels = Clean(c.Labels) }).ToList(),
            Networks = (await engine.NetworksAsync(environment.Networks.Select(n => n.Name).ToList(), cancellationToken)).Select(n => n with { Labels = Clean(n.Labels) }).ToList(),
            Volumes = (await engine.VolumesAsync(environment.Volumes.Select(v => v.Name).ToList(), cancellationToken)).Select(v => v with { Labels = Clean(v.Labels) }).ToList(),
            Images = ids,
        };
    }

    public string ToJson() => JsonSerializer.Serialize(this, JsonDefaults.Document);

    /// <summary>A snapshot file of <paramref name="environment"/>; one line naming the file and the fix when it is missing, unreadable or of another environment.</summary>
    public static StateSnapshot Load(string path, string displayPath, ResolvedEnvironment environment)
    {
        StateSnapshot? snapshot;
        try
        {
            snapshot = JsonSerializer.Deserialize<StateSnapshot>(File.ReadAllText(path), JsonDefaults.Document);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new PipelineException($"snapshot {displayPath} cannot be read ({e.Message}): write one with ExportState --environment {environment.Name}");
        }
        catch (JsonException e)
        {
            throw new PipelineException($"snapshot {displayPath} is not a snapshot ({e.Message.Split('\n')[0]}): write one with ExportState --environment {environment.Name}");
        }

        if (snapshot is null || snapshot.Version != CurrentVersion)
        {
            throw new PipelineException($"snapshot {displayPath} is of version {snapshot?.Version.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"}, not {CurrentVersion}: export it again with this LlmStack (ExportState)");
        }

        if (snapshot.Environment != environment.Name || snapshot.Project != environment.Project)
        {
            throw new PipelineException(
                $"snapshot {displayPath} is of environment {snapshot.Environment} (project {snapshot.Project}), not {environment.Name} (project {environment.Project}): pass --environment {snapshot.Environment}, or export {environment.Name}'s");
        }

        return snapshot;
    }

    public Task<IReadOnlyList<ContainerState>> ContainersAsync(CancellationToken cancellationToken) => Task.FromResult(Containers);

    public Task<IReadOnlyList<NetworkState>> NetworksAsync(IReadOnlyCollection<string> names, CancellationToken cancellationToken) => Task.FromResult(Networks);

    public Task<IReadOnlyList<VolumeState>> VolumesAsync(IReadOnlyCollection<string> names, CancellationToken cancellationToken) => Task.FromResult(Volumes);

    public Task<string?> ImageIdAsync(string image, CancellationToken cancellationToken) => Task.FromResult(Images.GetValueOrDefault(image));
}
