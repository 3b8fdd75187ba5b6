using LlmStack.Pipeline;
using LlmStack.Retention;

/// <summary>Retention: backup retention per tier with restic's keep rules and LlmStack's safety rules; data retention per service.</summary>
interface IRetention : IBackup
{
    [Parameter("RetentionSimulate: a JSON array of backups ({id, time (RFC 3339 with offset), tags, verified})")]
    string? Backups => TryGetValue(() => Backups);

    [Parameter("RetentionSimulate: a policy of the retention configuration (its safety rules apply, with --environment's min_keep)")]
    string? Policy => TryGetValue(() => Policy);

    [Parameter("RetentionSimulate: keep the N newest backups (-1: all)")]
    int? KeepLast => TryGetValue(() => KeepLast);

    [Parameter("RetentionSimulate: keep the newest backup of each of the last N hours that have one (-1: every hour)")]
    int? KeepHourly => TryGetValue(() => KeepHourly);

    [Parameter("RetentionSimulate: keep the newest backup of each of the last N days that have one (-1: every day)")]
    int? KeepDaily => TryGetValue(() => KeepDaily);

    [Parameter("RetentionSimulate: keep the newest backup of each of the last N ISO weeks that have one (-1: every week)")]
    int? KeepWeekly => TryGetValue(() => KeepWeekly);

    [Parameter("RetentionSimulate: keep the newest backup of each of the last N months that have one (-1: every month)")]
    int? KeepMonthly => TryGetValue(() => KeepMonthly);

    [Parameter("RetentionSimulate: keep the newest backup of each of the last N years that have one (-1: every year)")]
    int? KeepYearly => TryGetValue(() => KeepYearly);

    [Parameter("RetentionSimulate: keep every backup newer than the newest one minus this duration (1y2m3d3h)")]
    string? KeepWithin => TryGetValue(() => KeepWithin);

    [Parameter("RetentionSimulate: keep the newest backup of each hour within this duration of the newest backup")]
    string? KeepWithinHourly => TryGetValue(() => KeepWithinHourly);

    [Parameter("RetentionSimulate: keep the newest backup of each day within this duration of the newest backup")]
    string? KeepWithinDaily => TryGetValue(() => KeepWithinDaily);

    [Parameter("RetentionSimulate: keep the newest backup of each week within this duration of the newest backup")]
    string? KeepWithinWeekly => TryGetValue(() => KeepWithinWeekly);

    [Parameter("RetentionSimulate: keep the newest backup of each month within this duration of the newest backup")]
    string? KeepWithinMonthly => TryGetValue(() => KeepWithinMonthly);

    [Parameter("RetentionSimulate: keep the newest backup of each year within this duration of the newest backup")]
    string? KeepWithinYearly => TryGetValue(() => KeepWithinYearly);

    [Parameter("RetentionSimulate: keep backups that have every tag of a list (tag1,tag2); repeatable")]
    string[]? KeepTag => TryGetValue(() => KeepTag);

    RetentionOperations Retention { get; }

    RetentionOperations NewRetention() => new(Session, BackupTargets, RetentionConfig, RootDirectory, Log);

    Target RetentionSimulate => _ => _
        .Description("The retention planner offline: --backups FILE and a policy (--keep-* parameters, restic's rules only; or --policy NAME from the retention configuration, with the safety rules); each backup as keep/remove with the rules that keep it (--json).")
        .Requires(() => Backups)
        .Executes(() => RetentionCommands.Simulate(
            new SimulateOptions(RootDirectory, Backups!, Policy, RetentionConfig, Environment,
                new PolicyArguments(KeepLast, KeepHourly, KeepDaily, KeepWeekly, KeepMonthly, KeepYearly,
                    KeepWithin, KeepWithinHourly, KeepWithinDaily, KeepWithinWeekly, KeepWithinMonthly, KeepWithinYearly, KeepTag), BackupConfig),
            SchemaFile, Reports));

    Target RetentionStatus => _ => _
        .Description("Backup retention of the environment: each tier's policy, what a cleanup would remove now per tier and service, the last cleanup (--json).")
        .Executes(ct => Retention.StatusAsync(ct));

    Target RetentionCleanup => _ => _
        .Description("Remove the backup sets no rule keeps, per tier (restic forget of exactly those snapshots, prune when worth it; tape exports rotated) through the change gate: table, --dry-run, --confirm, audit. BackupFull first when the environment's retention settings say backup_before_cleanup.")
        .DependsOn(BackupFull)
        .Executes(ct => Retention.CleanupAsync(nameof(RetentionCleanup), dryRun: false, ct));

    Target RetentionCleanupService => _ => _
        .Description("Data retention of one service (--service X): its old rows deleted (or archived, then deleted) through the change gate; --dry-run counts only.")
        .Requires(() => Service)
        .Executes(ct => Retention.CleanupAsync(nameof(RetentionCleanupService), dryRun: false, ct, Service));

    Target RetentionTest => _ => _
        .Description("The dry run of RetentionCleanup: the same plan and table (backup sets, rows due in each table), and nothing changed (no lock taken, nothing forgotten, pruned or deleted).")
        .Executes(ct => Retention.CleanupAsync(nameof(RetentionTest), dryRun: true, ct));

    Target RetentionSchedule => _ => _
        .Description("The retention schedules (UTC) of every environment and their next runs.")
        .Executes(() => RetentionCommands.Schedule(SchemaFile, RetentionConfig, BackupConfig, NextRuns, Reports));
}
