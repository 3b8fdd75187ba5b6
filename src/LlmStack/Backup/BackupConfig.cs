using Cronos;
using LlmStack.Engine;
using LlmStack.Pipeline;
using LlmStack.Schema;

namespace LlmStack.Backup;

/// <summary><c>configs/backup-strategies.yaml</c>, bound like the schema (unknown keys and wrong shapes are diagnostics).</summary>
public sealed class BackupConfig : SchemaNode
{
    public Dictionary<string, TierDefinition> Tiers { get; set; } = new();

    public Dictionary<string, EnvironmentBackupDefinition> Environments { get; set; } = new();

    public Dictionary<string, ServiceBackupDefinition> Services { get; set; } = new();

    public KeyDefinition? Key { get; set; }

    public RestoreTestDefinition? RestoreTest { get; set; }

    public MetricsDefinition? Metrics { get; set; }

    /// <summary>
    /// The image restic runs in when it reads or fills a volume in a helper container (default
    /// <see cref="BackupConfigLoader.DefaultResticImage"/>; mapped through <c>--image-map</c> like every image).
    /// </summary>
    public string? ResticImage { get; set; }

    /// <summary>Where restic reads volumes: <c>auto</c> (default), <c>host</c> or <c>helper</c> (<see cref="VolumeReader"/>).</summary>
    public string? VolumeReader { get; set; }
}

/// <summary>How RestoreTest builds its throwaway containers.</summary>
public sealed class RestoreTestDefinition : SchemaNode
{
    /// <summary>The environment whose images and settings the throwaway containers use (default: the one tested).</summary>
    public string? TestEnvironment { get; set; }

    /// <summary>When the generated restore-test workflow runs RestoreTest in every environment (five-field cron, UTC; default <see cref="BackupConfigLoader.DefaultRestoreTestSchedule"/>).</summary>
    public string? Schedule { get; set; }
}

/// <summary>Where the Prometheus text-format metrics go (node_exporter's textfile collector).</summary>
public sealed class MetricsDefinition : SchemaNode
{
    public string? File { get; set; }
}

/// <summary>One storage tier: a restic repository per environment (or, for tape, an export target).</summary>
public sealed class TierDefinition : SchemaNode
{
    /// <summary><c>local</c>, <c>remote</c>, <c>cloud</c> or <c>tape</c>.</summary>
    public string? Kind { get; set; }

    /// <summary>
    /// local: a directory (relative to the repository root unless absolute); tape: a directory (one file per set) or a
    /// device file. The environment's repository (or export directory) is <c>&lt;path&gt;/&lt;environment&gt;</c>.
    /// </summary>
    public string? Path { get; set; }

    /// <summary>remote: any restic repository location (a mounted share's path, <c>sftp:</c>, <c>rest:</c>); cloud: <c>s3:https://host/bucket/prefix</c>.</summary>
    public string? Repository { get; set; }

    /// <summary>cloud: a file in the secrets directory with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (NAME=value lines).</summary>
    public string? Credentials { get; set; }

    /// <summary>remote and cloud: a CA certificate for a private endpoint (restic --cacert).</summary>
    public string? CaFile { get; set; }

    /// <summary>tape: where the export manifests are kept (default <c>backups/tape-catalog</c>).</summary>
    public string? Catalog { get; set; }
}

public sealed class EnvironmentBackupDefinition : SchemaNode
{
    /// <summary>Five-field cron, UTC.</summary>
    public string? Schedule { get; set; }

    /// <summary>Tiers, the first one receives the backup.</summary>
    public List<string>? Tiers { get; set; }

    /// <summary>Every wipe of data takes a BackupFull first (WipeProduction and WipeStaging always do).</summary>
    public bool? BackupBeforeWipe { get; set; }

    /// <summary>The labels of the self-hosted GitHub Actions runner that runs this environment's scheduled workflows (default <c>[self-hosted, llmstack, &lt;environment&gt;]</c>).</summary>
    public List<string>? RunnerLabels { get; set; }

