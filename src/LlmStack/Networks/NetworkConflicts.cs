using System.Net;
using Docker.DotNet.Models;
using LlmStack.Engine;
using LlmStack.Schema;

namespace LlmStack.Networks;

/// <summary>A Docker network as the checks see it: every IPAM subnet (IPv4 and IPv6), its labels and its bridge device.</summary>
public sealed record DockerNetwork(string Id, string Name, IReadOnlyList<IPNetwork> Subnets, IDictionary<string, string>? Labels, string Bridge, int Containers)
{
    public static async Task<IReadOnlyList<DockerNetwork>> ListAsync(DockerEngine engine, CancellationToken cancellationToken)
    {
        var result = new List<DockerNetwork>();
        foreach (var listed in await engine.CallAsync(ct => engine.Client.Networks.ListNetworksAsync(new NetworksListParameters(), ct), cancellationToken))
        {
            var network = await engine.CallAsync(ct => engine.Client.Networks.InspectNetworkAsync(listed.ID, ct), cancellationToken);
            result.Add(From(network));
        }

        return result;
    }

    internal static DockerNetwork From(NetworkResponse network)
    {
        var subnets = (network.IPAM?.Config ?? [])
            .Select(c => IPNetwork.TryParse(c.Subnet ?? string.Empty, out var subnet) ? subnet : (IPNetwork?)null)
            .Where(s => s is not null)
            .Select(s => s!.Value)
            .ToList();
        var bridge = network.Options is not null && network.Options.TryGetValue("com.docker.network.bridge.name", out var name)
            ? name
            : "br-" + network.ID[..Math.Min(12, network.ID.Length)];
        return new DockerNetwork(network.ID, network.Name, subnets, network.Labels, bridge, network.Containers?.Count ?? 0);
    }
}

/// <summary>One overlap: a network the environment wants, and what it collides with.</summary>
public sealed record NetworkConflict(string Network, string Stack, IPNetwork Subnet, string Kind, string With);

/// <summary>
/// Overlaps of an environment's networks with: the other networks of the schema; every Docker network (all IPAM
/// subnets) except the very network the environment owns; host routes (VPNs, other bridges) and interface
/// addresses; the DNS resolvers. Docker checks none of the host side.
/// </summary>
public static class NetworkConflicts
{
    public static IReadOnlyList<NetworkConflict> Find(
        ResolvedEnvironment environment,
        IReadOnlyList<ResolvedNetwork> wanted,
        IReadOnlyList<(string Environment, ResolvedNetwork Network)> schemaNetworks,
        IReadOnlyList<DockerNetwork> dockerNetworks,
        HostNetworkState host)
    {
        var scope = Scope.Of(environment);
        var bridges = Bridges(dockerNetworks);
        var conflicts = new List<NetworkConflict>();
        foreach (var network in wanted)
        {
            void Add(string kind, string with) => conflicts.Add(new NetworkConflict(network.Name, network.Stack, network.Subnet, kind, with));

            foreach (var (otherEnvironment, other) in schemaNetworks)
            {
                if (other.Name != network.Name && Subnets.Overlap(network.Subnet, other.Subnet))
                {
                    Add("schema", $"{otherEnvironment}/{other.Stack} ({other.Subnet})");
                }
            }

            foreach (var docker in dockerNetworks)
            {
                if (docker.Name == network.Name && scope.Owns(docker.Labels))
                {
                    continue; // the environment's own network (a differing subnet is drift: ValidateNetworks)
                }

                foreach (var subnet in docker.Subnets.Where(s => Subnets.Overlap(network.Subnet, s)))
                {
                    Add("docker", $"Docker network '{docker.Name}' ({subnet})");
                }
            }

            foreach (var route in host.Routes.Where(r => !bridges.Contains(r.Interface) && Subnets.Overlap(network.Subnet, r.Network)))
            {
                Add("route", $"host route {route.Network} on {route.Interface}");
            }

            foreach (var address in host.Addresses.Where(a => !bridges.Contains(a.Interface) && Subnets.Overlap(network.Subnet, a.Network)))
            {
                Add("address", $"address {address.Address}/{address.PrefixLength} on {address.Interface}");
            }

            foreach (var resolver in host.Resolvers.Where(network.Subnet.Contains))
            {
                Add("resolver", $"DNS resolver {resolver} (/etc/resolv.conf)");
            }
        }

        return conflicts
            .DistinctBy(c => (c.Network, c.With))
            .ToList();
    }

