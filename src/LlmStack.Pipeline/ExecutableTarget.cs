namespace LlmStack.Pipeline;

/// <summary>A discovered target with its resolved edges and run state.</summary>
public sealed class ExecutableTarget
{
    internal ExecutableTarget(string name, int index, Target factory, TargetDefinition definition, Type declaringType)
    {
        Name = name;
        Index = index;
        Factory = factory;
        Definition = definition;
        DeclaringType = declaringType;
    }

    public string Name { get; }

    /// <summary>Declaration order: the tie-breaker of the planner.</summary>
    public int Index { get; }

    public Type DeclaringType { get; }

    public string? Description => Definition.DescriptionText;

    public bool Listed => !Definition.IsUnlisted;

    public ExecutionStatus Status { get; internal set; } = ExecutionStatus.None;

    public TimeSpan Duration { get; internal set; }

    /// <summary>Why the target was skipped or failed, or what it reported.</summary>
    public string? SummaryInfo { get; internal set; }

    public bool Invoked { get; internal set; }

    /// <summary>
    /// Skipped on purpose: named in <c>--skip</c> (or left out by a bare <c>--skip</c>), or a dependency only such a
    /// target needed; not a target whose OnlyWhen condition was false.
    /// </summary>
    public bool SkippedByParameter { get; internal set; }

    /// <summary>DependsOn, plus every target that declared DependentFor this one.</summary>
    public IReadOnlyList<ExecutableTarget> ExecutionDependencies => _executionDependencies;

    /// <summary>After, plus every target that declared Before this one.</summary>
    public IReadOnlyList<ExecutableTarget> OrderDependencies => _orderDependencies;

    /// <summary>TriggeredBy, plus every target that declared Triggers this one.</summary>
    public IReadOnlyList<ExecutableTarget> TriggerDependencies => _triggerDependencies;

    /// <summary>Triggers, plus every target that declared TriggeredBy this one.</summary>
    public IReadOnlyList<ExecutableTarget> Triggers => _triggers;

    public IEnumerable<ExecutableTarget> AllDependencies =>
        _executionDependencies.Concat(_orderDependencies).Concat(_triggerDependencies).Distinct();

    internal Target Factory { get; }

    internal TargetDefinition Definition { get; }

    internal readonly List<ExecutableTarget> _executionDependencies = [];
    internal readonly List<ExecutableTarget> _orderDependencies = [];
    internal readonly List<ExecutableTarget> _triggerDependencies = [];
    internal readonly List<ExecutableTarget> _triggers = [];

    public override string ToString() => Name;
}
