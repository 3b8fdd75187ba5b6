using YamlDotNet.RepresentationModel;

namespace LlmStack.IntegrationTests;

/// <summary>A temporary copy of the default schema with an edit applied (YAML tree, not text).</summary>
public static class SchemaCopy
{
    public static string Write(string root, Action<YamlMappingNode> edit)
    {
        var stream = new YamlStream();
        using (var reader = new StreamReader(Path.Combine(root, "schemas", "compose-schema.yaml")))
        {
            stream.Load(reader);
        }

        edit((YamlMappingNode)stream.Documents[0].RootNode);
        var path = Path.Combine(Path.GetTempPath(), $"llmstack-it-schema-{Guid.NewGuid():N}.yaml");
        using (var writer = new StreamWriter(path))
        {
            stream.Save(writer, assignAnchors: false);
        }

        return path;
    }

    public static YamlMappingNode Map(this YamlMappingNode node, string key)
    {
        if (!node.Children.TryGetValue(new YamlScalarNode(key), out var child))
        {
            child = new YamlMappingNode();
            node.Add(key, child);
        }

        return (YamlMappingNode)child;
    }

    public static YamlMappingNode Service(this YamlMappingNode schema, string name) => schema.Map("services").Map(name);

    public static void Set(this YamlMappingNode node, string key, YamlNode value) => node.Children[new YamlScalarNode(key)] = value;

    /// <summary>A stand-in service whose every health check fails (a 404), checked every second, so a start gives up on it within seconds.</summary>
    public static void FailHealth(this YamlMappingNode schema, string service)
    {
        var node = schema.Service(service);
        node.Map("environment").Set("STANDIN_FAIL_HEALTH", new YamlScalarNode("1"));
        var check = node.Map("healthcheck");
        check.Set("interval", new YamlScalarNode("1s"));
        check.Set("timeout", new YamlScalarNode("2s"));
        check.Set("retries", new YamlScalarNode("2"));
        check.Set("start_period", new YamlScalarNode("0s"));
    }
}
