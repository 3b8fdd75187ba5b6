using System.Globalization;
using System.Net;
using Docker.DotNet;
using Docker.DotNet.Models;
using LlmStack.ChangeControl;
using LlmStack.Compose;
using LlmStack.Engine;
using LlmStack.Pipeline;
using LlmStack.Reporting;
using LlmStack.Schema;
using Serilog;

namespace LlmStack.Orchestration;

/// <summary>Where SwarmInit listens and what it advertises (<c>--swarm-listen</c>, <c>--swarm-advertise</c>).</summary>
public sealed record SwarmInitOptions(string ListenAddress, string? AdvertiseAddress, bool Adopt);

/// <summary>
/// The swarm itself: SwarmInit (a swarm marked as ours by a label on its spec, its address pool outside every schema
/// subnet), SwarmNodes, SwarmLabelNodes and SwarmLeave (both through the change gate). A swarm LlmStack did not
/// create is never changed unless the run says so.
/// </summary>
public sealed class SwarmCluster(DockerEngine engine, string project, ILogger log)
{
    /// <summary>Candidate default address pools for the swarm's own networks (ingress, overlay networks without a subnet).</summary>
    private static readonly string[] Pools = ["10.210.0.0/16", "10.211.0.0/16", "10.212.0.0/16", "172.29.0.0/16", "192.168.240.0/20"];

    /// <summary>The first candidate pool that overlaps none of <paramref name="taken"/> (every schema subnet, Docker's networks).</summary>
    public static IPNetwork AddressPool(IEnumerable<IPNetwork> taken)
    {
        var all = taken.ToList();
        foreach (var candidate in Pools.Select(IPNetwork.Parse))
        {
            if (!all.Any(t => Overlaps(candidate, t)))
            {
                return candidate;
            }
        }

        throw new PipelineException($"no default address pool for the swarm is free: {string.Join(", ", Pools)} all overlap the schema's or Docker's networks");
    }

    public static bool Overlaps(IPNetwork a, IPNetwork b) =>
        a.BaseAddress.AddressFamily == b.BaseAddress.AddressFamily && (a.Contains(b.BaseAddress) || b.Contains(a.BaseAddress));

    /// <summary>Whether the swarm carries our label (SwarmInit made it, or a run adopted it).</summary>
    public static bool IsOurs(SwarmInspectResponse swarm) => swarm.Spec?.Labels?.ContainsKey(Names.Swarm) == true;

    private async Task<SystemInfoResponse> InfoAsync(CancellationToken cancellationToken) =>
        await engine.CallAsync(ct => engine.Client.System.GetSystemInfoAsync(ct), cancellationToken);

