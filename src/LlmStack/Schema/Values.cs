using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace LlmStack.Schema;

/// <summary>Cron schedules (UTC), as backups and GitHub's scheduled workflows use them.</summary>
public static class CronSchedule
{
    /// <summary>The last time <paramref name="cron"/> fired at or before <paramref name="now"/> (searched up to a year back); null if none.</summary>
    public static DateTimeOffset? LastOccurrence(Cronos.CronExpression cron, DateTimeOffset now)
    {
        // Widening windows: a per-minute schedule never enumerates a year of occurrences.
        foreach (var days in new[] { 1, 32, 367 })
        {
            var last = cron.GetOccurrences(now.UtcDateTime.AddDays(-days), now.UtcDateTime, TimeZoneInfo.Utc, fromInclusive: true, toInclusive: true)
                .Select(o => (DateTime?)o).LastOrDefault();
            if (last is { } found)
            {
                return new DateTimeOffset(found, TimeSpan.Zero);
            }
        }

        return null;
    }
}

/// <summary>Compose durations: <c>1m30s</c>, <c>10s</c>, <c>500ms</c>, <c>1h</c>.</summary>
public static partial class Duration
{
    [GeneratedRegex(@"^(?:(\d+(?:\.\d+)?)(h|ms|m|s|us|ns))+$")]
    private static partial Regex Shape();

    [GeneratedRegex(@"(\d+(?:\.\d+)?)(h|ms|m|s|us|ns)")]
    private static partial Regex Part();

    public static bool TryParse(string text, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        if (!Shape().IsMatch(text))
        {
            return false;
        }

        foreach (Match match in Part().Matches(text))
        {
            var amount = double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
            value += match.Groups[2].Value switch
            {
                "h" => TimeSpan.FromHours(amount),
                "m" => TimeSpan.FromMinutes(amount),
                "s" => TimeSpan.FromSeconds(amount),
                "ms" => TimeSpan.FromMilliseconds(amount),
                "us" => TimeSpan.FromMicroseconds(amount),
                _ => TimeSpan.FromTicks((long)(amount / 100)),
            };
        }

        return true;
    }

    /// <summary>A duration given as a parameter (<c>--lock-timeout 5m</c>); a bad value is one line naming the parameter.</summary>
    public static TimeSpan ParseParameter(string parameter, string text) =>
        TryParse(text.Trim(), out var value)
            ? value
            : throw new LlmStack.Pipeline.PipelineException($"Invalid value '{text}' for {parameter}: expected a duration like 30s, 5m or 1h30m.");

    /// <summary>Back to compose form: whole units, largest first.</summary>
    public static string Format(TimeSpan value)
    {
        if (value.Ticks % TimeSpan.TicksPerSecond != 0)
        {
            return $"{(long)value.TotalMilliseconds}ms";
        }

        var seconds = (long)value.TotalSeconds;
        var text = string.Empty;
        if (seconds >= 3600)
        {
            text += $"{seconds / 3600}h";
            seconds %= 3600;
        }

        if (seconds >= 60)
        {
            text += $"{seconds / 60}m";
            seconds %= 60;
        }

        return seconds > 0 || text.Length == 0 ? text + $"{seconds}s" : text;
    }
}

/// <summary>Byte sizes as compose writes them: <c>512m</c>, <c>4g</c>, <c>10gb</c>, <c>1024</c>.</summary>
public static partial class ByteSize
{
    [GeneratedRegex(@"^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$", RegexOptions.IgnoreCase)]
    private static partial Regex Shape();

    public static bool TryParse(string text, out long bytes)
    {
        bytes = 0;
        var match = Shape().Match(text.Trim());
        if (!match.Success)
        {
            return false;
        }

        var amount = double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        var factor = match.Groups[2].Value.ToLowerInvariant() switch
        {
            "k" => 1L << 10,
            "m" => 1L << 20,
            "g" => 1L << 30,
            "t" => 1L << 40,
            _ => 1L,
        };
        bytes = (long)(amount * factor);
        return bytes > 0;
    }

