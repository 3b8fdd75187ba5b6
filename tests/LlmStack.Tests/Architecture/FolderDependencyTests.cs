using System.Text.RegularExpressions;

namespace LlmStack.Tests.Architecture;

/// <summary>
/// The folders of src/LlmStack (= its namespaces) use each other as docs/ARCHITECTURE.md says, and never in a cycle.
/// The dependencies are read from the compiled assembly, not from <c>using</c> lines.
/// </summary>
public partial class FolderDependencyTests
{
    private const string Product = "LlmStack";

    private static readonly IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> Actual = Folders(
        NamespaceDependencies.Read(typeof(LlmStack.Schema.SchemaFile).Assembly.Location));

    /// <summary>Namespace edges folded to the first segment below LlmStack (LlmStack.Security.Scanning counts as Security).</summary>
    private static IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> Folders(IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> namespaces)
    {
        static string Folder(string ns) => ns.StartsWith(Product + ".", StringComparison.Ordinal) ? ns[(Product.Length + 1)..].Split('.')[0] : ns;

        var result = new Dictionary<string, Dictionary<string, string>>();
        foreach (var (from, edges) in namespaces.Where(n => n.Key.StartsWith(Product + ".", StringComparison.Ordinal)))
        {
            foreach (var (to, example) in edges.Where(e => e.Key.StartsWith(Product + ".", StringComparison.Ordinal)))
            {
                var (a, b) = (Folder(from), Folder(to));
                if (a == b)
                {
                    continue;
                }

                if (!result.TryGetValue(a, out var set))
                {
                    result[a] = set = [];
                }

                set.TryAdd(b, example);
            }
        }

        return result.ToDictionary(e => e.Key, e => (IReadOnlyDictionary<string, string>)e.Value);
    }

    /// <summary>The table "| Folder | May use |" of docs/ARCHITECTURE.md.</summary>
    private static IReadOnlyDictionary<string, IReadOnlySet<string>> Allowed()
    {
        var allowed = new Dictionary<string, IReadOnlySet<string>>();
        var inTable = false;
        foreach (var line in File.ReadLines(Path.Combine(Repository.Root, "docs", "ARCHITECTURE.md")))
        {
            if (TableHeader().IsMatch(line))
            {
                inTable = true;
                continue;
            }

            if (!inTable || line.StartsWith("|--", StringComparison.Ordinal) || line.StartsWith("| --", StringComparison.Ordinal))
            {
                continue;
            }

            if (!line.StartsWith('|'))
            {
                break;
            }

            var cells = line.Split('|', StringSplitOptions.TrimEntries);
            var folder = cells[1].Trim('`', ' ').TrimEnd('/');
            allowed[folder] = Folder().Matches(cells[2]).Select(m => m.Groups[1].Value.TrimEnd('/')).ToHashSet();
        }

        return allowed;
    }

    [GeneratedRegex(@"^\|\s*Folder\s*\|\s*May use", RegexOptions.IgnoreCase)]
    private static partial Regex TableHeader();

    [GeneratedRegex(@"`([A-Za-z]+/?)`")]
    private static partial Regex Folder();

    [Fact]
    public void The_dependency_reader_sees_what_the_code_uses()
    {
        // Guards the reader itself: these uses exist today through signatures, bodies and fully qualified names alike.
        Actual["Backup"].Should().ContainKey("Schema");
        Actual["Sessions"].Should().ContainKey("ChangeControl");
        Actual["Wipe"].Should().ContainKey("Engine", "a wipe reads labels through an extension method of Engine (a call, no using of the type)");
        Actual.Should().NotContainKey("Schema", "the schema uses no other folder");
    }

    [Fact]
    public void No_two_folders_depend_on_each_other_even_through_others()
    {
        var cycles = StronglyConnected(Actual).Where(c => c.Count > 1).ToList();
        cycles.Should().BeEmpty(string.Join("; ", cycles.Select(c =>
            string.Join(", ", c.SelectMany(a => Actual[a].Where(e => c.Contains(e.Key)).Select(e => $"{a}→{e.Key} ({e.Value})"))))));
    }

    [Fact]
    public void Every_folder_uses_only_what_the_architecture_allows()
    {
        var allowed = Allowed();
        allowed.Should().NotBeEmpty("docs/ARCHITECTURE.md has the table | Folder | May use |");
        var folders = Directory.GetDirectories(Path.Combine(Repository.Root, "src", Product))
            .Select(Path.GetFileName).Where(d => d is not ("bin" or "obj")).ToList();
        allowed.Keys.Should().BeEquivalentTo(folders, "the table names every folder of src/LlmStack, and only those");

        var violations = Actual.SelectMany(f => f.Value.Where(e => !allowed[f.Key].Contains(e.Key)).Select(e => $"{f.Key} uses {e.Key} ({e.Value})")).ToList();
        violations.Should().BeEmpty("each use is allowed in docs/ARCHITECTURE.md's table (or removed)");

        var unused = allowed.SelectMany(f => f.Value.Where(to => !(Actual.TryGetValue(f.Key, out var e) && e.ContainsKey(to))).Select(to => $"{f.Key} → {to}")).ToList();
        unused.Should().BeEmpty("the table allows only what is used, so it stays a true map");
    }

    /// <summary>Tarjan's strongly connected components.</summary>
    private static List<HashSet<string>> StronglyConnected(IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> graph)
    {
        var index = new Dictionary<string, int>();
        var low = new Dictionary<string, int>();
        var stack = new Stack<string>();
        var onStack = new HashSet<string>();
        var result = new List<HashSet<string>>();
        var counter = 0;

        void Visit(string v)
        {
            index[v] = low[v] = counter++;
            stack.Push(v);
            onStack.Add(v);
            foreach (var w in graph.TryGetValue(v, out var edges) ? edges.Keys : [])
            {
                if (!index.ContainsKey(w))
                {
                    Visit(w);
                    low[v] = Math.Min(low[v], low[w]);
                }
                else if (onStack.Contains(w))
                {
                    low[v] = Math.Min(low[v], index[w]);
                }
            }

            if (low[v] == index[v])
            {
                var component = new HashSet<string>();
                string w;
                do
                {
                    w = stack.Pop();
                    onStack.Remove(w);
                    component.Add(w);
                }
                while (w != v);
                result.Add(component);
            }
        }

        foreach (var v in graph.Keys.Concat(graph.Values.SelectMany(e => e.Keys)).Distinct().Order())
        {
            if (!index.ContainsKey(v))
            {
                Visit(v);
            }
        }

        return result;
    }
}
