using System.Collections;
using System.Globalization;
using System.Reflection;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;
using YamlDotNet.Serialization.NamingConventions;

namespace LlmStack.Schema;

/// <summary>
/// Maps a YamlDotNet representation tree onto the typed schema model. Keys are the snake_case names of the
/// model's properties; an unknown key, a wrong shape or a bad scalar is a diagnostic with its position,
/// and binding continues so one run reports every problem.
/// </summary>
internal sealed class YamlBinder(string file, DiagnosticBag diagnostics)
{
    private static readonly Dictionary<Type, Dictionary<string, PropertyInfo>> PropertyCache = new();

    public T Bind<T>(YamlNode node, string what) where T : SchemaNode, new() => (T)BindNode(node, typeof(T), what, null, string.Empty)!;

    private SourceLocation At(Mark mark) => new(file, (int)mark.Line, (int)mark.Column);

    private object? BindNode(YamlNode node, Type type, string what, SchemaNode? owner, string path)
    {
        if (IsNull(node))
        {
            return null;
        }

        if (typeof(SchemaNode).IsAssignableFrom(type))
        {
            return BindObject(node, type, what);
        }

        var nullable = Nullable.GetUnderlyingType(type) ?? type;
        if (nullable.IsGenericType && nullable.GetGenericTypeDefinition() == typeof(List<>))
        {
            return BindList(node, nullable, what, owner, path);
        }

        if (nullable.IsGenericType && nullable.GetGenericTypeDefinition() == typeof(Dictionary<,>))
        {
            return BindDictionary(node, nullable, what, owner, path);
        }

        return BindScalar(node, nullable, what);
    }

    private object? BindObject(YamlNode node, Type type, string what)
    {
        if (node is not YamlMappingNode mapping)
        {
            diagnostics.Error(At(node.Start), $"{what} must be a mapping, not {Describe(node)}");
            return null;
        }

        var result = (SchemaNode)Activator.CreateInstance(type)!;
        result.Location = At(mapping.Start);
        var properties = Properties(type);
        foreach (var (keyNode, valueNode) in mapping.Children)
        {
            var key = ((keyNode as YamlScalarNode)?.Value) ?? string.Empty;
            if (!properties.TryGetValue(key, out var property))
            {
                var allowed = string.Join(", ", properties.Keys);
                diagnostics.Error(At(keyNode.Start), $"unknown key '{key}' in {what} (allowed: {allowed})");
                continue;
            }

            result.Keys.Add(key);
            result.Locations[key] = At(keyNode.Start);
            var value = BindNode(valueNode, property.PropertyType, $"'{key}' of {what}", result, key);
            if (value is not null)
            {
                property.SetValue(result, value);
            }
        }

        return result;
    }

    private object? BindList(YamlNode node, Type type, string what, SchemaNode? owner, string path)
    {
        if (node is not YamlSequenceNode sequence)
        {
            diagnostics.Error(At(node.Start), $"{what} must be a list, not {Describe(node)}");
            return null;
        }

        var elementType = type.GetGenericArguments()[0];
        var list = (IList)Activator.CreateInstance(type)!;
        var index = 0;
        foreach (var item in sequence.Children)
        {
            var itemPath = $"{path}[{index}]";
            owner?.Locations.TryAdd(itemPath, At(item.Start));
            var value = BindNode(item, elementType, $"item {index + 1} of {what}", owner, itemPath);
            if (value is not null)
            {
                list.Add(value);
            }
            else if (IsNull(item))
            {
                diagnostics.Error(At(item.Start), $"item {index + 1} of {what} is empty");
            }

            index++;
        }

        return list;
    }

    private object? BindDictionary(YamlNode node, Type type, string what, SchemaNode? owner, string path)
    {
        if (node is not YamlMappingNode mapping)
        {
            diagnostics.Error(At(node.Start), $"{what} must be a mapping, not {Describe(node)}");
            return null;
        }