    /// <summary>A size for people: <c>512 B</c>, <c>1.5 KiB</c>, <c>12.3 MiB</c>, <c>1.25 GiB</c>.</summary>
    public static string Format(long bytes) => bytes switch
    {
        >= 1L << 30 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 30):0.00} GiB"),
        >= 1L << 20 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 20):0.0} MiB"),
        >= 1L << 10 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:0.0} KiB"),
        _ => $"{bytes} B",
    };
}

/// <summary>A published port: <c>[IP:]HOST:CONTAINER[/proto]</c> or <c>CONTAINER[/proto]</c>.</summary>
public sealed record PortMapping(string? HostIp, int? HostPort, int ContainerPort, string Protocol)
{
    public static bool TryParse(string text, out PortMapping mapping, out string problem)
    {
        mapping = null!;
        problem = string.Empty;
        var protocol = "tcp";
        var slash = text.LastIndexOf('/');
        if (slash >= 0)
        {
            protocol = text[(slash + 1)..].ToLowerInvariant();
            text = text[..slash];
            if (protocol is not ("tcp" or "udp" or "sctp"))
            {
                problem = $"unknown protocol '{protocol}' (tcp, udp or sctp)";
                return false;
            }
        }

        string? ip = null;
        if (text.StartsWith('['))
        {
            var end = text.IndexOf(']', StringComparison.Ordinal);
            if (end < 0 || end + 1 >= text.Length || text[end + 1] != ':')
            {
                problem = "an IPv6 host address is written [addr]:host:container";
                return false;
            }

            ip = text[1..end];
            text = text[(end + 2)..];
        }

        var pieces = text.Split(':');
        if (ip is null && pieces.Length == 3)
        {
            ip = pieces[0];
            pieces = pieces[1..];
        }

        if (pieces.Length > 2 || pieces.Length == 0)
        {
            problem = "expected [IP:]HOST:CONTAINER or CONTAINER";
            return false;
        }

        if (ip is not null && !IPAddress.TryParse(ip, out _))
        {
            problem = $"'{ip}' is not an IP address";
            return false;
        }

        if (!TryPort(pieces[^1], out var container))
        {
            problem = $"container port '{pieces[^1]}' is not a port number (ranges are not supported)";
            return false;
        }

        int? host = null;
        if (pieces.Length == 2)
        {
            if (!TryPort(pieces[0], out var h))
            {
                problem = $"host port '{pieces[0]}' is not a port number (ranges are not supported)";
                return false;
            }

            host = h;
        }

        mapping = new PortMapping(ip, host, container, protocol);
        return true;
    }

    /// <summary>Whether two published ports would fight over the same host socket.</summary>
    public bool Collides(PortMapping other) =>
        HostPort is { } port && other.HostPort == port && Protocol == other.Protocol
        && (IsWildcard(HostIp) || IsWildcard(other.HostIp) || string.Equals(HostIp, other.HostIp, StringComparison.OrdinalIgnoreCase));

    private static bool IsWildcard(string? ip) => ip is null or "0.0.0.0" or "::" or "";

    private static bool TryPort(string text, out int port) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out port) && port is > 0 and <= 65535;

    public override string ToString()
    {
        var host = HostPort is null ? string.Empty
            : HostIp is null ? $"{HostPort}:"
            : HostIp.Contains(':', StringComparison.Ordinal) ? $"[{HostIp}]:{HostPort}:" : $"{HostIp}:{HostPort}:";
        var proto = Protocol == "tcp" ? string.Empty : "/" + Protocol;
        return $"{host}{ContainerPort}{proto}";
    }
}

public enum MountKind
{
    Volume,
    Bind,
}

