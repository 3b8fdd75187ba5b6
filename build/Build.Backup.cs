using LlmStack.Backup;
using LlmStack.Pipeline;

/// <summary>Backups and restore on restic: every service's data, encrypted and deduplicated.</summary>
partial class Build
{
    [Parameter("Backup configuration, relative to the repository root")]
    readonly string BackupConfig = BackupConfigLoader.DefaultPath;

    [Parameter("BackupService and Restore: the backup type (postgres: full, schema, data; redis: rdb, aof)")]
    readonly string? BackupType;

    [Parameter("Restore: which backup: latest (the newest that is not a safety copy), latest-safety (the newest pre-restore or pre-wipe safety copy), a set id, or a snapshot id")]
    readonly string Backup = "latest";

    [Parameter("RestoreSet: the backup set id (BackupList shows them)")]
    readonly string? BackupSet;

    [Parameter("A key file for the backup repositories instead of <secrets dir>/<environment>.backup-key")]
    readonly string? BackupKeyFile;

    [Parameter("The backup repositories' key itself (for CI runners)")]
    [Secret]
    readonly string? BackupKey;

    [Parameter("Prometheus textfile the backup targets update (default: metrics.file of the backup configuration)")]
    readonly string? MetricsFile;

    [Parameter("BackupSchedule: next runs shown per environment")]
    readonly int NextRuns = 3;

    BackupOperations? _backups;

    BackupOptions BackupOptions => new()
    {
        ConfigFile = BackupConfig,
        KeyFile = BackupKeyFile,
        KeyValue = BackupKey,
        HelperImage = HelperImage,
        MetricsFile = MetricsFile,
        ScheduledWorkflowRun = ScheduledBackupRun,
    };

    BackupOperations BackupTargets => _backups ??= new BackupOperations(Stacks, BackupOptions);

    Target BackupFull => _ => _
        .Description("Back up every service of the environment that holds data, and the configuration, as one backup set; non-zero exit naming the members that failed (the others are kept).")
        .OnlyWhenDynamic(BackupFullWanted, "asked for, before a whole wipe of staging or production, or when backup_before_cleanup/backup_before_wipe asks for it")
        .Executes(async ct => ReportSummary("Set", (await BackupTargets.FullAsync(WipeRules.BackupFullTrigger(WipeRun, WipeSubjectOf(Stacks)), ct)).Set));

    Target BackupService => _ => _
        .Description("Back up one service (--service X [--backup-type T]) as a backup set of its own.")
        .Requires(() => Service)
        .Executes(async ct => ReportSummary("Set", (await BackupTargets.ServiceAsync(Service!, BackupType, BackupTrigger.BackupService, ct)).Set));

    Target BackupCopy => _ => _
        .Description("Copy to every other tier of the environment what the first tier has and it lacks (restic copy; tape: export); non-zero naming the tiers that failed.")
        .Executes(ct => BackupTargets.CopyAsync(ct));

    [Parameter("BackupVerify: the share of each repository's data restic reads back: n/t (1/10), p% (5%), a size (500M); 0 for metadata only")]
    readonly string ReadDataSubset = "10%";

    [Parameter("BackupVerify: read back all of each repository's data")]
    readonly bool ReadData;

    Target BackupVerify => _ => _
        .Description("Every tier: restic check (reading back --read-data-subset, or all with --read-data), then the content of the newest backup of every member (whichever set holds it; or --backup-set's members) in throwaway containers of the services' own images; tape read back; marks each checked set verified per tier; non-zero naming tier, set and service.")
        .Executes(ct => BackupTargets.VerifyAsync(BackupSet, ReadData ? "100%" : ReadDataSubset, ct));

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
}
