using System.Text.RegularExpressions;
using LlmStack.Schema;

namespace LlmStack.Testing;

/// <summary>
/// CheckDocs' second half: every key a table of keys lists exists in its configuration's model. A table of keys is a
/// Markdown table whose first header cell is <c>Key</c>; its keys are the code spans of each row's first cell, a path
/// from the table's place in the configuration (<c>tiers.&lt;name&gt;.kind</c>: <c>&lt;…&gt;</c> for a name of a map,
/// <c>[]</c> for the items of a list); a further span in the same cell is a sibling of the first's last key
/// (<c>`keep_last`, `keep_hourly`</c>, <c>`tables[].table`, `.date_column`</c>). A table's place is the one part of the
/// model (the root, or a part under it: a service, a volume, a build) where most of its keys resolve, so the Services
/// table of docs/SCHEMA.md is checked against a service's keys and a key that belongs elsewhere is named. Keys are the
/// model's property names as the YAML binder spells them (snake_case), so the docs and the binder cannot disagree.
/// </summary>
public static partial class DocsKeyTables
{
    /// <summary>The configurations whose keys a doc's tables list, by the doc's file name.</summary>
    public static IReadOnlyDictionary<string, (Type Model, string Name)> Models { get; } = new Dictionary<string, (Type, string)>(StringComparer.Ordinal)
    {
        ["SCHEMA.md"] = (typeof(ComposeSchema), "the schema"),
        ["BACKUP.md"] = (typeof(Backup.BackupConfig), "configs/backup-strategies.yaml"),
        ["RETENTION.md"] = (typeof(Retention.RetentionConfig), "configs/retention-policies.yaml"),
    };

    /// <summary>The keys checked and the problems, each <c>file:line: `key`: what is wrong</c>.</summary>
    public static (int Keys, IReadOnlyList<string> Problems) Check(string displayPath, string text, (Type Model, string Name)? model)
    {
        var problems = new List<string>();
        var keys = 0;
        foreach (var table in Tables(text))
        {
            if (model is not { } known)
            {
                problems.Add($"{displayPath}:{table.Line}: a table of keys, but CheckDocs knows no configuration of {Path.GetFileName(displayPath)} (DocsKeyTables.Models)");
                continue;
            }

            var places = Places(known.Model, known.Name);
            var rows = table.Rows.Select(r => (r.Line, Keys: Expand(r.Spans))).ToList();
            var all = rows.SelectMany(r => r.Keys).ToList();
            keys += all.Count;

            // The part of the model where most of the table's keys resolve (the root first when several tie).
            var place = places.MaxBy(p => all.Count(k => Resolve(p, k) is null))!;
            foreach (var (line, rowKeys) in rows)
            {
                if (rowKeys.Count == 0)
                {
                    problems.Add($"{displayPath}:{line}: a row of a table of keys names no key (`key` in its first cell)");
                }

                foreach (var key in rowKeys)
                {
                    if (Resolve(place, key) is { } problem)
                    {
                        problems.Add($"{displayPath}:{line}: `{key}`: {problem}");
                    }
                }
            }
        }

        return (keys, problems);
    }

    /// <summary>A place of the model: a type of node and how a key path reaches it from the root (<c>services.&lt;name&gt;</c>).</summary>
    internal sealed record Place(Type Node, string Path, string ConfigName)
    {
        public string Describe(string relative)
        {
            var full = string.Join('.', new[] { Path, relative }.Where(p => p.Length > 0));
            return full.Length == 0 ? $"the top level of {ConfigName}" : $"{full} of {ConfigName}";
        }
    }

    /// <summary>A value's shape: a node (keys), a map of names, a list, or a scalar (none set).</summary>
    private sealed record Shape(Type? Node = null, Shape? Map = null, Shape? List = null);

    private static Shape ShapeOf(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (typeof(SchemaNode).IsAssignableFrom(type))
        {
            return new Shape(Node: type);
        }

        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(Dictionary<,>))
        {
            return new Shape(Map: ShapeOf(type.GetGenericArguments()[1]));
        }

