using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Docker.DotNet.Models;
using LlmStack.Compose;
using LlmStack.Pipeline;
using LlmStack.Schema;

namespace LlmStack.Engine;

/// <summary>What one replica of a service should look like: the create call, the networks to join, the config hash.</summary>
public sealed class ContainerPlan
{
    public required ResolvedService Service { get; init; }

    public required int Number { get; init; }

    public required string Name { get; init; }

    public required string Image { get; init; }

    public required CreateContainerParameters Create { get; init; }

    /// <summary>Networks joined after create (API 1.41 takes one network at create time), with aliases.</summary>
    public required IReadOnlyList<(string Network, IList<string> Aliases)> ExtraNetworks { get; init; }

    /// <summary>Every network the container must be attached to: the one it is created on, then the extra ones.</summary>
    public IReadOnlyList<string> Networks => [.. Create.NetworkingConfig!.EndpointsConfig!.Keys, .. ExtraNetworks.Select(n => n.Network)];

    /// <summary>Hash of everything that defines the container (secret values included): a change means recreate.</summary>
    public required string ConfigHash { get; init; }

    /// <summary>Per-aspect digests of the same definition: what a plan names when the hash differs.</summary>
    public required ConfigDigests Digests { get; init; }
}

/// <summary>Turns a resolved service into Docker create parameters (compose-compatible names and labels).</summary>
public static class ContainerSpecs
{
    public static ContainerPlan Build(ResolvedEnvironment environment, ResolvedService service, int number, string image, Func<string, string?> secrets, string rootDirectory)
    {
        string Value(string composeForm) => Interpolation.Materialize(composeForm, secrets);

        var name = service.ContainerName ?? Names.Container(environment.Project, service.Name, number);
        var labels = Labels.ServiceContainer(environment, service, number);
        foreach (var (key, value) in service.Labels)
        {
            labels[key] = Value(value);
        }

        var exposed = new Dictionary<string, EmptyStruct>();
        var bindings = new Dictionary<string, IList<PortBinding>>();
        foreach (var port in service.Ports)
        {
            var key = $"{port.ContainerPort}/{port.Protocol}";
            exposed[key] = default;
            if (!bindings.TryGetValue(key, out var list))
            {
                bindings[key] = list = [];
            }

            list.Add(new PortBinding
            {
                HostIP = port.HostIp ?? string.Empty,
                HostPort = port.HostPort?.ToString(CultureInfo.InvariantCulture) ?? string.Empty,
            });
        }

        var mounts = new List<Mount>();
        foreach (var mount in service.Volumes)
        {
            if (mount.Kind == MountKind.Volume)
            {
                var volume = environment.Volumes.Single(v => v.Key == mount.Source);
                mounts.Add(new Mount { Type = "volume", Source = volume.Name, Target = mount.Target, ReadOnly = mount.ReadOnly });
            }
            else
            {
                var source = mount.Source.StartsWith('~')
                    ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), mount.Source.TrimStart('~', '/'))
                    : Path.GetFullPath(mount.Source, rootDirectory);
                if (!File.Exists(source) && !Directory.Exists(source))
                {
                    throw new PipelineException($"bind-mount source '{mount.Source}' of service '{service.Name}' does not exist ({source}): create it or fix the schema");
                }

                mounts.Add(new Mount { Type = "bind", Source = source, Target = mount.Target, ReadOnly = mount.ReadOnly });
            }
        }

        var host = new HostConfig
        {
            PortBindings = bindings,
            Mounts = mounts,
            RestartPolicy = new RestartPolicy
            {
                Name = service.Restart switch
                {
                    "always" => RestartPolicyKind.Always,
                    "on-failure" => RestartPolicyKind.OnFailure,
                    "unless-stopped" => RestartPolicyKind.UnlessStopped,
                    _ => RestartPolicyKind.No,
                },
            },
            ShmSize = service.ShmSize ?? 0,
            NanoCPUs = service.Resources?.CpuLimit is { } cpus ? (long)(cpus * 1_000_000_000) : 0,
            Memory = service.Resources?.MemoryLimit ?? 0,
            MemoryReservation = service.Resources?.MemoryReservation ?? 0,
            Init = false,
        };
        if (service.Gpu is { } gpu)
        {
            host.DeviceRequests =
            [
                new DeviceRequest
                {
                    Driver = "nvidia",
                    Count = gpu.DeviceIds.Count > 0 ? 0 : gpu.Count,
                    DeviceIDs = gpu.DeviceIds.Count > 0 ? [.. gpu.DeviceIds] : null!,
                    Capabilities = [new List<string> { "gpu" }],
                },
            ];
        }

        var networks = service.Networks.Select(stack => environment.NetworkOf(stack).Name).ToList();
        var aliases = new List<string> { service.Name };
        var create = new CreateContainerParameters
        {
            Name = name,
            Image = image,
            Labels = labels,
            Env = service.Environment.Select(kv => $"{kv.Key}={Value(kv.Value)}").ToList(),
            Cmd = service.Command?.Select(Value).ToList()!,
            Entrypoint = service.Entrypoint?.Select(Value).ToList()!,
            User = service.User is null ? null! : Value(service.User),
            WorkingDir = service.WorkingDir is null ? null! : Value(service.WorkingDir),
            ExposedPorts = exposed,
            StopTimeout = service.StopGracePeriod,
            Healthcheck = service.Healthcheck is { } check
                ? new HealthcheckConfig
                {
                    Test = check.Test.Select(Value).ToList(),
                    Interval = check.Disabled ? null : check.Interval,
                    Timeout = check.Disabled ? null : check.Timeout,
                    Retries = check.Disabled ? null : check.Retries,
                    StartPeriod = check.Disabled ? null : check.StartPeriod,
                }
                : null,
            HostConfig = host,
            NetworkingConfig = new NetworkingConfig
            {
                EndpointsConfig = new Dictionary<string, EndpointSettings> { [networks[0]] = new() { Aliases = aliases } },
            },
        };

        var extra = networks.Skip(1).Select(n => (n, (IList<string>)aliases)).ToList();
        var hash = Hash(create, networks);
        var digests = ConfigDigests.Of(create, networks, environment.Project);
        Labels.Definition(labels, hash, digests.Serialize());
        return new ContainerPlan { Service = service, Number = number, Name = name, Image = image, Create = create, ExtraNetworks = extra, ConfigHash = hash, Digests = digests };
    }

    /// <summary>Every replica of every service of a stack, by service: what Start creates, and what a plan compares with.</summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<ContainerPlan>> ForStack(
        ResolvedEnvironment environment, string stack, Func<string, string> images, Func<string, string?> secrets, string rootDirectory) =>
        environment.Services.Where(s => s.Stack == stack).ToDictionary(
            s => s.Name,
            s => (IReadOnlyList<ContainerPlan>)Enumerable.Range(1, s.Replicas).Select(n => Build(environment, s, n, images(s.Image), secrets, rootDirectory)).ToList(),
            StringComparer.Ordinal);

    private static string Hash(CreateContainerParameters create, IReadOnlyList<string> networks)
    {
        var json = JsonSerializer.Serialize(new { create, networks });
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(json)))[..32];
    }
}
