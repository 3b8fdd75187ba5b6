using System.Text.RegularExpressions;
using Docker.DotNet.Models;
using LlmStack.Compose;

namespace LlmStack.IntegrationTests;

[Collection(TestLane.MainCollection)]
[Trait("Category", "Integration")]
public sealed class NetworkTests(DockerFixture docker) : IAsyncLifetime
{
    private readonly List<string> _foreignNetworks = [];

    public Task InitializeAsync() => docker.CleanAsync("testing");

    public async Task DisposeAsync()
    {
        await docker.CleanAsync("testing");
        foreach (var network in _foreignNetworks)
        {
            try
            {
                await docker.Docker.Networks.DeleteNetworkAsync(network);
            }
            catch (Docker.DotNet.DockerNetworkNotFoundException)
            {
            }
        }
    }

    private TestRun Build => new(docker.Root);

    private async Task<string> ForeignNetworkAsync(string name, string subnet, Dictionary<string, string>? labels = null)
    {
        var created = await docker.Docker.Networks.CreateNetworkAsync(new NetworksCreateParameters
        {
            Name = name,
            Labels = labels ?? new Dictionary<string, string>(),
            IPAM = new IPAM { Config = [new IPAMConfig { Subnet = subnet }] },
        });
        _foreignNetworks.Add(created.ID);
        return created.ID;
    }

    [Fact]
    public async Task A_foreign_overlapping_network_is_named_and_blocks_StartCore_before_anything_is_created()
    {
        await ForeignNetworkAsync("foreign-overlap", "10.83.1.0/25");

        var check = await Build.RunAsync("CheckNetworkConflicts");
        check.ExitCode.Should().NotBe(0);
        check.Output.Should().Contain(TestNames.Network("core")).And.Contain("Docker network 'foreign-overlap' (10.83.1.0/25)");

        var start = await Build.RunAsync("StartCore");
        start.ExitCode.Should().NotBe(0);
        start.Output.Should().Contain("Docker network 'foreign-overlap' (10.83.1.0/25)").And.Contain("run SuggestSubnets");
        (await docker.ContainersAsync("testing")).Should().BeEmpty();
        (await docker.Docker.Volumes.ListAsync(new VolumesListParameters())).Volumes.Select(v => v.Name).Should().NotContain(v => v.StartsWith(TestNames.Project() + "_", StringComparison.Ordinal));
        (await docker.Docker.Networks.ListNetworksAsync()).Select(n => n.Name).Should().NotContain(TestNames.Network("core"));

        var suggest = await Build.RunAsync("SuggestSubnets");
        suggest.ExitCode.Should().Be(0, suggest.ToString());
        suggest.Output.Should().Contain("environments:\n  testing:\n    networks:").And.MatchRegex(@"core: \{ subnet: 10\.\d+\.\d+\.0/24, gateway: [0-9.]+ \}   # changed");
        suggest.Output.Should().Contain("inference: { subnet: 10.83.2.0/24, gateway: 10.83.2.1 }\n");
    }

    [Fact]
    public async Task The_environments_own_running_networks_are_not_conflicts()
    {
        (await Build.RunAsync("StartInference")).ExitCode.Should().Be(0);
        var check = await Build.RunAsync("CheckNetworkConflicts");
        check.ExitCode.Should().Be(0, check.ToString());
        check.Output.Should().Contain("No conflicts: 6 network(s) of testing checked");
    }

    [Fact]
    public async Task ValidateNetworks_catches_a_network_with_a_wrong_subnet()
    {
        await ForeignNetworkAsync(TestNames.Network("core"), "10.83.7.0/24", new Dictionary<string, string>
        {
            [Names.ComposeProject] = TestNames.Project(),
            [Names.ComposeNetwork] = "core",
            [Names.Environment] = "testing",
            [Names.Stack] = "core",
        });

        var drift = await Build.RunAsync("ValidateNetworks");
        drift.ExitCode.Should().NotBe(0);
        drift.Output.Should().Contain($"drift: {TestNames.Network("core")}: subnet 10.83.7.0/24, expected 10.83.1.0/24");

        // Start replaces the unused drifted network with the schema's, after which nothing drifts.
        var start = await Build.RunAsync("StartCore");
        start.ExitCode.Should().Be(0, start.ToString());
        start.Output.Should().Contain($"Removed network {TestNames.Network("core")} (subnet 10.83.7.0/24 differs from the schema's 10.83.1.0/24)");
        var clean = await Build.RunAsync("ValidateNetworks");
        clean.ExitCode.Should().Be(0, clean.ToString());
        clean.Output.Should().MatchRegex($@"{Regex.Escape(TestNames.Network("core"))}\s+core\s+ok\s+bridge 10\.83\.1\.0/24 gw 10\.83\.1\.1");
    }