        return type.IsGenericType && type.GetGenericTypeDefinition() == typeof(List<>) ? new Shape(List: ShapeOf(type.GetGenericArguments()[0])) : new Shape();
    }

    /// <summary>Every node type under the root, breadth first (the shortest path names it), the root first.</summary>
    internal static IReadOnlyList<Place> Places(Type root, string name)
    {
        var places = new List<Place> { new(root, string.Empty, name) };
        for (var i = 0; i < places.Count; i++)
        {
            foreach (var (key, property) in YamlBinder.KeysOf(places[i].Node))
            {
                var path = places[i].Path.Length == 0 ? key : $"{places[i].Path}.{key}";
                var shape = ShapeOf(property.PropertyType);
                while (shape.Node is null && (shape.Map ?? shape.List) is { } inner)
                {
                    path += shape.Map is not null ? ".<name>" : "[]";
                    shape = inner;
                }

                if (shape.Node is { } node && places.All(p => p.Node != node))
                {
                    places.Add(new Place(node, path, name));
                }
            }
        }

        return places;
    }

    /// <summary>Null when <paramref name="key"/> is a key path from <paramref name="place"/>; else what is wrong.</summary>
    internal static string? Resolve(Place place, string key)
    {
        var shape = new Shape(Node: place.Node);
        var walked = new List<string>();
        foreach (var segment in key.Split('.'))
        {
            var where = place.Describe(string.Join('.', walked));
            if (!Segment().IsMatch(segment))
            {
                return $"'{segment}' is not a key (snake_case, <name> for a name of a map, key[] for the items of a list)";
            }

            if (segment.StartsWith('<'))
            {
                if (shape.Map is null)
                {
                    return $"{segment}: {where} is not a map of names";
                }

                shape = shape.Map;
            }
            else if (shape.Node is { } node)
            {
                var name = segment.TrimEnd('[', ']');
                var keys = YamlBinder.KeysOf(node);
                if (!keys.TryGetValue(name, out var property))
                {
                    return $"no key '{name}' in {where}{References.Hint(name, keys.Keys)}";
                }

                shape = ShapeOf(property.PropertyType);
                if (segment.EndsWith("[]", StringComparison.Ordinal))
                {
                    if (shape.List is null)
                    {
                        return $"'{name}' of {where} is not a list";
                    }

                    shape = shape.List;
                }
            }
            else
            {
                return shape.Map is not null ? $"'{segment}': {where} is a map of names (write <name>)"
                    : shape.List is not null ? $"'{segment}': {where} is a list (write [] after it)"
                    : $"'{segment}': {where} is a value, it has no keys";
            }

            walked.Add(segment);
        }

        return null;
    }

    /// <summary>A cell's spans as key paths: the first whole, a further one a sibling of the first's last key unless it is a path of its own.</summary>
    internal static IReadOnlyList<string> Expand(IReadOnlyList<string> spans)
    {
        if (spans.Count == 0)
        {
            return [];
        }

        var first = spans[0];
        var dot = first.LastIndexOf('.');
        var parent = dot < 0 ? string.Empty : first[..(dot + 1)];
        return [first, .. spans.Skip(1).Select(s => s.StartsWith('.') ? parent + s[1..] : s.Contains('.', StringComparison.Ordinal) ? s : parent + s)];
    }

    private sealed record Table(int Line, IReadOnlyList<(int Line, IReadOnlyList<string> Spans)> Rows);

    /// <summary>The tables of keys outside code blocks: the header row's first cell is <c>Key</c>, then the delimiter row, then rows.</summary>
    private static IEnumerable<Table> Tables(string text)
    {
        var lines = text.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        var fenced = false;
        for (var i = 0; i < lines.Count; i++)
        {
            if (lines[i].TrimStart().StartsWith("```", StringComparison.Ordinal))
            {
                fenced = !fenced;
                continue;
            }

            if (fenced || i + 1 >= lines.Count || FirstCell(lines[i]) is not { } header || !header.Trim().Equals("Key", StringComparison.OrdinalIgnoreCase)
                || !Delimiter().IsMatch(lines[i + 1]) || (i > 0 && lines[i - 1].TrimStart().StartsWith('|')))
            {
                continue;
            }

            var rows = new List<(int, IReadOnlyList<string>)>();
            var row = i + 2;
            for (; row < lines.Count && FirstCell(lines[row]) is { } cell; row++)
            {
                rows.Add((row + 1, Span().Matches(cell).Select(m => m.Groups[1].Value.Trim()).ToList()));
            }

            yield return new Table(i + 1, rows);
            i = row - 1;
        }
    }

    private static string? FirstCell(string line) => Cell().Match(line) is { Success: true } match ? match.Groups[1].Value : null;

    /// <summary>A row's first cell: between the leading <c>|</c> and the next one not escaped.</summary>
    [GeneratedRegex(@"^\s*\|((?:\\\||[^|])*)\|")]
    private static partial Regex Cell();

    [GeneratedRegex(@"^\s*\|(\s*:?-+:?\s*\|)+\s*$")]
    private static partial Regex Delimiter();

    [GeneratedRegex("`([^`]+)`")]
    private static partial Regex Span();

    [GeneratedRegex(@"^(<[^<>.]+>|[a-z][a-z0-9_]*(\[\])?)$")]
    private static partial Regex Segment();
}