        var valueType = type.GetGenericArguments()[1];
        var dictionary = (IDictionary)Activator.CreateInstance(type)!;
        foreach (var (keyNode, valueNode) in mapping.Children)
        {
            if (keyNode is not YamlScalarNode { Value: { Length: > 0 } key })
            {
                diagnostics.Error(At(keyNode.Start), $"keys of {what} must be plain names");
                continue;
            }

            var entryPath = path.Length == 0 ? key : $"{path}.{key}";
            owner?.Locations.TryAdd(entryPath, At(keyNode.Start));
            var entryWhat = typeof(SchemaNode).IsAssignableFrom(valueType) ? $"{Singular(what)} '{key}'" : $"'{key}' of {what}";
            var value = BindNode(valueNode, valueType, entryWhat, owner, entryPath);
            if (value is null && typeof(SchemaNode).IsAssignableFrom(valueType) && IsNull(valueNode))
            {
                // "postgres_data:" with nothing after it means an empty definition.
                var empty = (SchemaNode)Activator.CreateInstance(valueType)!;
                empty.Location = At(keyNode.Start);
                value = empty;
            }
            else if (value is null && !IsNull(valueNode))
            {
                continue;
            }
            else if (value is null)
            {
                diagnostics.Error(At(valueNode.Start), $"{entryWhat} has no value (write \"\" for an empty string)");
                continue;
            }

            if (value is SchemaNode child && child.Location == default)
            {
                child.Location = At(keyNode.Start);
            }

            dictionary[key] = value;
        }

        return dictionary;
    }

    private object? BindScalar(YamlNode node, Type type, string what)
    {
        if (node is not YamlScalarNode scalar)
        {
            diagnostics.Error(At(node.Start), $"{what} must be a {TypeName(type)}, not {Describe(node)}");
            return null;
        }

        var text = scalar.Value ?? string.Empty;
        if (type == typeof(string))
        {
            return text;
        }

        if (type == typeof(int) && int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var number))
        {
            return number;
        }

        if (type == typeof(double) && scalar.Style == ScalarStyle.Plain && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var real) && double.IsFinite(real))
        {
            return real;
        }

        if (type == typeof(bool) && scalar.Style == ScalarStyle.Plain && text is "true" or "false")
        {
            return text == "true";
        }

        diagnostics.Error(At(node.Start), $"{what} must be a {TypeName(type)}, not '{text}'");
        return null;
    }

    private static bool IsNull(YamlNode node) =>
        node is YamlScalarNode { Style: ScalarStyle.Plain } scalar && (scalar.Value is null or "" or "~" or "null");

    private static string Describe(YamlNode node) => node switch
    {
        YamlMappingNode => "a mapping",
        YamlSequenceNode => "a list",
        YamlScalarNode s => $"'{s.Value}'",
        _ => "something else",
    };

    private static string TypeName(Type type) =>
        type == typeof(int) ? "whole number" : type == typeof(double) ? "number" : type == typeof(bool) ? "boolean (true or false)" : "string";

    private static string Singular(string what)
    {
        var text = what.Trim('\'');
        var name = text.Split('\'')[0];
        return name.EndsWith("ies", StringComparison.Ordinal) ? name[..^3] + "y" : name.EndsWith('s') ? name[..^1] : name;
    }

    /// <summary>The keys of a model type as YAML spells them (snake_case), with the properties they bind to (CheckDocs reads them).</summary>
    internal static IReadOnlyDictionary<string, PropertyInfo> KeysOf(Type type) => Properties(type);

    private static Dictionary<string, PropertyInfo> Properties(Type type)
    {
        lock (PropertyCache)
        {
            if (!PropertyCache.TryGetValue(type, out var map))
            {
                map = type.GetProperties(BindingFlags.Instance | BindingFlags.Public)
                    .Where(p => p.CanWrite && p.SetMethod!.IsPublic && p.DeclaringType != typeof(SchemaNode))
                    .ToDictionary(p => UnderscoredNamingConvention.Instance.Apply(p.Name), StringComparer.Ordinal);
                PropertyCache[type] = map;
            }

            return map;
        }
    }
}
