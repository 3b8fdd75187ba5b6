using System.Globalization;
using System.Text;
using LlmStack.Schema;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.RepresentationModel;

namespace LlmStack.Compose;

/// <summary>
/// Writes compose files from a resolved environment: one standalone file per stack (the networks of the stacks
/// it depends on are external, cross-stack depends_on become a label) and one file with every stack.
/// Output is deterministic: the same schema gives byte-identical files.
/// </summary>
public static class ComposeGenerator
{
    public const string AllStacksFile = "all.yml";

    /// <summary>
    /// Writes <c>&lt;stack&gt;.yml</c> per enabled stack, <c>all.yml</c> and, given the swarm view, <c>swarm-stack.yml</c>
    /// (<see cref="StackFileGenerator"/>); removes stale .yml files there.
    /// </summary>
    public static IReadOnlyList<string> Write(ResolvedEnvironment environment, string rootDirectory, string outputDirectory, SwarmEnvironment? swarm = null)
    {
        Directory.CreateDirectory(outputDirectory);
        var written = new List<string>();
        foreach (var stack in environment.Stacks)
        {
            written.Add(WriteFile(Path.Combine(outputDirectory, stack.Name + ".yml"), Render(environment, [stack.Name], rootDirectory, outputDirectory)));
        }

        written.Add(WriteFile(Path.Combine(outputDirectory, AllStacksFile), Render(environment, null, rootDirectory, outputDirectory)));
        if (swarm is not null)
        {
            if (environment.Stacks.Any(s => s.Name + ".yml" == StackFileGenerator.FileName))
            {
                throw new SchemaException($"stack '{Path.GetFileNameWithoutExtension(StackFileGenerator.FileName)}' would overwrite the swarm stack file {StackFileGenerator.FileName}: rename the stack");
            }

            written.Add(WriteFile(Path.Combine(outputDirectory, StackFileGenerator.FileName), StackFileGenerator.Render(swarm, rootDirectory, outputDirectory)));
        }
        foreach (var stale in Directory.GetFiles(outputDirectory, "*.yml").Except(written))
        {
            File.Delete(stale);
        }

        return written;
    }

    internal static string WriteFile(string path, string content)
    {
        if (!File.Exists(path) || File.ReadAllText(path) != content)
        {
            File.WriteAllText(path, content);
        }

        return path;
    }

    /// <summary>The compose document for some stacks (null: all of them).</summary>
    public static string Render(ResolvedEnvironment environment, IReadOnlyCollection<string>? stacks, string rootDirectory, string outputDirectory)
    {
        var included = environment.Stacks.Where(s => stacks is null || stacks.Contains(s.Name)).Select(s => s.Name).ToList();
        var services = environment.Services.Where(s => included.Contains(s.Stack)).ToList();

        var root = new YamlMappingNode();
        root.Add("name", Plain(environment.Project));

        var servicesNode = new YamlMappingNode();
        foreach (var service in services)
        {
            servicesNode.Add(service.Name, ServiceNode(environment, service, included, rootDirectory, outputDirectory));
        }

        root.Add("services", servicesNode);

        var networksNode = new YamlMappingNode();
        foreach (var network in environment.Networks.Where(n => services.Any(s => s.Networks.Contains(n.Stack))))
        {
            var node = new YamlMappingNode { { "name", Plain(network.Name) } };
            if (!included.Contains(network.Stack))
            {
                node.Add("external", Plain("true"));
            }
            else
            {
                node.Add("driver", Plain(network.Driver));
                node.Add("ipam", new YamlMappingNode
                {
                    { "config", new YamlSequenceNode(new YamlMappingNode
                        {
                            { "subnet", Quoted(network.Subnet.ToString()) },
                            { "gateway", Quoted(network.Gateway.ToString()) },
                        })
                    },
                });
                node.Add("labels", Labels(Compose.Labels.Ours(environment.Name, network.Stack)));
            }

            networksNode.Add(network.Stack, node);
        }

        root.Add("networks", networksNode);

        var volumes = environment.Volumes.Where(v => services.Any(s => s.Volumes.Any(m => m.Kind == MountKind.Volume && m.Source == v.Key))).ToList();
        if (volumes.Count > 0)
        {
            var volumesNode = new YamlMappingNode();
            foreach (var volume in volumes)
            {
                volumesNode.Add(volume.Key, new YamlMappingNode
                {
                    { "name", Plain(volume.Name) },
                    { "driver", Plain(volume.Driver) },
                    { "labels", Labels(Compose.Labels.Ours(environment.Name, volume.Stacks[0]).Append(new(Names.Volume, volume.Key))) },
                });
            }

            root.Add("volumes", volumesNode);
        }

        return Document(
            [
                "Generated by LlmStack GenerateCompose from the unified schema. Do not edit: change the schema.",
                $"Environment: {environment.Name}; stacks: {string.Join(", ", included)}.",
                $"Secrets are ${{NAME}} references: docker compose --env-file secrets/{environment.Name}.env -f <this file> up -d",
            ],
            root);
    }

