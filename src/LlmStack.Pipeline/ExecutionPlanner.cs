namespace LlmStack.Pipeline;

/// <summary>
/// Orders the targets to run. The plan holds the invoked targets, their execution dependencies and
/// everything they trigger (transitively). It is a topological order of all edges (DependsOn, After/Before,
/// Triggers); among targets that are ready at the same time, the one declared first runs first.
/// (NUKE breaks ties the other way round: among unrelated targets the later-declared one runs first.)
/// </summary>
public static class ExecutionPlanner
{
    public static IReadOnlyList<ExecutableTarget> Plan(IReadOnlyList<ExecutableTarget> targets, IReadOnlyCollection<string> invokedNames)
    {
        CheckCycles(targets);

        var invoked = invokedNames.Select(name => Find(targets, name)).Distinct().ToList();
        foreach (var target in invoked)
        {
            target.Invoked = true;
        }

        var scheduled = new HashSet<ExecutableTarget>(invoked);
        var queue = new Queue<ExecutableTarget>(invoked);
        while (queue.Count > 0)
        {
            var target = queue.Dequeue();
            foreach (var next in target.ExecutionDependencies.Concat(target.Triggers))
            {
                if (scheduled.Add(next))
                {
                    queue.Enqueue(next);
                }
            }
        }

        var plan = new List<ExecutableTarget>(scheduled.Count);
        var placed = new HashSet<ExecutableTarget>();
        while (placed.Count < scheduled.Count)
        {
            var next = scheduled
                .Where(t => !placed.Contains(t) && t.AllDependencies.All(d => !scheduled.Contains(d) || placed.Contains(d)))
                .OrderBy(t => t.Index)
                .First(); // cannot be empty: cycles were rejected above
            placed.Add(next);
            plan.Add(next);
        }

        foreach (var target in plan)
        {
            target.Status = ExecutionStatus.Scheduled;
        }

        return plan;
    }

    /// <summary>Resolves a command-line target name: dashes, underscores and case do not matter.</summary>
    public static ExecutableTarget Find(IReadOnlyList<ExecutableTarget> targets, string name)
    {
        var wanted = Naming.Normalize(name);
        var match = targets.FirstOrDefault(t => Naming.Normalize(t.Name) == wanted);
        if (match is not null)
        {
            return match;
        }

        var closest = Naming.Closest(name, targets.Where(t => t.Listed).Select(t => t.Name));
        var hint = closest.Count > 0
            ? $"Did you mean {string.Join(", ", closest)}?"
            : "Run --help for the list of targets.";
        throw new PipelineException($"Target '{name}' does not exist. {hint}");
    }

    /// <summary>Rejects cycles over all edges, naming the members in order (A -> B -> A: A waits for B, B for A).</summary>
    internal static void CheckCycles(IReadOnlyList<ExecutableTarget> targets)
    {
        var state = new Dictionary<ExecutableTarget, int>(); // 1 = on stack, 2 = done
        var path = new List<ExecutableTarget>();

        void Visit(ExecutableTarget target)
        {
            state[target] = 1;
            path.Add(target);
            foreach (var dependency in target.AllDependencies.OrderBy(d => d.Index))
            {
                if (!state.TryGetValue(dependency, out var s))
                {
                    Visit(dependency);
                }
                else if (s == 1)
                {
                    var cycle = path.Skip(path.IndexOf(dependency)).Select(t => t.Name).ToList();
                    cycle.Add(cycle[0]);
                    throw new PipelineException(
                        $"Circular dependency between targets: {string.Join(" -> ", cycle)} (each waits for the next): remove one of these edges.");
                }
            }

            path.RemoveAt(path.Count - 1);
            state[target] = 2;
        }

        foreach (var target in targets)
        {
            if (!state.ContainsKey(target))
            {
                Visit(target);
            }
        }
    }
}
