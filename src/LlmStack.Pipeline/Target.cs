using System.Linq.Expressions;
using System.Runtime.CompilerServices;

namespace LlmStack.Pipeline;

/// <summary>
/// A target is a property returning this delegate: <c>Target Compile =&gt; _ =&gt; _.DependsOn(Restore).Executes(...)</c>.
/// The engine invokes each target property once with a fresh definition. Identity is delegate equality
/// (same method, same instance), so <c>DependsOn(Restore)</c> finds the <c>Restore</c> property's target.
/// </summary>
public delegate ITargetDefinition Target(ITargetDefinition definition);

/// <summary>What skipping a target does to the dependencies only it needs.</summary>
public enum DependencyBehavior
{
    /// <summary>Also skip execution dependencies and triggers that no other scheduled target needs (default).</summary>
    Skip = 0,

    /// <summary>Still run its dependencies.</summary>
    Execute = 1,
}

public enum ExecutionStatus
{
    None,
    Scheduled,
    NotRun,
    Skipped,
    Succeeded,
    Failed,
    Running,
    Aborted,
    Collective,
}

/// <summary>The fluent definition of a target. Lists accumulate; scalar settings are last-write-wins.</summary>
public interface ITargetDefinition
{
    ITargetDefinition Description(string description);

    ITargetDefinition Executes(Action action);

    ITargetDefinition Executes(Func<Task> action);

    ITargetDefinition Executes(Func<CancellationToken, Task> action);

    ITargetDefinition DependsOn(params Target[] targets);

    ITargetDefinition DependsOn<T>(params Func<T, Target>[] targets) where T : class;

    ITargetDefinition DependentFor(params Target[] targets);

    ITargetDefinition DependentFor<T>(params Func<T, Target>[] targets) where T : class;

    ITargetDefinition Before(params Target[] targets);

    ITargetDefinition Before<T>(params Func<T, Target>[] targets) where T : class;

    ITargetDefinition After(params Target[] targets);

    ITargetDefinition After<T>(params Func<T, Target>[] targets) where T : class;

    ITargetDefinition Triggers(params Target[] targets);

    ITargetDefinition Triggers<T>(params Func<T, Target>[] targets) where T : class;

    ITargetDefinition TriggeredBy(params Target[] targets);

    ITargetDefinition TriggeredBy<T>(params Func<T, Target>[] targets) where T : class;

    /// <summary>Evaluated for every planned target before any target runs; false skips the target.</summary>
    ITargetDefinition OnlyWhenStatic(Func<bool> condition, [CallerArgumentExpression(nameof(condition))] string? expression = null);

    /// <summary>Evaluated right before the target runs (after its dependencies); false skips it.</summary>
    ITargetDefinition OnlyWhenDynamic(Func<bool> condition, [CallerArgumentExpression(nameof(condition))] string? expression = null);

    /// <summary>
    /// As <see cref="OnlyWhenStatic(Func{bool}, string?)"/>, with the skip reason in the user's words, made when the
    /// condition is false (the run summary shows it instead of the condition's source text).
    /// </summary>
    ITargetDefinition OnlyWhenStatic(Func<bool> condition, Func<string> reasonWhenFalse);

    /// <summary>As <see cref="OnlyWhenDynamic(Func{bool}, string?)"/>, with the skip reason in the user's words, made when the condition is false.</summary>
    ITargetDefinition OnlyWhenDynamic(Func<bool> condition, Func<string> reasonWhenFalse);

    /// <summary>The parameter must have a value (strings: not blank) before anything runs.</summary>
    ITargetDefinition Requires<T>(Expression<Func<T?>> parameter, [CallerArgumentExpression(nameof(parameter))] string? expression = null) where T : class;

    /// <summary>The nullable parameter must have a value before anything runs.</summary>
    ITargetDefinition Requires<T>(Expression<Func<T?>> parameter, [CallerArgumentExpression(nameof(parameter))] string? expression = null) where T : struct;

    /// <summary>The condition must hold before anything runs; the failure quotes the expression.</summary>
    ITargetDefinition Requires(Expression<Func<bool>> condition, [CallerArgumentExpression(nameof(condition))] string? expression = null);

    /// <summary>If this target fails, the run continues (and still fails at the end).</summary>
    ITargetDefinition ProceedAfterFailure();

    /// <summary>Runs even when an earlier target failed or the run was cancelled.</summary>
    ITargetDefinition AssuredAfterFailure();

    /// <summary>Hidden from --help; still invocable.</summary>
    ITargetDefinition Unlisted();

    ITargetDefinition WhenSkipped(DependencyBehavior behavior);
}
