using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace LlmStack.IntegrationTests;

/// <summary>
/// Volumes as file snapshots, read by restic next to the data, both ways: on this host at the volume's mountpoint and in
/// a restic helper container (the fixture image from Debian's restic).
/// </summary>
[Collection(TestLane.MainCollection)]
[Trait("Category", "Integration")]
public sealed class VolumeSnapshotTests(RunningCore core) : IClassFixture<RunningCore>, IAsyncLifetime
{
    private readonly BackupBed _bed = new(core.Docker, "volumes");

    private const string Storage = "/qdrant/storage";

    public async Task InitializeAsync()
    {
        var start = await _bed.Build.RunAsync("StartCore");
        start.ExitCode.Should().Be(0, start.ToString());
    }

    public Task DisposeAsync()
    {
        _bed.Dispose();
        return Task.CompletedTask;
    }

    private Task<string> Qdrant(string script) => _bed.Sh(_bed.Qdrant, script);

    private Task<string> Tree() => _bed.Tree(_bed.Qdrant, Storage);

    private async Task<string> BackupAsync()
    {
        var backup = await _bed.Build.RunAsync("BackupService", "--service", "qdrant");
        backup.ExitCode.Should().Be(0, backup.ToString());
        return backup.Output;
    }

    [Theory]
    [InlineData("host", "on this host")]
    [InlineData("helper", "in a helper")]
    public async Task A_second_backup_reads_only_what_changed_against_the_first_and_each_snapshot_restores_to_exactly_its_tree(string reader, string where)
    {
        _bed.ReadVolumesWith(reader);
        await Qdrant($"rm -rf {Storage}/* && cd {Storage} && mkdir -p collections/docs/segments empty shared && chmod 700 collections && chmod 2775 shared && chown 0:50 shared"
                     + " && head -c 300000 /dev/urandom > collections/docs/segments/seg-1.bin && head -c 5000 /dev/urandom > collections/docs/segments/seg-2.bin"
                     + " && echo '{\"name\":\"docs\"}' > collections/docs/config.json && chmod 640 collections/docs/config.json && chown 1000:1000 collections/docs/config.json"
                     + " && ln -s collections/docs/config.json current && echo one > shared/note.txt && echo stays > stays.txt");
        var first = await Tree();
        (await BackupAsync()).Should().Contain($"Read {TestNames.Volume("qdrant_data")} with restic {where}:").And.MatchRegex(@"5 new, 0 changed, 0 unmodified file\(s\), 5 directories");

        // One file changed, one added, one deleted.
        await Qdrant($"cd {Storage} && head -c 4000 /dev/urandom > collections/docs/segments/seg-2.bin && echo added > added.txt && rm shared/note.txt");
        var second = await Tree();
        (await BackupAsync()).Should().MatchRegex(@"against [0-9a-f]{8}: 1 new, 1 changed, 3 unmodified file\(s\), 5 directories", "restic skipped the files that did not change");

        var snapshots = (await _bed.SnapshotsAsync()).Where(s => BackupBed.Tag(s, "service") == "qdrant" && BackupBed.Tag(s, "part") == "qdrant_data")
            .OrderBy(s => s.GetProperty("time").GetDateTimeOffset()).ToList();
        snapshots.Should().HaveCount(2);
        snapshots[1].GetProperty("parent").GetString().Should().Be(snapshots[0].GetProperty("id").GetString(), "the second snapshot's parent is the first");
        var sets = snapshots.Select(s => BackupBed.Tag(s, "set")!).ToList();

        foreach (var (set, tree) in new[] { (sets[0], first), (sets[1], second), (sets[0], first) })
        {
            var restore = await _bed.Build.RunAsync("Restore", "--service", "qdrant", "--backup", set, "--confirm", "testing");
            restore.ExitCode.Should().Be(0, restore.ToString());
            restore.Output.Should().MatchRegex(@"Checked volume \S+: \d+ regular file\(s\) and directories as in the backup");
            (await Tree()).Should().Be(tree, $"set {set} restores to exactly its tree: content, modes, owners, links, empty directories");
        }

        (await _bed.HelpersAsync()).Should().BeEmpty("every helper was removed");
        await _bed.AssertEverythingRunsAsync();
    }