    /// <summary>When the generated drift workflow compares what runs with the schema (five-field cron, UTC; default <see cref="BackupConfigLoader.DefaultDriftSchedule"/>).</summary>
    public string? DriftSchedule { get; set; }
}

public sealed class ServiceBackupDefinition : SchemaNode
{
    /// <summary><c>postgres</c>, <c>redis</c>, <c>volume</c> or <c>none</c>.</summary>
    public string? Method { get; set; }

    /// <summary>The backup types this service offers; BackupFull takes the first.</summary>
    public List<string>? Types { get; set; }

    /// <summary>For <c>volume</c>: <c>pause</c> (default) or <c>stop</c> the services that write the volume while it is copied.</summary>
    public string? Mode { get; set; }

    /// <summary>For <c>none</c>: why this data needs no backup.</summary>
    public string? Reason { get; set; }
}

public sealed class KeyDefinition : SchemaNode
{
    /// <summary>A key file to use instead of <c>&lt;secrets dir&gt;/&lt;environment&gt;.backup-key</c>.</summary>
    public string? File { get; set; }
}

/// <summary>Reads and validates the backup configuration against the schema.</summary>
public static class BackupConfigLoader
{
    public const string DefaultPath = "configs/backup-strategies.yaml";

    /// <summary>The restic helper image when restic_image is not set: the official image of the restic LlmStack is tested with (0.14).</summary>
    public const string DefaultResticImage = "restic/restic:0.14.0";

    /// <summary>restic_image, or <see cref="DefaultResticImage"/>.</summary>
    public static string ResticImage(BackupConfig config) => config.ResticImage ?? DefaultResticImage;

    /// <summary>volume_reader as its value (the configuration is valid).</summary>
    public static VolumeReader VolumeReader(BackupConfig config) => config.VolumeReader is { } word ? BackupWords.Parse<VolumeReader>(word) : Backup.VolumeReader.Auto;

    /// <summary>The restore test's schedule when restore_test.schedule is not set: Sundays 06:00 UTC, after every nightly backup.</summary>
    public const string DefaultRestoreTestSchedule = "0 6 * * 0";

    /// <summary>The drift check's schedule when an environment sets no drift_schedule: every six hours, at half past.</summary>
    public const string DefaultDriftSchedule = "30 */6 * * *";

    /// <summary>An environment's drift_schedule, or <see cref="DefaultDriftSchedule"/>.</summary>
    public static string DriftSchedule(BackupConfig config, string environment) =>
        config.Environments.TryGetValue(environment, out var definition) && definition.DriftSchedule is { } schedule ? schedule : DefaultDriftSchedule;

    /// <summary>The runner labels of an environment: its runner_labels, or <c>[self-hosted, llmstack, &lt;environment&gt;]</c>.</summary>
    public static IReadOnlyList<string> RunnerLabels(BackupConfig config, string environment) =>
        config.Environments.TryGetValue(environment, out var definition) && definition.RunnerLabels is { Count: > 0 } labels
            ? labels
            : ["self-hosted", "llmstack", environment];

    /// <summary>Every problem of the file, in source order, each with file:line:col.</summary>
    public static (BackupConfig? Config, IReadOnlyList<Diagnostic> Diagnostics) Load(string path, string displayPath, ComposeSchema schema) =>
        ConfigDiagnostics.Load<BackupConfig>(path, displayPath, "the backup configuration", $"backup configuration not found: create {displayPath} (docs/BACKUP.md) or pass --backup-config PATH", (config, diagnostics) => Validate(config, schema, diagnostics));

