using LlmStack.Pipeline;
using LlmStack.Schema;
using LlmStack.Wipe;

/// <summary>Wipes: by stack, by data type, and the whole environment, through the change gate, selected by labels.</summary>
partial class Build
{
    [Parameter("WipeEnvironment: also remove the environment's secrets file (the next start generates new passwords)")]
    readonly bool WipeSecrets;

    WipeOperations? _wipes;

    WipeOperations Wipes => _wipes ??= new WipeOperations(Stacks, HelperImage, Log);

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

    /// <summary>The environment each environment wipe (and its short alias) names: it sets the run's environment.</summary>
    static readonly Dictionary<string, string> WipeEnvironmentTargets = new()
    {
        [nameof(WipeDevelopment)] = "development", [nameof(WipeDev)] = "development",
        [nameof(WipeStaging)] = "staging",
        [nameof(WipeProduction)] = "production", [nameof(WipeProd)] = "production",
        [nameof(WipeTesting)] = "testing",
    };

    Target WipeDevelopment => _ => WipeWhole(_, "development");
    Target WipeDev => _ => WipeWhole(_, "development (alias of WipeDevelopment)");
    Target WipeStaging => _ => WipeWhole(_, "staging, after a BackupFull", always: true);
    Target WipeProduction => _ => WipeWhole(_, "production, after a BackupFull", always: true);
    Target WipeProd => _ => WipeWhole(_, "production, after a BackupFull (alias of WipeProduction)", always: true);
    Target WipeTesting => _ => WipeWhole(_, "testing");

    Target Reset => _ => _
        .Description("The environment's wipe (secrets kept), then every enabled stack started again in order, health-gated, so the new databases use the passwords in the secrets file; a dry run or a declined wipe starts nothing.")
        .DependsOn(BackupFull)
        .Executes(ct => Wipes.ResetAsync(nameof(Reset), ct));

    /// <summary>The wipes that take a BackupFull first: WipeStaging and WipeProduction always, the others when backup_before_wipe.</summary>
    static readonly string[] AlwaysBackedUpWipes = [nameof(WipeStaging), nameof(WipeProduction), nameof(WipeProd)];

    /// <summary>Whether a wipe in this run asks for BackupFull first (not in a dry run: the wipe's table is all it shows).</summary>
    bool WipeWantsBackup() =>
        !DryRun
        && (ExecutionPlan.Any(t => AlwaysBackedUpWipes.Contains(t.Name))
            || (ExecutionPlan.Any(t => t.Name.StartsWith("Wipe", StringComparison.Ordinal) || t.Name == nameof(Reset)) && BackupTargets.BackupBeforeWipe));

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
