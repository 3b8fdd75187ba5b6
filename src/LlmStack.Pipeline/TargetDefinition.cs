using System.Linq.Expressions;

namespace LlmStack.Pipeline;

/// <summary>A condition with the source text it was written as, or a reason in words (shown as the skip reason).</summary>
internal sealed record Condition(Func<bool> Evaluate, string Text, Func<string>? Reason = null)
{
    /// <summary>The summary's skip reason for conditions that were false: their reasons, else <c>OnlyWhen: a &amp;&amp; b</c>.</summary>
    public static string SkipReason(IReadOnlyList<Condition> violated)
    {
        var parts = violated.Where(c => c.Reason is not null).Select(c => c.Reason!()).ToList();
        var texts = violated.Where(c => c.Reason is null).Select(c => c.Text).ToList();
        if (texts.Count > 0)
        {
            parts.Add("OnlyWhen: " + string.Join(" && ", texts));
        }

        return string.Join("; ", parts);
    }
}

/// <summary>A requirement checked before anything runs.</summary>
internal sealed record Requirement(Func<bool> IsMet, string Text, bool IsParameter, System.Reflection.MemberInfo? Member);

internal sealed class TargetDefinition(object build, string name) : ITargetDefinition
{
    private readonly object _build = build;

    public string Name { get; } = name;

    public string? DescriptionText { get; private set; }

    public List<Func<CancellationToken, Task>> Actions { get; } = [];

    public List<Target> DependsOnTargets { get; } = [];

    public List<Target> DependentForTargets { get; } = [];

    public List<Target> BeforeTargets { get; } = [];

    public List<Target> AfterTargets { get; } = [];

    public List<Target> TriggersTargets { get; } = [];

    public List<Target> TriggeredByTargets { get; } = [];

    public List<Condition> StaticConditions { get; } = [];

    public List<Condition> DynamicConditions { get; } = [];

    public List<Requirement> Requirements { get; } = [];

    public bool IsProceedAfterFailure { get; private set; }

    public bool IsAssuredAfterFailure { get; private set; }

    public bool IsUnlisted { get; private set; }

    public DependencyBehavior SkipBehavior { get; private set; } = DependencyBehavior.Skip;

    public ITargetDefinition Description(string description)
    {
        DescriptionText = description;
        return this;
    }

    public ITargetDefinition Executes(Action action)
    {
        ArgumentNullException.ThrowIfNull(action);
        Actions.Add(_ =>
        {
            action();
            return Task.CompletedTask;
        });
        return this;
    }

    public ITargetDefinition Executes(Func<Task> action)
    {
        ArgumentNullException.ThrowIfNull(action);
        Actions.Add(_ => action());
        return this;
    }

    public ITargetDefinition Executes(Func<CancellationToken, Task> action)
    {
        ArgumentNullException.ThrowIfNull(action);
        Actions.Add(action);
        return this;
    }

    public ITargetDefinition DependsOn(params Target[] targets) => Add(DependsOnTargets, targets);

    public ITargetDefinition DependsOn<T>(params Func<T, Target>[] targets) where T : class => Add(DependsOnTargets, Resolve(targets));

    public ITargetDefinition DependentFor(params Target[] targets) => Add(DependentForTargets, targets);

    public ITargetDefinition DependentFor<T>(params Func<T, Target>[] targets) where T : class => Add(DependentForTargets, Resolve(targets));

    public ITargetDefinition Before(params Target[] targets) => Add(BeforeTargets, targets);

    public ITargetDefinition Before<T>(params Func<T, Target>[] targets) where T : class => Add(BeforeTargets, Resolve(targets));

    public ITargetDefinition After(params Target[] targets) => Add(AfterTargets, targets);

    public ITargetDefinition After<T>(params Func<T, Target>[] targets) where T : class => Add(AfterTargets, Resolve(targets));

    public ITargetDefinition Triggers(params Target[] targets) => Add(TriggersTargets, targets);

    public ITargetDefinition Triggers<T>(params Func<T, Target>[] targets) where T : class => Add(TriggersTargets, Resolve(targets));

    public ITargetDefinition TriggeredBy(params Target[] targets) => Add(TriggeredByTargets, targets);

