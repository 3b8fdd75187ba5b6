using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace LlmStack.Schema;

/// <summary>The outcome of reading a schema: the model (null when the YAML itself is broken) and every diagnostic.</summary>
public sealed record SchemaLoadResult(ComposeSchema? Schema, IReadOnlyList<Diagnostic> Diagnostics)
{
    public bool HasErrors => Diagnostics.Any(d => d.IsError);
}

/// <summary>Reads the unified schema with YamlDotNet and binds it to the typed model.</summary>
public static partial class SchemaLoader
{
    /// <summary>Reads, binds and validates: every problem of the file, in source order.</summary>
    public static SchemaLoadResult Load(string path, string? displayPath = null, string? rootDirectory = null)
    {
        var diagnostics = new DiagnosticBag();
        var schema = Parse(path, displayPath ?? path, diagnostics);
        if (schema is not null)
        {
            SchemaValidator.Validate(schema, diagnostics, rootDirectory ?? Directory.GetCurrentDirectory());
        }

        return new SchemaLoadResult(schema, diagnostics.Items);
    }

    /// <summary>Reads a schema that must be valid, or throws with its first errors (for targets that only consume it).</summary>
    public static ComposeSchema LoadValid(string path, string? displayPath = null, string? rootDirectory = null)
    {
        var result = Load(path, displayPath, rootDirectory);
        if (result.HasErrors)
        {
            var errors = result.Diagnostics.Where(d => d.IsError).ToList();
            var more = errors.Count > 1 ? $" (and {errors.Count - 1} more: run ValidateSchema)" : string.Empty;
            throw new SchemaException($"{errors[0]}{more}");
        }

        return result.Schema!;
    }

    internal static ComposeSchema? Parse(string path, string displayPath, DiagnosticBag diagnostics)
    {
        var schema = ParseDocument<ComposeSchema>(path, displayPath, diagnostics, "the schema", "schema file not found: pass --schema PATH");
        if (schema is not null)
        {
            schema.File = displayPath;
        }

        return schema;
    }

    /// <summary>
    /// Reads a single-document YAML file and binds it to <typeparamref name="T"/>: a missing file, malformed YAML (with
    /// its position), unknown keys and wrong shapes are all diagnostics at file:line:col. The one path for every
    /// configuration file (the schema, backup strategies, …).
    /// </summary>
    internal static T? ParseDocument<T>(string path, string displayPath, DiagnosticBag diagnostics, string what, string notFound) where T : SchemaNode, new()
    {
        var origin = new SourceLocation(displayPath, 1, 1);
        if (!File.Exists(path))
        {
            diagnostics.Error(origin, notFound);
            return null;
        }

        var text = File.ReadAllText(path);
        var stream = new YamlStream();
        var parser = new Parser(new StringReader(text));
        try
        {
            stream.Load(parser);
        }
        catch (YamlException e)
        {
            var (line, column, message) = YamlError.Describe(e, text, parser);
            diagnostics.Error(new SourceLocation(displayPath, line, column), $"malformed YAML: {message}");
            return null;
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException)
        {
            // The scanner gave up without a position: point after the last event it did understand.
            var end = parser.Current?.End ?? Mark.Empty;
            var line = Math.Max((int)end.Line, 1);
            var column = Math.Max((int)end.Column, 1);
            diagnostics.Error(new SourceLocation(displayPath, line, column), $"malformed YAML after this point (check brackets, quotes and indentation): {e.Message}");
            return null;
        }

        if (stream.Documents.Count == 0)
        {
            diagnostics.Error(origin, $"{what} is empty");
            return null;
        }

        if (stream.Documents.Count > 1)
        {
            var second = stream.Documents[1].RootNode.Start;
            diagnostics.Error(new SourceLocation(displayPath, (int)second.Line, (int)second.Column), $"{what} must be a single YAML document");
        }

        return new YamlBinder(displayPath, diagnostics).Bind<T>(stream.Documents[0].RootNode, what);
    }

