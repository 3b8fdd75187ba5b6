using LlmStack.Backup;
using LlmStack.ChangeControl;
using LlmStack.Pipeline;

namespace LlmStack.Retention;

/// <summary>What data retention reads of a PostgreSQL service: its database and how many rows of a table are due.</summary>
public interface ITableProbe
{
    string Database { get; }

    /// <summary>Rows older than the cut-off; null when the table does not exist.</summary>
    Task<long?> CountAsync(TableRetention table, DateTimeOffset cutoff, CancellationToken cancellationToken);
}

/// <summary>What data retention reads of a Redis service: its logical databases and the keys of a pattern that are due.</summary>
public interface IKeyProbe
{
    Task<int> DatabasesAsync(CancellationToken cancellationToken);

    /// <summary>The keys matching the pattern in one database, and how many have no TTL or a longer one.</summary>
    Task<KeyPass> CountAsync(KeyRetention keys, int database, CancellationToken cancellationToken);
}

/// <summary>
/// What data retention reads of an environment's services (the real one: <see cref="LiveDataProbes"/>). A service that
/// cannot be reached (not running) is a <see cref="PipelineException"/>, as is a volume that is not ours.
/// </summary>
public interface IDataProbes
{
    Task<ITableProbe> TablesAsync(string service, string? database, CancellationToken cancellationToken);

    Task<IKeyProbe> KeysAsync(string service, CancellationToken cancellationToken);

    /// <summary>Whether the volume (the schema's key) exists; an error when one of that name is not ours.</summary>
    Task<bool> VolumeExistsAsync(string volume, CancellationToken cancellationToken);

    /// <summary>Files due now (count, bytes), or null when the path does not exist.</summary>
    Task<(long Files, long Bytes)?> CountFilesAsync(FileRetention files, CancellationToken cancellationToken);

    /// <summary>The model directories under the path, or null when it does not exist.</summary>
    Task<IReadOnlyList<ModelDirectory>?> ModelsAsync(ModelRetention models, CancellationToken cancellationToken);

    /// <summary>The models the service serves: its configured command's and its running container's <c>--model</c>.</summary>
    Task<IReadOnlyList<string>> ModelsInUseAsync(string service, CancellationToken cancellationToken);
}

/// <summary>One change of data inside a service, as the plan shows it; the apply step (<see cref="RetentionChanges"/>) does it.</summary>
public abstract record DataChange(ChangeKind Kind, string Resource, ChangeAction Action, string Why, string Detail);

/// <summary>Rows of a table older than the cut-off: deleted in batches, or archived to the backup repository first.</summary>
public sealed record RowsChange(string Resource, string Why, string Detail, TableRetention Table, DateTimeOffset Cutoff)
    : DataChange(ChangeKind.Rows, Resource, Table.Strategy == TableRetention.ArchiveThenDelete ? ChangeAction.ArchiveAndDelete : ChangeAction.Delete, Why, Detail);

/// <summary>Keys of a pattern in one database that get a TTL (never deleted).</summary>
public sealed record KeysChange(string Resource, string Why, string Detail, KeyRetention Keys, int Database)
    : DataChange(ChangeKind.Keys, Resource, ChangeAction.Expire, Why, Detail);

/// <summary>Files under a path of a volume older than the rule.</summary>
public sealed record FilesChange(string Resource, string Why, string Detail, FileRetention Files)
    : DataChange(ChangeKind.Files, Resource, ChangeAction.Delete, Why, Detail);

/// <summary>A whole model directory not used since the cut-off (checked again when applied).</summary>
public sealed record ModelChange(string Resource, string Why, string Detail, ModelRetention Models, string Directory, DateTimeOffset Cutoff)
    : DataChange(ChangeKind.Model, Resource, ChangeAction.Remove, Why, Detail);

/// <summary>What the data-retention part of a cleanup plans: changes, what stays and why, and problems named at the end.</summary>
public sealed record DataRetentionPlan(IReadOnlyList<DataChange> Changes, IReadOnlyList<KeptResource> Kept, IReadOnlyList<string> Problems);

