using System.Text.Json;
using System.Text.RegularExpressions;
using LlmStack.Pipeline;
using LlmStack.Reporting;

namespace LlmStack.Testing;

/// <summary>What the build program accepts, read from the <c>.nuke/build.schema.json</c> it writes at every start: target names, parameters and their allowed values.</summary>
public sealed record BuildVocabulary(IReadOnlySet<string> Targets, IReadOnlyDictionary<string, BuildParameter> Parameters)
{
    /// <summary>Names ignore case and dashes, as on the command line.</summary>
    public static string Key(string name) => name.Replace("-", string.Empty, StringComparison.Ordinal).ToLowerInvariant();

    public static BuildVocabulary Read(string buildSchemaPath)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(buildSchemaPath));
        var root = document.RootElement;
        var targets = root.GetProperty("definitions").GetProperty("ExecutableTarget").GetProperty("enum").EnumerateArray().Select(t => t.GetString()!).ToHashSet(StringComparer.Ordinal);
        var parameters = new Dictionary<string, BuildParameter>(StringComparer.Ordinal);
        void Add(JsonElement properties)
        {
            foreach (var property in properties.EnumerateObject())
            {
                var type = property.Value.TryGetProperty("type", out var t) ? t.GetString() : null;
                IReadOnlyList<string>? values = property.Value.TryGetProperty("enum", out var e) ? e.EnumerateArray().Select(v => v.GetString()!).ToList() : null;
                var items = property.Value.TryGetProperty("items", out var i) && i.TryGetProperty("$ref", out var r) && r.GetString()!.EndsWith("/ExecutableTarget", StringComparison.Ordinal);
                parameters[Key(property.Name)] = new BuildParameter(property.Name, type == "boolean", items ? [.. targets] : values, type == "array");
            }
        }

        Add(root.GetProperty("definitions").GetProperty("PipelineBuild").GetProperty("properties"));
        foreach (var part in root.GetProperty("allOf").EnumerateArray())
        {
            if (part.TryGetProperty("properties", out var properties))
            {
                Add(properties);
            }
        }

        return new BuildVocabulary(targets, parameters);
    }
}

/// <summary>A parameter: a flag, or one value (several for an array) from <see cref="Values"/> when it has a set.</summary>
public sealed record BuildParameter(string Name, bool Flag, IReadOnlyList<string>? Values, bool Many);

/// <summary>
/// CheckDocs: every <c>./build.sh …</c> command in README.md and docs/*.md (in code spans and code blocks) names real
/// targets, real parameters and allowed values, and every key of a table of keys exists (<see cref="DocsKeyTables"/>), so
/// the docs cannot drift from the build and the configurations. Placeholders (<c>&lt;Target&gt;</c>,
/// <c>Start&lt;Stack&gt;</c>, <c>…</c>, <c>$VAR</c>, <c>FILE</c>-style capitals for a free value) are not checked.
/// </summary>
public static partial class DocsCheck
{
    public static IReadOnlyList<string> Check(string displayPath, string text, BuildVocabulary vocabulary)
    {
        var problems = new List<string>();
        var lines = text.Split('\n');
        for (var number = 0; number < lines.Length; number++)
        {
            foreach (Match match in Command().Matches(lines[number]))
            {
                problems.AddRange(CheckCommand(match.Groups[1].Value, vocabulary).Select(p => $"{displayPath}:{number + 1}: `./build.sh{match.Groups[1].Value.TrimEnd()}`: {p}"));
            }
        }

        return problems;
    }

