using System.Text.Json;

namespace LlmStack.IntegrationTests;

/// <summary>
/// A set written by the tar-stream method (tests/fixtures/legacy-backup: qdrant's volume as one tar from the engine's
/// archive API with its sha256 listing, the manifest without a tag) still lists, verifies, passes the restore test and
/// restores, next to sets written as file snapshots in the same repository.
/// </summary>
[Collection(TestLane.MainCollection)]
[Trait("Category", "Integration")]
public sealed class LegacyBackupTests(RunningCore core) : IClassFixture<RunningCore>, IAsyncLifetime
{
    private const string Set = "20261206T122649Z-faa7";
    private const string Key = "legacy-fixture-key-not-a-secret";
    private readonly BackupBed _bed = new(core.Docker, "legacy");

    private string Fixture => Path.Combine(core.Docker.Root, "tests", "fixtures", "legacy-backup");

    /// <summary>The build with the fixture repository's key.</summary>
    private TestRun Build => _bed.Build with { EnvironmentVariables = new Dictionary<string, string> { ["LLMSTACK_BACKUP_KEY"] = Key } };

    public async Task InitializeAsync()
    {
        CopyDirectory(Path.Combine(Fixture, "repository"), _bed.Repository);
        var start = await Build.RunAsync("StartCore");
        start.ExitCode.Should().Be(0, start.ToString());
    }

    public Task DisposeAsync()
    {
        _bed.Dispose();
        return Task.CompletedTask;
    }

    private static void CopyDirectory(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    private string Cache => Path.Combine(core.Docker.Root, ".nuke", "temp", "backup-manifests");

    [Fact]
    public async Task A_set_written_as_a_tar_lists_verifies_passes_the_restore_test_and_restores_the_volume_exactly()
    {
        if (Directory.Exists(Cache))
        {
            Directory.Delete(Cache, recursive: true);
        }

        // A set of today beside it, then the list, the same without the cache of manifests read from files.
        (await Build.RunAsync("BackupService", "--service", "redis")).ExitCode.Should().Be(0);
        var listed = await Build.RunAsync("BackupList", "--json");
        listed.ExitCode.Should().Be(0, listed.ToString());
        var rows = JsonDocument.Parse(listed.StandardOutput).RootElement.EnumerateArray().ToList();
        rows.Should().Contain(r => r.GetProperty("set").GetString() == Set && r.GetProperty("service").GetString() == "qdrant (qdrant_data)" && r.GetProperty("type").GetString() == "volume");
        rows.Should().Contain(r => r.GetProperty("service").GetString() == "redis");
        Directory.Delete(Cache, recursive: true);
        (await Build.RunAsync("BackupList", "--json")).StandardOutput.Should().Be(listed.StandardOutput, "the catalog is the same without its cache");

        var verify = await Build.RunAsync("BackupVerify", "--backup-set", Set, "--read-data");
        verify.ExitCode.Should().Be(0, verify.ToString());
        verify.Output.Should().MatchRegex($@"local\s+{Set}\s+qdrant/qdrant_data qdrant_data.tar\s+ok: tar listing: 8 entries")
            .And.MatchRegex($@"local\s+{Set}\s+qdrant/qdrant_data qdrant_data.sha256\s+ok: read back");

        var test = await Build.RunAsync("RestoreTest", "--backup-set", Set);
        test.ExitCode.Should().Be(0, test.ToString());
        test.Output.Should().MatchRegex($@"qdrant/qdrant_data\s+{Set}\s+sha256 of every file against the backup's listing\s+ok: 3 file\(s\) as in the listing");

        await _bed.Sh(_bed.Qdrant, "rm -rf /qdrant/storage/* && echo today > /qdrant/storage/today.txt");
        var restore = await Build.RunAsync("Restore", "--service", "qdrant", "--backup", Set, "--confirm", "testing");
        restore.ExitCode.Should().Be(0, restore.ToString());
        restore.Output.Should().Contain("Checked volume").And.Contain("8 file(s) and directories as in the backup");

        // The fixture's tree.txt: stat lines (the top directory's first), sha256 lines, the link's target.
        var recorded = (await File.ReadAllLinesAsync(Path.Combine(Fixture, "tree.txt"))).ToList();
        var now = (await _bed.Sh(_bed.Qdrant,
                "cd /qdrant/storage && find . -mindepth 1 -exec stat -c '%n %a %u:%g %s' {} \\; | sort && find . -type f -exec sha256sum {} \\; | sort && readlink current"))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList();
        var sizesOfDirectories = new System.Text.RegularExpressions.Regex(@"^(\S+ \d+ \d+:\d+) \d+$");
        string WithoutDirectorySize(string line) => line.StartsWith("./collections ", StringComparison.Ordinal) || line.StartsWith("./empty ", StringComparison.Ordinal)
            || line.StartsWith("./collections/docs ", StringComparison.Ordinal) || line.StartsWith("./collections/docs/segments ", StringComparison.Ordinal)
            ? sizesOfDirectories.Replace(line, "$1")
            : line;
        now.Select(WithoutDirectorySize).Should().Equal(recorded.Skip(1).Select(WithoutDirectorySize), "the volume is as it was backed up in 2026-12 by the tar-stream method");
        await _bed.AssertEverythingRunsAsync();
    }
}