/// <summary>
/// Data retention inside the services (all, or one), each through its own mechanism, planned with counts so the dry run
/// shows how much would go: rows (PostgreSQL), key TTLs (Redis), files and model directories (volumes). Reads only
/// through <see cref="IDataProbes"/>. A missing table, path or volume is nothing to do; a service that cannot be reached
/// is a problem named at the end, and the others still go on.
/// </summary>
public static class DataRetentionPlanner
{
    public static async Task<DataRetentionPlan> PlanAsync(
        RetentionConfig config, string environment, IReadOnlyCollection<string> services, string? only, IDataProbes probes, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var plan = new Builder(config.For(environment), probes);
        foreach (var (service, definition) in config.Services.Where(s => only is null || s.Key == only))
        {
            if (!services.Contains(service))
            {
                plan.Kept.Add(new KeptResource(ChangeKind.Service, service, $"not part of environment {environment}: nothing to do"));
                continue;
            }

            if (definition.Tables is { Count: > 0 } tables)
            {
                await plan.TablesAsync(service, definition.Database, tables, now, cancellationToken);
            }

            if (definition.ExpireKeys is { Count: > 0 } keys)
            {
                await plan.KeysAsync(service, keys, cancellationToken);
            }

            foreach (var files in definition.Files ?? [])
            {
                await plan.FilesAsync(new FileRetention(service, files.Volume!, files.Path ?? string.Empty, plan.Days(files.Days)), cancellationToken);
            }

            if (definition.Models is { } models)
            {
                await plan.ModelsAsync(service, models, now, cancellationToken);
            }
        }

        return new DataRetentionPlan(plan.Changes, plan.Kept, plan.Problems);
    }

    private sealed class Builder(EnvironmentRetentionDefinition settings, IDataProbes probes)
    {
        public List<DataChange> Changes { get; } = [];

        public List<KeptResource> Kept { get; } = [];

        public List<string> Problems { get; } = [];

        public int Days(int? days) => settings.Days(days);

        public async Task TablesAsync(string service, string? database, List<TableRetentionDefinition> tables, DateTimeOffset now, CancellationToken cancellationToken)
        {
            ITableProbe postgres;
            try
            {
                postgres = await probes.TablesAsync(service, database, cancellationToken);
            }
            catch (PipelineException e)
            {
                Problems.Add($"{service}: {e.Message.Split('\n')[0]}");
                return;
            }

            foreach (var table in tables.Select(t => new TableRetention(service, t.Table!, t.DateColumn!, Days(t.Days), t.Strategy ?? TableRetention.DeleteOldRows, t.BatchSize ?? 5000)))
            {
                var resource = $"{service}/{postgres.Database}.{table.Table}";
                var cutoff = table.Cutoff(now);
                long? due;
                try
                {
                    due = await postgres.CountAsync(table, cutoff, cancellationToken);
                }
                catch (PipelineException e)
                {
                    Problems.Add($"{resource}: {e.Message}");
                    continue;
                }

                var rule = $"{table.DateColumn} older than {table.Days} d (before {cutoff.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z)";
                if (due is null)
                {
                    Kept.Add(new KeptResource(ChangeKind.Table, resource, "does not exist: nothing to do"));
                }
                else if (due == 0)
                {
                    Kept.Add(new KeptResource(ChangeKind.Table, resource, $"no row with {rule}"));
                }
                else
                {
                    var why = table.Strategy == TableRetention.ArchiveThenDelete ? $"{rule}; archived to the backup repository first" : rule;
                    Changes.Add(new RowsChange(resource, why, $"{due} row(s)", table, cutoff));
                }
            }
        }

