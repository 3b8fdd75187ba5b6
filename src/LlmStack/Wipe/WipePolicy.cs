using LlmStack.Backup;
using LlmStack.Pipeline;
using LlmStack.Schema;

namespace LlmStack.Wipe;

/// <summary>What a wipe target wipes.</summary>
public enum WipeKind
{
    /// <summary>A stack's containers (and its dependents'), the volumes only it mounts, its network: Wipe&lt;Stack&gt;.</summary>
    Stack,

    /// <summary>The volumes that hold one data type, and their containers: WipeDb, WipeCache, ….</summary>
    Data,

    /// <summary>Everything of one environment: WipeEnvironment and Reset (the run's), Wipe&lt;Environment&gt; (the one it names).</summary>
    Environment,

    /// <summary>Everything of every environment of the project: WipeNuclear.</summary>
    Nuclear,
}

/// <summary>
/// One wipe target: what it wipes, and of what — the stack, the data type, or the environment it names (which sets the
/// run's environment); null for the wipes of the run's environment (WipeEnvironment, Reset) and for WipeNuclear.
/// </summary>
public sealed record WipeTarget(string Name, WipeKind Kind, string? Of = null)
{
    /// <summary>A wipe of everything of an environment (or of all of them).</summary>
    public bool Whole => Kind is WipeKind.Environment or WipeKind.Nuclear;

    /// <summary>The environment the target names and sets as the run's (WipeStaging: staging); null when it names none.</summary>
    public string? Environment => Kind == WipeKind.Environment ? Of : null;

    /// <summary>The environment wipe this one is the short form of (WipeProd: WipeProduction), or null.</summary>
    public string? AliasOf => Environment is { } environment && WipePolicy.EnvironmentWipe(environment) != Name ? WipePolicy.EnvironmentWipe(environment) : null;

    /// <summary>A wipe of an environment it names that always takes a BackupFull first (<see cref="WipePolicy.AlwaysBackedUpEnvironments"/>).</summary>
    public bool AlwaysBackedUp => Environment is { } environment && WipePolicy.AlwaysBackedUpEnvironments.Contains(environment);
}

/// <summary>
/// The target names of a run the policy looks at: the ones invoked, the whole plan, those skipped with <c>--skip</c>,
/// and whether it is a dry run.
/// </summary>
public sealed record WipeRun(IReadOnlyCollection<string> Invoked, IReadOnlyCollection<string> Planned, IReadOnlyCollection<string> SkippedByParameter, bool DryRun);

/// <summary>
/// The environment a wipe concerns, as the policy asks about it: its name, and whether its <c>backup_before_wipe</c> is
/// on (configs/backup-strategies.yaml). Each is read only when a decision needs it, and once.
/// </summary>
public sealed class WipeSubject(Func<string> name, Func<bool> backupBeforeWipe)
{
    private string? _name;
    private bool? _backupBeforeWipe;

    public WipeSubject(string name, bool backupBeforeWipe)
        : this(() => name, () => backupBeforeWipe)
    {
    }

    public string Name => _name ??= name();

    public bool BackupBeforeWipe => _backupBeforeWipe ??= backupBeforeWipe();
}

/// <summary>
/// Which targets are wipes and of what, which environment a wipe target sets, and when a wipe (or a cleanup) takes a
/// BackupFull first. The names follow from the schema: <c>Wipe&lt;Environment&gt;</c> for each environment (and its
/// short form, <c>WipeDev</c>, <c>WipeProd</c>), <c>Wipe&lt;Stack&gt;</c> for each stack (<c>Wipe&lt;Stack&gt;Stack</c>
/// where an environment has that name: <c>WipeTestingStack</c>), <c>Wipe&lt;DataType&gt;</c> for each data type a volume
/// can hold, and <c>WipeEnvironment</c>, <c>Reset</c>, <c>WipeNuclear</c>.
/// </summary>
public sealed class WipePolicy(Func<IReadOnlyCollection<string>> environments, Func<IReadOnlyCollection<string>> stacks)
{
    /// <summary>How every wipe target's name but Reset's begins.</summary>
    private const string Prefix = "Wipe";