    [Fact]
    public async Task CheckNetworkHealth_passes_for_core_and_inference_and_names_the_pair_when_a_dependency_stops()
    {
        (await Build.RunAsync("StartInference")).ExitCode.Should().Be(0);
        var healthy = await Build.RunAsync("CheckNetworkHealth");
        healthy.ExitCode.Should().Be(0, healthy.ToString());
        healthy.Output.Should().MatchRegex(@"litellm\s+postgres:5432\s+tcp\s+ok").And.MatchRegex(@"litellm\s+http://vllm:8000/health\s+http\s+ok");

        await docker.Docker.Containers.StopContainerAsync(TestNames.Container("postgres"), new ContainerStopParameters());
        var broken = await Build.RunAsync("CheckNetworkHealth");
        broken.ExitCode.Should().NotBe(0);
        broken.Output.Should().Contain("litellm -> postgres:5432 (tcp)").And.MatchRegex(@"litellm\s+vllm:8000\s+tcp\s+ok");
        (await docker.ContainersAsync("testing")).Should().NotContain(c => c.Labels.ContainsKey(Names.Helper), "probe containers are removed");
    }

    [Fact]
    public async Task CleanupNetworks_removes_only_an_orphaned_labelled_network_after_confirmation_and_audits_it()
    {
        (await Build.RunAsync("StartCore")).ExitCode.Should().Be(0);
        await ForeignNetworkAsync("multimodal-shared", "10.99.8.0/24");
        var legacy = TestNames.Network("legacy");
        await ForeignNetworkAsync(legacy, "10.99.9.0/24", new Dictionary<string, string>
        {
            [Names.ComposeProject] = TestNames.Project(),
            [Names.Environment] = "testing",
            [Names.Stack] = "legacy",
        });
        var audit = Path.Combine(Path.GetTempPath(), $"llmstack-it-audit-{Guid.NewGuid():N}.jsonl");
        // Ambient confirmations must never count: only --confirm on the command line does (fault 4).
        var env = new Dictionary<string, string> { ["LLMSTACK_AUDIT_LOG"] = audit, ["CONFIRM"] = "testing", ["LLMSTACK_CONFIRM"] = "testing", ["DRY_RUN"] = "true" };
        async Task<IReadOnlyList<string>> Networks() => (await docker.Docker.Networks.ListNetworksAsync()).Select(n => n.Name).ToList();

        var cleanup = Build with { ImageMap = null, EnvironmentVariables = env };
        var dryRun = await cleanup.RunAsync("CleanupNetworks", "--dry-run");
        dryRun.ExitCode.Should().Be(0, dryRun.ToString());
        dryRun.Output.Should().MatchRegex($@"network\s+{Regex.Escape(legacy)}\s+10\.99\.9\.0/24\s+would remove\s+not in the schema")
            .And.MatchRegex($@"network\s+{Regex.Escape(TestNames.Network("core"))}\s+10\.83\.1\.0/24\s+keep\s+in use by 4 container");
        dryRun.Output.Should().NotContain("multimodal-shared");
        (await Networks()).Should().Contain(legacy);

        var unconfirmed = await cleanup.RunAsync("CleanupNetworks");
        unconfirmed.ExitCode.Should().NotBe(0);
        unconfirmed.Output.Should().Contain("CleanupNetworks would remove 1 network(s) in environment testing: pass --confirm testing to do it")
            .And.Contain("environment variable LLMSTACK_CONFIRM is ignored");
        (await Networks()).Should().Contain(legacy);
        File.Exists(audit).Should().BeFalse("nothing changed, nothing audited");

        var confirmed = await cleanup.RunAsync("CleanupNetworks", "--confirm", "testing");
        confirmed.ExitCode.Should().Be(0, confirmed.ToString());
        var after = await Networks();
        after.Should().NotContain(legacy);
        after.Should().Contain("multimodal-shared").And.Contain(TestNames.Network("core"));
        var lines = File.ReadAllLines(audit);
        lines.Should().ContainSingle().Which.Should().Contain("\"target\":\"CleanupNetworks\"").And.Contain("\"environment\":\"testing\"")
            .And.Contain($"\"resource\":\"{legacy}\"").And.Contain("\"result\":\"done\"").And.Contain("\"detail\":\"10.99.9.0/24\"");
        File.Delete(audit);
    }
}