    /// <summary>
    /// Makes this engine a single-node swarm manager on <paramref name="options"/>' addresses, labelled as ours. An
    /// existing swarm of ours is left as it is; one we did not make is refused unless <see cref="SwarmInitOptions.Adopt"/>
    /// (then only our label is added). Returns a line for the summary.
    /// </summary>
    public async Task<string> InitAsync(SwarmInitOptions options, IEnumerable<IPNetwork> schemaSubnets, CancellationToken cancellationToken)
    {
        var info = await InfoAsync(cancellationToken);
        if (info.Swarm?.LocalNodeState is "active" or "pending" or "locked")
        {
            if (!info.Swarm.ControlAvailable)
            {
                throw new PipelineException($"this engine is a worker of a swarm (node {info.Swarm.NodeID}): run LlmStack against a manager of that swarm");
            }

            var swarm = await SwarmStacks.SwarmAsync(engine, cancellationToken);
            if (IsOurs(swarm))
            {
                log.Information("The engine is already a manager of LlmStack's swarm {Swarm}: nothing to do", swarm.ID);
                return "already initialised";
            }

            if (!options.Adopt)
            {
                throw new PipelineException($"this engine is in swarm {swarm.ID}, which LlmStack did not create: use it with --swarm-adopt (only a label is added), or leave it yourself");
            }

            var spec = swarm.Spec!;
            spec.Labels = new Dictionary<string, string>(spec.Labels ?? new Dictionary<string, string>()) { [Names.Swarm] = project, [Names.Managed] = "true" };
            await engine.CallAsync(ct => engine.Client.Swarm.UpdateSwarmAsync(new SwarmUpdateParameters { Spec = spec, Version = (long)swarm.Version!.Index!.Value }, ct), cancellationToken);
            log.Warning("Adopted swarm {Swarm}: labelled as LlmStack's, nothing else changed", swarm.ID);
            return "adopted";
        }

        var networks = await engine.CallAsync(ct => engine.Client.Networks.ListNetworksAsync(new NetworksListParameters(), ct), cancellationToken);
        var dockerSubnets = networks.SelectMany(n => n.IPAM?.Config ?? []).Select(c => c.Subnet).Where(s => !string.IsNullOrEmpty(s)).Select(s => IPNetwork.Parse(s!));
        var pool = AddressPool(schemaSubnets.Concat(dockerSubnets));
        try
        {
            await engine.CallAsync(ct => engine.Client.Swarm.InitSwarmAsync(new SwarmInitParameters
            {
                ListenAddr = options.ListenAddress,
                AdvertiseAddr = options.AdvertiseAddress ?? options.ListenAddress.Split(':')[0],
                DefaultAddrPool = [pool.ToString()],
                SubnetSize = 24,
                Spec = new Spec { Labels = Labels.Swarm(project) },
            }, ct), cancellationToken);
        }
        catch (DockerApiException e)
        {
            throw new PipelineException($"Docker refused to initialise a swarm on {options.ListenAddress}: {EngineImages.ApiMessage(e)} (--swarm-listen, --swarm-advertise)");
        }

        var created = await SwarmStacks.SwarmAsync(engine, cancellationToken);
        log.Information("Initialised swarm {Swarm}: listening on {Listen}, default address pool {Pool}", created.ID, options.ListenAddress, pool);
        return $"initialised ({pool})";
    }