    public const string WipeEnvironment = "WipeEnvironment";
    public const string Reset = "Reset";
    public const string WipeNuclear = "WipeNuclear";
    public const string BackupFull = "BackupFull";
    public const string BackupBeforeNuclear = "BackupBeforeNuclear";
    public const string RetentionCleanup = "RetentionCleanup";

    /// <summary>The environment of a run that names none.</summary>
    public const string DefaultEnvironment = "development";

    /// <summary>The environments whose whole wipe always takes a BackupFull first, whatever <c>backup_before_wipe</c> says.</summary>
    public static readonly IReadOnlyList<string> AlwaysBackedUpEnvironments = ["staging", "production"];

    /// <summary>The short forms of environment wipes (<c>WipeDev</c>, <c>WipeProd</c>).</summary>
    private static readonly IReadOnlyDictionary<string, string> ShortNames = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["development"] = "Dev",
        ["production"] = "Prod",
    };

    private IReadOnlyCollection<string>? _environments;
    private IReadOnlyDictionary<string, WipeTarget>? _targets;

    /// <summary>A policy of fixed environments and stacks.</summary>
    public WipePolicy(IReadOnlyCollection<string> environments, IReadOnlyCollection<string> stacks)
        : this(() => environments, () => stacks)
    {
    }

    /// <summary>
    /// The policy of a schema: its environment names (read cheaply, and only once a target could be an environment's
    /// wipe) and, only when a stack wipe must be recognised, its stacks (both from the outline: no full parse).
    /// </summary>
    public static WipePolicy Of(Func<SchemaFile> schema) => new(() => schema().EnvironmentNames(), () => schema().Outline().Stacks.Select(s => s.Name).ToList());

    private IReadOnlyCollection<string> Environments => _environments ??= environments();

    /// <summary>Every wipe target the schema gives, by name.</summary>
    public IReadOnlyDictionary<string, WipeTarget> Targets => _targets ??= Build();

    /// <summary>The wipe a target is, or null when it is no wipe.</summary>
    public WipeTarget? Wipe(string target) => EnvironmentWipeOf(target) ?? Targets.GetValueOrDefault(target);

    /// <summary>
    /// The run's environment: the one an invoked environment wipe names, else <c>--environment</c>, else development.
    /// Refused: WipeNuclear with <c>--environment</c> or another environment wipe; wipes of two environments; an
    /// environment wipe whose environment <c>--environment</c> contradicts.
    /// </summary>
    public string Environment(IReadOnlyCollection<string> invoked, string? argument)
    {
        var named = invoked.Select(t => EnvironmentWipeOf(t)?.Environment).OfType<string>().Distinct().ToList();
        if (invoked.Contains(WipeNuclear) && (argument is not null || named.Count > 0))
        {
            throw new PipelineException($"{WipeNuclear} wipes every environment of the project: drop {(argument is not null ? "--environment" : "the other wipe targets")}");
        }

        if (named.Count > 1)
        {
            throw new PipelineException($"wipe targets of different environments ({string.Join(", ", named)}) in one run: wipe one environment per run");
        }

        if (named.Count == 1 && argument is not null && argument != named[0])
        {
            throw new PipelineException($"{invoked.First(t => EnvironmentWipeOf(t)?.Environment is not null)} wipes {named[0]}, but --environment says {argument}: drop --environment");
        }

        return named.SingleOrDefault() ?? argument ?? DefaultEnvironment;
    }

    /// <summary>
    /// Whether <paramref name="target"/> takes a backup of <paramref name="subject"/> first: always a whole wipe of an
    /// environment in <see cref="AlwaysBackedUpEnvironments"/>, otherwise when its <c>backup_before_wipe</c> says so.
    /// </summary>
    public bool TakesBackup(string target, WipeSubject subject) =>
        (Wipe(target)?.Whole == true && AlwaysBackedUpEnvironments.Contains(subject.Name)) || subject.BackupBeforeWipe;

    /// <summary>Whether a wipe of the run's environment in this run asks for BackupFull first (never in a dry run: the wipe's table is all it shows).</summary>
    public bool WipeWantsBackup(WipeRun run, WipeSubject subject) =>
        !run.DryRun && run.Planned.Any(t => Wipe(t) is { Kind: not WipeKind.Nuclear } && TakesBackup(t, subject));

    /// <summary>BackupFull runs when asked for, before a RetentionCleanup whose environment says backup_before_cleanup, or before a wipe that takes one.</summary>
    public bool BackupFullWanted(WipeRun run, Func<bool> backupBeforeCleanup, WipeSubject subject) =>
        run.Invoked.Contains(BackupFull)
        || (run.Planned.Contains(RetentionCleanup) && backupBeforeCleanup())
        || WipeWantsBackup(run, subject);

    /// <summary>BackupBeforeNuclear runs before a WipeNuclear that is not a dry run.</summary>
    public static bool BackupBeforeNuclearWanted(WipeRun run) => !run.DryRun && run.Planned.Contains(WipeNuclear);

    /// <summary>
    /// The trigger of the run's BackupFull: a wipe's own backup is a safety copy (<c>pre-wipe</c>, never <c>latest</c>);
    /// one the user asked for, or a cleanup's, is <c>BackupFull</c>.
    /// </summary>
    public BackupTrigger BackupFullTrigger(WipeRun run, WipeSubject subject) =>
        !run.Invoked.Contains(BackupFull) && WipeWantsBackup(run, subject) ? BackupTrigger.PreWipe : BackupTrigger.BackupFull;

    /// <summary>
    /// The backup target whose <c>--skip</c> the confirmation of <paramref name="target"/> must mention for
    /// <paramref name="subject"/> (BackupBeforeNuclear for WipeNuclear, BackupFull for the others), or null when it was not
    /// skipped with <c>--skip</c> or that environment's wipe takes no backup anyway.
    /// </summary>
    public string? SkippedBackup(string target, WipeRun run, WipeSubject subject)
    {
        var backup = target == WipeNuclear ? BackupBeforeNuclear : BackupFull;
        return run.SkippedByParameter.Contains(backup) && TakesBackup(target, subject) ? backup : null;
    }

    /// <summary>The wipe of everything of an environment: <c>WipeStaging</c> (its short form aside).</summary>
    public static string EnvironmentWipe(string environment) => Prefix + StackTargets.Pascal(environment);

    /// <summary>The environment wipes, from the environments alone (what the run's environment needs, without loading the schema).</summary>
    private WipeTarget? EnvironmentWipeOf(string target)
    {
        if (target is WipeEnvironment or Reset)
        {
            return new WipeTarget(target, WipeKind.Environment);
        }

        if (!target.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return null;
        }

        var environment = Environments.FirstOrDefault(e => target == EnvironmentWipe(e) || (ShortNames.TryGetValue(e, out var alias) && target == Prefix + alias));
        return environment is null ? null : new WipeTarget(target, WipeKind.Environment, environment);
    }

    private Dictionary<string, WipeTarget> Build()
    {
        var targets = new Dictionary<string, WipeTarget>(StringComparer.Ordinal)
        {
            [WipeEnvironment] = new(WipeEnvironment, WipeKind.Environment),
            [Reset] = new(Reset, WipeKind.Environment),
            [WipeNuclear] = new(WipeNuclear, WipeKind.Nuclear),
        };
        foreach (var environment in Environments)
        {
            var name = EnvironmentWipe(environment);
            targets[name] = new WipeTarget(name, WipeKind.Environment, environment);
            if (ShortNames.TryGetValue(environment, out var alias))
            {
                targets[Prefix + alias] = new WipeTarget(Prefix + alias, WipeKind.Environment, environment);
            }
        }

        foreach (var dataType in DataTypes.All)
        {
            var name = Prefix + StackTargets.Pascal(dataType);
            targets.TryAdd(name, new WipeTarget(name, WipeKind.Data, dataType));
        }

        foreach (var stack in stacks())
        {
            var name = Prefix + StackTargets.Pascal(stack);
            name = targets.ContainsKey(name) ? name + "Stack" : name;
            targets.TryAdd(name, new WipeTarget(name, WipeKind.Stack, stack));
        }

        return targets;
    }
}
