using LlmStack.Pipeline;
using LlmStack.Reporting;
using LlmStack.Schema;

namespace LlmStack.Retention;

/// <summary>What RetentionSimulate was given.</summary>
public sealed record SimulateOptions(string Root, string BackupsFile, string? Policy, string ConfigFile, string Environment, PolicyArguments Arguments,
    string BackupConfigFile = Backup.BackupConfigLoader.DefaultPath);

/// <summary>The bodies of the retention targets.</summary>
public static class RetentionCommands
{
    /// <summary>
    /// RetentionSimulate: the planner on a file of backups. A policy by parameters applies restic's rules only; a policy
    /// by name (<c>--policy</c>) also the safety rules, with the environment's <c>min_keep</c>.
    /// </summary>
    public static void Simulate(SimulateOptions options, SchemaFile schema, ReportWriter reports)
    {
        if (options.Policy is not null && options.Arguments.Any)
        {
            throw new PipelineException("give either --policy NAME or --keep-* parameters, not both");
        }

        if (options.Policy is null && !options.Arguments.Any)
        {
            throw new PipelineException("give a policy: --keep-* parameters (e.g. --keep-daily 7 --keep-weekly 4) or --policy NAME from the retention configuration");
        }

        var backups = RetentionSimulator.Load(Path.GetFullPath(options.BackupsFile, options.Root), options.BackupsFile);
        var now = DateTimeOffset.UtcNow;
        if (options.Policy is { } name)
        {
            var backup = Backup.BackupConfigLoader.LoadValid(Path.GetFullPath(options.BackupConfigFile, options.Root), options.BackupConfigFile, schema.Load());
            var config = RetentionConfigLoader.LoadValid(Path.GetFullPath(options.ConfigFile, options.Root), options.ConfigFile, schema.Load(), backup);
            if (!config.Policies.TryGetValue(name, out var definition))
            {
                throw new PipelineException($"policy '{name}' is not in {options.ConfigFile} (policies: {string.Join(", ", config.Policies.Keys)})");
            }

            var policy = definition.ToPolicy();
            var minKeep = config.Environments.GetValueOrDefault(options.Environment)?.MinKeep ?? 1;
            var plan = RetentionPlanner.PlanSafe(backups, policy, new RetentionSafety(minKeep), now);
            reports.Write(RetentionSimulator.Report(plan, $"'{name}' ({policy}; min_keep {minKeep} of {options.Environment}, newest verified kept)"));
        }
        else
        {
            var policy = options.Arguments.ToPolicy();
            reports.Write(RetentionSimulator.Report(RetentionPlanner.Plan(backups, policy, now), $"{policy} (restic's rules only)"));
        }
    }

    /// <summary>RetentionSchedule from the configuration files (relative to the schema's root): the backup configuration, then the retention configuration, each valid.</summary>
    public static void Schedule(SchemaFile schema, string configFile, string backupConfigFile, int count, ReportWriter reports)
    {
        var backup = Backup.BackupConfigLoader.LoadValid(Path.Combine(schema.RootDirectory, backupConfigFile), backupConfigFile, schema.Load());
        Schedule(RetentionConfigLoader.LoadValid(Path.Combine(schema.RootDirectory, configFile), configFile, schema.Load(), backup), count, reports);
    }

    /// <summary>RetentionSchedule: each environment's cleanup schedule (UTC) and its next runs.</summary>
    public static void Schedule(RetentionConfig config, int count, ReportWriter reports)
    {
        var table = new TextTable("ENVIRONMENT", "SCHEDULE (UTC)", "MIN KEEP", "BACKUP FIRST", "NEXT RUNS");
        foreach (var (name, settings) in config.Environments)
        {
            var next = Backup.BackupConfigLoader.NextRuns(settings.Schedule, count);
            table.Add(name, settings.Schedule ?? "-", (settings.MinKeep ?? 1).ToString(System.Globalization.CultureInfo.InvariantCulture),
                settings.BackupBeforeCleanup == true ? "yes" : "no", next.Count == 0 ? "-" : string.Join("; ", next));
        }

        reports.Write(new Report().Table(table));
    }
}
