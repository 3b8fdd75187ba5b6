using Cronos;
using LlmStack.Engine;
using LlmStack.Lifecycle;
using LlmStack.Pipeline;
using LlmStack.Schema;
using LlmStack.Sessions;

namespace LlmStack.Backup;

/// <summary>
/// A tier as one environment uses it: the restic repository's location (for tape, the export path), and what the
/// restic process needs to reach it (a CA file, a credentials file in the secrets directory).
/// </summary>
public sealed record ResolvedTier(string Name, TierKind Kind, string Repository)
{
    public string? CaFile { get; init; }

    public string? CredentialsFile { get; init; }

    /// <summary>tape: where the export manifests are kept.</summary>
    public string? Catalog { get; init; }

    public bool IsRepository => Kind != TierKind.Tape;

    /// <summary>A local path (local tiers, and remote ones that are a mounted share's path).</summary>
    public bool IsPath => !Repository.Contains(':', StringComparison.Ordinal) || (Repository.Length > 1 && Repository[1] == ':');
}

/// <summary>
/// One member of a backup set: a service's data of one type (a postgres dump, a redis rdb, one named volume, the
/// configuration). <see cref="Writers"/> are the services that write a volume (suspended while it is copied).
/// </summary>
public sealed record BackupMember(string Service, BackupMethod Method, BackupType Type, string? Volume, string? VolumeName, IReadOnlyList<string> Writers, SuspendMode Mode)
{
    /// <summary>Stable name of the member within a set: <c>postgres/full</c>, <c>qdrant/qdrant_data</c>, <c>config/config</c>.</summary>
    public string Key => $"{Service}/{Volume ?? Type.Word()}";
}

/// <summary>Everything a backup of one environment needs: schedule, tiers and members, dependencies first.</summary>
public sealed record EnvironmentBackupPlan(
    string Environment,
    string Project,
    string Schedule,
    CronExpression Cron,
    IReadOnlyList<ResolvedTier> Tiers,
    IReadOnlyList<BackupMember> Members,
    IReadOnlyDictionary<string, string> NotBackedUp,
    IReadOnlyDictionary<string, IReadOnlyList<BackupType>> Types)
{
    /// <summary>The tier every backup is written to first.</summary>
    public ResolvedTier Primary => Tiers[0];

    /// <summary>Every service of the environment (with data or not).</summary>
    public IReadOnlyList<string> Services { get; init; } = [];

    /// <summary>
    /// What <c>BackupService --service X [--backup-type T]</c> backs up, and what <c>Restore</c> may restore: the one
    /// check of a service and a type given on the command line, each refusal one line naming the allowed values.
    /// </summary>
    public IReadOnlyList<BackupMember> For(string service, string? type)
    {
        var members = MembersOf(service);
        return type is null ? members : WithType(members, Offered(service, type));
    }

    /// <summary>The members of a service with a type a backup has (the safety copy of what a restore replaces).</summary>
    public IReadOnlyList<BackupMember> For(string service, BackupType type)
    {
        var members = MembersOf(service);
        return WithType(members, Offered(service, type.Word()));
    }

    /// <summary><c>--backup-type</c> of a service, checked like <see cref="For(string, string?)"/>; null when not given.</summary>
    public BackupType? TypeOf(string service, string? type)
    {
        _ = MembersOf(service);
        return type is null ? null : Offered(service, type);
    }

    private List<BackupMember> MembersOf(string service)
    {
        if (!Services.Contains(service, StringComparer.Ordinal) && Members.All(m => m.Service != service))
        {
            throw new PipelineException(
                $"there is no service '{service}' in {Environment}: --service takes one of {string.Join(", ", Members.Select(m => m.Service).Distinct())} (the services with backups)");
        }

        if (NotBackedUp.TryGetValue(service, out var reason))
        {
            throw new PipelineException($"service '{service}' is not backed up in {Environment}: {reason} (configs/backup-strategies.yaml)");
        }

        var members = Members.Where(m => m.Service == service).ToList();
        if (members.Count == 0)
        {
            var services = Members.Select(m => m.Service).Distinct();
            throw new PipelineException($"service '{service}' holds no data to back up in {Environment} (services with backups: {string.Join(", ", services)})");
        }

        return members;
    }

    private BackupType Offered(string service, string type)
    {
        var offered = Types[service];
        return offered.Where(t => t.Word() == type).Select(t => (BackupType?)t).FirstOrDefault()
            ?? throw new PipelineException($"service '{service}' has no backup type '{type}': --backup-type takes {string.Join(", ", offered.Select(t => t.Word()))} for {service}");
    }

    private static List<BackupMember> WithType(List<BackupMember> members, BackupType type) =>
        members.Select(m => m.Method is BackupMethod.Postgres or BackupMethod.Redis ? m with { Type = type } : m).ToList();
}

