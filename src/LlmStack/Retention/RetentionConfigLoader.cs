using LlmStack.Backup;
using LlmStack.Schema;

namespace LlmStack.Retention;

/// <summary>Loads configs/retention-policies.yaml and checks it against the schema and the backup configuration (every problem with file:line:col).</summary>
public static class RetentionConfigLoader
{
    public const string DefaultPath = "configs/retention-policies.yaml";

    /// <summary>
    /// Every problem of the file, in source order, each with file:line:col. The tier maps (<c>tiers</c>,
    /// <c>environments.&lt;env&gt;.tiers</c>) name tiers of <paramref name="backup"/>, the backup configuration; null only
    /// where no tier map is read (the TSDB overlay, whose runs check the file through ValidateSchema first).
    /// </summary>
    public static (RetentionConfig? Config, IReadOnlyList<Diagnostic> Diagnostics) Load(string path, string displayPath, ComposeSchema schema, BackupConfig? backup) =>
        ConfigDiagnostics.Load<RetentionConfig>(path, displayPath, "the retention configuration", $"retention configuration not found: create {displayPath} (docs/RETENTION.md) or pass --retention-config PATH", (config, diagnostics) => Validate(config, schema, backup, diagnostics));

    /// <summary>ValidateSchema's part: prints every diagnostic (file:line:col) and throws when there is an error.</summary>
    public static void Validate(SchemaFile schema, string configFile, string backupConfigFile, TextWriter output, Serilog.ILogger log)
    {
        var backup = BackupConfigLoader.LoadValid(Path.GetFullPath(backupConfigFile, schema.RootDirectory), backupConfigFile, schema.Load());
        var (config, diagnostics) = Load(Path.GetFullPath(configFile, schema.RootDirectory), configFile, schema.Load(), backup);
        ConfigDiagnostics.Report(diagnostics, configFile, output);
        log.Information("{File} is valid: {Policies} polic(ies), {Environments} environment(s)", configFile, config!.Policies.Count, config.Environments.Count);
    }

    public static RetentionConfig LoadValid(string path, string displayPath, ComposeSchema schema, BackupConfig? backup) =>
        ConfigDiagnostics.Valid(Load(path, displayPath, schema, backup));

