using System.Net;
using LlmStack.Networks;
using LlmStack.Schema;

namespace LlmStack.Tests.Networks;

public class NetworkConflictTests
{
    private static readonly SchemaFile Schema = new(Repository.Root, "schemas/compose-schema.yaml");
    private static readonly ResolvedEnvironment Testing = Schema.Resolve("testing");

    private static readonly IReadOnlyList<(string, ResolvedNetwork)> AllSchemaNetworks =
        Schema.Load().Environments.Keys.SelectMany(e => Schema.Resolve(e).Networks.Select(n => (e, n))).ToList();

    // A host with a LAN, Docker's default bridge, our own core network's bridge, and a VPN over 10.83.0.0/16.
    private const string RouteTable = """
        Iface	Destination	Gateway 	Flags	RefCnt	Use	Metric	Mask		MTU	Window	IRTT
        eth0	00000000	010200C0	0003	0	0	0	00000000	0	0	0
        eth0	000200C0	00000000	0001	0	0	0	00FFFFFF	0	0	0
        docker0	000011AC	00000000	0001	0	0	0	0000FFFF	0	0	0
        br-0123456789ab	0001530A	00000000	0001	0	0	0	00FFFFFF	0	0	0
        tun0	0000530A	00000000	0001	0	0	0	0000FFFF	0	0	0
        """;

    private const string Ipv6RouteTable = """
        fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
        fd008300000000000000000000000000 30 00000000000000000000000000000000 00 00000000000000000000000000000000 00000400 00000001 00000000 00000001      wg0
        fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
        00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000001 00000000 00000003     eth0
        fd000000000000000000000000000002 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000004 00000000 80200001       lo
        ff000000000000000000000000000000 08 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000005 00000000 00000001     eth0
        """;

    [Fact]
    public void The_ipv4_route_table_parses_without_the_default_route()
    {
        var routes = HostNetworkState.ParseIpv4Routes(RouteTable);
        routes.Select(r => $"{r.Interface} {r.Network}").Should().Equal(
            "eth0 192.0.2.0/24", "docker0 172.17.0.0/16", "br-0123456789ab 10.83.1.0/24", "tun0 10.83.0.0/16");
    }

    [Fact]
    public void The_ipv6_route_table_keeps_real_routes_only()
    {
        var routes = HostNetworkState.ParseIpv6Routes(Ipv6RouteTable);
        routes.Select(r => $"{r.Interface} {r.Network}").Should().Equal("eth0 fd00::/64", "wg0 fd00:8300::/48");
    }

    [Fact]
    public void Resolvers_come_from_resolv_conf_without_loopback_ones()
    {
        HostNetworkState.ParseResolvConf("# comment\nnameserver 10.83.1.53\nnameserver 127.0.0.53\nsearch corp\nnameserver fd00::53%eth0\n")
            .Select(a => a.ToString()).Should().Equal("10.83.1.53", "fd00::53");
    }

    [Fact]
    public void A_vpn_route_conflicts_with_every_network_inside_it_and_names_both_sides()
    {
        var docker0 = new DockerNetwork("f6", "bridge", [IPNetwork.Parse("172.17.0.0/16")], null, "docker0", 0);
        var own = new DockerNetwork("0123456789abcdef", "multimodal-testing_core", [IPNetwork.Parse("10.83.1.0/24")], OwnLabels("core"), "br-0123456789ab", 3);
        var host = new HostNetworkState(HostNetworkState.ParseIpv4Routes(RouteTable), [], []);
        var conflicts = NetworkConflicts.Find(Testing, Testing.Networks, AllSchemaNetworks, [docker0, own], host);
        conflicts.Should().HaveCount(6).And.OnlyContain(c => c.Kind == "route" && c.With == "host route 10.83.0.0/16 on tun0");
        conflicts.Select(c => c.Network).Should().Contain("multimodal-testing_core");
    }

    [Fact]
    public void Docker_bridges_are_judged_as_docker_networks_not_as_routes()
    {
        // br-0123456789ab carries 10.83.1.0/24: it is the bridge of our own core network, which is not a conflict.
        var own = new DockerNetwork("0123456789abcdef", "multimodal-testing_core", [IPNetwork.Parse("10.83.1.0/24")], OwnLabels("core"), "br-0123456789ab", 3);
        var routes = HostNetworkState.ParseIpv4Routes(RouteTable).Where(r => r.Interface != "tun0").ToList();
        NetworkConflicts.Find(Testing, Testing.Networks, AllSchemaNetworks, [own], new HostNetworkState(routes, [], [])).Should().BeEmpty();
    }

    [Fact]
    public void A_foreign_docker_network_overlapping_is_reported_by_name_but_the_own_network_is_not()
    {
        var own = new DockerNetwork("a1", "multimodal-testing_core", [IPNetwork.Parse("10.83.1.0/24")], OwnLabels("core"), "br-a1", 4);
        var foreign = new DockerNetwork("b2", "multimodal-shared", [IPNetwork.Parse("172.30.0.0/16"), IPNetwork.Parse("10.83.2.128/25")], null, "br-b2", 0);
        var impostor = new DockerNetwork("c3", "multimodal-testing_ai", [IPNetwork.Parse("10.83.3.0/24")], new Dictionary<string, string> { ["com.docker.compose.project"] = "multimodal-testing" }, "br-c3", 0);
        var conflicts = NetworkConflicts.Find(Testing, Testing.Networks, AllSchemaNetworks, [own, foreign, impostor], HostNetworkState.Empty);
        conflicts.Select(c => (c.Network, c.Kind, c.With)).Should().BeEquivalentTo(new[]
        {
            ("multimodal-testing_inference", "docker", "Docker network 'multimodal-shared' (10.83.2.128/25)"),
            ("multimodal-testing_ai", "docker", "Docker network 'multimodal-testing_ai' (10.83.3.0/24)"),
        });
    }

