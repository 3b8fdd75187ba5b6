using System.Globalization;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace LlmStack.Networks;

/// <summary>A route of the host (a VPN, another bridge, the LAN...).</summary>
public sealed record HostRoute(string Interface, IPNetwork Network);

/// <summary>An address configured on a host interface, with its prefix.</summary>
public sealed record HostAddress(string Interface, IPAddress Address, int PrefixLength)
{
    public IPNetwork Network => new(Mask(Address, PrefixLength), PrefixLength);

    internal static IPAddress Mask(IPAddress address, int prefix)
    {
        var bytes = address.GetAddressBytes();
        for (var bit = prefix; bit < bytes.Length * 8; bit++)
        {
            bytes[bit / 8] &= (byte)~(0x80 >> (bit % 8));
        }

        return new IPAddress(bytes);
    }
}

/// <summary>What the host itself uses: routes (IPv4 and IPv6), interface addresses and DNS resolvers.</summary>
public sealed record HostNetworkState(IReadOnlyList<HostRoute> Routes, IReadOnlyList<HostAddress> Addresses, IReadOnlyList<IPAddress> Resolvers)
{
    public static HostNetworkState Empty { get; } = new([], [], []);

    /// <summary>Reads /proc/net/route, /proc/net/ipv6_route, the interfaces and /etc/resolv.conf.</summary>
    public static HostNetworkState Read()
    {
        var routes = new List<HostRoute>();
        if (File.Exists("/proc/net/route"))
        {
            routes.AddRange(ParseIpv4Routes(File.ReadAllText("/proc/net/route")));
        }

        if (File.Exists("/proc/net/ipv6_route"))
        {
            routes.AddRange(ParseIpv6Routes(File.ReadAllText("/proc/net/ipv6_route")));
        }

        var addresses = new List<HostAddress>();
        foreach (var nic in NetworkInterface.GetAllNetworkInterfaces())
        {
            if (nic.NetworkInterfaceType == NetworkInterfaceType.Loopback)
            {
                continue;
            }

            foreach (var unicast in nic.GetIPProperties().UnicastAddresses)
            {
                if (!unicast.Address.IsIPv6LinkLocal && !IPAddress.IsLoopback(unicast.Address))
                {
                    addresses.Add(new HostAddress(nic.Name, unicast.Address, unicast.PrefixLength));
                }
            }
        }

        var resolvers = File.Exists("/etc/resolv.conf") ? ParseResolvConf(File.ReadAllText("/etc/resolv.conf")) : [];
        return new HostNetworkState(routes, addresses, resolvers);
    }

    /// <summary>/proc/net/route: hex little-endian destination and mask per interface; the default route is skipped.</summary>
    public static IReadOnlyList<HostRoute> ParseIpv4Routes(string text)
    {
        var routes = new List<HostRoute>();
        foreach (var line in text.Split('\n').Skip(1))
        {
            var fields = line.Split(['\t', ' '], StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 8
                || !uint.TryParse(fields[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var destination)
                || !uint.TryParse(fields[7], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var mask))
            {
                continue;
            }

            var prefix = System.Numerics.BitOperations.PopCount(mask);
            if (prefix == 0)
            {
                continue; // the default route covers everything: not a conflict
            }

            routes.Add(new HostRoute(fields[0], new IPNetwork(new IPAddress(destination), prefix)));
        }

        return routes;
    }

    /// <summary>/proc/net/ipv6_route: destination, prefix length (hex) … interface; default, link-local, multicast and loopback routes are skipped.</summary>
    public static IReadOnlyList<HostRoute> ParseIpv6Routes(string text)
    {
        var routes = new List<HostRoute>();
        foreach (var line in text.Split('\n'))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 10 || fields[0].Length != 32 || !int.TryParse(fields[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var prefix))
            {
                continue;
            }

            var bytes = Convert.FromHexString(fields[0]);
            var address = new IPAddress(bytes);
            var device = fields[^1];
            if (prefix == 0 || device == "lo" || address.IsIPv6LinkLocal || address.IsIPv6Multicast || IPAddress.IsLoopback(address))
            {
                continue;
            }

            routes.Add(new HostRoute(device, new IPNetwork(HostAddress.Mask(address, prefix), prefix)));
        }

        return routes;
    }

    public static IReadOnlyList<IPAddress> ParseResolvConf(string text) =>
        text.Split('\n')
            .Select(l => l.Trim())
            .Where(l => l.StartsWith("nameserver", StringComparison.Ordinal))
            .Select(l => l["nameserver".Length..].Trim().Split('%')[0])
            .Select(a => IPAddress.TryParse(a, out var address) ? address : null)
            .Where(a => a is not null && !IPAddress.IsLoopback(a))
            .Select(a => a!)
            .ToList();

    public static bool IsIpv4(IPNetwork network) => network.BaseAddress.AddressFamily == AddressFamily.InterNetwork;
}
