using Docker.DotNet;
using Docker.DotNet.Models;
using LlmStack.Pipeline;
using YamlDotNet.RepresentationModel;
using Serilog;

namespace LlmStack.Engine;

/// <summary>
/// Image substitutions (<c>--image-map</c>): a YAML map of image → replacement; the key <c>"*"</c> replaces
/// every image not listed. Used to run the real schema against local fixture images.
/// </summary>
public sealed class ImageMap
{
    private readonly Dictionary<string, string> _map;

    private ImageMap(Dictionary<string, string> map) => _map = map;

    public static ImageMap None { get; } = new(new Dictionary<string, string>());

    public static ImageMap Load(string? path, string rootDirectory)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            return None;
        }

        var full = Path.GetFullPath(path, rootDirectory);
        if (!File.Exists(full))
        {
            throw new PipelineException($"image map '{path}' not found: pass an existing --image-map file");
        }

        var stream = Schema.SchemaLoader.LoadYaml(full, path, "image map");

        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        if (stream.Documents.Count > 0 && stream.Documents[0].RootNode is not YamlMappingNode)
        {
            throw new PipelineException($"{path}: the image map must be a mapping of image: replacement");
        }

        var entries = stream.Documents.Count > 0
            ? ((YamlMappingNode)stream.Documents[0].RootNode).Children.ToList()
            : [];
        foreach (var (key, value) in entries)
        {
            if (key is not YamlScalarNode { Value: { Length: > 0 } from } || value is not YamlScalarNode { Value: { Length: > 0 } to })
            {
                throw new PipelineException($"{path}:{key.Start.Line}:{key.Start.Column}: entries are image: replacement");
            }

            map[from] = to;
        }

        return new ImageMap(map);
    }

    public string Apply(string image) =>
        _map.TryGetValue(image, out var replacement) ? replacement : _map.TryGetValue("*", out var fallback) ? fallback : image;
}

/// <summary>
/// What the engine has of an image (present, its ID, its details), how a reference splits into repository and tag, and the
/// engine's message of a refused request. Building and pulling are the Images area's (src/LlmStack/Images).
/// </summary>
public static class EngineImages
{
    public static async Task<bool> ExistsAsync(DockerEngine engine, string image, CancellationToken cancellationToken) =>
        await InspectAsync(engine, image, cancellationToken) is not null;

    /// <summary>The image's ID (to notice a re-tagged image), or null when the engine does not have it.</summary>
    public static async Task<string?> FindIdAsync(DockerEngine engine, string image, CancellationToken cancellationToken) =>
        (await InspectAsync(engine, image, cancellationToken))?.ID;

    /// <summary>The image's details (ID, size, labels), or null when the engine does not have it.</summary>
    public static async Task<ImageInspectResponse?> InspectAsync(DockerEngine engine, string image, CancellationToken cancellationToken)
    {
        try
        {
            return await engine.CallAsync(ct => engine.Client.Images.InspectImageAsync(image, ct), cancellationToken);
        }
        catch (DockerImageNotFoundException)
        {
            return null;
        }
        catch (DockerApiException e) when (e.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    public static (string Name, string Tag) Split(string image)
    {
        var at = image.IndexOf('@', StringComparison.Ordinal);
        if (at >= 0)
        {
            return (image[..at], image[(at + 1)..]);
        }

        var colon = image.LastIndexOf(':');
        return colon > image.LastIndexOf('/') ? (image[..colon], image[(colon + 1)..]) : (image, "latest");
    }

    public static string ApiMessage(DockerApiException e)
    {
        var body = e.ResponseBody ?? e.Message;
        try
        {
            using var json = System.Text.Json.JsonDocument.Parse(body);
            if (json.RootElement.TryGetProperty("message", out var message))
            {
                return message.GetString() ?? body;
            }
        }
        catch (System.Text.Json.JsonException)
        {
        }

        return body.Split('\n')[0];
    }
}
