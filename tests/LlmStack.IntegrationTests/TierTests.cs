using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using LlmStack.Benchmarks;
using LlmStack.Compose;
using LlmStack.Security;

namespace LlmStack.IntegrationTests;

/// <summary>The tier servers (<see cref="TierServers"/>) on 127.0.0.1, started once per class.</summary>
public sealed class TierServerFixture : IAsyncLifetime
{
    private TierServers? _servers;

    public TierServers Servers => _servers!;

    public async Task InitializeAsync() => _servers = await TierServers.StartAsync(new DockerFixture().Root, CancellationToken.None);

    public async Task DisposeAsync()
    {
        if (_servers is not null)
        {
            await _servers.DisposeAsync();
        }
    }
}

/// <summary>Four tiers (local, remote over rclone's REST server, cloud over s3rver with TLS, tape as a file), verification, restore tests, metrics (in the second lane).</summary>
[Collection(TestLane.SecondCollection)]
[Trait("Category", "Integration")]
public sealed class TierTests(SecondLaneCore core, TierServerFixture fixture) : IClassFixture<SecondLaneCore>, IClassFixture<TierServerFixture>, IAsyncLifetime
{
    private static readonly TestLane Lane = TestLane.Second;
    private static readonly string Env = Lane.Environment;

    private readonly string _id = Guid.NewGuid().ToString("N")[..8];
    private readonly string _credentials = $"tier-test-{Guid.NewGuid():N}.env";

    private DockerFixture Docker => core.Docker;

    private TierServers Servers => fixture.Servers;

    private string Work => Path.Combine(Servers.Directory, _id);

    private string ConfigFile => Path.Combine(Work, "backup-strategies.yaml");

    private string Metrics => Path.Combine(Work, "metrics.prom");

    private string Summary => Path.Combine(Work, "summary.md");

    private string LocalRepository => Path.Combine(Work, "local", Env);

    private string RemoteRepository => Path.Combine(Servers.RestRoot, _id, Env);

    private TestRun Build => core.Run with
    {
        Arguments = [.. core.Run.Arguments, "--backup-config", ConfigFile],
        EnvironmentVariables = new Dictionary<string, string> { ["GITHUB_STEP_SUMMARY"] = Summary },
    };

    public async Task InitializeAsync()
    {
        System.IO.Directory.CreateDirectory(Work);
        await File.WriteAllBytesAsync(Path.Combine(Work, "tape.device"), []); // a file as the device: each export replaces the last
        LlmStack.Security.SecretStore.WritePrivate(Path.Combine(Docker.Root, "secrets", _credentials), TierServers.CredentialsFile);
        await WriteConfigAsync(Servers.RestPort);
        (await Build.RunAsync("StartCore")).ExitCode.Should().Be(0);
    }

    public Task DisposeAsync()
    {
        File.Delete(Path.Combine(Docker.Root, "secrets", _credentials));
        return Task.CompletedTask;
    }

    private async Task WriteConfigAsync(int restPort)
    {
        var config = await File.ReadAllTextAsync(Path.Combine(Docker.Root, "configs", "backup-strategies.yaml"));
        config = config.Replace("""
            tiers:
              local:
                kind: local
            """, $"""
            tiers:
              remote:
                kind: remote
                repository: rest:http://127.0.0.1:{restPort}/{_id}
              cloud:
                kind: cloud
                repository: s3:{Servers.S3Url}/{TierServers.Bucket}/{_id}
                credentials: {_credentials}
                ca_file: {Servers.CaFile}
              tape:
                kind: tape
                path: {Path.Combine(Work, "tape.device")}
                catalog: {Path.Combine(Work, "tape-catalog")}
              local:
                kind: local
            """, StringComparison.Ordinal)
            .Replace("    path: backups", $"    path: {Path.Combine(Work, "local")}", StringComparison.Ordinal)
            .Replace("  file: metrics/llmstack_backup.prom", $"  file: {Metrics}", StringComparison.Ordinal)
            .Replace("""
                schedule: "0 4 * * *"
                tiers: [local]
            """, """
                schedule: "0 4 * * *"
                tiers: [local, remote, cloud, tape]
            """, StringComparison.Ordinal);
        await File.WriteAllTextAsync(ConfigFile, Lane.WithEnvironment(config));
    }

    private async Task<List<JsonElement>> ListAsync()
    {
        var list = await Build.RunAsync("BackupList", "--json");
        var json = list.StandardOutput;
        return JsonDocument.Parse(json).RootElement.EnumerateArray().ToList();
    }

    private static void FlipAByte(string repository)
    {
        var pack = System.IO.Directory.GetFiles(Path.Combine(repository, "data"), "*", SearchOption.AllDirectories).OrderByDescending(f => new FileInfo(f).Length).First();
        var bytes = File.ReadAllBytes(pack);
        bytes[bytes.Length / 2] ^= 0xff;
        File.WriteAllBytes(pack, bytes);
    }