    /// <summary>SwarmNodes: hostname, role, state, availability, labels, CPUs, memory, engine version (--json).</summary>
    public async Task<Report> NodesAsync(CancellationToken cancellationToken)
    {
        var swarm = await SwarmStacks.SwarmAsync(engine, cancellationToken);
        var nodes = await engine.CallAsync(ct => engine.Client.Swarm.ListNodesAsync(ct), cancellationToken);
        var table = new TextTable("HOSTNAME", "ROLE", "STATE", "AVAILABILITY", "LABELS", "CPUS", "MEMORY", "ENGINE");
        var rows = new List<object>();
        foreach (var node in nodes.OrderBy(n => n.Description?.Hostname, StringComparer.Ordinal))
        {
            var labels = node.Spec?.Labels ?? new Dictionary<string, string>();
            var cpus = (node.Description?.Resources?.NanoCPUs ?? 0) / 1e9;
            var memory = node.Description?.Resources?.MemoryBytes ?? 0;
            var role = node.Spec?.Role + (node.ManagerStatus?.Leader == true ? " (leader)" : string.Empty);
            table.Add(node.Description?.Hostname ?? node.ID, role, node.Status?.State ?? "-", node.Spec?.Availability ?? "-",
                labels.Count == 0 ? "-" : string.Join(",", labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}")),
                cpus.ToString("0.##", CultureInfo.InvariantCulture), $"{memory / (1024.0 * 1024 * 1024):0.0} GiB", node.Description?.Engine?.EngineVersion ?? "-");
            rows.Add(new { id = node.ID, hostname = node.Description?.Hostname, role = node.Spec?.Role, leader = node.ManagerStatus?.Leader == true, state = node.Status?.State, availability = node.Spec?.Availability, labels, cpus, memoryBytes = memory, engine = node.Description?.Engine?.EngineVersion });
        }

        return new Report { Document = new { swarm = swarm.ID, ours = IsOurs(swarm), nodes = rows } }
            .Line($"Swarm {swarm.ID}{(IsOurs(swarm) ? " (LlmStack's)" : " (not created by LlmStack)")}")
            .Table(table)
            .FailWhen(nodes.Where(n => n.Status?.State != "ready").Select(n => n.Description?.Hostname ?? n.ID).ToList(), down => $"node(s) not ready: {string.Join(", ", down)}");
    }

    /// <summary>
    /// SwarmLabelNodes' plan: for each node the environment's <c>swarm.nodes</c> names (<c>self</c>: the node of this
    /// engine), the labels it lacks or has with another value. Labels it has that the schema does not name stay.
    /// </summary>
    public async Task<ChangePlan> LabelPlanAsync(ResolvedEnvironment environment, CancellationToken cancellationToken)
    {
        await SwarmStacks.SwarmAsync(engine, cancellationToken);
        var self = (await InfoAsync(cancellationToken)).Swarm?.NodeID;
        var nodes = await engine.CallAsync(ct => engine.Client.Swarm.ListNodesAsync(ct), cancellationToken);
        var changes = new List<PlannedChange>();
        foreach (var (name, wanted) in environment.Swarm.Nodes)
        {
            var node = nodes.FirstOrDefault(n => name == "self" ? n.ID == self : n.Description?.Hostname == name)
                ?? throw new PipelineException($"environment {environment.Name}: swarm node '{name}' is not in the swarm (nodes: {string.Join(", ", nodes.Select(n => n.Description?.Hostname))})");
            IDictionary<string, string> current = node.Spec?.Labels ?? new Dictionary<string, string>();
            var missing = wanted.Where(l => !current.TryGetValue(l.Key, out var have) || have != l.Value).ToList();
            if (missing.Count == 0)
            {
                continue;
            }

            var text = string.Join(",", missing.Select(l => $"{l.Key}={l.Value}"));
            changes.Add(new PlannedChange(ChangeKind.Node, node.Description?.Hostname ?? node.ID, ChangeAction.Label, $"swarm.nodes.{name} in the schema", async ct =>
            {
                var fresh = await engine.CallAsync(c => engine.Client.Swarm.InspectNodeAsync(node.ID, c), ct);
                var spec = fresh.Spec!;
                spec.Labels = new Dictionary<string, string>(spec.Labels ?? new Dictionary<string, string>());
                foreach (var (key, value) in wanted)
                {
                    spec.Labels[key] = value;
                }

                await engine.CallAsync(c => engine.Client.Swarm.UpdateNodeAsync(node.ID, fresh.Version!.Index!.Value, spec, c), ct);
                return text;
            }) { Detail = text });
        }

        return ChangePlan.Of(changes.Count == 0 ? "every node has its labels" : $"label {changes.Count} node(s)", changes);
    }

    /// <summary>SwarmLeave's plan: this engine leaves the swarm (its services and overlay networks go with it); a swarm LlmStack did not create only with <paramref name="force"/>.</summary>
    public async Task<ChangePlan> LeavePlanAsync(bool force, CancellationToken cancellationToken)
    {
        var info = await InfoAsync(cancellationToken);
        if (info.Swarm?.LocalNodeState is not ("active" or "pending" or "locked"))
        {
            return ChangePlan.Of("the engine is not in a swarm", []);
        }

        var ours = info.Swarm.ControlAvailable && IsOurs(await SwarmStacks.SwarmAsync(engine, cancellationToken));
        if (!ours && !force)
        {
            throw new PipelineException($"this engine is in a swarm LlmStack did not create (node {info.Swarm.NodeID}): leaving it would take its services down; pass --swarm-force to leave anyway");
        }

        var services = info.Swarm.ControlAvailable ? (await engine.CallAsync(ct => engine.Client.Swarm.ListServicesAsync(new ServiceListParameters(), ct), cancellationToken)).Count : 0;
        var change = new PlannedChange(ChangeKind.Swarm, info.Swarm.NodeID ?? "swarm", ChangeAction.Leave,
            ours ? "LlmStack's swarm" : "--swarm-force (not LlmStack's swarm)", async ct =>
            {
                await engine.CallAsync(c => engine.Client.Swarm.LeaveSwarmAsync(new SwarmLeaveParameters { Force = true }, c), ct);
                return $"left; {services} service(s) on it removed with it";
            }) { Detail = $"{services} service(s)" };
        return ChangePlan.Of("leave the swarm", [change]);
    }
}
