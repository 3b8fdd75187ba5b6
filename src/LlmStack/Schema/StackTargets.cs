namespace LlmStack.Schema;

/// <summary>
/// The one rule that ties the stack targets' names to the schema's stacks: the verb + the stack in Pascal case
/// (<c>StartCore</c>, <c>StopUi</c>, <c>StatusTesting</c>). Targets declare only their own name; which stack it is, and
/// which stacks' targets it depends on, come from here and the schema's outline. (The wipes' names, which also know
/// environments and data types, are <see cref="Wipe.WipePolicy"/>'s.)
/// </summary>
public static class StackTargets
{
    /// <summary>The verbs of the stack targets: <c>Start&lt;Stack&gt;</c> …; Start, Stop and Restart also have an all-stacks target of that name.</summary>
    public const string Start = "Start";

    public const string Stop = "Stop";

    public const string Restart = "Restart";

    public const string Status = "Status";

    public const string Logs = "Logs";

    /// <summary>Rebuild&lt;Stack&gt;: the stack's images built again without the cache, then the stack stopped and started.</summary>
    public const string Rebuild = "Rebuild";

    public static string Pascal(string name) =>
        string.Concat(name.Split('-', '_').Where(p => p.Length > 0).Select(p => char.ToUpperInvariant(p[0]) + p[1..]));

    /// <summary>The target of a verb for a stack: <c>Name("Start", "core")</c> = <c>StartCore</c>.</summary>
    public static string Name(string verb, string stack) => verb + Pascal(stack);

    /// <summary>The stack a verb's target is for (<c>StackOf("StartCore", "Start")</c> = <c>core</c>), or one line when no stack of the schema has that name.</summary>
    public static string StackOf(string target, string verb, SchemaOutline outline) =>
        outline.Stacks.Select(s => s.Name).FirstOrDefault(s => Name(verb, s) == target)
        ?? throw new SchemaException($"target {target} is for no stack of the schema (stacks: {string.Join(", ", outline.Stacks.Select(s => s.Name))}): add the stack, or remove the target");

    /// <summary>The verb's targets of the stacks <paramref name="stack"/> needs (Start: before it).</summary>
    public static IReadOnlyList<string> OfDependencies(string verb, string stack, SchemaOutline outline) =>
        outline.DependenciesOf(stack).Select(s => Name(verb, s)).ToList();

    /// <summary>The verb's targets of the stacks that need <paramref name="stack"/> (Stop: they stop first).</summary>
    public static IReadOnlyList<string> OfDependents(string verb, string stack, SchemaOutline outline) =>
        outline.DependentsOf(stack).Select(s => Name(verb, s)).ToList();

    /// <summary>The stacks whose target of <paramref name="verb"/> is among <paramref name="targets"/> (a run's planned targets), in schema order.</summary>
    public static IReadOnlyList<string> StacksOf(IEnumerable<string> targets, string verb, SchemaOutline outline)
    {
        var names = targets.ToHashSet(StringComparer.Ordinal);
        return outline.Stacks.Select(s => s.Name).Where(s => names.Contains(Name(verb, s))).ToList();
    }

    /// <summary>The verb's targets of every stack, in schema order (Start, Stop, Restart: all stacks).</summary>
    public static IReadOnlyList<string> All(string verb, SchemaOutline outline) => outline.Stacks.Select(s => Name(verb, s.Name)).ToList();
}
