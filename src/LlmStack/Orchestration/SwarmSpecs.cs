using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Docker.DotNet.Models;
using LlmStack.Compose;
using LlmStack.Engine;
using LlmStack.Schema;

using SchemaEndpointMode = LlmStack.Schema.EndpointMode;

namespace LlmStack.Orchestration;

/// <summary>The endpoint mode a run uses and why (said in the output).</summary>
public sealed record EndpointChoice(SchemaEndpointMode Mode, string Why)
{
    /// <summary>The Engine API's spelling.</summary>
    public string Api => Mode == SchemaEndpointMode.Vip ? "vip" : "dnsrr";
}

/// <summary>A Swarm secret as a service's task mounts it: the variable it stands for (<see cref="SwarmSecretFile"/>) and the secret on the swarm.</summary>
public sealed record SwarmSecretMount(SwarmSecretFile File, string Id, string Name);

/// <summary>
/// The pure half of the swarm orchestrator: the endpoint mode, the update policy with its defaults, a service's spec
/// (from the same container plan the containers orchestrator creates, so both run the same definition) and its hash.
/// </summary>
public static class SwarmSpecs
{
    /// <summary>Whether the kernel of this host has IPVS (Swarm's virtual IPs and routing mesh need it).</summary>
    public static bool HostHasIpvs() => File.Exists("/proc/net/ip_vs") || Directory.Exists("/sys/module/ip_vs");

    /// <summary>
    /// The schema's endpoint mode, or for <c>auto</c>: a virtual IP where the kernel has IPVS, DNS round robin where it
    /// has not (virtual IPs would resolve but never answer).
    /// </summary>
    public static EndpointChoice Endpoint(SchemaEndpointMode wanted, bool ipvs) => wanted switch
    {
        SchemaEndpointMode.Vip => new(SchemaEndpointMode.Vip, ipvs ? "vip (schema)" : "vip (schema; this host has no IPVS, so virtual IPs will not answer)"),
        SchemaEndpointMode.Dnsrr => new(SchemaEndpointMode.Dnsrr, "dnsrr (schema)"),
        _ when ipvs => new(SchemaEndpointMode.Vip, "vip (auto: the kernel has IPVS)"),
        _ => new(SchemaEndpointMode.Dnsrr, "dnsrr (auto: the kernel has no IPVS, so no virtual IPs and no routing mesh; ports are published in host mode)"),
    };

    /// <summary>The update policy (<see cref="SwarmUpdatePolicy.For"/>: the schema's <c>update:</c> over the defaults) in Docker's terms.</summary>
    public static SwarmUpdateConfig Update(ResolvedService service) => Config(SwarmUpdatePolicy.For(service));

    /// <summary>How a rollback is carried out (<see cref="SwarmUpdatePolicy.Rollback"/>).</summary>
    public static SwarmUpdateConfig Rollback(ResolvedService service) => Config(SwarmUpdatePolicy.For(service).Rollback);

    private static SwarmUpdateConfig Config(SwarmUpdatePolicy policy) => new()
    {
        Parallelism = (ulong)policy.Parallelism,
        Order = SwarmWords.Text(policy.Order),
        FailureAction = SwarmWords.Text(policy.FailureAction),
        Monitor = policy.Monitor,
        Delay = policy.Delay,
    };

    /// <summary>
    /// The service's spec: the container plan's image, command, environment, user, mounts, healthcheck and labels in a
    /// task template; the stack networks it joins (by name, the service's name as alias); replicas; restart policy;
    /// placement by node labels; ports in host mode (Swarm publishes them on every interface); resources; the update and
    /// rollback policies; and the spec hash label.
    /// </summary>
    public static ServiceSpec Build(ResolvedEnvironment environment, ResolvedService service, ContainerPlan plan, EndpointChoice endpoint, IReadOnlyList<SwarmSecretMount>? secrets = null)
    {
        var create = plan.Create;
        secrets ??= [];
        var labels = Labels.SwarmService(environment, service);
        var taskLabels = new Dictionary<string, string>(labels);
        foreach (var (key, value) in create.Labels.Where(l => service.Labels.Any(own => own.Key == l.Key)))
        {
            taskLabels[key] = value;
        }

        var spec = new ServiceSpec
        {
            Name = ServiceName(environment, service),
            Labels = labels,
            Mode = new ServiceMode { Replicated = new ReplicatedService { Replicas = (ulong)service.Replicas } },
            TaskTemplate = new TaskSpec
            {
                ContainerSpec = new ContainerSpec
                {
                    Image = plan.Image,
                    Labels = taskLabels,
                    Command = create.Entrypoint,
                    Args = create.Cmd,
                    Env = EnvironmentOf(create.Env, secrets),
                    Secrets = secrets.Count == 0 ? null! : secrets.Select(Reference).ToList(),
                    User = create.User,
                    Dir = create.WorkingDir,
                    Hostname = null!,
                    Mounts = create.HostConfig!.Mounts,
                    Healthcheck = create.Healthcheck,
                    StopGracePeriod = service.StopGracePeriod,
                },
                Networks = service.Networks.Select(stack => new NetworkAttachmentConfig { Target = environment.NetworkOf(stack).Name, Aliases = [service.Name] }).ToList(),
                RestartPolicy = new SwarmRestartPolicy
                {
                    Condition = service.Restart switch { "no" => "none", "on-failure" => "on-failure", _ => "any" },
                    Delay = TimeSpan.FromSeconds(5),
                },
                Placement = new Placement
                {
                    Constraints = [.. SwarmServicePlan.ConstraintsOf(service)],
                },
                Resources = Resources(service),
            },
            UpdateConfig = Update(service),
            RollbackConfig = Rollback(service),
            EndpointSpec = new EndpointSpec
            {
                Mode = endpoint.Api,
                Ports = service.Ports.Where(p => p.HostPort is not null).Select(p => new PortConfig
                {
                    Protocol = p.Protocol,
                    TargetPort = (uint)p.ContainerPort,
                    PublishedPort = (uint)p.HostPort!.Value,
                    PublishMode = "host",
                }).ToList(),
            },
        };
        labels[Names.SpecHash] = Hash(spec);
        return spec;
    }