    [Fact]
    public async Task An_empty_volume_is_backed_up_as_empty_restores_to_empty_and_verifies()
    {
        // restic 0.14 saves no snapshot of an empty directory ("snapshot is empty"): a fresh minio or an unused cache.
        _bed.ReadVolumesWith("helper");
        await Qdrant($"rm -rf {Storage}/* {Storage}/.[!.]*; true");
        var backup = await BackupAsync();
        backup.Should().MatchRegex(@"Read \S+ with restic in a helper: the volume is empty, recorded as empty");
        var set = System.Text.RegularExpressions.Regex.Match(backup, @"Backup set (\S+) of testing").Groups[1].Value;
        (await _bed.ListAsync()).Should().Contain(r => r.GetProperty("service").GetString() == "qdrant (qdrant_data)" && r.GetProperty("set").GetString() == set, "an empty volume's backup is listed");

        await Qdrant($"echo later > {Storage}/later.txt");
        var restore = await _bed.Build.RunAsync("Restore", "--service", "qdrant", "--backup", set!, "--confirm", "testing");
        restore.ExitCode.Should().Be(0, restore.ToString());
        (await Tree()).Should().BeEmpty("the volume was empty in the backup");

        var verify = await _bed.Build.RunAsync("BackupVerify", "--backup-set", set!, "--read-data-subset", "0");
        verify.ExitCode.Should().Be(0, verify.ToString());
        verify.Output.Should().MatchRegex($@"local\s+{set}\s+qdrant/qdrant_data qdrant_data\s+ok: empty at backup time");
        await _bed.AssertEverythingRunsAsync();
    }

    [Theory]
    [InlineData("host")]
    [InlineData("helper")]
    public async Task Ctrl_C_while_restic_reads_a_volume_exits_130_removes_the_helper_and_brings_minio_back(string reader)
    {
        _bed.ReadVolumesWith(reader);
        await _bed.Sh(_bed.Minio, "dd if=/dev/urandom of=/data/big.bin bs=1M count=300 2>/dev/null");
        var mountpoint = (await core.Docker.Docker.Volumes.InspectAsync(TestNames.Volume("minio_data"))).Mountpoint;
        try
        {
            var cancelled = await _bed.Build.RunAsync(["BackupService", "--service", "minio"],
                processGroup: true,
                whileRunning: async process =>
                {
                    // The known point: minio is paused and restic reads its volume (a helper of ours, or a restic in the mountpoint).
                    await Cli.WaitUntilAsync(async () => (await core.Docker.Docker.Containers.InspectContainerAsync(_bed.Minio)).State!.Paused
                                                         && (reader == "helper"
                                                             ? (await _bed.HelpersAsync()).Any(h => h.Labels[Compose.Names.Helper] == "restic")
                                                             : BackupBed.ResticRunsIn(mountpoint)),
                        "the backup pauses minio and restic reads its volume");
                    await Cli.InterruptGroupAsync(process);
                });
            cancelled.ExitCode.Should().Be(130, cancelled.ToString());
            (await _bed.HelpersAsync()).Should().BeEmpty("the helper is removed after Ctrl-C");
            BackupBed.ResticRunsIn(mountpoint).Should().BeFalse("no restic is left reading the volume");
            await _bed.AssertEverythingRunsAsync();
            (await _bed.ListAsync()).Should().NotContain(r => r.GetProperty("service").GetString() == "minio (minio_data)");
        }
        finally
        {
            await _bed.Build.RunAsync("StartCore");
            await _bed.Sh(_bed.Minio, "rm -f /data/big.bin");
        }
    }

