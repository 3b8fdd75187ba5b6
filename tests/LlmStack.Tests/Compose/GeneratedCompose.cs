using System.Text.Json.Nodes;
using LlmStack.Compose;
using LlmStack.Schema;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace LlmStack.Tests.Compose;

/// <summary>The default schema's compose files, generated once into a scratch directory for the whole class.</summary>
public sealed class GeneratedCompose : IDisposable
{
    public GeneratedCompose()
    {
        Output = Repository.TempDirectory("compose");
        Schema = new SchemaFile(Repository.Root, "schemas/compose-schema.yaml");
        Files = ComposeCommands.GenerateAll(Schema, Output, Serilog.Core.Logger.None);
    }

    public string Output { get; }

    public SchemaFile Schema { get; }

    public IReadOnlyList<string> Files { get; }

    public YamlMappingNode Read(string environment, string file)
    {
        var stream = new YamlStream();
        using var reader = new StreamReader(Path.Combine(Output, environment, file));
        stream.Load(reader);
        return (YamlMappingNode)stream.Documents[0].RootNode;
    }

    public void Dispose() => Directory.Delete(Output, recursive: true);

    /// <summary>YAML → JSON with YAML 1.2 core typing of plain scalars (what compose does).</summary>
    public static JsonNode? ToJson(YamlNode node) => node switch
    {
        YamlMappingNode mapping => new JsonObject(mapping.Children.Select(kv =>
            new KeyValuePair<string, JsonNode?>(((YamlScalarNode)kv.Key).Value!, ToJson(kv.Value)))),
        YamlSequenceNode sequence => new JsonArray(sequence.Children.Select(ToJson).ToArray()),
        YamlScalarNode { Style: ScalarStyle.Plain } scalar when long.TryParse(scalar.Value, out var number) => JsonValue.Create(number),
        YamlScalarNode { Style: ScalarStyle.Plain, Value: "true" or "false" } scalar => JsonValue.Create(scalar.Value == "true"),
        YamlScalarNode { Style: ScalarStyle.Plain, Value: null or "" or "null" or "~" } => null,
        YamlScalarNode scalar => JsonValue.Create(scalar.Value),
        _ => throw new InvalidOperationException("unexpected YAML node"),
    };
}