    internal static IEnumerable<string> CheckCommand(string arguments, BuildVocabulary vocabulary)
    {
        var tokens = arguments.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries).TakeWhile(t => t is not ("#" or "|" or "&&" or ";" or "\\") && !t.StartsWith('#')).ToList();
        BuildParameter? current = null;
        var valuesOfCurrent = 0;
        var optional = 0;
        foreach (var token in tokens)
        {
            // [<Target> ...] [--parameter value ...]: a syntax summary, not a command.
            optional += token.Count(c => c == '[');
            var closes = token.Count(c => c == ']');
            if (optional > 0)
            {
                optional -= closes;
                continue;
            }

            if (IsPlaceholder(token))
            {
                current = current is { Many: true } ? current : null;
                continue;
            }

            if (token.StartsWith("--", StringComparison.Ordinal))
            {
                var name = token[2..].Split('=')[0];
                if (!vocabulary.Parameters.TryGetValue(BuildVocabulary.Key(name), out current))
                {
                    yield return $"--{name} is no parameter{Schema.References.DidYouMean("--" + name, vocabulary.Parameters.Values.Select(p => "--" + Kebab(p.Name)))}";
                    current = new BuildParameter(name, Flag: false, Values: null, Many: false); // its value is not a target
                }

                valuesOfCurrent = 0;
                current = current is { Flag: true } ? null : current;
                continue;
            }

            if (current is not null && (current.Many || valuesOfCurrent == 0))
            {
                valuesOfCurrent++;
                var value = token.Trim('"', '\'', '`', ',', '.', ')');
                if (current.Values is { } allowed && !IsPlaceholder(value) && !allowed.Contains(value, StringComparer.OrdinalIgnoreCase) && !allowed.Any(a => BuildVocabulary.Key(a) == BuildVocabulary.Key(value)))
                {
                    yield return $"'{value}' is not a value of --{Kebab(current.Name)} (allowed: {string.Join(", ", allowed.Take(12))}{(allowed.Count > 12 ? ", …" : string.Empty)})";
                }

                continue;
            }

            current = null;
            var target = token.Trim('`', ',', '.', ')');
            if (!vocabulary.Targets.Any(t => BuildVocabulary.Key(t) == BuildVocabulary.Key(target)))
            {
                yield return $"{target} is no target{Schema.References.DidYouMean(target, vocabulary.Targets)}";
            }
        }
    }

    /// <summary>README.md and docs/*.md, checked against the build's vocabulary: the report fails naming every line.</summary>
    public static Report Run(string root, BuildVocabulary vocabulary, IEnumerable<string>? files = null)
    {
        var paths = (files ?? [Path.Combine(root, "README.md"), .. Directory.GetFiles(Path.Combine(root, "docs"), "*.md").Order(StringComparer.Ordinal)]).ToList();
        var problems = new List<string>();
        var commands = 0;
        var keys = 0;
        foreach (var path in paths)
        {
            var text = File.ReadAllText(path);
            var display = Path.GetRelativePath(root, path);
            commands += Command().Matches(text).Count;
            problems.AddRange(Check(display, text, vocabulary));
            var tables = DocsKeyTables.Check(display, text, DocsKeyTables.Models.TryGetValue(Path.GetFileName(path), out var model) ? model : null);
            keys += tables.Keys;
            problems.AddRange(tables.Problems);
        }

        var report = new Report { Document = new { files = paths.Count, commands, keys, problems } }
            .Line($"CheckDocs: {commands} ./build.sh command(s) and {keys} configuration key(s) in tables in {paths.Count} file(s), {problems.Count} problem(s)");
        foreach (var problem in problems)
        {
            report.Line("  " + problem);
        }

        return report.FailWhen(problems, p => $"{p.Count} problem(s) in the docs (./build.sh commands the build does not take, keys no configuration has): {string.Join(" | ", p.Take(5))}{(p.Count > 5 ? " | …" : string.Empty)}");
    }

    private static bool IsPlaceholder(string token) =>
        token.Contains('<', StringComparison.Ordinal) || token.Contains('…', StringComparison.Ordinal) || token.Contains("...", StringComparison.Ordinal)
        || token.Contains('$', StringComparison.Ordinal) || token.Contains('[', StringComparison.Ordinal) || token.Contains('*', StringComparison.Ordinal)
        || (token.Length > 1 && token.All(c => char.IsUpper(c) || c == '_' || char.IsDigit(c)));

    private static string Kebab(string name) => KebabPattern().Replace(name, "-$1").ToLowerInvariant();

    /// <summary><c>./build.sh</c> then its arguments, up to the end of the code span or line.</summary>
    [GeneratedRegex(@"\./build\.sh((?:[ \t]+[^\s`|;#]+)*)")]
    private static partial Regex Command();

    [GeneratedRegex("(?<=[a-z0-9])([A-Z])")]
    private static partial Regex KebabPattern();
}
