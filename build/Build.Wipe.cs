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

    Target WipeEnvironment => _ => _
        .Description("Everything of --environment with its labels: every container, volume and network (secrets kept unless --wipe-secrets), through the change gate: table with sizes, --dry-run, --confirm, audit.")
        .Executes(ct => Wipes.WipeEnvironmentAsync(nameof(WipeEnvironment), WipeSecrets, ct));

    ITargetDefinition WipeStack(ITargetDefinition _, string stack) => _
        .Description($"The {stack} stack's containers (and its dependents' first, as Stop does), the volumes only it mounts, and its network, through the change gate: table with sizes, --dry-run, --confirm, audit.")
        .Executes(ct => Wipes.WipeStackAsync(CurrentTarget!.Name, stack, ct));

    ITargetDefinition WipeData(ITargetDefinition _, string dataType) => _
        .Description($"The environment's volumes that hold {dataType} (schema: volumes.<name>.holds): their containers removed first, the volumes removed, then what was running started again, health-gated; through the change gate.")
        .Executes(ct => Wipes.WipeDataAsync(CurrentTarget!.Name, dataType, ct));
}