    [Fact]
    public void Interface_addresses_and_resolvers_inside_a_subnet_conflict()
    {
        var host = new HostNetworkState([], [new HostAddress("eth1", IPAddress.Parse("10.83.2.5"), 24)], [IPAddress.Parse("10.83.1.53"), IPAddress.Parse("10.255.255.53")]);
        var conflicts = NetworkConflicts.Find(Testing, Testing.Networks, AllSchemaNetworks, [], host);
        conflicts.Select(c => (c.Network, c.With)).Should().BeEquivalentTo(new[]
        {
            ("multimodal-testing_inference", "address 10.83.2.5/24 on eth1"),
            ("multimodal-testing_core", "DNS resolver 10.83.1.53 (/etc/resolv.conf)"),
        });
    }

    [Fact]
    public void Ipv6_subnets_are_checked_against_routes_and_docker_networks()
    {
        var v6 = Testing with
        {
            Networks = [Testing.Networks[0] with { Subnet = IPNetwork.Parse("fd00:8300:0:1::/64"), Gateway = IPAddress.Parse("fd00:8300:0:1::1") }],
        };
        var host = new HostNetworkState(HostNetworkState.ParseIpv6Routes(Ipv6RouteTable), [], []);
        var docker = new DockerNetwork("d4", "other-v6", [IPNetwork.Parse("10.1.0.0/24"), IPNetwork.Parse("fd00:8300:0:1::/80")], null, "br-d4", 0);
        var conflicts = NetworkConflicts.Find(v6, v6.Networks, [], [docker], host);
        conflicts.Select(c => c.With).Should().BeEquivalentTo("host route fd00:8300::/48 on wg0", "Docker network 'other-v6' (fd00:8300:0:1::/80)");
    }

    [Fact]
    public void Overlaps_inside_the_schema_are_reported_too()
    {
        var clash = Testing with { Networks = [Testing.Networks[0] with { Subnet = IPNetwork.Parse("10.80.0.0/16") }] };
        NetworkConflicts.Find(clash, clash.Networks, AllSchemaNetworks, [], HostNetworkState.Empty)
            .Should().Contain(c => c.Kind == "schema" && c.With == "development/core (10.80.1.0/24)");
    }

    [Fact]
    public void Suggestions_keep_free_subnets_and_move_taken_ones_to_free_private_ranges()
    {
        NetworkConflicts.Suggest(Testing, AllSchemaNetworks, [], HostNetworkState.Empty)
            .Should().OnlyContain(s => !s.Changed)
            .And.Subject.Select(s => s.Subnet.ToString()).Should().Equal(Testing.Networks.Select(n => n.Subnet.ToString()));

        var vpn = new HostNetworkState(HostNetworkState.ParseIpv4Routes(RouteTable).Where(r => r.Interface == "tun0").ToList(), [], []);
        var foreign = new DockerNetwork("e5", "lab", [IPNetwork.Parse("10.84.0.0/24")], null, "br-e5", 0);
        var moved = NetworkConflicts.Suggest(Testing, AllSchemaNetworks, [foreign], vpn);
        moved.Should().OnlyContain(s => s.Changed && s.Subnet.PrefixLength == 24);
        moved.Select(s => s.Subnet).Should().OnlyHaveUniqueItems();
        foreach (var (_, subnet, gateway, _) in moved)
        {
            Subnets.IsPrivate(subnet).Should().BeTrue();
            Subnets.Overlap(subnet, IPNetwork.Parse("10.83.0.0/16")).Should().BeFalse();
            Subnets.Overlap(subnet, IPNetwork.Parse("10.84.0.0/24")).Should().BeFalse();
            AllSchemaNetworks.Where(n => n.Item1 != "testing").Should().NotContain(n => Subnets.Overlap(n.Item2.Subnet, subnet));
            subnet.Contains(gateway).Should().BeTrue();
        }
    }

    [Fact]
    public void Probes_cover_dns_every_tcp_port_and_the_http_health_endpoint()
    {
        var checks = NetworkOperations.Checks(Testing.Service("minio")).Select(c => (c.To, c.Check)).ToList();
        checks.Should().Equal(("minio", "dns"), ("minio:9000", "tcp"), ("minio:9001", "tcp"), ("http://minio:9000/minio/health/live", "http"));
        NetworkOperations.Checks(Testing.Service("postgres")).Select(c => c.Check).Should().Equal("dns", "tcp");

        // A replicated service without published ports is still probed on its health port.
        var worker = Schema.Resolve("production").Service("multimodal-worker");
        worker.Ports.Should().BeEmpty();
        NetworkOperations.Checks(worker).Select(c => c.To).Should().Contain("multimodal-worker:8001");
    }

    private static Dictionary<string, string> OwnLabels(string stack) => new()
    {
        ["com.docker.compose.project"] = "multimodal-testing",
        ["io.llmstack.environment"] = "testing",
        ["io.llmstack.stack"] = stack,
    };
}
