using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Docker.DotNet.Models;
using LlmStack.Reporting;

namespace LlmStack.Engine;

/// <summary>
/// The parts of a container's definition a plan names when they differ. Together they cover the whole create call and
/// the networks, as the config hash does: <see cref="Settings"/> is everything the others leave (healthcheck, restart
/// policy, user, working directory, stop grace period, …). <see cref="Replicas"/> is no part of a container: a plan names
/// it for the replicas a changed count creates or removes.
/// </summary>
public enum Aspect
{
    Image,
    Command,
    Entrypoint,
    Environment,
    Ports,
    Mounts,
    Networks,
    Resources,
    Labels,
    Settings,
    Replicas,
}

/// <summary>
/// Per-aspect digests of a container's definition, written at create time into the <c>io.llmstack.config-digests</c>
/// label, so a plan can say what differs from the labels alone (a live engine and an exported snapshot give the same
/// answer), never from the values: environment variables have one digest per name, salted with the compose project, so
/// a secret's value is compared by hash and never shown. The config hash stays the one test of "unchanged"; these only
/// explain a difference it found.
/// </summary>
public sealed class ConfigDigests
{
    private const string EnvironmentPrefix = "env:";
    private const int Length = 16;

    private ConfigDigests(IReadOnlyDictionary<Aspect, string> aspects, IReadOnlyDictionary<string, string> environment)
    {
        Aspects = aspects;
        Environment = environment;
    }

    /// <summary>One digest per aspect of the container (<see cref="Aspect.Replicas"/> aside).</summary>
    public IReadOnlyDictionary<Aspect, string> Aspects { get; }

    /// <summary>One digest per environment variable name.</summary>
    public IReadOnlyDictionary<string, string> Environment { get; }

    /// <summary>The JSON paths of the create call each aspect covers; <see cref="Aspect.Settings"/> is what they leave.</summary>
    private static readonly IReadOnlyList<(Aspect Aspect, string[] Path)> Paths =
    [
        (Aspect.Image, ["Image"]),
        (Aspect.Command, ["Cmd"]),
        (Aspect.Entrypoint, ["Entrypoint"]),
        (Aspect.Environment, ["Env"]),
        (Aspect.Labels, ["Labels"]),
        (Aspect.Ports, ["ExposedPorts"]),
        (Aspect.Ports, ["HostConfig", "PortBindings"]),
        (Aspect.Mounts, ["HostConfig", "Mounts"]),
        (Aspect.Networks, ["NetworkingConfig"]),
        (Aspect.Resources, ["HostConfig", "NanoCpus"]),
        (Aspect.Resources, ["HostConfig", "Memory"]),
        (Aspect.Resources, ["HostConfig", "MemoryReservation"]),
        (Aspect.Resources, ["HostConfig", "ShmSize"]),
        (Aspect.Resources, ["HostConfig", "DeviceRequests"]),
    ];

    /// <summary>
    /// The digests of a create call (before the hash and digest labels are added to it) and its networks;
    /// <paramref name="salt"/> (the compose project) makes equal values of two environments differ.
    /// </summary>
    public static ConfigDigests Of(CreateContainerParameters create, IReadOnlyList<string> networks, string salt)
    {
        var rest = JsonSerializer.SerializeToNode(create)!.AsObject();
        var parts = new Dictionary<Aspect, List<JsonNode?>>();
        foreach (var (aspect, path) in Paths)
        {
            if (!parts.TryGetValue(aspect, out var list))
            {
                parts[aspect] = list = [];
            }

            list.Add(Take(rest, path));
        }

        parts[Aspect.Networks].Add(JsonSerializer.SerializeToNode(networks));
        var aspects = parts.ToDictionary(p => p.Key, p => Digest(salt, p.Key.ToString(), new JsonArray([.. p.Value]).ToJsonString()));
        aspects[Aspect.Settings] = Digest(salt, nameof(Aspect.Settings), rest.ToJsonString());

        var environment = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var variable in create.Env ?? [])
        {
            var equals = variable.IndexOf('=', StringComparison.Ordinal);
            environment[equals < 0 ? variable : variable[..equals]] = Digest(salt, EnvironmentPrefix, variable);
        }

        return new ConfigDigests(aspects, environment);
    }

    /// <summary>The label's value: one JSON line, aspects then <c>env:NAME</c> keys.</summary>
    public string Serialize()
    {
        var all = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (aspect, digest) in Aspects.OrderBy(a => a.Key))
        {
            all[JsonNamingPolicy.CamelCase.ConvertName(aspect.ToString())] = digest;
        }

        foreach (var (name, digest) in Environment)
        {
            all[EnvironmentPrefix + name] = digest;
        }

        return JsonSerializer.Serialize(all, JsonDefaults.Line);
    }

    /// <summary>A label's digests; null without the label (a container made before per-aspect digests) or when it cannot be read.</summary>
    public static ConfigDigests? Parse(string? label)
    {
        if (string.IsNullOrEmpty(label))
        {
            return null;
        }

        Dictionary<string, string>? all;
        try
        {
            all = JsonSerializer.Deserialize<Dictionary<string, string>>(label);
        }
        catch (JsonException)
        {
            return null;
        }

        if (all is null)
        {
            return null;
        }

        var aspects = new Dictionary<Aspect, string>();
        var environment = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, digest) in all)
        {
            if (key.StartsWith(EnvironmentPrefix, StringComparison.Ordinal))
            {
                environment[key[EnvironmentPrefix.Length..]] = digest;
            }
            else if (Enum.TryParse<Aspect>(key, ignoreCase: true, out var aspect))
            {
                aspects[aspect] = digest;
            }
        }

        return new ConfigDigests(aspects, environment);
    }

    /// <summary>Removes a part from the create call and returns it (absent: null, as a null value is).</summary>
    private static JsonNode? Take(JsonObject root, string[] path)
    {
        var parent = root;
        foreach (var key in path[..^1])
        {
            if (parent[key] is not JsonObject child)
            {
                return null;
            }

            parent = child;
        }

        var node = parent[path[^1]];
        parent.Remove(path[^1]);
        return node;
    }

    private static string Digest(string salt, string aspect, string value) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{salt}\n{aspect}\n{value}")))[..Length];
}
