using LlmStack.Backup;
using LlmStack.Engine;
using LlmStack.Pipeline;
using LlmStack.Schema;
using Serilog;

namespace LlmStack.Retention;

/// <summary>The tiers as the backup-set cleanup reads them: their restic repositories and tape directories or devices.</summary>
public sealed class LiveTierProbe(BackupContext context, string environment, ILogger log) : ITierProbe
{
    public Task<IReadOnlyList<OrphanSet>> OrphansAsync(ResolvedTier tier, CancellationToken cancellationToken) =>
        BackupOrphans.FindAsync(context.Tiers.Open(tier), environment, cancellationToken);

    public Task<long> SizeAsync(ResolvedTier tier, CancellationToken cancellationToken) => context.Tiers.Open(tier).SizeAsync(cancellationToken);

    public bool OnDevice(ResolvedTier tier) => new TapeTier(tier, context.Repository, log).OnDevice;
}

/// <summary>
/// The services' data as data retention reads it: psql and redis-cli in the running containers (each service's client
/// kept for the apply step, so the plan and its changes talk to the same container), helper containers on the volumes.
/// </summary>
public sealed class LiveDataProbes(BackupContext context) : IDataProbes
{
    private readonly Dictionary<string, PostgresRetention> _postgres = new(StringComparer.Ordinal);
    private readonly Dictionary<string, RedisRetention> _redis = new(StringComparer.Ordinal);

    public VolumeRetention Volumes { get; } = new(context);

    public async Task<ITableProbe> TablesAsync(string service, string? database, CancellationToken cancellationToken)
    {
        var (id, name) = await context.RunningContainerAsync(service, cancellationToken);
        return _postgres[service] = new PostgresRetention(context.Engine, id, name, context.ServiceVariable(service, "POSTGRES_USER") ?? "postgres",
            database ?? context.ServiceVariable(service, "POSTGRES_DB") ?? "postgres");
    }

    public async Task<IKeyProbe> KeysAsync(string service, CancellationToken cancellationToken)
    {
        var (id, name) = await context.RunningContainerAsync(service, cancellationToken);
        return _redis[service] = new RedisRetention(new RedisCli(context.Engine, id, name));
    }

    /// <summary>The psql client the plan used for the service's tables.</summary>
    public PostgresRetention Postgres(string service) => _postgres[service];

    /// <summary>The redis client the plan used for the service's keys.</summary>
    internal RedisRetention Redis(string service) => _redis[service];

    public Task<bool> VolumeExistsAsync(string volume, CancellationToken cancellationToken) => Volumes.ExistsAsync(volume, cancellationToken);

    public Task<(long Files, long Bytes)?> CountFilesAsync(FileRetention files, CancellationToken cancellationToken) => Volumes.CountFilesAsync(files, cancellationToken);

    public Task<IReadOnlyList<ModelDirectory>?> ModelsAsync(ModelRetention models, CancellationToken cancellationToken) => Volumes.ModelsAsync(models, cancellationToken);

    public async Task<IReadOnlyList<string>> ModelsInUseAsync(string service, CancellationToken cancellationToken)
    {
        var commands = new List<IReadOnlyList<string>>();
        if (context.Environment.Service(service).Command is { } configured)
        {
            commands.Add(configured.Select(a => Interpolation.Materialize(a, context.Secrets)).ToList());
        }

        if (await RunningCommandAsync(context, service, cancellationToken) is { } running)
        {
            commands.Add(running);
        }

        return commands.SelectMany(ModelPlanner.ModelArguments).Distinct(StringComparer.Ordinal).ToList();
    }

    /// <summary>The command line (entrypoint and arguments) of the service's running container, or null when it is not running.</summary>
    public static async Task<IReadOnlyList<string>?> RunningCommandAsync(BackupContext context, string service, CancellationToken cancellationToken)
    {
        try
        {
            var (id, _) = await context.RunningContainerAsync(service, cancellationToken);
            var inspect = await context.Engine.CallAsync(ct => context.Engine.Client.Containers.InspectContainerAsync(id, ct), cancellationToken);
            return [.. inspect.Config?.Entrypoint ?? [], .. inspect.Config?.Cmd ?? []];
        }
        catch (PipelineException)
        {
            return null;
        }
    }
}
