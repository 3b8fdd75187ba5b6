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
    public static ServiceSpec Build(ResolvedEnvironment environment, ResolvedService service, ContainerPlan plan, EndpointChoice endpoint)
    {
        var create = plan.Create;
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
                    Env = create.Env,
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