/// <summary>A mount: <c>volume:/path[:ro]</c> or <c>./host/path:/path[:ro]</c>.</summary>
public sealed record VolumeMount(MountKind Kind, string Source, string Target, bool ReadOnly)
{
    public static bool TryParse(string text, out VolumeMount mount, out string problem)
    {
        mount = null!;
        problem = string.Empty;
        var pieces = text.Split(':');
        if (pieces.Length is < 2 or > 3)
        {
            problem = pieces.Length == 1
                ? "anonymous volumes are not allowed: name the volume (name:/path) so it can be backed up and wiped by label"
                : "expected SOURCE:TARGET[:ro|rw]";
            return false;
        }

        var readOnly = false;
        if (pieces.Length == 3)
        {
            if (pieces[2] is not ("ro" or "rw"))
            {
                problem = $"unknown mode '{pieces[2]}' (ro or rw)";
                return false;
            }

            readOnly = pieces[2] == "ro";
        }

        var source = pieces[0];
        var target = pieces[1];
        if (!target.StartsWith('/'))
        {
            problem = $"target '{target}' must be an absolute path in the container";
            return false;
        }

        var kind = source.StartsWith('.') || source.StartsWith('/') || source.StartsWith('~') ? MountKind.Bind : MountKind.Volume;
        if (kind == MountKind.Volume && !Regex.IsMatch(source, "^[A-Za-z0-9][A-Za-z0-9_.-]*$"))
        {
            problem = $"'{source}' is neither a volume name nor a path (start bind mounts with ./ or /)";
            return false;
        }

        mount = new VolumeMount(kind, source, target, readOnly);
        return true;
    }

    public override string ToString() => $"{Source}:{Target}{(ReadOnly ? ":ro" : string.Empty)}";
}

/// <summary>Subnet arithmetic on <see cref="IPNetwork"/>.</summary>
public static class Subnets
{
    private static readonly IPNetwork[] PrivateV4 =
    [
        IPNetwork.Parse("10.0.0.0/8"),
        IPNetwork.Parse("172.16.0.0/12"),
        IPNetwork.Parse("192.168.0.0/16"),
    ];

    private static readonly IPNetwork PrivateV6 = IPNetwork.Parse("fc00::/7");

    /// <summary>Parses a CIDR; the address must be the network address (no host bits set).</summary>
    public static bool TryParse(string text, out IPNetwork network, out string problem)
    {
        problem = string.Empty;
        var given = text.Split('/')[0];
        if (IPNetwork.TryParse(text, out network) && IPAddress.TryParse(given, out var givenAddress) && !givenAddress.Equals(network.BaseAddress))
        {
            problem = $"'{text}' has host bits set: the network address is {network}";
            return false;
        }

        if (network == default)
        {
            var slash = text.IndexOf('/', StringComparison.Ordinal);
            if (slash > 0 && IPAddress.TryParse(text[..slash], out var address)
                && int.TryParse(text[(slash + 1)..], out var prefix)
                && prefix >= 0 && prefix <= (address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128))
            {
                problem = $"'{text}' has host bits set: the network address is {Normalize(address, prefix)}";
            }
            else
            {
                problem = $"'{text}' is not a CIDR subnet like 10.80.1.0/24";
            }

            return false;
        }

        return true;
    }

    public static bool IsPrivate(IPNetwork network) =>
        network.BaseAddress.AddressFamily == AddressFamily.InterNetwork
            ? PrivateV4.Any(p => p.PrefixLength <= network.PrefixLength && p.Contains(network.BaseAddress))
            : PrivateV6.PrefixLength <= network.PrefixLength && PrivateV6.Contains(network.BaseAddress);

    public static bool Overlap(IPNetwork a, IPNetwork b) =>
        a.BaseAddress.AddressFamily == b.BaseAddress.AddressFamily && (a.Contains(b.BaseAddress) || b.Contains(a.BaseAddress));

    /// <summary>The first usable host address: the conventional gateway.</summary>
    public static IPAddress FirstHost(IPNetwork network)
    {
        var bytes = network.BaseAddress.GetAddressBytes();
        for (var i = bytes.Length - 1; i >= 0; i--)
        {
            if (++bytes[i] != 0)
            {
                break;
            }
        }

        return new IPAddress(bytes);
    }

    private static string Normalize(IPAddress address, int prefix)
    {
        var bytes = address.GetAddressBytes();
        for (var bit = prefix; bit < bytes.Length * 8; bit++)
        {
            bytes[bit / 8] &= (byte)~(0x80 >> (bit % 8));
        }

        return $"{new IPAddress(bytes)}/{prefix}";
    }
}
