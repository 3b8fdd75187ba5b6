using System.Text.Json;
using System.Text.Json.Nodes;

namespace LlmStack.Pipeline;

/// <summary>
/// Writes <c>.nuke/build.schema.json</c> (JSON schema of parameters.json: parameters, target names, value sets)
/// when its content changed. It is committed, so editors complete parameter files.
/// </summary>
internal static class BuildSchemaWriter
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>
    /// Regenerates the schema when the build program or a value set changed. The check is a stamp in
    /// <paramref name="temporaryDirectory"/> over the build assembly's identity and the value sets, so an
    /// unchanged build does not pay for JSON generation on every start.
    /// </summary>
    public static bool WriteIfChanged(string file, string temporaryDirectory, IReadOnlyList<ExecutableTarget> targets, IReadOnlyList<ParameterDescriptor> parameters, BuiltInParameters builtIns)
    {
        if (!Directory.Exists(Path.GetDirectoryName(file)))
        {
            return false;
        }

        var buildAssembly = targets.Select(t => t.DeclaringType.Assembly).FirstOrDefault() ?? typeof(BuildSchemaWriter).Assembly;
        var key = string.Join('|',
            [buildAssembly.ManifestModule.ModuleVersionId.ToString(), File.Exists(file) ? new FileInfo(file).Length.ToString(System.Globalization.CultureInfo.InvariantCulture) : "-",
             .. parameters.Select(p => p.Name + "=" + string.Join(',', p.ValueSet ?? []))]);
        var stamp = Path.Combine(temporaryDirectory, "build.schema.stamp");
        if (File.Exists(stamp) && File.ReadAllText(stamp) == key)
        {
            return false;
        }

        var changed = Write(file, targets, parameters, builtIns);
        Directory.CreateDirectory(temporaryDirectory);
        File.WriteAllText(stamp, key);
        return changed;
    }

    private static bool Write(string file, IReadOnlyList<ExecutableTarget> targets, IReadOnlyList<ParameterDescriptor> parameters, BuiltInParameters builtIns)
    {
        var content = Create(targets, parameters, builtIns).ToJsonString(Indented).Replace("\r\n", "\n", StringComparison.Ordinal) + "\n";
        if (File.Exists(file) && File.ReadAllText(file) == content)
        {
            return false;
        }

        File.WriteAllText(file, content);
        return true;
    }

    internal static JsonObject Create(IReadOnlyList<ExecutableTarget> targets, IReadOnlyList<ParameterDescriptor> parameters, BuiltInParameters builtIns)
    {
        var targetNames = new JsonArray(targets.Select(t => t.Name).Order(StringComparer.Ordinal).Select(n => (JsonNode)n!).ToArray());
        var builtInProperties = new JsonObject();
        foreach (var parameter in builtIns.All.OrderBy(p => p.Name, StringComparer.Ordinal))
        {
            builtInProperties[parameter.Name] = parameter == builtIns.Target || parameter == builtIns.Skip
                ? new JsonObject
                {
                    ["type"] = "array",
                    ["description"] = parameter.Description,
                    ["items"] = new JsonObject { ["$ref"] = "#/definitions/ExecutableTarget" },
                }
                : Property(parameter);
        }

        var properties = new JsonObject();
        foreach (var parameter in parameters)
        {
            properties[parameter.Name] = Property(parameter);
        }

        return new JsonObject
        {
            ["$schema"] = "http://json-schema.org/draft-04/schema#",
            ["definitions"] = new JsonObject
            {
                ["ExecutableTarget"] = new JsonObject { ["type"] = "string", ["enum"] = targetNames },
                ["PipelineBuild"] = new JsonObject { ["properties"] = builtInProperties },
            },
            ["allOf"] = new JsonArray(
                new JsonObject { ["properties"] = properties },
                new JsonObject { ["$ref"] = "#/definitions/PipelineBuild" }),
        };
    }

    private static JsonObject Property(ParameterDescriptor parameter)
    {
        var element = new JsonObject
        {
            ["type"] = parameter.ElementType == typeof(bool) ? "boolean"
                : parameter.ElementType == typeof(int) || parameter.ElementType == typeof(long) ? "integer"
                : parameter.ElementType == typeof(double) ? "number"
                : "string",
        };
        if (parameter.ValueSet is { Count: > 0 } set)
        {
            element["enum"] = new JsonArray(set.Select(v => (JsonNode)v!).ToArray());
        }

        var property = parameter.IsArray ? new JsonObject { ["type"] = "array", ["items"] = element } : element;
        if (parameter.Description is not null)
        {
            property["description"] = parameter.Description;
        }

        if (parameter.IsSecret)
        {
            property["default"] = $"Secrets are never stored here: set environment variable {parameter.VariableName}";
        }

        return property;
    }
}