    /// <summary>A generated YAML file: its header comment lines, then the document (LF line ends, no document end marker).</summary>
    internal static string Document(IEnumerable<string> header, YamlMappingNode root)
    {
        var builder = new StringBuilder();
        foreach (var line in header)
        {
            builder.Append(CultureInfo.InvariantCulture, $"# {line}\n");
        }

        using (var writer = new StringWriter(CultureInfo.InvariantCulture))
        {
            new YamlStream(new YamlDocument(root)).Save(writer, assignAnchors: false);
            var text = writer.ToString().Replace("\r\n", "\n", StringComparison.Ordinal);
            builder.Append(text.EndsWith("...\n", StringComparison.Ordinal) ? text[..^4] : text);
        }

        return builder.ToString().Replace("\r\n", "\n", StringComparison.Ordinal);
    }

    private static YamlMappingNode ServiceNode(ResolvedEnvironment environment, ResolvedService service, List<string> included, string rootDirectory, string outputDirectory)
    {
        var node = new YamlMappingNode { { "image", Quoted(service.Image) } };
        if (service.Build is { } build)
        {
            node.Add("build", BuildNode(build, rootDirectory, outputDirectory));
        }

        if (service.ContainerName is not null)
        {
            node.Add("container_name", Quoted(service.ContainerName));
        }

        if (service.Entrypoint is not null)
        {
            node.Add("entrypoint", Sequence(service.Entrypoint.Select(SecretsRequired(environment))));
        }

        if (service.Command is not null)
        {
            node.Add("command", Sequence(service.Command.Select(SecretsRequired(environment))));
        }

        if (service.Environment.Count > 0)
        {
            var env = new YamlMappingNode();
            foreach (var (key, value) in service.Environment)
            {
                env.Add(key, Quoted(SecretsRequired(environment)(value)));
            }

            node.Add("environment", env);
        }

        if (service.Ports.Count > 0)
        {
            node.Add("ports", Sequence(service.Ports.Select(p => p.ToString())));
        }

        if (service.Volumes.Count > 0)
        {
            node.Add("volumes", Sequence(service.Volumes.Select(v => v.Kind == MountKind.Bind && !v.Source.StartsWith('/') && !v.Source.StartsWith('~')
                ? (v with { Source = RelativeBind(v.Source, rootDirectory, outputDirectory) }).ToString()
                : v.ToString())));
        }

        if (service.Healthcheck is { } check)
        {
            var health = new YamlMappingNode { { "test", Sequence(check.Test.Select(SecretsRequired(environment))) } };
            if (!check.Disabled)
            {
                health.Add("interval", Quoted(Duration.Format(check.Interval)));
                health.Add("timeout", Quoted(Duration.Format(check.Timeout)));
                health.Add("retries", Plain(check.Retries.ToString(CultureInfo.InvariantCulture)));
                health.Add("start_period", Quoted(Duration.Format(check.StartPeriod)));
            }

            node.Add("healthcheck", health);
        }

        var local = service.DependsOn.Where(d => included.Contains(environment.Service(d).Stack)).ToList();
        if (local.Count > 0)
        {
            var depends = new YamlMappingNode();
            foreach (var dependency in local)
            {
                depends.Add(dependency, new YamlMappingNode
                {
                    { "condition", Plain(environment.Service(dependency).HasHealthcheck ? "service_healthy" : "service_started") },
                });
            }

            node.Add("depends_on", depends);
        }

        node.Add("restart", Quoted(service.Restart));
        AddNetworksAndUser(node, service);

        if (service.ShmSizeText is not null)
        {
            node.Add("shm_size", Quoted(service.ShmSizeText));
        }

        if (service.StopGracePeriod is { } grace)
        {
            node.Add("stop_grace_period", Quoted(Duration.Format(grace)));
        }

        var deploy = Deploy(service);
        if (deploy.Children.Count > 0)
        {
            node.Add("deploy", deploy);
        }

        var crossStack = service.DependsOn.Except(local).ToList();
        var labels = Compose.Labels.Ours(environment.Name, service.Stack, service.Name).Concat(service.Labels).ToList();
        if (crossStack.Count > 0)
        {
            labels.Add(new(Names.DependsOn, string.Join(",", crossStack)));
        }

        node.Add("labels", Labels(labels));
        return node;
    }