    internal static void Validate(RetentionConfig config, ComposeSchema schema, BackupConfig? backup, DiagnosticBag diagnostics)
    {
        foreach (var (name, policy) in config.Policies)
        {
            var errorsBefore = diagnostics.Items.Count(d => d.IsError);
            foreach (var key in new[] { "keep_last", "keep_hourly", "keep_daily", "keep_weekly", "keep_monthly", "keep_yearly" }.Where(policy.Has))
            {
                var value = key switch
                {
                    "keep_last" => policy.KeepLast,
                    "keep_hourly" => policy.KeepHourly,
                    "keep_daily" => policy.KeepDaily,
                    "keep_weekly" => policy.KeepWeekly,
                    "keep_monthly" => policy.KeepMonthly,
                    _ => policy.KeepYearly,
                };
                if (value < -1)
                {
                    diagnostics.Error(policy.Locate(key), $"policy '{name}': {key} must be 0 or more, or -1 for unlimited");
                }
            }

            foreach (var (key, text) in new[]
                     {
                         ("keep_within", policy.KeepWithin), ("keep_within_hourly", policy.KeepWithinHourly), ("keep_within_daily", policy.KeepWithinDaily),
                         ("keep_within_weekly", policy.KeepWithinWeekly), ("keep_within_monthly", policy.KeepWithinMonthly), ("keep_within_yearly", policy.KeepWithinYearly),
                     })
            {
                if (text is not null && !RetentionDuration.TryParse(text, out _, out var problem))
                {
                    diagnostics.Error(policy.Locate(key), $"policy '{name}': {key}: {problem}");
                }
            }

            if (diagnostics.Items.Count(d => d.IsError) == errorsBefore && policy.ToPolicy().IsEmpty)
            {
                diagnostics.Error(config.Locate($"policies.{name}"), $"policy '{name}' has no keep rule: an empty policy would remove every backup; give at least one (keep_within: 7d, keep_daily: 7, …)");
            }
        }

        CheckTierMap(config.Tiers, config, "tiers", null, config, backup, diagnostics);
        foreach (var (name, environment) in config.Environments)
        {
            if (!schema.Environments.ContainsKey(name))
            {
                diagnostics.Error(config.Locate($"environments.{name}"), $"environment '{name}' is not in the schema{References.Hint(name, schema.Environments.Keys)}");
            }

            if (environment.Schedule is { } schedule && !BackupConfigLoader.TryParseCron(schedule, out _, out var problem))
            {
                diagnostics.Error(environment.Locate("schedule"), $"environment '{name}': schedule '{schedule}' is not a cron expression: {problem}");
            }

            if (environment.MinKeep is < 1)
            {
                diagnostics.Error(environment.Locate("min_keep"), $"environment '{name}': min_keep must be 1 or more (the newest backup is never removed)");
            }

            if (environment.DataRetentionDays is < 1)
            {
                diagnostics.Error(environment.Locate("data_retention_days"), $"environment '{name}': data_retention_days must be 1 or more");
            }

            if (environment.Tiers is { } tiers)
            {
                CheckTierMap(tiers, environment, "tiers", name, config, backup, diagnostics);
            }
        }

        foreach (var missing in schema.Environments.Keys.Where(e => !config.Environments.ContainsKey(e)))
        {
            diagnostics.Error(config.Has("environments") ? config.Locate("environments") : config.Location, $"environment '{missing}' has no retention settings: add it under environments");
        }

        foreach (var (name, service) in config.Services)
        {
            if (!schema.Services.ContainsKey(name))
            {
                diagnostics.Error(config.Locate($"services.{name}"), $"service '{name}' is not in the schema{References.Hint(name, schema.Services.Keys)}");
            }

            for (var i = 0; i < (service.Tables?.Count ?? 0); i++)
            {
                var table = service.Tables![i];
                var where = $"service '{name}', table {i + 1}";
                foreach (var (key, value) in new[] { ("table", table.Table), ("date_column", table.DateColumn) })
                {
                    if (value is null)
                    {
                        diagnostics.Error(table.Location, $"{where}: {key} is required");
                    }
                    else if (!PostgresRetention.Identifier().IsMatch(value) || (key == "date_column" && value.Contains('.', StringComparison.Ordinal)))
                    {
                        diagnostics.Error(table.Locate(key), $"{where}: {key} '{value}' must be a plain SQL name{(key == "table" ? " (schema.table allowed)" : string.Empty)}");
                    }
                }

                CheckDays(table, where, table.Days, diagnostics);

                if (table.BatchSize is < 1)
                {
                    diagnostics.Error(table.Locate("batch_size"), $"{where}: batch_size must be 1 or more");
                }

                if (table.Strategy is { } strategy && strategy is not (TableRetention.DeleteOldRows or TableRetention.ArchiveThenDelete))
                {
                    diagnostics.Error(table.Locate("strategy"), $"{where}: strategy must be {TableRetention.DeleteOldRows} or {TableRetention.ArchiveThenDelete}, not '{strategy}'");
                }
            }
        }

        foreach (var (name, service) in config.Services)
        {
            var defined = schema.Services.GetValueOrDefault(name);
            for (var i = 0; i < (service.ExpireKeys?.Count ?? 0); i++)
            {
                var keys = service.ExpireKeys![i];
                var where = $"service '{name}', expire_keys {i + 1}";
                if (string.IsNullOrWhiteSpace(keys.Pattern))
                {
                    diagnostics.Error(keys.Has("pattern") ? keys.Locate("pattern") : keys.Location, $"{where}: pattern is required (a SCAN MATCH pattern such as embedding:*)");
                }

                if (keys.Databases?.Any(d => d < 0) == true)
                {
                    diagnostics.Error(keys.Locate("databases"), $"{where}: databases are numbers from 0");
                }

                CheckDays(keys, where, keys.Days, diagnostics);
            }

            for (var i = 0; i < (service.Files?.Count ?? 0); i++)
            {
                var files = service.Files![i];
                CheckVolumePath(files, $"service '{name}', files {i + 1}", name, defined, files.Volume, files.Path, diagnostics);
                CheckDays(files, $"service '{name}', files {i + 1}", files.Days, diagnostics);
            }

            if (service.Models is { } models)
            {
                CheckVolumePath(models, $"service '{name}', models", name, defined, models.Volume, models.Path, diagnostics);
                CheckDays(models, $"service '{name}', models", models.Days, diagnostics);
            }

            if (service.Tsdb is { } tsdb)
            {
                CheckDays(tsdb, $"service '{name}', tsdb", tsdb.Days, diagnostics);
                if (defined is not null && defined.Command?.Contains(TsdbArgument) != true)
                {
                    diagnostics.Error(service.Locate("tsdb"),
                        $"service '{name}', tsdb: its command in the schema must carry {TsdbArgument} for the policy to reach Prometheus");
                }
            }
        }

        if (config.Services.Count(s => s.Value.Tsdb is not null) > 1)
        {
            diagnostics.Error(config.Locate("services"), $"tsdb is given for more than one service: {TsdbVariable} carries one value");
        }

        if (config.Prune?.Schedule is { } pruneSchedule && !BackupConfigLoader.TryParseCron(pruneSchedule, out _, out var pruneProblem))
        {
            diagnostics.Error(config.Prune.Locate("schedule"), $"prune.schedule '{pruneSchedule}' is not a cron expression: {pruneProblem}");
        }

        foreach (var (key, text) in new[] { ("when_unused_above", config.Prune?.WhenUnusedAbove), ("max_unused", config.Prune?.MaxUnused) })
        {
            if (text is not null && !Percent.TryParse(text, out _))
            {
                diagnostics.Error(config.Prune!.Locate(key), $"prune.{key} '{text}' must be a percentage like 10%");
            }
        }
    }

