using LlmStack.Backup;
using LlmStack.Engine;
using LlmStack.Pipeline;
using LlmStack.Schema;
using LlmStack.Sessions;
using LlmStack.Wipe;

/// <summary>Wipes: by stack, by data type, and the whole environment, through the change gate, selected by labels.</summary>
partial class Build
{
    [Parameter("WipeEnvironment: also remove the environment's secrets file (the next start generates new passwords)")]
    readonly bool WipeSecrets;

    WipeOperations? _wipes;

    WipeOperations Wipes => _wipes ??= new WipeOperations(Stacks, HelperImage, Log) { SkippedBackup = SkippedBackupAsync };

    Target WipeCore => _ => WipeStack(_, "core");
    Target WipeInference => _ => WipeStack(_, "inference");
    Target WipeAi => _ => WipeStack(_, "ai");
    Target WipeUi => _ => WipeStack(_, "ui");
    Target WipeTestingStack => _ => WipeStack(_, "testing");
    Target WipeMonitoring => _ => WipeStack(_, "monitoring");

    Target WipeDb => _ => WipeData(_, DataTypes.Db);
    Target WipeCache => _ => WipeData(_, DataTypes.Cache);
    Target WipeModels => _ => WipeData(_, DataTypes.Models);
    Target WipeLogs => _ => WipeData(_, DataTypes.Logs);
    Target WipeTestResults => _ => WipeData(_, DataTypes.TestResults);

    Target WipeEnvironment => _ => WipeWhole(_, "--environment's environment");

    Target WipeDevelopment => _ => WipeWhole(_, "development");
    Target WipeDev => _ => WipeWhole(_, "development (alias of WipeDevelopment)");
    Target WipeStaging => _ => WipeWhole(_, "staging, after a BackupFull", always: true);
    Target WipeProduction => _ => WipeWhole(_, "production, after a BackupFull", always: true);
    Target WipeProd => _ => WipeWhole(_, "production, after a BackupFull (alias of WipeProduction)", always: true);
    Target WipeTesting => _ => WipeWhole(_, "testing");

    Target WipeNuclear => _ => _
        .Description("Everything of every environment of the schema's project (by their labels: nothing of any other project, nothing unlabelled), in one gate holding every environment's lock; confirmed by typing 'wipe <project> everywhere' (or --confirm with it); secrets kept unless --wipe-secrets; BackupBeforeNuclear first.")
        .DependsOn(BackupBeforeNuclear)
        .Executes(ct => Wipes.WipeNuclearAsync(nameof(WipeNuclear), WipeSecrets, ct));

    Target BackupBeforeNuclear => _ => _
        .Description("Before WipeNuclear: a BackupFull of each environment whose own wipe takes one (staging and production always, the others with backup_before_wipe) and that has volumes on this engine, each with its own key; a failure stops the wipe.")
        .OnlyWhenDynamic(() => WipePolicy.BackupBeforeNuclearWanted(WipeRun), "before a WipeNuclear that is not a dry run")
        .Executes(ct => Wipes.BackupEverywhereAsync(nameof(WipeNuclear), s => WipeRules.TakesBackup(nameof(WipeNuclear), WipeSubjectOf(s)), BackupsOf, BackupTrigger.PreWipe, ct));

    Target Reset => _ => _
        .Description("The environment's wipe (secrets kept), then every enabled stack started again in order, health-gated, so the new databases use the passwords in the secrets file; a dry run or a declined wipe starts nothing.")
        .DependsOn(BackupFull)
        .Executes(ct => Wipes.ResetAsync(nameof(Reset), ct));

    /// <summary>This run's target names as the wipe policy reads them.</summary>
    WipeRun WipeRun => new(InvokedTargets.Select(t => t.Name).ToList(), ExecutionPlan.Select(t => t.Name).ToList(),
        ExecutionPlan.Where(t => t.SkippedByParameter).Select(t => t.Name).ToList(), DryRun);

    /// <summary>An environment as the wipe policy asks about it: its name, its backup_before_wipe.</summary>
    WipeSubject WipeSubjectOf(EnvironmentSession session) => new(() => session.Environment.Name, () => BackupsOf(session).BackupBeforeWipe);

    /// <summary>For the confirmation: the newest backup set of an environment whose backup before this wipe was skipped with --skip.</summary>
    async Task<string?> SkippedBackupAsync(EnvironmentSession session, CancellationToken cancellationToken) =>
        WipeRules.SkippedBackup(CurrentTarget!.Name, WipeRun, WipeSubjectOf(session)) is { } backup
            ? $"{backup} skipped (--skip): {await BackupsOf(session).NewestSetAsync(cancellationToken)}"
            : null;

    readonly Dictionary<string, BackupOperations> _backupsOf = new(StringComparer.Ordinal);

    /// <summary>The backups of another environment of the schema: its own key file (--backup-key and --backup-key-file are this run's environment's).</summary>
    BackupOperations BackupsOf(EnvironmentSession session)
    {
        if (session == Stacks)
        {
            return BackupTargets;
        }

        if (!_backupsOf.TryGetValue(session.Environment.Name, out var backups))
        {
            if (BackupKey is not null || BackupKeyFile is not null)
            {
                throw new PipelineException($"{CurrentTarget?.Name} also backs up {session.Environment.Name}, which has its own key (<secrets dir>/{session.Environment.Name}.backup-key): drop --backup-key/--backup-key-file");
            }

            _backupsOf[session.Environment.Name] = backups = new BackupOperations(session, BackupOptions with { KeyFile = null, KeyValue = null });
        }

        return backups;
    }

    ITargetDefinition WipeWhole(ITargetDefinition _, string what, bool always = false) => _
        .Description($"Everything of {what} with its labels: every container, volume and network (secrets kept unless --wipe-secrets), through the change gate: table with sizes, --dry-run, --confirm, audit{(always ? string.Empty : "; BackupFull first when backup_before_wipe")}.")
        .DependsOn(BackupFull)
        .Executes(ct => Wipes.WipeEnvironmentAsync(CurrentTarget!.Name, WipeSecrets, ct));

    ITargetDefinition WipeStack(ITargetDefinition _, string stack) => _
        .Description($"The {stack} stack's containers (and its dependents' first, as Stop does), the volumes only it mounts, and its network, through the change gate: table with sizes, --dry-run, --confirm, audit; BackupFull first when backup_before_wipe.")
        .DependsOn(BackupFull)
        .Executes(ct => Wipes.WipeStackAsync(CurrentTarget!.Name, stack, ct));

    ITargetDefinition WipeData(ITargetDefinition _, string dataType) => _
        .Description($"The environment's volumes that hold {dataType} (schema: volumes.<name>.holds): their containers removed first, the volumes removed, then what was running started again, health-gated; through the change gate; BackupFull first when backup_before_wipe.")
        .DependsOn(BackupFull)
        .Executes(ct => Wipes.WipeDataAsync(CurrentTarget!.Name, dataType, ct));
}
