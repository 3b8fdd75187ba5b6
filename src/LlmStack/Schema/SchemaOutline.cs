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

/// <summary>
/// The outline's cache file as lines of text (<c>environment NAME</c>, <c>stack NAME DEP,DEP</c>): read at every run's
/// start, where a JSON serializer would cost more than the rest of the start-up.
/// </summary>
internal static class OutlineText
{
    public static IEnumerable<string> Write(SchemaOutline outline) =>
        outline.Environments.Select(e => "environment " + e)
            .Concat(outline.Stacks.Select(s => $"stack {s.Name} {string.Join(',', s.DependsOn)}".TrimEnd()));

    /// <summary>The outline, or null when a line is not of the form (a cache of another version: made again).</summary>
    public static SchemaOutline? Read(IEnumerable<string> lines)
    {
        var environments = new List<string>();
        var stacks = new List<OutlineStack>();
        foreach (var line in lines)
        {
            var parts = line.Split(' ');
            switch (parts)
            {
                case ["environment", var name]:
                    environments.Add(name);
                    break;
                case ["stack", var name]:
                    stacks.Add(new OutlineStack(name, []));
                    break;
                case ["stack", var name, var dependencies]:
                    stacks.Add(new OutlineStack(name, dependencies.Split(',')));
                    break;
                default:
                    return null;
            }
        }

        return new SchemaOutline(environments, stacks);
    }
}