    private static void CheckDays(SchemaNode node, string where, int? days, DiagnosticBag diagnostics)
    {
        if (days is < 1)
        {
            diagnostics.Error(node.Locate("days"), $"{where}: days must be 1 or more");
        }
    }

    /// <summary>A volume the service mounts (in the schema) and a path inside it that cannot leave it.</summary>
    private static void CheckVolumePath(SchemaNode node, string where, string service, ServiceDefinition? defined, string? volume, string? path, DiagnosticBag diagnostics)
    {
        if (volume is null)
        {
            diagnostics.Error(node.Location, $"{where}: volume is required (a named volume the service mounts)");
        }
        else if (defined is not null && defined.Volumes?.Any(v => v.Split(':')[0] == volume) != true)
        {
            var mounted = defined.Volumes?.Select(v => v.Split(':')[0]).Where(v => !v.StartsWith('.') && !v.StartsWith('/')).ToList() ?? [];
            diagnostics.Error(node.Locate("volume"), $"{where}: service '{service}' does not mount volume '{volume}' ({(mounted.Count == 0 ? "it mounts no named volume" : "it mounts " + string.Join(", ", mounted))})");
        }

        if (path is not null && (path.StartsWith('/') || path.Split('/').Any(p => p == "..")))
        {
            diagnostics.Error(node.Locate("path"), $"{where}: path '{path}' must be relative to the volume's root, without '..'");
        }
    }

    /// <summary>The schema variable that carries the TSDB retention into Prometheus' command, and the argument that uses it.</summary>
    public const string TsdbVariable = "PROMETHEUS_RETENTION";

    public const string TsdbArgument = "--storage.tsdb.retention.time=${" + TsdbVariable + "}";

    /// <summary>
    /// The schema as a run uses it (paths relative to <paramref name="root"/>): each environment resolved with the
    /// variables of the retention configuration (<see cref="Variables"/>) over the schema's. The configuration's path is
    /// read when an environment is resolved (a run's <c>--retention-config</c> may be known only after the schema was
    /// first read).
    /// </summary>
    public static SchemaFile Schema(string root, string schemaPath, Func<string> configPath)
    {
        SchemaFile? schema = null;
        schema = new SchemaFile(root, schemaPath)
        {
            Overlay = environment => Variables(Path.GetFullPath(configPath(), root), configPath(), schema!.Load(), environment),
        };
        return schema;
    }

    /// <summary>
    /// The schema variables the retention configuration sets for an environment (Prometheus' TSDB retention); empty when
    /// the file does not exist. Applied when an environment is resolved, so the generated compose and the container
    /// command both carry the policy.
    /// </summary>
    public static IReadOnlyDictionary<string, string> Variables(string path, string displayPath, ComposeSchema schema, string environment)
    {
        if (!File.Exists(path))
        {
            return new Dictionary<string, string>();
        }

        var config = LoadValid(path, displayPath, schema, backup: null);
        return config.Services.Values.Where(s => s.Tsdb is not null)
            .ToDictionary(_ => TsdbVariable, s => $"{s.Tsdb!.Days ?? config.Environments.GetValueOrDefault(environment)?.DataRetentionDays ?? 15}d");
    }

    /// <summary>
    /// A tier → policy map: each tier a tier of the backup configuration (for an environment's map, one of that
    /// environment's tiers), each policy one of <c>policies</c>. A mistyped tier would leave the real tier without its
    /// policy, keeping everything.
    /// </summary>
    private static void CheckTierMap(Dictionary<string, string> tiers, SchemaNode owner, string path, string? environment, RetentionConfig config, BackupConfig? backup, DiagnosticBag diagnostics)
    {
        var where = environment is null ? string.Empty : $"environment '{environment}': ";
        foreach (var (tier, policy) in tiers)
        {
            var location = owner.Locate($"{path}.{tier}");
            if (backup is not null && !backup.Tiers.ContainsKey(tier))
            {
                diagnostics.Error(location,
                    $"{where}tier '{tier}' is not a tier of {backup.Location.File}{References.Hint(tier, backup.Tiers.Keys)}: its policy would apply to nothing");
            }
            else if (backup is not null && environment is not null
                     && backup.Environments.GetValueOrDefault(environment)?.Tiers is { } used && !used.Contains(tier))
            {
                diagnostics.Error(location,
                    $"{where}tier '{tier}' is not one of the environment's tiers in {backup.Location.File} ({string.Join(", ", used)}): its policy would apply to nothing");
            }

            if (!config.Policies.ContainsKey(policy))
            {
                diagnostics.Error(location, $"{where}tier '{tier}' uses policy '{policy}', which is not defined under policies{References.Hint(policy, config.Policies.Keys)}");
            }
        }
    }
}

/// <summary>A share written as a percentage (<c>10%</c>, <c>2.5%</c>).</summary>
public static class Percent
{
    public static bool TryParse(string text, out double value)
    {
        value = 0;
        var trimmed = text.Trim();
        return trimmed.EndsWith('%')
               && double.TryParse(trimmed[..^1], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out value)
               && value is >= 0 and <= 100;
    }
}