    /// <summary>compose's <c>build:</c>: a relative context rewritten relative to the output directory, as bind sources are.</summary>
    private static YamlMappingNode BuildNode(ResolvedBuild build, string rootDirectory, string outputDirectory)
    {
        var node = new YamlMappingNode
        {
            { "context", Quoted(Path.IsPathRooted(build.Context) ? build.Context : RelativeBind(build.Context, rootDirectory, outputDirectory)) },
            { "dockerfile", Quoted(build.Dockerfile) },
        };
        if (build.Args.Count > 0)
        {
            var args = new YamlMappingNode();
            foreach (var (key, value) in build.Args)
            {
                args.Add(key, Quoted(value));
            }

            node.Add("args", args);
        }

        if (build.Target is not null)
        {
            node.Add("target", Quoted(build.Target));
        }

        return node;
    }

    /// <summary>The service's networks (its name as alias on each), user and working directory: compose and stack files alike.</summary>
    internal static void AddNetworksAndUser(YamlMappingNode node, ResolvedService service)
    {
        var networks = new YamlMappingNode();
        foreach (var network in service.Networks)
        {
            networks.Add(network, new YamlMappingNode { { "aliases", Sequence([service.Name]) } });
        }

        node.Add("networks", networks);
        if (service.User is not null)
        {
            node.Add("user", Quoted(service.User));
        }

        if (service.WorkingDir is not null)
        {
            node.Add("working_dir", Quoted(service.WorkingDir));
        }
    }

    /// <summary><c>deploy.resources</c> with its limits, and the reservations (CPU and memory; the caller adds GPUs, then puts them in), for compose and stack files alike.</summary>
    internal static (YamlMappingNode Resources, YamlMappingNode Reservations) Resources(ResolvedService service)
    {
        var resources = new YamlMappingNode();
        if (service.Resources is { } r && (r.CpuLimitText ?? r.MemoryLimitText) is not null)
        {
            var limits = new YamlMappingNode();
            if (r.CpuLimitText is not null)
            {
                limits.Add("cpus", Quoted(r.CpuLimitText));
            }

            if (r.MemoryLimitText is not null)
            {
                limits.Add("memory", Quoted(r.MemoryLimitText));
            }

            resources.Add("limits", limits);
        }

        var reservations = new YamlMappingNode();
        if (service.Resources is { } res)
        {
            if (res.CpuReservationText is not null)
            {
                reservations.Add("cpus", Quoted(res.CpuReservationText));
            }

            if (res.MemoryReservationText is not null)
            {
                reservations.Add("memory", Quoted(res.MemoryReservationText));
            }
        }

        return (resources, reservations);
    }

    private static YamlMappingNode Deploy(ResolvedService service)
    {
        var deploy = new YamlMappingNode();
        if (service.Replicas != 1)
        {
            deploy.Add("replicas", Plain(service.Replicas.ToString(CultureInfo.InvariantCulture)));
        }

        var (resources, reservations) = Resources(service);

        if (service.Gpu is { } gpu)
        {
            var device = new YamlMappingNode { { "driver", Plain("nvidia") } };
            if (gpu.DeviceIds.Count > 0)
            {
                device.Add("device_ids", Sequence(gpu.DeviceIds));
            }
            else
            {
                device.Add("count", Plain(gpu.Count < 0 ? "all" : gpu.Count.ToString(CultureInfo.InvariantCulture)));
            }

            device.Add("capabilities", Sequence(["gpu"]));
            reservations.Add("devices", new YamlSequenceNode(device));
        }

        if (reservations.Children.Count > 0)
        {
            resources.Add("reservations", reservations);
        }

        if (resources.Children.Count > 0)
        {
            deploy.Add("resources", resources);
        }

        return deploy;
    }

    internal static YamlMappingNode Labels(IEnumerable<KeyValuePair<string, string>> labels)
    {
        var node = new YamlMappingNode();
        foreach (var (key, value) in labels)
        {
            node.Add(key, Quoted(value));
        }

        return node;
    }

    /// <summary>Secret references become <c>${NAME:?...}</c> so compose refuses to start with a missing secret.</summary>
    internal static Func<string, string> SecretsRequired(ResolvedEnvironment environment, string? fix = null) => text =>
    {
        fix ??= $"pass --env-file secrets/{environment.Name}.env";
        foreach (var secret in environment.Secrets.Keys)
        {
            text = text.Replace($"${{{secret}}}", $"${{{secret}:?{secret} is missing: {fix}}}", StringComparison.Ordinal);
        }

        return text;
    };

    internal static string RelativeBind(string source, string rootDirectory, string outputDirectory)
    {
        var relative = Path.GetRelativePath(outputDirectory, Path.GetFullPath(source, rootDirectory)).Replace('\\', '/');
        return relative.StartsWith('.') ? relative : "./" + relative;
    }

    internal static YamlSequenceNode Sequence(IEnumerable<string> items) =>
        new(items.Select(i => (YamlNode)Quoted(i))) { Style = SequenceStyle.Block };

    internal static YamlScalarNode Plain(string value) => new(value) { Style = ScalarStyle.Plain };

    internal static YamlScalarNode Quoted(string value) => new(value) { Style = ScalarStyle.DoubleQuoted };
}