    /// <summary>
    /// The service's environment on the swarm: each variable a Swarm secret carries is replaced, in place, by
    /// <c>&lt;VAR&gt;_FILE=/run/secrets/&lt;SECRET&gt;</c>, so its value is not in the service's spec.
    /// </summary>
    public static IList<string> EnvironmentOf(IList<string>? env, IReadOnlyList<SwarmSecretMount> secrets)
    {
        if (secrets.Count == 0 || env is null)
        {
            return env!;
        }

        return env.Select(entry =>
        {
            var name = entry.Split('=', 2)[0];
            return secrets.FirstOrDefault(s => s.File.Variable == name) is { } secret ? $"{secret.File.FileVariable}={secret.File.Path}" : entry;
        }).ToList();
    }

    /// <summary>The secret mounted read-only for everyone in the task (0444, root-owned, as <c>docker service create --secret</c> does): the image may drop root before reading it.</summary>
    private static SecretReference Reference(SwarmSecretMount secret) => new()
    {
        SecretID = secret.Id,
        SecretName = secret.Name,
        File = new SecretReferenceFileTarget { Name = secret.File.Target, UID = "0", GID = "0", Mode = Convert.ToUInt32("444", 8) },
    };

    /// <summary>Swarm's longest secret name.</summary>
    public const int MaxSecretName = 64;

    /// <summary>
    /// The Swarm secret's name for a value: <c>&lt;project&gt;_&lt;SECRET&gt;_&lt;12 hex&gt;</c>, the hex a SHA-256 of the secret's
    /// name and value. Swarm secrets are immutable, so a new value is a new secret (and the service an update); the
    /// base is shortened when the whole would pass Swarm's 64 characters.
    /// </summary>
    public static string SecretName(SwarmSecretFile file, string value)
    {
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"llmstack-swarm-secret\0{file.SwarmName}\0{value}")))[..12];
        var name = file.SwarmName;
        if (name.Length + 13 > MaxSecretName)
        {
            name = name[..(MaxSecretName - 13)].TrimEnd('_', '-', '.');
        }

        return $"{name}_{hash}";
    }

    /// <summary>The swarm service's name: the project and the service (as compose's stack deploy would name it).</summary>
    public static string ServiceName(ResolvedEnvironment environment, ResolvedService service) => $"{environment.Project}_{service.Name}";

    /// <summary>A hash of the spec without its own hash label: equal hashes, nothing to update.</summary>
    public static string Hash(ServiceSpec spec)
    {
        var labels = spec.Labels.Where(kv => kv.Key != Names.SpecHash).OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList();
        var json = JsonSerializer.Serialize(new { labels, spec.Mode, spec.TaskTemplate, spec.UpdateConfig, spec.RollbackConfig, spec.EndpointSpec, spec.Name });
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(json)))[..32];
    }

    private static ResourceRequirements? Resources(ResolvedService service)
    {
        if (service.Resources is not { } resources)
        {
            return null;
        }

        static long? Nano(double? cpus) => cpus is { } value ? (long)(value * 1_000_000_000) : null;
        return new ResourceRequirements
        {
            Limits = new SwarmLimit { NanoCPUs = Nano(resources.CpuLimit), MemoryBytes = resources.MemoryLimit },
            Reservations = new SwarmResources { NanoCPUs = Nano(resources.CpuReservation), MemoryBytes = resources.MemoryReservation },
        };
    }

    /// <summary>Replicas as the table shows them: running/desired.</summary>
    public static string Replicas(ulong running, ulong desired) => string.Create(CultureInfo.InvariantCulture, $"{running}/{desired}");
}