    /// <summary>
    /// The outline only — environment names, stacks and their dependencies — without binding or validating (fast; the
    /// --environment value set and the stack targets' dependencies use it). Throws <see cref="SchemaException"/> when the
    /// file cannot be read.
    /// </summary>
    public static SchemaOutline ReadOutline(string path)
    {
        if (!File.Exists(path))
        {
            throw new SchemaException($"schema file '{path}' not found");
        }

        var stream = LoadYaml(path, path, "schema");
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            return new SchemaOutline([], []);
        }

        static YamlNode? Child(YamlMappingNode node, string key) => node.Children.TryGetValue(new YamlScalarNode(key), out var child) ? child : null;
        var environments = Child(root, "environments") is YamlMappingNode map ? map.Children.Keys.OfType<YamlScalarNode>().Select(k => k.Value!).ToList() : [];
        var stacks = new List<OutlineStack>();
        if (Child(root, "stacks") is YamlMappingNode stackMap)
        {
            foreach (var (key, value) in stackMap.Children)
            {
                var dependsOn = value is YamlMappingNode stack && Child(stack, "depends_on") is YamlSequenceNode list
                    ? list.Children.OfType<YamlScalarNode>().Select(d => d.Value!).ToList()
                    : [];
                stacks.Add(new OutlineStack(((YamlScalarNode)key).Value!, dependsOn));
            }
        }

        return new SchemaOutline(environments, stacks);
    }
}

public static partial class SchemaLoader
{
    /// <summary>Reads a small YAML file (not the schema's full diagnostics path): a syntax error is one line with its position.</summary>
    internal static YamlStream LoadYaml(string path, string displayPath, string what)
    {
        var text = File.ReadAllText(path);
        var stream = new YamlStream();
        var parser = new Parser(new StringReader(text));
        try
        {
            stream.Load(parser);
        }
        catch (YamlException e)
        {
            var (line, column, message) = YamlError.Describe(e, text, parser);
            throw new SchemaException($"{displayPath}:{line}:{column}: malformed YAML in the {what}: {message}");
        }

        return stream;
    }
}

/// <summary>
/// Where a YAML syntax error really is, and what it says. YamlDotNet reports a tab in the indentation at 1:1 ("while
/// scanning a mapping") or at the scalar before it; the tab's own line and column are found in the text instead.
/// </summary>
internal static class YamlError
{
    public static (int Line, int Column, string Message) Describe(YamlException e, string text, IParser? parser)
    {
        var message = (e.InnerException?.Message ?? e.Message).Split('\n')[0];
        if (message.StartsWith('(') && message.Contains("): ", StringComparison.Ordinal))
        {
            message = message[(message.IndexOf("): ", StringComparison.Ordinal) + 3)..];
        }

        if (message.Contains("tab", StringComparison.OrdinalIgnoreCase)
            && IndentationTab(text, (int)Math.Max(1, parser?.Current?.End.Line ?? 1)) is { } tab)
        {
            return (tab.Line, tab.Column, "a tab in the indentation: YAML indents with spaces only");
        }

        return (Math.Max((int)e.Start.Line, 1), Math.Max((int)e.Start.Column, 1), message);
    }

    /// <summary>
    /// The first tab in the leading whitespace of a line, from line <paramref name="fromLine"/> on (the parser understood
    /// everything before its last event, so a tab in an earlier block scalar's content is no culprit).
    /// </summary>
    internal static (int Line, int Column)? IndentationTab(string text, int fromLine)
    {
        var lines = text.Split('\n');
        for (var i = fromLine - 1; i < lines.Length; i++)
        {
            for (var j = 0; j < lines[i].Length && lines[i][j] is ' ' or '\t'; j++)
            {
                if (lines[i][j] == '\t')
                {
                    return (i + 1, j + 1);
                }
            }
        }

        return null;
    }
}

/// <summary>A schema problem for a consumer of the schema: one line, with the position.</summary>
public sealed class SchemaException(string message) : LlmStack.Pipeline.PipelineException(message);
