using System.Text;
using System.Text.Json;
using Docker.DotNet.Models;
using LlmStack.Pipeline;

namespace LlmStack.Images;

/// <summary>
/// The registry logins the Docker CLI keeps for this host (<c>docker login</c>): the <c>auths</c> of
/// <c>$DOCKER_CONFIG/config.json</c>, else <c>~/.docker/config.json</c>, passed to pulls (and to builds, for their
/// <c>FROM</c> images). Every password and token is registered with the run's masker first, and none is ever printed.
/// Credential helpers (<c>credsStore</c>, <c>credHelpers</c>) are not run: a registry that only they know is pulled
/// anonymously, and said so once.
/// </summary>
public sealed class RegistryCredentials
{
    /// <summary>Docker Hub's key in config.json, as <c>docker login</c> writes it.</summary>
    public const string DockerHubKey = "https://index.docker.io/v1/";

    public const string DockerHub = "docker.io";

    private readonly Dictionary<string, AuthConfig> _auths;
    private readonly IReadOnlySet<string> _helped;

    private RegistryCredentials(Dictionary<string, AuthConfig> auths, IReadOnlySet<string> helped, string? path)
    {
        _auths = auths;
        _helped = helped;
        Path = path;
    }

    public static RegistryCredentials None { get; } = new(new Dictionary<string, AuthConfig>(), new HashSet<string>(), null);

    /// <summary>The config file read (null: none).</summary>
    public string? Path { get; }

    /// <summary>The file of this host's logins: <c>$DOCKER_CONFIG/config.json</c>, else <c>~/.docker/config.json</c>.</summary>
    public static string DefaultPath() =>
        System.IO.Path.Combine(
            Environment.GetEnvironmentVariable("DOCKER_CONFIG") is { Length: > 0 } directory
                ? directory
                : System.IO.Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".docker"),
            "config.json");

    /// <summary>Reads <paramref name="path"/> (a missing file: no logins); a malformed one is one line naming it.</summary>
    public static RegistryCredentials Load(string path, Action<string> registerSecret)
    {
        if (!File.Exists(path))
        {
            return None;
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllText(path));
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
        {
            throw new PipelineException($"{path} cannot be read ({e.Message.Split('\n')[0]}): fix it (docker login rewrites it), or point DOCKER_CONFIG elsewhere");
        }

        using (document)
        {
            var auths = new Dictionary<string, AuthConfig>(StringComparer.OrdinalIgnoreCase);
            var helped = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("auths", out var entries) && entries.ValueKind == JsonValueKind.Object)
            {
                foreach (var entry in entries.EnumerateObject())
                {
                    if (Auth(entry.Name, entry.Value, registerSecret) is { } auth)
                    {
                        auths[Registry(entry.Name)] = auth;
                    }
                    else
                    {
                        helped.Add(Registry(entry.Name)); // a login a credential helper holds (config.json keeps only the name)
                    }
                }
            }

            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("credHelpers", out var helpers) && helpers.ValueKind == JsonValueKind.Object)
            {
                foreach (var helper in helpers.EnumerateObject())
                {
                    helped.Add(Registry(helper.Name));
                }
            }

            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("credsStore", out var store) && store.ValueKind == JsonValueKind.String)
            {
                helped.Add("*");
            }

            return new RegistryCredentials(auths, helped, path);
        }
    }

    /// <summary>The login for a registry (<see cref="RegistryOf"/>), or null: the pull is anonymous.</summary>
    public AuthConfig? For(string registry) => _auths.TryGetValue(registry, out var auth) ? auth : null;

    /// <summary>Whether the registry's login is a credential helper's, which LlmStack does not run.</summary>
    public bool OnlyAHelperKnows(string registry) => For(registry) is null && (_helped.Contains(registry) || _helped.Contains("*"));

    /// <summary>Every login, for a build's <c>FROM</c> images (the engine picks the one of each image's registry).</summary>
    public IReadOnlyList<AuthConfig> All => _auths.Values.ToList();

    /// <summary>
    /// The registry of an image reference, as Docker reads it: the first path component when it names a host (has a dot or
    /// a port, or is <c>localhost</c>), else Docker Hub.
    /// </summary>
    public static string RegistryOf(string image)
    {
        var slash = image.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0)
        {
            return DockerHub;
        }

        var first = image[..slash];
        return first.Contains('.', StringComparison.Ordinal) || first.Contains(':', StringComparison.Ordinal) || first == "localhost" ? Registry(first) : DockerHub;
    }

    /// <summary>A config.json key or registry name as one registry: scheme and path dropped, Docker Hub's names as <c>docker.io</c>.</summary>
    public static string Registry(string key)
    {
        var host = key;
        var scheme = host.IndexOf("://", StringComparison.Ordinal);
        if (scheme >= 0)
        {
            host = host[(scheme + 3)..];
        }

        host = host.Split('/')[0].ToLowerInvariant();
        return host is "index.docker.io" or "registry-1.docker.io" or "registry.hub.docker.com" or "docker.io" ? DockerHub : host;
    }

    private static AuthConfig? Auth(string key, JsonElement value, Action<string> registerSecret)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        string? Text(string name) => value.TryGetProperty(name, out var p) && p.ValueKind == JsonValueKind.String && p.GetString() is { Length: > 0 } s ? s : null;

        var auth = new AuthConfig { ServerAddress = Registry(key) == DockerHub ? DockerHubKey : key };
        if (Text("auth") is { } encoded)
        {
            string decoded;
            try
            {
                decoded = Encoding.UTF8.GetString(Convert.FromBase64String(encoded));
            }
            catch (FormatException)
            {
                throw new PipelineException($"the login for {key} in the Docker config is not base64 user:password: run docker login {Registry(key)} again");
            }

            var colon = decoded.IndexOf(':', StringComparison.Ordinal);
            auth.Username = colon < 0 ? decoded : decoded[..colon];
            auth.Password = colon < 0 ? string.Empty : decoded[(colon + 1)..];
            registerSecret(encoded);
        }
        else
        {
            auth.Username = Text("username") ?? string.Empty;
            auth.Password = Text("password") ?? string.Empty;
        }

        auth.IdentityToken = Text("identitytoken") ?? string.Empty;
        auth.RegistryToken = Text("registrytoken") ?? string.Empty;
        foreach (var secret in new[] { auth.Password, auth.IdentityToken, auth.RegistryToken })
        {
            if (secret.Length > 0)
            {
                registerSecret(secret);
            }
        }

        return auth.Username.Length + auth.Password.Length + auth.IdentityToken.Length + auth.RegistryToken.Length == 0 ? null : auth;
    }
}