    private async Task AssertNoThrowawayLeftAsync()
    {
        var filter = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"{Names.ComposeProject}=llmstack-restoretest-{Env}"] = true } };
        (await Docker.Docker.Containers.ListContainersAsync(new Docker.DotNet.Models.ContainersListParameters { All = true, Filters = filter })).Should().BeEmpty();
        (await Docker.Docker.Networks.ListNetworksAsync(new Docker.DotNet.Models.NetworksListParameters { Filters = filter })).Should().BeEmpty();
        ((await Docker.Docker.Volumes.ListAsync(new Docker.DotNet.Models.VolumesListParameters { Filters = filter })).Volumes ?? []).Should().BeEmpty();
    }

    [Fact]
    public async Task A_backup_reaches_all_four_tiers_copy_is_idempotent_and_the_metrics_parse()
    {
        var backup = await Build.RunAsync("BackupFull");
        backup.ExitCode.Should().Be(0, backup.ToString());
        backup.Output.Should().Contain("Created backup repository rest:http").And.Contain("Created backup repository s3:https").And.Contain("Exported set");
        foreach (var row in (await ListAsync()).Where(r => r.GetProperty("trigger").GetString() == "BackupFull"))
        {
            row.GetProperty("tiers").EnumerateArray().Select(t => t.GetString()).Should().Equal("local", "remote", "cloud", "tape");
        }

        var copy = await Build.RunAsync("BackupCopy");
        copy.ExitCode.Should().Be(0, copy.ToString());
        copy.Output.Should().MatchRegex(@"remote\s+remote\s+up to date").And.MatchRegex(@"cloud\s+cloud\s+up to date").And.MatchRegex(@"tape\s+tape\s+up to date");

        var verify = await Build.RunAsync("BackupVerify");
        verify.ExitCode.Should().Be(0, verify.ToString());
        verify.Output.Should().MatchRegex(@"tape\s+\S+\s+read back \(sha256, listing\)\s+ok").And.MatchRegex(@"cloud\s+\S+\s+postgres/full db-multimodal.dump\s+ok: pg_restore --list");
        var status = await Build.RunAsync("BackupStatus");
        status.ExitCode.Should().Be(0, status.ToString());

        // The metrics file is read with a Prometheus text-format parser, not a regex.
        var parsed = await ParseMetricsAsync();
        var lastSuccess = parsed.Single(m => m.GetProperty("name").GetString() == "llmstack_backup_last_success_timestamp_seconds").GetProperty("metrics").EnumerateArray().ToList();
        lastSuccess.Select(m => m.GetProperty("labels").GetProperty("tier").GetString()).Distinct().Should().BeEquivalentTo("local", "remote", "cloud", "tape");
        lastSuccess.Should().Contain(m => m.GetProperty("labels").GetProperty("service").GetString() == "postgres/full");
        double.Parse(lastSuccess[0].GetProperty("value").GetString()!, CultureInfo.InvariantCulture).Should().BeApproximately(DateTimeOffset.UtcNow.ToUnixTimeSeconds(), 600);
        parsed.Single(m => m.GetProperty("name").GetString() == "llmstack_backup_verify_ok").GetProperty("metrics").EnumerateArray()
            .Should().HaveCount(4).And.OnlyContain(m => m.GetProperty("value").GetString() == "1");
        File.ReadAllText(Summary).Should().Contain("### Backup set").And.Contain($"### Copies to the other tiers of {Env}").And.Contain($"### BackupVerify of {Env}");
    }

    [Fact]
    public async Task An_unreachable_remote_fails_that_tier_only_and_the_others_get_the_copy()
    {
        await WriteConfigAsync(TierServers.FreePort());
        var backup = await Build.RunAsync("BackupService", "--service", "redis");
        backup.ExitCode.Should().Be(1, backup.ToString());
        backup.Output.Should().Contain("is complete on local, but 1 tier(s) failed: remote: tier remote of secondlane is unreachable");
        var rows = await ListAsync();
        rows.Should().ContainSingle(r => r.GetProperty("service").GetString() == "redis")
            .Which.GetProperty("tiers").EnumerateArray().Select(t => t.GetString()).Should().Equal("local", "cloud", "tape");
        (await ParseMetricsAsync()).Single(m => m.GetProperty("name").GetString() == "llmstack_backup_copy_ok").GetProperty("metrics").EnumerateArray()
            .Single(m => m.GetProperty("labels").GetProperty("tier").GetString() == "remote").GetProperty("value").GetString().Should().Be("0");
    }

    [Fact]
    public async Task A_flipped_byte_in_a_tier_is_found_by_BackupVerify_and_named()
    {
        (await Build.RunAsync("BackupFull")).ExitCode.Should().Be(0);
        FlipAByte(RemoteRepository);
        var verify = await Build.RunAsync("BackupVerify", "--read-data");
        verify.ExitCode.Should().Be(1, verify.ToString());
        verify.Output.Should().MatchRegex(@"remote\s+-\s+restic check \(read data 100%\)\s+FAILED").And.MatchRegex(@"local\s+-\s+restic check \(read data 100%\)\s+ok")
            .And.MatchRegex(@"check\(s\) failed: tier remote");
        (await ParseMetricsAsync()).Single(m => m.GetProperty("name").GetString() == "llmstack_backup_verify_ok").GetProperty("metrics").EnumerateArray()
            .Single(m => m.GetProperty("labels").GetProperty("tier").GetString() == "remote").GetProperty("value").GetString().Should().Be("0");
    }

    [Fact]
    public async Task RestoreTest_passes_on_a_good_set_fails_on_a_corrupted_one_and_always_cleans_up()
    {
        await Docker.ExecAsync(Lane.Container("redis"), "redis-cli", "SET", "proof", "42");
        await Docker.ExecAsync(Lane.Container("qdrant"), "sh", "-c", "mkdir -p /qdrant/storage/p && head -c 400000 /dev/urandom > /qdrant/storage/p/blob");
        (await Build.RunAsync("BackupFull")).ExitCode.Should().Be(0);

        var good = await Build.RunAsync("RestoreTest");
        good.ExitCode.Should().Be(0, good.ToString());
        good.Output.Should().MatchRegex(@"dump of database multimodal after the restore = the dump in the backup\s+ok")
            .And.MatchRegex(@"redis/rdb\s+\S+\s+key count and digest of every value\s+ok")
            .And.MatchRegex(@"qdrant/qdrant_data\s+\S+\s+every entry \(type, mode, owner, size\) against the snapshot's listing; content verified by restic\s+ok: \d+ entries as in the snapshot");
        var set = (await ListAsync()).First(r => r.GetProperty("trigger").GetString() == "BackupFull").GetProperty("set").GetString()!;
        good.Output.Should().MatchRegex($@"redis/rdb\s+{set}\s+key count", "the table names the set of each member");
        File.Exists(Path.Combine(Docker.Root, "artifacts", "restore-test", Env, $"{set}.md")).Should().BeTrue();
        JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(Docker.Root, "artifacts", "restore-test", Env, $"{set}.json"))).RootElement.GetProperty("passed").GetBoolean().Should().BeTrue();
        await AssertNoThrowawayLeftAsync();

        var cancelled = await (Build with { EnvironmentVariables = null }).RunAsync(["RestoreTest"],
            whileRunning: async process =>
            {
                var filter = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"{Names.ComposeProject}=llmstack-restoretest-{Env}"] = true } };
                var deadline = DateTime.UtcNow.AddMinutes(2);
                while ((await Docker.Docker.Containers.ListContainersAsync(new Docker.DotNet.Models.ContainersListParameters { All = true, Filters = filter })).Count == 0)
                {
                    DateTime.UtcNow.Should().BeBefore(deadline);
                    await Task.Delay(100);
                }

                using var interrupt = Process.Start("kill", ["-INT", process.Id.ToString(CultureInfo.InvariantCulture)])!;
                await interrupt.WaitForExitAsync();
            });
        cancelled.ExitCode.Should().Be(130, cancelled.ToString());
        await AssertNoThrowawayLeftAsync();

        FlipAByte(LocalRepository);
        var bad = await Build.RunAsync("RestoreTest");
        bad.ExitCode.Should().Be(1, bad.ToString());
        bad.Output.Should().Contain($"restore test of set {set} failed");
        await AssertNoThrowawayLeftAsync();
        (await ParseMetricsAsync()).Single(m => m.GetProperty("name").GetString() == "llmstack_backup_restore_test_ok").GetProperty("metrics").EnumerateArray()
            .Single().GetProperty("value").GetString().Should().Be("0");
    }

    private async Task<List<JsonElement>> ParseMetricsAsync()
    {
        var parser = Path.Combine(Docker.Root, ".nuke", "temp", "tools", "node_modules", "parse-prometheus-text-format");
        var start = new ProcessStartInfo("node", ["-e", $"process.stdout.write(JSON.stringify(require({JsonSerializer.Serialize(parser)})(require('fs').readFileSync({JsonSerializer.Serialize(Metrics)}, 'utf8'))))"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var node = Process.Start(start)!;
        var output = await node.StandardOutput.ReadToEndAsync();
        var error = await node.StandardError.ReadToEndAsync();
        await node.WaitForExitAsync();
        node.ExitCode.Should().Be(0, error);
        return JsonDocument.Parse(output).RootElement.EnumerateArray().ToList();
    }
}