    public ITargetDefinition TriggeredBy<T>(params Func<T, Target>[] targets) where T : class => Add(TriggeredByTargets, Resolve(targets));

    public ITargetDefinition OnlyWhenStatic(Func<bool> condition, string? expression = null)
    {
        StaticConditions.Add(new Condition(condition, ConditionText(expression)));
        return this;
    }

    public ITargetDefinition OnlyWhenDynamic(Func<bool> condition, string? expression = null)
    {
        DynamicConditions.Add(new Condition(condition, ConditionText(expression)));
        return this;
    }

    public ITargetDefinition OnlyWhenStatic(Func<bool> condition, Func<string> reasonWhenFalse)
    {
        ArgumentNullException.ThrowIfNull(reasonWhenFalse);
        StaticConditions.Add(new Condition(condition, "<condition>", reasonWhenFalse));
        return this;
    }

    public ITargetDefinition OnlyWhenDynamic(Func<bool> condition, Func<string> reasonWhenFalse)
    {
        ArgumentNullException.ThrowIfNull(reasonWhenFalse);
        DynamicConditions.Add(new Condition(condition, "<condition>", reasonWhenFalse));
        return this;
    }

    public ITargetDefinition Requires<T>(Expression<Func<T?>> parameter, string? expression = null) where T : class
    {
        // Compiled (interpreted, no Reflection.Emit) only when the requirement is checked: defining targets stays cheap.
        var getter = new Lazy<Func<T?>>(() => parameter.Compile(preferInterpretation: true));
        Requirements.Add(new Requirement(
            () => getter.Value() is { } value && (value is not string s || !string.IsNullOrWhiteSpace(s)),
            ConditionText(expression),
            IsParameter: true,
            MemberOf(parameter)));
        return this;
    }

    public ITargetDefinition Requires<T>(Expression<Func<T?>> parameter, string? expression = null) where T : struct
    {
        var getter = new Lazy<Func<T?>>(() => parameter.Compile(preferInterpretation: true));
        Requirements.Add(new Requirement(() => getter.Value().HasValue, ConditionText(expression), IsParameter: true, MemberOf(parameter)));
        return this;
    }

    public ITargetDefinition Requires(Expression<Func<bool>> condition, string? expression = null)
    {
        var evaluate = new Lazy<Func<bool>>(() => condition.Compile(preferInterpretation: true));
        Requirements.Add(new Requirement(() => evaluate.Value(), ConditionText(expression), IsParameter: false, Member: null));
        return this;
    }

    public ITargetDefinition ProceedAfterFailure()
    {
        IsProceedAfterFailure = true;
        return this;
    }

    public ITargetDefinition AssuredAfterFailure()
    {
        IsAssuredAfterFailure = true;
        return this;
    }

    public ITargetDefinition Unlisted()
    {
        IsUnlisted = true;
        return this;
    }

    public ITargetDefinition WhenSkipped(DependencyBehavior behavior)
    {
        SkipBehavior = behavior;
        return this;
    }

    private TargetDefinition Add(List<Target> list, IEnumerable<Target> targets)
    {
        foreach (var target in targets)
        {
            ArgumentNullException.ThrowIfNull(target);
            list.Add(target);
        }

        return this;
    }

    private IEnumerable<Target> Resolve<T>(Func<T, Target>[] selectors) where T : class
    {
        if (_build is not T component)
        {
            throw new PipelineException($"Target '{Name}' refers to component {typeof(T).Name}, which the build does not implement.");
        }

        return selectors.Select(selector => selector(component));
    }

    /// <summary>Turns "() => Foo" into "Foo"; keeps anything else as written.</summary>
    internal static string ConditionText(string? expression)
    {
        var text = (expression ?? "<condition>").Trim();
        if (text.StartsWith("()", StringComparison.Ordinal))
        {
            var arrow = text.IndexOf("=>", StringComparison.Ordinal);
            if (arrow >= 0)
            {
                text = text[(arrow + 2)..].Trim();
            }
        }

        return text;
    }

    private static System.Reflection.MemberInfo? MemberOf(LambdaExpression expression)
    {
        var body = expression.Body;
        if (body is UnaryExpression { NodeType: ExpressionType.Convert } unary)
        {
            body = unary.Operand;
        }

        return (body as MemberExpression)?.Member;
    }
}
