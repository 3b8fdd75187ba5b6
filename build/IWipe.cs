using LlmStack.Backup;
using LlmStack.Pipeline;
using LlmStack.Sessions;
using LlmStack.Wipe;

/// <summary>
/// Wipes: by stack, by data type, and the whole environment, through the change gate, selected by labels. A wipe target
/// declares only its name; what it wipes, the environment it sets and whether it always takes a BackupFull first are
/// the schema's names read by <see cref="WipePolicy"/>.
/// </summary>
interface IWipe : IBackup
{
    [Parameter("WipeEnvironment, Wipe<Environment> and WipeNuclear: also remove the secrets files (the next start generates new passwords); Reset keeps them")]
    bool WipeSecrets => TryGetValue<bool?>(() => WipeSecrets) ?? false;

    WipeOperations Wipes { get; }

    WipeOperations NewWipes() => new(Session, HelperImage, Log) { SkippedBackup = SkippedBackupAsync };

    Target WipeCore => _ => Wipe(_, nameof(WipeCore));
    Target WipeInference => _ => Wipe(_, nameof(WipeInference));
    Target WipeAi => _ => Wipe(_, nameof(WipeAi));
    Target WipeUi => _ => Wipe(_, nameof(WipeUi));
    Target WipeTestingStack => _ => Wipe(_, nameof(WipeTestingStack));
    Target WipeMonitoring => _ => Wipe(_, nameof(WipeMonitoring));

    Target WipeDb => _ => Wipe(_, nameof(WipeDb));
    Target WipeCache => _ => Wipe(_, nameof(WipeCache));
    Target WipeModels => _ => Wipe(_, nameof(WipeModels));
    Target WipeLogs => _ => Wipe(_, nameof(WipeLogs));
    Target WipeTestResults => _ => Wipe(_, nameof(WipeTestResults));

    Target WipeEnvironment => _ => Wipe(_, nameof(WipeEnvironment));

    Target WipeDevelopment => _ => Wipe(_, nameof(WipeDevelopment));
    Target WipeDev => _ => Wipe(_, nameof(WipeDev));
    Target WipeStaging => _ => Wipe(_, nameof(WipeStaging));
    Target WipeProduction => _ => Wipe(_, nameof(WipeProduction));
    Target WipeProd => _ => Wipe(_, nameof(WipeProd));
    Target WipeTesting => _ => Wipe(_, nameof(WipeTesting));

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

    /// <summary>A wipe of a stack, a data type or a whole environment, as the policy reads the target's name; BackupFull first (its condition decides).</summary>
    ITargetDefinition Wipe(ITargetDefinition _, string target) => FromSchema(_, () => WipeRules.Wipe(target) ?? throw new PipelineException($"{target} is no wipe of the schema"), wipe => (wipe.Kind switch
    {
        WipeKind.Stack => _
            .Description($"The {wipe.Of} stack's containers (and its dependents' first, as Stop does), the volumes only it mounts, and its network, through the change gate: table with sizes, --dry-run, --confirm, audit; BackupFull first when backup_before_wipe.")
            .Executes(ct => Wipes.WipeStackAsync(target, wipe.Of!, ct)),
        WipeKind.Data => _
            .Description($"The environment's volumes that hold {wipe.Of} (schema: volumes.<name>.holds): their containers removed first, the volumes removed, then what was running started again, health-gated; through the change gate; BackupFull first when backup_before_wipe.")
            .Executes(ct => Wipes.WipeDataAsync(target, wipe.Of!, ct)),
        _ => _
            .Description($"Everything of {Whole(wipe)} with its labels: every container, volume and network (secrets kept unless --wipe-secrets), through the change gate: table with sizes, --dry-run, --confirm, audit{(wipe.AlwaysBackedUp ? string.Empty : "; BackupFull first when backup_before_wipe")}.")
            .Executes(ct => Wipes.WipeEnvironmentAsync(target, WipeSecrets, ct)),
    }).DependsOn(BackupFull));

    /// <summary>What a whole wipe wipes, in words: <c>staging, after a BackupFull</c>, <c>development (alias of WipeDevelopment)</c>.</summary>
    static string Whole(WipeTarget wipe) => wipe.Environment is not { } environment
        ? "--environment's environment"
        : environment + (wipe.AlwaysBackedUp ? ", after a BackupFull" : string.Empty) + (wipe.AliasOf is { } alias ? $" (alias of {alias})" : string.Empty);

    /// <summary>For the confirmation: the newest backup set of an environment whose backup before this wipe was skipped with --skip.</summary>
    async Task<string?> SkippedBackupAsync(EnvironmentSession session, CancellationToken cancellationToken) =>
        WipeRules.SkippedBackup(CurrentTarget!.Name, WipeRun, WipeSubjectOf(session)) is { } backup
            ? $"{backup} skipped (--skip): {await BackupsOf(session).NewestSetAsync(cancellationToken)}"
            : null;
}