    /// <summary>
    /// Free private subnets for each network of the environment (same prefix length): the current one when it
    /// collides with nothing, else the next free one, scanning the RFC 1918 ranges.
    /// </summary>
    public static IReadOnlyList<(string Stack, IPNetwork Subnet, IPAddress Gateway, bool Changed)> Suggest(
        ResolvedEnvironment environment,
        IReadOnlyList<(string Environment, ResolvedNetwork Network)> schemaNetworks,
        IReadOnlyList<DockerNetwork> dockerNetworks,
        HostNetworkState host)
    {
        var scope = Scope.Of(environment);
        var bridges = Bridges(dockerNetworks);
        var taken = new List<IPNetwork>();
        taken.AddRange(schemaNetworks.Where(n => n.Environment != environment.Name).Select(n => n.Network.Subnet));
        taken.AddRange(dockerNetworks
            .Where(d => !(scope.Owns(d.Labels) && environment.Networks.Any(n => n.Name == d.Name)))
            .SelectMany(d => d.Subnets));
        taken.AddRange(host.Routes.Where(r => !bridges.Contains(r.Interface)).Select(r => r.Network));
        taken.AddRange(host.Addresses.Where(a => !bridges.Contains(a.Interface)).Select(a => a.Network));
        taken.AddRange(host.Resolvers.Select(r => new IPNetwork(r, r.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128)));

        // Keep every current subnet that is free first, so a moved one never lands on a neighbour's.
        var keep = environment.Networks.Where(n => !taken.Any(t => Subnets.Overlap(t, n.Subnet))).ToList();
        taken.AddRange(keep.Select(n => n.Subnet));
        var result = new List<(string, IPNetwork, IPAddress, bool)>();
        foreach (var network in environment.Networks)
        {
            if (keep.Contains(network))
            {
                result.Add((network.Stack, network.Subnet, network.Gateway, false));
                continue;
            }

            var subnet = NextFree(network.Subnet, taken) ?? throw new LlmStack.Pipeline.PipelineException(
                $"no free private /{network.Subnet.PrefixLength} left for {environment.Name}/{network.Stack}: remove unused networks or routes");
            taken.Add(subnet);
            result.Add((network.Stack, subnet, Subnets.FirstHost(subnet), true));
        }

        return result;
    }

    /// <summary>Host devices that are Docker bridges: their routes and addresses are judged as Docker networks.</summary>
    private static HashSet<string> Bridges(IReadOnlyList<DockerNetwork> dockerNetworks) =>
        dockerNetworks.Select(n => n.Bridge).Append("docker0").ToHashSet(StringComparer.Ordinal);

    private static IPNetwork? NextFree(IPNetwork current, List<IPNetwork> taken)
    {
        if (!HostNetworkState.IsIpv4(current))
        {
            return null;
        }

        var size = 1u << (32 - current.PrefixLength);
        var pools = new[] { IPNetwork.Parse("10.0.0.0/8"), IPNetwork.Parse("172.16.0.0/12"), IPNetwork.Parse("192.168.0.0/16") };
        // Start right after the current subnet (keeps an environment's networks together), then the whole pools.
        var starts = new List<(uint From, uint To)>();
        foreach (var pool in pools.Where(p => p.PrefixLength <= current.PrefixLength))
        {
            var first = ToUInt(pool.BaseAddress);
            var last = first + (uint)((1L << (32 - pool.PrefixLength)) - 1);
            var here = ToUInt(current.BaseAddress);
            if (pool.Contains(current.BaseAddress))
            {
                starts.Add((here, last));
            }

            starts.Add((first, last));
        }

        foreach (var (from, to) in starts)
        {
            for (var candidate = from; candidate <= to - size + 1 && candidate >= from; candidate += size)
            {
                var subnet = new IPNetwork(FromUInt(candidate), current.PrefixLength);
                if (!taken.Any(t => Subnets.Overlap(t, subnet)))
                {
                    return subnet;
                }
            }
        }

        return null;
    }

    private static uint ToUInt(IPAddress address)
    {
        var bytes = address.GetAddressBytes();
        return ((uint)bytes[0] << 24) | ((uint)bytes[1] << 16) | ((uint)bytes[2] << 8) | bytes[3];
    }

    private static IPAddress FromUInt(uint value) => new([(byte)(value >> 24), (byte)(value >> 16), (byte)(value >> 8), (byte)value]);
}
