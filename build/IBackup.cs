using LlmStack.Backup;
using LlmStack.GitHub;
using LlmStack.Pipeline;
using LlmStack.Sessions;
using LlmStack.Wipe;

/// <summary>Backups and restore on restic: every service's data, encrypted and deduplicated.</summary>
interface IBackup : IHazEnvironment, IHazService, IHazGitHub
{
    [Parameter("BackupService and Restore: the backup type (postgres: full, schema, data; redis: rdb, aof)")]
    string? BackupType => TryGetValue(() => BackupType);

    [Parameter("Restore and DispatchRestore: which backup: latest (the newest that is not a safety copy), latest-safety (the newest pre-restore or pre-wipe safety copy), a set id, or a snapshot id")]
    string Backup => TryGetValue(() => Backup) ?? "latest";

    [Parameter("RestoreSet: the backup set to restore; BackupVerify, RestoreTest: only that set's members (BackupList shows the set ids)")]
    string? BackupSet => TryGetValue(() => BackupSet);

    [Parameter("A key file for the backup repositories instead of <secrets dir>/<environment>.backup-key")]
    string? BackupKeyFile => TryGetValue(() => BackupKeyFile);

    [Parameter("The backup repositories' key itself (for CI runners)")]
    [Secret]
    string? BackupKey => TryGetValue(() => BackupKey);

    [Parameter("Prometheus textfile the backup targets update (default: metrics.file of the backup configuration)")]
    string? MetricsFile => TryGetValue(() => MetricsFile);

    [Parameter("BackupSchedule, RetentionSchedule: next runs shown per environment")]
    int NextRuns => TryGetValue<int?>(() => NextRuns) ?? 3;

    [Parameter("BackupVerify: the share of each repository's data restic reads back: n/t (1/10), p% (5%), a size (500M); 0 for metadata only")]
    string ReadDataSubset => TryGetValue(() => ReadDataSubset) ?? "10%";

    [Parameter("BackupVerify: read back all of each repository's data")]
    bool ReadData => TryGetValue<bool?>(() => ReadData) ?? false;

    /// <summary>The backups of the run's environment (and, through it, of the others: <see cref="BackupsOf"/>).</summary>
    BackupOperations BackupTargets { get; }

    BackupOperations NewBackupTargets() => new(Session, new BackupOptions
    {
        ConfigFile = BackupConfig,
        KeyFile = BackupKeyFile,
        KeyValue = BackupKey,
        HelperImage = HelperImage,
        MetricsFile = MetricsFile,
        ScheduledWorkflowRun = ScheduledBackupRun,
    });

    Target BackupFull => _ => _
        .Description("Back up every service of the environment that holds data, and the configuration, as one backup set; non-zero exit naming the members that failed (the others are kept).")
        .OnlyWhenDynamic(BackupFullWanted, "asked for, before a whole wipe of staging or production, or when backup_before_cleanup/backup_before_wipe asks for it")
        .Executes(async ct => ReportSummary("Set", (await BackupTargets.FullAsync(WipeRules.BackupFullTrigger(WipeRun, WipeSubjectOf(Session)), ct)).Set));

    Target BackupService => _ => _
        .Description("Back up one service (--service X [--backup-type T]) as a backup set of its own.")
        .Requires(() => Service)
        .Executes(async ct => ReportSummary("Set", (await BackupTargets.ServiceAsync(Service!, BackupType, BackupTrigger.BackupService, ct)).Set));

    Target BackupCopy => _ => _
        .Description("Copy to every other tier of the environment what the first tier has and it lacks (restic copy; tape: export); non-zero naming the tiers that failed.")
        .After(BackupFull)
        .Executes(ct => BackupTargets.CopyAsync(ct));

    Target BackupVerify => _ => _
        .Description("Every tier: restic check (reading back --read-data-subset, or all with --read-data), then the content of the newest backup of every member (whichever set holds it; or --backup-set's members) in throwaway containers of the services' own images; tape read back; marks each checked set verified per tier; non-zero naming tier, set and service.")
        .After(BackupCopy)
        .Executes(ct => BackupTargets.VerifyAsync(BackupSet, ReadData, ReadDataSubset, ct));

    Target RestoreTest => _ => _
        .Description("Restore the newest backup of every member (whichever set holds it; or --backup-set's members) into throwaway containers in a project and network of their own, prove the data equal to the backup (dump after restore = dump in backup, key digest, sha256 of every file), report under artifacts/restore-test/; always cleaned up.")
        .Executes(async ct => ReportSummary("Set", (await BackupTargets.RestoreTestAsync(BackupSet, ct)).Set));

    Target BackupList => _ => _
        .Description("Every backup per service: time, set, type, size, bytes added (--json).")
        .Executes(ct => BackupTargets.ListAsync(ct));

    Target BackupStatus => _ => _
        .Description("The last backup of each service against the schedule, and the repository size (--json), with a GitHub token the last backup-<environment>.yml run; non-zero when one is overdue, failed or missing.")
        .Executes(ct => BackupTargets.StatusAsync(ct));

    Target BackupSchedule => _ => _
        .Description("The configured backup schedules (UTC) and their next runs.")
        .Executes(() => BackupTargets.Schedule(NextRuns));

    Target Restore => _ => _
        .Description("Restore one service (--service X [--backup latest|latest-safety|ID] [--backup-type T]) through the change gate: a safety backup first, then the restore and its check; any failure or Ctrl-C puts the safety backup back.")
        .Requires(() => Service)
        .Executes(ct => BackupTargets.RestoreAsync(nameof(Restore), Service!, Backup, BackupType, ct));

    Target RestoreSet => _ => _
        .Description("Restore every service of a complete backup set (--backup-set ID) in dependency order, through the change gate, with one safety backup first, put back on any failure or Ctrl-C.")
        .Requires(() => BackupSet)
        .Executes(ct => BackupTargets.RestoreSetAsync(nameof(RestoreSet), BackupSet!, ct));

    /// <summary>BackupFull runs when asked for, before a RetentionCleanup whose settings say backup_before_cleanup, or before a wipe that takes one.</summary>
    bool BackupFullWanted() => WipeRules.BackupFullWanted(WipeRun, () => (this as IRetention)?.Retention.BackupBeforeCleanup == true, WipeSubjectOf(Session));

    /// <summary>The backups of an environment of the schema: this run's, or another's with its own key (the wipes that span environments).</summary>
    BackupOperations BackupsOf(EnvironmentSession session) => BackupTargets.For(session, CurrentTarget?.Name);

    /// <summary>An environment as the wipe policy asks about it: its name, its backup_before_wipe.</summary>
    WipeSubject WipeSubjectOf(EnvironmentSession session) => new(() => session.Environment.Name, () => BackupsOf(session).BackupBeforeWipe);

    /// <summary>BackupStatus's GitHub line: only with a token, so without one nothing talks to the network.</summary>
    Func<string, CancellationToken, Task<string>>? ScheduledBackupRun => string.IsNullOrWhiteSpace(GitHubToken)
        ? null
        : async (workflow, ct) => await new WorkflowStatusReport(await GitHubAsync(ct), Reports, TimeProvider.System).LastRunLineAsync(workflow, ct);
}
