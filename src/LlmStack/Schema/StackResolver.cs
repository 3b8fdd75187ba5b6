namespace LlmStack.Schema;

/// <summary>Which stacks an environment enables (dependencies first), and what each stack needs transitively.</summary>
internal static class StackResolver
{
    /// <summary>The stacks a stack depends on, transitively (not including itself).</summary>
    internal static IReadOnlySet<string> Closure(ComposeSchema schema, string stack)
    {
        var result = new HashSet<string>(StringComparer.Ordinal);
        var queue = new Queue<string>([stack]);
        while (queue.Count > 0)
        {
            if (!schema.Stacks.TryGetValue(queue.Dequeue(), out var definition))
            {
                continue;
            }

            foreach (var dependency in definition.DependsOn)
            {
                if (dependency != stack && result.Add(dependency))
                {
                    queue.Enqueue(dependency);
                }
            }
        }

        return result;
    }

    internal static List<string> Enabled(ComposeSchema schema, string name, EnvironmentDefinition environment, DiagnosticBag diagnostics)
    {
        var wanted = environment.Stacks ?? [.. schema.Stacks.Keys];
        for (var i = 0; i < wanted.Count; i++)
        {
            if (!schema.Stacks.ContainsKey(wanted[i]))
            {
                diagnostics.Error(environment.Locate($"stacks[{i}]"),
                    $"environment '{name}' enables undefined stack '{wanted[i]}'{References.Hint(wanted[i], schema.Stacks.Keys)}");
            }
        }

        var enabled = wanted.Where(schema.Stacks.ContainsKey).Distinct().ToList();
        foreach (var stack in enabled)
        {
            foreach (var dependency in schema.Stacks[stack].DependsOn.Where(d => schema.Stacks.ContainsKey(d) && !enabled.Contains(d)))
            {
                diagnostics.Error(environment.Has("stacks") ? environment.Locate("stacks") : environment.Location,
                    $"environment '{name}' enables stack '{stack}' but not '{dependency}', which it depends on");
            }
        }

        // Dependencies first; ties in schema order.
        var order = new List<string>();
        var visiting = new HashSet<string>();
        void Visit(string stack)
        {
            if (order.Contains(stack) || !visiting.Add(stack))
            {
                return;
            }

            foreach (var dependency in schema.Stacks[stack].DependsOn.Where(enabled.Contains))
            {
                Visit(dependency);
            }

            order.Add(stack);
        }

        foreach (var stack in schema.Stacks.Keys.Where(enabled.Contains))
        {
            Visit(stack);
        }

        return order;
    }
}
