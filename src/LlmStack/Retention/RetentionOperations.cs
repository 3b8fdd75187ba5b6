using LlmStack.Backup;
using LlmStack.ChangeControl;
using LlmStack.Engine;
using LlmStack.Pipeline;
using LlmStack.Sessions;
using Serilog;

namespace LlmStack.Retention;

/// <summary>
/// The bodies of RetentionStatus, RetentionCleanup, RetentionCleanupService and RetentionTest: the configuration
/// (configs/retention-policies.yaml) and what the planners read (the tiers' catalogs through the backup context, the
/// services' data through <see cref="LiveDataProbes"/>), the plans (<see cref="TierRetentionPlanner"/>,
/// <see cref="BackupSetCleanupPlanner"/>, <see cref="DataRetentionPlanner"/>), their changes
/// (<see cref="RetentionChanges"/>) through the change gate, the report (<see cref="RetentionStatusReport"/>) and the
/// record of the last cleanup (<see cref="RetentionRuns"/>).
/// </summary>
public sealed class RetentionOperations(EnvironmentSession session, BackupOperations backups, string configFile, string root, ILogger log)
{
    private RetentionConfig? _config;

    public RetentionConfig Config => _config ??= RetentionConfigLoader.LoadValid(Path.GetFullPath(configFile, root), configFile, session.Options.Schema.Load(), backups.Config);

    private string Environment => session.Environment.Name;

    private EnvironmentRetentionDefinition Settings => Config.For(Environment);

    private RetentionRuns Runs => new(session.Options.State.RetentionRecord(Environment));

    /// <summary>Whether the environment asks for a backup before a cleanup.</summary>
    public bool BackupBeforeCleanup => Settings.BackupBeforeCleanup == true;

    /// <summary>Every tier's plan as of now.</summary>
    public async Task<IReadOnlyList<TierRetentionPlan>> PlanAsync(CancellationToken cancellationToken)
    {
        // The configuration first: an error in it (a mistyped tier) is one line before any repository is opened.
        var config = Config;
        var context = await backups.ContextAsync(cancellationToken);
        var primary = await context.Catalog.EntriesAsync(cancellationToken);
        var inventories = await context.Tiers.InventoryAsync(primary, cancellationToken);
        return TierRetentionPlanner.Plan(inventories, config, Environment, DateTimeOffset.Now, TimeZoneInfo.Local);
    }

    /// <summary>RetentionStatus: the policies, what a cleanup would remove now per tier and service, and the last run.</summary>
    public async Task StatusAsync(CancellationToken cancellationToken)
    {
        var plans = await PlanAsync(cancellationToken);
        var last = Runs.Last();
        var rows = new List<ServiceRetentionRow>();
        foreach (var service in session.Environment.Services.Select(s => s.Name).Concat(Config.Services.Keys).Distinct())
        {
            var data = RetentionStatusReport.DataRetention(Config.Services.GetValueOrDefault(service), Settings) + await RunningTsdbAsync(service, cancellationToken);
            rows.Add(new ServiceRetentionRow(service, RetentionStatusReport.Removals(plans, service), data));
        }

        session.Options.Reports.Write(RetentionStatusReport.Of(Environment, Settings.Safety(), plans, rows, last));
    }

    /// <summary>
    /// RetentionCleanup (and, with <paramref name="dryRun"/>, RetentionTest; with <paramref name="service"/>,
    /// RetentionCleanupService): through the change gate, the data retention inside the services, then per tier the
    /// orphaned members, exactly the planned sets and the prune where it is worth it. A tier that cannot be read, or a
    /// service that cannot be reached, is named at the end (non-zero exit); the rest is still done.
    /// </summary>
    public async Task CleanupAsync(string target, bool dryRun, CancellationToken cancellationToken, string? service = null)
    {
        IReadOnlyList<TierRetentionPlan> plans = [];
        var problems = new List<string>();
        var pruned = new Dictionary<string, DateTimeOffset>(Runs.Last()?.Pruned ?? new Dictionary<string, DateTimeOffset>(), StringComparer.Ordinal);
        RetentionChanges? changes = null;
        var outcome = await session.ChangeAsync(target, async ct =>
        {
            var context = await backups.ContextAsync(ct);
            if (service is not null && !Config.Services.ContainsKey(service))
            {
                throw new PipelineException($"service '{service}' has no data retention in {configFile}: add it under services (docs/RETENTION.md)");
            }

            var probes = new LiveDataProbes(context);
            var data = await DataRetentionPlanner.PlanAsync(Config, Environment, session.Environment.Services.Select(s => s.Name).ToHashSet(StringComparer.Ordinal), service, probes,
                DateTimeOffset.UtcNow, ct);
            problems.AddRange(data.Problems);
            plans = service is null ? await PlanAsync(ct) : [];
            var sets = await BackupSetCleanupPlanner.PlanAsync(plans, Config.Prune, pruned, new LiveTierProbe(context, Environment, log), DateTimeOffset.UtcNow, ct);
            problems.AddRange(sets.Problems);
            changes = new RetentionChanges(context, probes, Environment, pruned, log);
            return changes.Plan(data, sets);
        }, cancellationToken, forceDryRun: dryRun);

        if (!dryRun && outcome is GateOutcome.Applied or GateOutcome.NothingToDo)
        {
            var failed = problems.Count > 0 || plans.Any(p => p.Error is not null);
            Runs.Record(new RetentionRun(DateTimeOffset.UtcNow, changes?.Removed ?? 0, failed ? "failed" : "ok") { Pruned = pruned });
            backups.RecordRetention(changes?.Removed ?? 0, !failed);
        }

        problems.AddRange(plans.Where(p => p.Error is not null).Select(p => $"tier {p.Tier.Name} could not be read and was left alone: {p.Error}"));
        if (problems.Count > 0)
        {
            throw new PipelineException($"retention of {Environment}: {string.Join("; ", problems)}");
        }
    }

    /// <summary>For a service with a TSDB policy that is part of the environment: what its running container has.</summary>
    private async Task<string> RunningTsdbAsync(string service, CancellationToken cancellationToken)
    {
        if (Config.Services.GetValueOrDefault(service)?.Tsdb is null || session.Environment.Services.All(s => s.Name != service))
        {
            return string.Empty;
        }

        var defined = session.Environment.Service(service);
        var running = await LiveDataProbes.RunningCommandAsync(await backups.ContextAsync(cancellationToken), service, cancellationToken);
        return RetentionStatusReport.Tsdb(defined.Command, running, defined.Stack);
    }
}