        public async Task KeysAsync(string service, List<KeyRetentionDefinition> definitions, CancellationToken cancellationToken)
        {
            IKeyProbe redis;
            int databases;
            try
            {
                redis = await probes.KeysAsync(service, cancellationToken);
                databases = await redis.DatabasesAsync(cancellationToken);
            }
            catch (PipelineException e)
            {
                Problems.Add($"{service}: {e.Message.Split('\n')[0]}");
                return;
            }

            foreach (var definition in definitions)
            {
                var keys = new KeyRetention(service, definition.Pattern!, definition.Databases ?? [0], Days(definition.Days));
                foreach (var database in keys.Databases)
                {
                    var resource = $"{service}/db{database}:{keys.Pattern}";
                    if (database >= databases)
                    {
                        Problems.Add($"{resource}: redis has databases 0 to {databases - 1} only");
                        continue;
                    }

                    KeyPass pass;
                    try
                    {
                        pass = await redis.CountAsync(keys, database, cancellationToken);
                    }
                    catch (PipelineException e)
                    {
                        Problems.Add($"{resource}: {e.Message}");
                        continue;
                    }

                    if (pass.Due == 0)
                    {
                        Kept.Add(new KeptResource(ChangeKind.Keys, resource, pass.Matched == 0 ? "no key matches" : $"every matching key has a TTL of {keys.Days} d or less")
                        {
                            Detail = $"{pass.Matched} key(s)",
                        });
                        continue;
                    }

                    Changes.Add(new KeysChange(resource, $"no TTL or one longer than {keys.Days} d: TTL set to {keys.Days} d (never deleted)", $"{pass.Due} of {pass.Matched} key(s)", keys, database));
                }
            }
        }

        public async Task FilesAsync(FileRetention files, CancellationToken cancellationToken)
        {
            (long Files, long Bytes)? due;
            try
            {
                if (!await probes.VolumeExistsAsync(files.Volume, cancellationToken))
                {
                    Kept.Add(new KeptResource(ChangeKind.Files, files.Resource, "the volume does not exist (its stack has never run): nothing to do"));
                    return;
                }

                due = await probes.CountFilesAsync(files, cancellationToken);
            }
            catch (PipelineException e)
            {
                Problems.Add($"{files.Resource}: {e.Message}");
                return;
            }

            var rule = $"files modified more than {files.Days} d ago";
            if (due is null)
            {
                Kept.Add(new KeptResource(ChangeKind.Files, files.Resource, "the path does not exist: nothing to do"));
            }
            else if (due.Value.Files == 0)
            {
                Kept.Add(new KeptResource(ChangeKind.Files, files.Resource, $"no {rule}"));
            }
            else
            {
                Changes.Add(new FilesChange(files.Resource, rule, $"{due.Value.Files} file(s), {BackupProgress.Size(due.Value.Bytes)}", files));
            }
        }

        public async Task ModelsAsync(string service, ModelRetentionDefinition definition, DateTimeOffset now, CancellationToken cancellationToken)
        {
            var models = new ModelRetention(service, definition.Volume!, definition.Path ?? string.Empty, Days(definition.Days), await probes.ModelsInUseAsync(service, cancellationToken));
            IReadOnlyList<ModelDirectory>? directories;
            try
            {
                directories = await probes.VolumeExistsAsync(models.Volume, cancellationToken) ? await probes.ModelsAsync(models, cancellationToken) : null;
            }
            catch (PipelineException e)
            {
                Problems.Add($"{models.Resource}: {e.Message}");
                return;
            }

            if (directories is null)
            {
                Kept.Add(new KeptResource(ChangeKind.Models, models.Resource, "the volume or path does not exist: nothing to do"));
                return;
            }

            var cutoff = now.AddDays(-models.Days);
            foreach (var decision in ModelPlanner.Plan(directories, models.InUse, cutoff))
            {
                var resource = $"{models.Resource}/{decision.Directory.Name}";
                var size = BackupProgress.Size(decision.Directory.Kilobytes * 1024);
                if (decision.Keep)
                {
                    Kept.Add(new KeptResource(ChangeKind.Model, resource, decision.Reason) { Detail = size });
                    continue;
                }

                Changes.Add(new ModelChange(resource, $"{decision.Reason} (more than {models.Days} d)", size, models, decision.Directory.Name, cutoff));
            }
        }
    }
}