    [Fact]
    public async Task A_build_killed_while_a_helper_reads_the_volume_never_becomes_latest_and_the_next_run_removes_the_helper()
    {
        _bed.ReadVolumesWith("helper");
        await _bed.Sh(_bed.Minio, "dd if=/dev/urandom of=/data/big.bin bs=1M count=300 2>/dev/null");
        try
        {
            var killed = await _bed.Build.RunAsync(["BackupService", "--service", "minio"],
                whileRunning: async process =>
                {
                    await Cli.WaitUntilAsync(async () => (await _bed.HelpersAsync()).Any(h => h.Labels[Compose.Names.Helper] == "restic"), "restic reads minio's volume in a helper");
                    // restic has the key and the repository open (its lock is written): from here it saves a snapshot on
                    // its own. Killed earlier, before the key reached its stdin, it would save nothing to clean up.
                    await Cli.WaitUntilAsync(() => Task.FromResult(Directory.Exists(Path.Combine(_bed.Repository, "locks")) && Directory.EnumerateFiles(Path.Combine(_bed.Repository, "locks")).Any()),
                        "the helper's restic holds its lock on the repository");
                    using var kill = Process.Start("kill", ["-KILL", process.Id.ToString(CultureInfo.InvariantCulture)])!;
                    await kill.WaitForExitAsync();
                });
            killed.ExitCode.Should().Be(137, killed.ToString());
            await Cli.WaitUntilAsync(async () => (await _bed.HelpersAsync()).All(h => h.State != "running"), "the orphaned helper's restic finishes (it commits a member no manifest names)", TimeSpan.FromMinutes(3));

            (await _bed.ListAsync()).Should().NotContain(r => r.GetProperty("service").GetString() == "minio (minio_data)", "a run that never wrote its manifest has no backup");
            var next = await _bed.Build.RunAsync("BackupService", "--service", "minio");
            next.ExitCode.Should().Be(0, next.ToString());
            next.Output.Should().MatchRegex(@"Removed helper \S+ left by a run that ended").And.MatchRegex(@"Removed 1 orphaned member snapshot\(s\) of 1 set\(s\)");
            (await _bed.HelpersAsync()).Should().BeEmpty();
            var rows = (await _bed.ListAsync()).Where(r => r.GetProperty("service").GetString() == "minio (minio_data)").ToList();
            rows.Should().ContainSingle("only the run that finished is a backup");
            await _bed.AssertEverythingRunsAsync();
        }
        finally
        {
            await _bed.Build.RunAsync("StartCore");
            await _bed.Sh(_bed.Minio, "rm -f /data/big.bin");
        }
    }

    [Fact]
    public async Task The_catalog_is_the_same_without_its_cache_and_a_set_lists_with_one_restic_run()
    {
        (await _bed.Build.RunAsync("BackupService", "--service", "redis")).ExitCode.Should().Be(0);
        (await _bed.Build.RunAsync("BackupService", "--service", "qdrant")).ExitCode.Should().Be(0);
        var before = await _bed.Build.RunAsync("BackupList", "--json");
        before.ExitCode.Should().Be(0, before.ToString());

        var cache = Path.Combine(core.Docker.Root, ".nuke", "temp", "backup-manifests");
        if (Directory.Exists(cache))
        {
            Directory.Delete(cache, recursive: true);
        }

        var after = await _bed.Build.RunAsync("BackupList", "--json");
        after.ExitCode.Should().Be(0, after.ToString());
        after.StandardOutput.Should().Be(before.StandardOutput, "the cache is a cache only");
        JsonDocument.Parse(after.StandardOutput).RootElement.EnumerateArray().Select(r => r.GetProperty("service").GetString()).Should().Contain(["redis", "qdrant (qdrant_data)"]);
        Directory.Exists(cache).Should().BeFalse("sets whose manifest is a tag need no cache");
    }
}
