namespace LlmStack.Schema;

/// <summary>
/// The service dependency graph of one resolved environment, in one place: the order (dependencies first), the levels
/// of any subset (each level needs only earlier ones, so a level starts in parallel and stops in reverse), and the
/// dependencies and dependents of a service, direct or transitive. Start, stop, restart, backups, restores and wipes all
/// order services through it.
/// </summary>
public sealed class ServiceGraph
{
    private readonly IReadOnlyList<ResolvedService> _order;
    private readonly Dictionary<string, ResolvedService> _byName;
    private readonly Dictionary<string, List<string>> _dependents;

    public ServiceGraph(IReadOnlyList<ResolvedService> services)
    {
        _order = services;
        _byName = services.ToDictionary(s => s.Name, StringComparer.Ordinal);
        _dependents = services.ToDictionary(s => s.Name, _ => new List<string>(), StringComparer.Ordinal);
        foreach (var service in services)
        {
            foreach (var dependency in service.DependsOn.Where(_byName.ContainsKey))
            {
                _dependents[dependency].Add(service.Name);
            }
        }
    }

    /// <summary>Every service, dependencies first.</summary>
    public IReadOnlyList<ResolvedService> Order => _order;

    public ResolvedService this[string service] =>
        _byName.TryGetValue(service, out var found) ? found : throw new SchemaException($"service '{service}' is not part of this environment");

    /// <summary>What <paramref name="service"/> depends on (in this environment), dependencies first.</summary>
    public IReadOnlyList<string> DependenciesOf(string service, bool transitive = true) =>
        Walk(service, s => this[s].DependsOn.Where(_byName.ContainsKey), transitive);

    /// <summary>What depends on <paramref name="service"/>, dependencies first.</summary>
    public IReadOnlyList<string> DependentsOf(string service, bool transitive = true) =>
        Walk(service, s => _dependents[s], transitive);

    /// <summary>The services and everything that depends on them, dependencies first (what must stop for them to stop).</summary>
    public IReadOnlyList<string> WithDependents(IEnumerable<string> services)
    {
        var set = new HashSet<string>(StringComparer.Ordinal);
        foreach (var service in services)
        {
            set.Add(this[service].Name);
            set.UnionWith(DependentsOf(service));
        }

        return InOrder(set);
    }

    /// <summary>
    /// The services grouped so that each group depends only on earlier groups; dependencies outside the set count as
    /// already satisfied. Start level by level; stop in reverse.
    /// </summary>
    public IReadOnlyList<IReadOnlyList<ResolvedService>> Levels(IEnumerable<string> services)
    {
        var members = new HashSet<string>(services, StringComparer.Ordinal);
        var level = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var service in _order.Where(s => members.Contains(s.Name)))
        {
            // The order puts dependencies first, so theirs are known.
            level[service.Name] = service.DependsOn.Where(level.ContainsKey).Select(d => level[d] + 1).DefaultIfEmpty(0).Max();
        }

        return _order.Where(s => level.ContainsKey(s.Name))
            .GroupBy(s => level[s.Name])
            .OrderBy(g => g.Key)
            .Select(g => (IReadOnlyList<ResolvedService>)g.ToList())
            .ToList();
    }

    /// <summary>Names in the graph's order.</summary>
    public IReadOnlyList<string> InOrder(IEnumerable<string> services)
    {
        var set = new HashSet<string>(services, StringComparer.Ordinal);
        return _order.Where(s => set.Contains(s.Name)).Select(s => s.Name).ToList();
    }

    private List<string> Walk(string start, Func<string, IEnumerable<string>> next, bool transitive)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var queue = new Queue<string>(next(start));
        while (queue.Count > 0)
        {
            var current = queue.Dequeue();
            if (current == start || !seen.Add(current) || !transitive)
            {
                continue;
            }

            foreach (var further in next(current))
            {
                queue.Enqueue(further);
            }
        }

        return InOrder(seen).ToList();
    }

    /// <summary>Dependencies first; otherwise stack order, then the order services are listed. Cycles are reported by the validator.</summary>
    internal static List<ResolvedService> TopologicalOrder(IReadOnlyList<ResolvedService> services, List<string> stacks)
    {
        var byName = services.ToDictionary(s => s.Name);
        var order = new List<ResolvedService>();
        var visiting = new HashSet<string>();
        void Visit(ResolvedService service)
        {
            if (order.Contains(service) || !visiting.Add(service.Name))
            {
                return;
            }

            foreach (var dependency in service.DependsOn.Where(byName.ContainsKey))
            {
                Visit(byName[dependency]);
            }

            order.Add(service);
        }

        foreach (var service in services.OrderBy(s => stacks.IndexOf(s.Stack)))
        {
            Visit(service);
        }

        return order;
    }
}