/// <summary>Resolves the backup configuration for one environment of the schema (pure: no I/O).</summary>
public static class BackupPlanner
{
    public const string ConfigService = "config";

    /// <summary>
    /// Where a tier keeps an environment's repository: the location with <c>/&lt;environment&gt;</c> appended; a relative
    /// path under the state directory (persistent state), a <c>ca_file</c> under the repository (an input), credentials in
    /// the secrets directory.
    /// </summary>
    public static ResolvedTier Resolve(string name, TierDefinition tier, string environment, StatePaths paths)
    {
        string Under(string path) => Path.Combine(paths.Resolve(path), environment);
        var kind = BackupWords.Parse<TierKind>(tier.Kind!);
        var repository = kind switch
        {
            TierKind.Local or TierKind.Tape => Under(tier.Path!),
            _ when !tier.Repository!.Contains(':', StringComparison.Ordinal) => Under(tier.Repository),
            _ => tier.Repository!.TrimEnd('/') + "/" + environment,
        };
        return new ResolvedTier(name, kind, repository)
        {
            CaFile = tier.CaFile is null ? null : paths.Input(tier.CaFile),
            CredentialsFile = tier.Credentials is null ? null : paths.SecretsFile(tier.Credentials),
            Catalog = kind == TierKind.Tape ? paths.TapeCatalog(tier.Catalog, environment) : null,
        };
    }

    /// <summary>The configuration's words become the plan's types here, once (the configuration is valid: <see cref="BackupConfigLoader.LoadValid"/>).</summary>
    public static EnvironmentBackupPlan Plan(BackupConfig config, ResolvedEnvironment environment, StatePaths paths)
    {
        if (!config.Environments.TryGetValue(environment.Name, out var settings))
        {
            throw new SchemaException($"environment '{environment.Name}' has no backup settings in the backup configuration");
        }

        BackupConfigLoader.TryParseCron(settings.Schedule!, out var cron, out _);
        var tiers = settings.Tiers!.Select(name => Resolve(name, config.Tiers[name], environment.Name, paths)).ToList();

        var members = new List<BackupMember>();
        var skipped = new Dictionary<string, string>(StringComparer.Ordinal);
        var types = new Dictionary<string, IReadOnlyList<BackupType>>(StringComparer.Ordinal);
        var ownedVolumes = new HashSet<string>(StringComparer.Ordinal);
        foreach (var service in environment.Services)
        {
            var definition = config.Services.GetValueOrDefault(service.Name);
            var method = definition?.Method ?? BackupMethod.Volume.Word();
            var named = service.Volumes.Where(v => v.Kind == MountKind.Volume).Select(v => v.Source).Distinct().ToList();
            if (method == BackupWords.NoBackup)
            {
                skipped[service.Name] = definition!.Reason!;
                ownedVolumes.UnionWith(named);
                continue;
            }

            switch (BackupWords.Parse<BackupMethod>(method))
            {
                case var dump and (BackupMethod.Postgres or BackupMethod.Redis):
                    var offered = definition!.Types is { Count: > 0 } listed ? listed.Select(BackupWords.Parse<BackupType>).ToList() : BackupWords.TypesOf(dump);
                    types[service.Name] = offered;
                    members.Add(new BackupMember(service.Name, dump, offered[0], null, null, [service.Name], SuspendMode.Pause));
                    ownedVolumes.UnionWith(named); // the dump covers the service's own volume
                    break;
                default:
                    var mode = definition?.Mode == "stop" ? SuspendMode.Stop : SuspendMode.Pause;
                    foreach (var volume in named.Where(ownedVolumes.Add))
                    {
                        var writers = environment.Services
                            .Where(s => s.Volumes.Any(m => m.Kind == MountKind.Volume && m.Source == volume && !m.ReadOnly))
                            .Select(s => s.Name)
                            .ToList();
                        var dockerName = environment.Volumes.First(v => v.Key == volume).Name;
                        members.Add(new BackupMember(service.Name, BackupMethod.Volume, BackupType.Volume, volume, dockerName, writers, mode));
                    }

                    if (named.Count > 0)
                    {
                        types[service.Name] = [BackupType.Volume];
                    }

                    break;
            }
        }

        members.Add(new BackupMember(ConfigService, BackupMethod.Config, BackupType.Config, null, null, [], SuspendMode.Pause));
        types[ConfigService] = [BackupType.Config];
        return new EnvironmentBackupPlan(environment.Name, environment.Project, settings.Schedule!, cron!, tiers, members, skipped, types)
        {
            Services = environment.Services.Select(s => s.Name).ToList(),
        };
    }
}