    /// <summary>ValidateSchema's part: prints every diagnostic (file:line:col) and throws when there is an error.</summary>
    public static void Validate(SchemaFile schema, string configFile, TextWriter output, Serilog.ILogger log)
    {
        var (config, diagnostics) = Load(Path.GetFullPath(configFile, schema.RootDirectory), configFile, schema.Load());
        ConfigDiagnostics.Report(diagnostics, configFile, output);
        log.Information("{File} is valid: {Tiers} tier(s), {Environments} environment schedule(s), {Services} service setting(s)",
            configFile, config!.Tiers.Count, config.Environments.Count, config.Services.Count);
    }

    /// <summary>A configuration that must be valid, or the first error (for the targets that only use it).</summary>
    public static BackupConfig LoadValid(string path, string displayPath, ComposeSchema schema) =>
        ConfigDiagnostics.Valid(Load(path, displayPath, schema));

    internal static void Validate(BackupConfig config, ComposeSchema schema, DiagnosticBag diagnostics)
    {
        if (config.Tiers.Count == 0)
        {
            diagnostics.Error(config.Has("tiers") ? config.Locate("tiers") : config.Location, "no tiers: define at least one, e.g. tiers: { local: { kind: local, path: backups } }");
        }

        var kinds = string.Join(", ", BackupWords.TierKinds.Select(k => k.Word()));
        foreach (var (name, tier) in config.Tiers)
        {
            TierKind? kind = BackupWords.TryParse<TierKind>(tier.Kind, out var parsed) ? parsed : null;
            if (kind is null)
            {
                diagnostics.Error(tier.Has("kind") ? tier.Locate("kind") : tier.Location,
                    $"tier '{name}': kind must be one of {kinds}{(tier.Kind is null ? string.Empty : $", not '{tier.Kind}'")}");
            }

            switch (kind)
            {
                case TierKind.Local or TierKind.Tape when string.IsNullOrWhiteSpace(tier.Path):
                    diagnostics.Error(tier.Location, $"tier '{name}' ({tier.Kind}) has no path");
                    break;
                case TierKind.Remote when string.IsNullOrWhiteSpace(tier.Repository):
                    diagnostics.Error(tier.Location, $"tier '{name}' (remote) has no repository (a path, sftp:… or rest:…)");
                    break;
                case TierKind.Cloud when tier.Repository is not { } repository || !repository.StartsWith("s3:", StringComparison.Ordinal):
                    diagnostics.Error(tier.Has("repository") ? tier.Locate("repository") : tier.Location, $"tier '{name}' (cloud) needs a repository like s3:https://host/bucket/prefix");
                    break;
                case TierKind.Cloud when string.IsNullOrWhiteSpace(tier.Credentials):
                    diagnostics.Error(tier.Location, $"tier '{name}' (cloud) needs credentials: a file in the secrets directory with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
                    break;
            }

            foreach (var (key, allowed) in new (string Key, TierKind[] Kinds)[]
                     {
                         ("path", [TierKind.Local, TierKind.Tape]), ("repository", [TierKind.Remote, TierKind.Cloud]),
                         ("credentials", [TierKind.Cloud]), ("ca_file", [TierKind.Remote, TierKind.Cloud]), ("catalog", [TierKind.Tape]),
                     })
            {
                if (tier.Has(key) && kind is { } k && !allowed.Contains(k))
                {
                    diagnostics.Error(tier.Locate(key), $"tier '{name}': {key} is for {string.Join(" and ", allowed.Select(a => a.Word()))} tiers, not {k.Word()}");
                }
            }
        }

        foreach (var (name, environment) in config.Environments)
        {
            if (!schema.Environments.ContainsKey(name))
            {
                diagnostics.Error(config.Locate($"environments.{name}"),
                    $"environment '{name}' is not in the schema{References.Hint(name, schema.Environments.Keys)}");
            }

            if (environment.Schedule is { } schedule)
            {
                if (!TryParseCron(schedule, out _, out var problem))
                {
                    diagnostics.Error(environment.Locate("schedule"), $"environment '{name}': schedule '{schedule}' is not a cron expression: {problem}");
                }
            }
            else
            {
                diagnostics.Error(environment.Location, $"environment '{name}' has no schedule (five-field cron in UTC, e.g. \"0 3 * * *\")");
            }

            if (environment.DriftSchedule is { } drift && !TryParseCron(drift, out _, out var driftProblem))
            {
                diagnostics.Error(environment.Locate("drift_schedule"), $"environment '{name}': drift_schedule '{drift}' is not a cron expression: {driftProblem}");
            }

            if (environment.RunnerLabels is { } labels)
            {
                if (labels.Count == 0)
                {
                    diagnostics.Error(environment.Locate("runner_labels"), $"environment '{name}': runner_labels is empty: drop it for the default [self-hosted, llmstack, {name}] or list the runner's labels");
                }

                for (var i = 0; i < labels.Count; i++)
                {
                    if (string.IsNullOrWhiteSpace(labels[i]) || labels[i].Any(c => char.IsWhiteSpace(c) || c == ','))
                    {
                        diagnostics.Error(environment.Locate($"runner_labels[{i}]"), $"environment '{name}': runner label '{labels[i]}' must be one word without spaces or commas (e.g. self-hosted, llmstack, {name})");
                    }
                }

                if (labels.Distinct(StringComparer.OrdinalIgnoreCase).Count() != labels.Count)
                {
                    diagnostics.Error(environment.Locate("runner_labels"), $"environment '{name}' lists a runner label twice (labels ignore case)");
                }
            }

            if (environment.Tiers is not { Count: > 0 } tiers)
            {
                diagnostics.Error(environment.Has("tiers") ? environment.Locate("tiers") : environment.Location, $"environment '{name}' has no tiers");
                continue;
            }

            for (var i = 0; i < tiers.Count; i++)
            {
                if (!config.Tiers.ContainsKey(tiers[i]))
                {
                    diagnostics.Error(environment.Locate($"tiers[{i}]"), $"environment '{name}' uses undefined tier '{tiers[i]}'{References.Hint(tiers[i], config.Tiers.Keys)}");
                }
            }

            if (tiers.Distinct(StringComparer.Ordinal).Count() != tiers.Count)
            {
                diagnostics.Error(environment.Locate("tiers"), $"environment '{name}' lists a tier twice");
            }

            if (config.Tiers.TryGetValue(tiers[0], out var first) && first.Kind != TierKind.Local.Word() && first.Kind != TierKind.Remote.Word())
            {
                diagnostics.Error(environment.Locate("tiers[0]"),
                    $"environment '{name}': the first tier receives every backup and is copied to the others, so it must be local or remote, not {first.Kind}");
            }
        }

        if (config.RestoreTest?.TestEnvironment is { } test && !schema.Environments.ContainsKey(test))
        {
            diagnostics.Error(config.RestoreTest.Locate("test_environment"), $"restore_test.test_environment '{test}' is not an environment of the schema{References.Hint(test, schema.Environments.Keys)}");
        }

        if (config.VolumeReader is { } reader && !BackupWords.TryParse<VolumeReader>(reader, out _))
        {
            diagnostics.Error(config.Locate("volume_reader"),
                $"volume_reader must be one of {string.Join(", ", Enum.GetValues<VolumeReader>().Select(r => r.Word()))}, not '{reader}'");
        }

        if (config.ResticImage is { } image && (string.IsNullOrWhiteSpace(image) || image.Any(char.IsWhiteSpace)))
        {
            diagnostics.Error(config.Locate("restic_image"), $"restic_image '{image}' is not an image reference (e.g. {DefaultResticImage})");
        }

        if (config.RestoreTest?.Schedule is { } restoreSchedule && !TryParseCron(restoreSchedule, out _, out var restoreProblem))
        {
            diagnostics.Error(config.RestoreTest.Locate("schedule"), $"restore_test.schedule '{restoreSchedule}' is not a cron expression: {restoreProblem}");
        }

        foreach (var missing in schema.Environments.Keys.Where(e => !config.Environments.ContainsKey(e)))
        {
            diagnostics.Error(config.Has("environments") ? config.Locate("environments") : config.Location,
                $"environment '{missing}' of the schema has no backup settings: add environments: {{ {missing}: {{ schedule: \"0 3 * * *\", tiers: [...] }} }}");
        }

        foreach (var (name, service) in config.Services)
        {
            var location = config.Locate($"services.{name}");
            if (!schema.Services.ContainsKey(name))
            {
                diagnostics.Error(location, $"service '{name}' is not in the schema{References.Hint(name, schema.Services.Keys)}");
            }

            if (service.Method is not { } method || !BackupWords.ConfigMethods.Contains(method))
            {
                diagnostics.Error(service.Has("method") ? service.Locate("method") : service.Location,
                    $"service '{name}': method must be one of {string.Join(", ", BackupWords.ConfigMethods)}{(service.Method is null ? string.Empty : $", not '{service.Method}'")}");
                continue;
            }

            var backedUp = method == BackupWords.NoBackup ? (BackupMethod?)null : BackupWords.Parse<BackupMethod>(method);
            var offered = backedUp is { } m ? BackupWords.TypesOf(m).Select(t => t.Word()).ToList() : [];
            if (service.Types is { } types)
            {
                if (backedUp is null or BackupMethod.Volume)
                {
                    diagnostics.Error(service.Locate("types"), $"service '{name}': method {method} takes no types");
                }
                else
                {
                    if (types.Count == 0)
                    {
                        diagnostics.Error(service.Locate("types"), $"service '{name}': types is empty (offered: {string.Join(", ", offered)})");
                    }

                    for (var i = 0; i < types.Count; i++)
                    {
                        if (!offered.Contains(types[i]))
                        {
                            diagnostics.Error(service.Locate($"types[{i}]"), $"service '{name}': method {method} has no type '{types[i]}' (offered: {string.Join(", ", offered)})");
                        }
                    }
                }
            }

            if (service.Mode is { } mode && (backedUp != BackupMethod.Volume || mode is not ("pause" or "stop")))
            {
                diagnostics.Error(service.Locate("mode"), backedUp == BackupMethod.Volume
                    ? $"service '{name}': mode must be pause or stop, not '{mode}'"
                    : $"service '{name}': mode is for method volume only");
            }

            if (backedUp is null && string.IsNullOrWhiteSpace(service.Reason))
            {
                diagnostics.Error(location, $"service '{name}': method none needs a reason (why its data needs no backup)");
            }
            else if (backedUp is not null && service.Reason is not null)
            {
                diagnostics.Error(service.Locate("reason"), $"service '{name}': reason is for method none only");
            }
        }
    }

    /// <summary>The next <paramref name="count"/> runs (UTC, yyyy-MM-dd HH:mm) of a five-field cron expression; none when it does not parse.</summary>
    public static IReadOnlyList<string> NextRuns(string? schedule, int count)
    {
        var next = new List<string>();
        if (schedule is null || !TryParseCron(schedule, out var cron, out _))
        {
            return next;
        }

        var from = DateTime.UtcNow;
        for (var i = 0; i < count && cron!.GetNextOccurrence(from, TimeZoneInfo.Utc) is { } at; i++)
        {
            next.Add(at.ToString("yyyy-MM-dd HH:mm", System.Globalization.CultureInfo.InvariantCulture));
            from = at;
        }

        return next;
    }

    /// <summary>Five-field cron (minute hour day month weekday), parsed by Cronos.</summary>
    public static bool TryParseCron(string text, out CronExpression? expression, out string problem)
    {
        try
        {
            expression = CronExpression.Parse(text, CronFormat.Standard);
            problem = string.Empty;
            return true;
        }
        catch (CronFormatException e)
        {
            expression = null;
            problem = e.Message;
            return false;
        }
    }
}
