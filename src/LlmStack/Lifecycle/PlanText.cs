using LlmStack.Engine;

namespace LlmStack.Lifecycle;

/// <summary>
/// The words of a plan, mapped once: actions as a plan says them (<c>recreate</c>) and as a Start reports them
/// (<c>recreated</c>), aspects, variable changes, and the one-line description of what differs — names only, never a value.
/// </summary>
public static class PlanText
{
    /// <summary>What a plan says will happen: <c>create</c>, <c>recreate</c>, <c>remove</c>, <c>start</c>, <c>unpause</c>, <c>repair</c>, <c>unchanged</c>.</summary>
    public static string Of(ContainerAction action) => action.ToString().ToLowerInvariant();

    /// <summary>What a Start reports it did: <c>created</c>, <c>recreated</c>, …, <c>unchanged</c>.</summary>
    public static string Done(ContainerAction action) => action switch
    {
        ContainerAction.Unchanged => "unchanged",
        _ when Of(action).EndsWith('e') => Of(action) + "d",
        _ => Of(action) + "ed",
    };

    public static string Of(ResourceAction action) => action.ToString().ToLowerInvariant();

    public static string Of(Aspect aspect) => aspect.ToString().ToLowerInvariant();

    public static string Of(KeyChange change) => change.ToString().ToLowerInvariant();

    /// <summary>One difference: <c>environment: POSTGRES_PASSWORD (changed), EXTRA (added)</c>, <c>image: redis:7 → redis:8</c>, <c>ports</c>.</summary>
    public static string Of(Difference difference)
    {
        var parts = difference.Keys.Select(k => $"{k.Key} ({Of(k.Change)})").ToList();
        if (difference.Detail is { } detail)
        {
            parts.Add(detail);
        }

        return parts.Count == 0 ? Of(difference.Aspect) : $"{Of(difference.Aspect)}: {string.Join(", ", parts)}";
    }

    /// <summary>Every difference of a step, or null when there is none.</summary>
    public static string? Of(IReadOnlyList<Difference> differences) => differences.Count == 0 ? null : string.Join("; ", differences.Select(Of));
}
