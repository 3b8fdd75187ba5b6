using LlmStack.Backup;
using LlmStack.Retention;
using LlmStack.Schema;

namespace LlmStack.GitHub.Workflows;

/// <summary>
/// What the workflow declarations take from the configuration at generation time: the schema's environments, each
/// environment's backup, retention and drift crons and runner labels, the backed-up services, the restore test's schedule
/// and the metrics file.
/// </summary>
public sealed record WorkflowSources(
    IReadOnlyList<string> Environments,
    IReadOnlyDictionary<string, string> BackupSchedules,
    IReadOnlyDictionary<string, string> RetentionSchedules,
    IReadOnlyDictionary<string, IReadOnlyList<string>> RunnerLabels,
    IReadOnlyList<string> BackedUpServices,
    string RestoreTestSchedule,
    string? MetricsFile,
    IReadOnlyDictionary<string, string> DriftSchedules)
{
    /// <summary>The labels every self-hosted LlmStack runner carries (restore.yml adds the environment's).</summary>
    public static readonly IReadOnlyList<string> SelfHostedLabels = ["self-hosted", "llmstack"];

    public static WorkflowSources Load(SchemaFile schema, string backupConfig, string retentionConfig)
    {
        var composeSchema = schema.Load();
        var backup = BackupConfigLoader.LoadValid(Path.GetFullPath(backupConfig, schema.RootDirectory), backupConfig, composeSchema);
        var retention = RetentionConfigLoader.LoadValid(Path.GetFullPath(retentionConfig, schema.RootDirectory), retentionConfig, composeSchema, backup);
        var environments = composeSchema.Environments.Keys.ToList();
        var missingRetention = environments.FirstOrDefault(e => retention.Environments.GetValueOrDefault(e)?.Schedule is null);
        if (missingRetention is not null)
        {
            throw new Pipeline.PipelineException($"environment '{missingRetention}' has no retention schedule in {retentionConfig}: add environments: {{ {missingRetention}: {{ schedule: \"0 2 * * *\" }} }} (the retention workflow needs it)");
        }

        // Every service a backup plan of some environment backs up (what Restore --service takes), in plan order.
        var services = environments
            .SelectMany(e => BackupPlanner.Plan(backup, schema.Resolve(e), Sessions.StatePaths.Of(schema.RootDirectory)).Members)
            .Where(m => m.Method != BackupMethod.Config)
            .Select(m => m.Service)
            .Distinct(StringComparer.Ordinal)
            .ToList();

        return new WorkflowSources(
            environments,
            environments.ToDictionary(e => e, e => backup.Environments[e].Schedule!),
            environments.ToDictionary(e => e, e => retention.Environments[e].Schedule!),
            environments.ToDictionary(e => e, e => BackupConfigLoader.RunnerLabels(backup, e)),
            services,
            backup.RestoreTest?.Schedule ?? BackupConfigLoader.DefaultRestoreTestSchedule,
            backup.Metrics?.File,
            environments.ToDictionary(e => e, e => BackupConfigLoader.DriftSchedule(backup, e)));
    }

    /// <summary>
    /// <c>runs-on</c> of a job whose environment is known only at run time (restore.yml's input): every environment's
    /// configured labels as a JSON map, chosen by <paramref name="environment"/> (an expression such as <c>inputs.environment</c>).
    /// </summary>
    public string RunnerLabelsExpression(string environment) =>
        $"${{{{ fromJSON('{System.Text.Json.JsonSerializer.Serialize(Environments.ToDictionary(e => e, e => RunnerLabels[e]))}')[{environment}] }}}}";

    /// <summary>Every runner label the workflows use beside GitHub's own (for .github/actionlint.yaml).</summary>
    public IReadOnlyList<string> CustomLabels() =>
        SelfHostedLabels.Concat(Environments).Concat(RunnerLabels.Values.SelectMany(l => l))
            .Where(l => l != "self-hosted").Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
}
