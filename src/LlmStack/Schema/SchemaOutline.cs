namespace LlmStack.Schema;

/// <summary>A stack as the outline knows it: its name and the stacks it needs.</summary>
public sealed record OutlineStack(string Name, IReadOnlyList<string> DependsOn);

/// <summary>What a run needs of the schema before it parses it whole: the environment names and the stack graph (schema order).</summary>
public sealed record SchemaOutline(IReadOnlyList<string> Environments, IReadOnlyList<OutlineStack> Stacks)
{
    /// <summary>The stacks <paramref name="stack"/> needs directly.</summary>
    public IReadOnlyList<string> DependenciesOf(string stack) => Stacks.FirstOrDefault(s => s.Name == stack)?.DependsOn ?? [];

    /// <summary>The stacks that need <paramref name="stack"/> directly.</summary>
    public IReadOnlyList<string> DependentsOf(string stack) => Stacks.Where(s => s.DependsOn.Contains(stack)).Select(s => s.Name).ToList();
}
