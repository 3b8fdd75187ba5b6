using System.Globalization;
using Docker.DotNet;
using LlmStack.Engine;
using LlmStack.Lifecycle;
using LlmStack.Pipeline;
using LlmStack.Schema;
using Serilog;

namespace LlmStack.Backup;

/// <summary>What backups and restores of one environment share.</summary>
public sealed record BackupContext(
    DockerEngine Engine,
    ResolvedEnvironment Environment,
    EnvironmentBackupPlan Plan,
    ResticRepository Repository,
    BackupTiers Tiers,
    ServiceLifecycle Lifecycle,
    HelperContainers Helpers,
    string HelperImage,
    Func<string, string?> Secrets,
    IReadOnlyList<string> ConfigPaths,
    string ManifestCache,
    BackupProgress Progress,
    ILogger Log)
{
    public static string Version => typeof(BackupContext).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    /// <summary>The image restic runs in when it works on a volume in a helper (<c>restic_image</c>, mapped like every image).</summary>
    public string ResticImage { get; init; } = BackupConfigLoader.DefaultResticImage;

    /// <summary>Where restic reads and fills volumes (<c>volume_reader</c>).</summary>
    public VolumeReader VolumeReader { get; init; } = VolumeReader.Auto;

    /// <summary>Where a run keeps transient files (the FIFO a dump goes through); removed by the code that makes them.</summary>
    public string ScratchDirectory { get; init; } = Path.GetTempPath();

    public string Host => Environment.Project;

    public BackupCatalog Catalog => new(Repository, ManifestCache);

    /// <summary>The running container of a service, or one line saying it must run.</summary>
    public Task<(string Id, string Name)> RunningContainerAsync(string service, CancellationToken cancellationToken) =>
        Engine.RunningContainerAsync(Environment, service, "to back it up or restore it", cancellationToken);

    /// <summary>A variable of the service's own environment (POSTGRES_USER), with secrets resolved.</summary>
    public string? ServiceVariable(string service, string name) =>
        Environment.Service(service).Environment.FirstOrDefault(kv => kv.Key == name) is { Key: not null } pair
            ? Interpolation.Materialize(pair.Value, Secrets)
            : null;

    /// <summary>
    /// Entries in a volume (a helper mounting it as <paramref name="spec"/> does): all of them, or only regular files and
    /// directories (what restic's summary counts for a file snapshot).
    /// </summary>
    public async Task<long> CountEntriesAsync(HelperSpec spec, string volume, CancellationToken cancellationToken, bool filesAndDirectoriesOnly = false)
    {
        var find = filesAndDirectoriesOnly ? "find /volume -mindepth 1 \\( -type f -o -type d \\) | wc -l" : "find /volume -mindepth 1 | wc -l";
        var result = await Helpers.RunAsync(spec with { Purpose = "volume-count", Entrypoint = ["/bin/sh", "-c"], Command = [find] }, cancellationToken);
        return result.ExitCode == 0 && long.TryParse(result.Output.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var count)
            ? count
            : throw new PipelineException($"counting the files of volume {volume} failed (exit {result.ExitCode}): {result.Errors.LastOrDefault() ?? result.Output.Trim()}");
    }

    /// <summary>
    /// The Docker name of a volume of the environment (the schema's key), when it exists; null when it does not (mounting
    /// it would create it without our labels). A volume of that name that is not ours is never read or changed.
    /// </summary>
    public async Task<string?> OwnedVolumeAsync(string volume, CancellationToken cancellationToken)
    {
        var name = Environment.Volumes.FirstOrDefault(v => v.Key == volume)?.Name
                   ?? throw new PipelineException($"volume '{volume}' is not part of environment {Environment.Name}");
        try
        {
            var inspected = await Engine.CallAsync(ct => Engine.Client.Volumes.InspectAsync(name, ct), cancellationToken);
            return Scope.Of(Environment).Owns(inspected.Labels)
                ? name
                : throw new PipelineException($"volume {name} exists but is not LlmStack's for {Environment.Name} (labels differ): left alone");
        }
        catch (DockerApiException e) when (e.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    /// <summary>
    /// Where restic works on a volume's files (<see cref="VolumeReader"/>): <c>auto</c> takes this host, in the volume's
    /// mountpoint, when the engine is local and this process may read every file there (root); otherwise a helper of
    /// <see cref="ResticImage"/>. A helper reaches a path tier through a bind mount, which a remote engine cannot make.
    /// </summary>
    public async Task<VolumeSite> VolumeSiteAsync(string volumeName, CancellationToken cancellationToken)
    {
        var mountpoint = (await Engine.CallAsync(ct => Engine.Client.Volumes.InspectAsync(volumeName, ct), cancellationToken)).Mountpoint;
        var onHost = Engine.IsLocal && System.Environment.IsPrivilegedProcess && Directory.Exists(mountpoint);
        var helperCan = Engine.IsLocal || !Repository.Tier.IsPath;
        return VolumeReader switch
        {
            VolumeReader.Host when onHost => VolumeSite.OnHost(volumeName, mountpoint),
            VolumeReader.Host => throw new PipelineException(
                $"volume_reader is host, but volume {volumeName}'s mountpoint {mountpoint} cannot be read here (a remote engine, or not root): use volume_reader: helper or auto"),
            VolumeReader.Auto when onHost => VolumeSite.OnHost(volumeName, mountpoint),
            _ when helperCan => VolumeSite.InHelper(volumeName, Helpers, ResticImage),
            _ => throw new PipelineException(
                $"volume {volumeName} is on a remote engine ({Engine.Endpoint}) and tier {Repository.Tier.Name} is a path there is no way to mount into its helper: make the first tier rest: or s3:, or run on the engine's host"),
        };
    }

    /// <summary>Where the service mounts a named volume (the helper mounts it at the same place).</summary>
    public string MountPoint(string service, string volume) =>
        Environment.Service(service).Volumes.First(v => v.Kind == MountKind.Volume && v.Source == volume).Target;

    public static PipelineException Failed(string what, string container, Exec.Result result) =>
        new($"{what} failed in {container} (exit {result.ExitCode}): {result.ErrorLines.LastOrDefault(l => l.Trim().Length > 0) ?? "no error output"}");
}
