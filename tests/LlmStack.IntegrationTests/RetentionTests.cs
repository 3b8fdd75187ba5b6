using System.Text.Json;

namespace LlmStack.IntegrationTests;

/// <summary>Backup retention on two tiers of the real engine: the dry run changes nothing, the cleanup removes exactly the plan, restic check stays clean.</summary>
[Collection("docker")]
[Trait("Category", "Integration")]
public sealed class RetentionTests(RunningCore core) : IClassFixture<RunningCore>, IAsyncLifetime
{
    private readonly string _work = Path.Combine(Path.GetTempPath(), $"llmstack-it-retention-{Guid.NewGuid():N}");

    private DockerFixture Docker => core.Docker;

    private string BackupConfig => Path.Combine(_work, "backup-strategies.yaml");

    private string RetentionConfig => Path.Combine(_work, "retention-policies.yaml");

    private string Local => Path.Combine(_work, "local", "testing");

    private string Remote => Path.Combine(_work, "remote", "testing");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_work);
        var backup = (await File.ReadAllTextAsync(Path.Combine(Docker.Root, "configs", "backup-strategies.yaml")))
            .Replace("    path: backups", $"    path: {Path.Combine(_work, "local")}\n  nas:\n    kind: remote\n    repository: {Path.Combine(_work, "remote")}", StringComparison.Ordinal)
            .Replace("    schedule: \"0 4 * * *\"\n    tiers: [local]", "    schedule: \"0 4 * * *\"\n    tiers: [local, nas]", StringComparison.Ordinal);
        await File.WriteAllTextAsync(BackupConfig, backup);
        var retention = (await File.ReadAllTextAsync(Path.Combine(Docker.Root, "configs", "retention-policies.yaml")))
            .Replace("  local:\n    keep_within: 7d", "  local:\n    keep_last: 1", StringComparison.Ordinal)
            .Replace("  remote:\n    keep_within: 30d", "  remote:\n    keep_last: 2", StringComparison.Ordinal)
            .Replace("  remote: remote", "  remote: remote\n  nas: remote", StringComparison.Ordinal)
            .Replace("when_unused_above: 10%", "when_unused_above: 0%", StringComparison.Ordinal);
        await File.WriteAllTextAsync(RetentionConfig, retention);
        (await Run("StartCore")).ExitCode.Should().Be(0);
    }

    public Task DisposeAsync()
    {
        Directory.Delete(_work, recursive: true);
        return Task.CompletedTask;
    }

    private Task<Cli.Result> Run(params string[] arguments) =>
        Cli.RunAsync(Docker.Root, [.. arguments, "--environment", "testing", "--image-map", "tests/fixtures/image-map.yaml", "--backup-config", BackupConfig, "--retention-config", RetentionConfig]);

    private static async Task<List<string>> SnapshotsAsync(string repository, string keyFile)
    {
        var result = await LlmStack.Pipeline.ProcessRunner.RunCheckedAsync("restic", ["-r", repository, "--password-file", keyFile, "snapshots", "--json", "--no-lock"], "/", null, CancellationToken.None);
        return JsonDocument.Parse(string.Concat(result.Output)).RootElement.EnumerateArray().Select(s => s.GetProperty("id").GetString()!).Order().ToList();
    }

    private async Task<List<string>> SetsAsync()
    {
        var list = await Run("BackupList", "--json");
        list.ExitCode.Should().Be(0, list.ToString());
        var json = list.Output[(list.Output.IndexOf("\n[", StringComparison.Ordinal) + 1)..(list.Output.LastIndexOf("]\n", StringComparison.Ordinal) + 1)];
        return JsonDocument.Parse(json).RootElement.EnumerateArray().Select(r => r.GetProperty("set").GetString()!).Distinct().Order().ToList();
    }

    [Fact]
    public async Task RetentionTest_changes_nothing_and_RetentionCleanup_removes_exactly_the_plan_keeping_the_newest_verified()
    {
        var sets = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            var backup = await Run("BackupService", "--service", "redis");
            backup.ExitCode.Should().Be(0, backup.ToString());
            sets.Add(backup.Output.Split("Backup set ")[1][..21]);
        }

        // The oldest set is the only verified one: the safety rules keep it although no keep rule does.
        (await Run("BackupVerify", "--backup-set", sets[0], "--read-data-subset", "0")).ExitCode.Should().Be(0);
        var key = Path.Combine(Docker.Root, "secrets", "testing.backup-key");
        var localBefore = await SnapshotsAsync(Local, key);
        var remoteBefore = await SnapshotsAsync(Remote, key);
        var listBefore = await SetsAsync();

        var dry = await Run("RetentionTest");
        dry.ExitCode.Should().Be(0, dry.ToString());
        dry.Output.Should().Contain($"local/{sets[1]}").And.Contain("would forget").And.Contain("newest verified");
        (await SnapshotsAsync(Local, key)).Should().Equal(localBefore);
        (await SnapshotsAsync(Remote, key)).Should().Equal(remoteBefore);
        (await SetsAsync()).Should().Equal(listBefore);

        var status = await Run("RetentionStatus", "--json");
        status.ExitCode.Should().Be(0, status.ToString());
        var plan = JsonDocument.Parse(status.Output[status.Output.IndexOf("\n{", StringComparison.Ordinal)..(status.Output.LastIndexOf("}\n", StringComparison.Ordinal) + 1)]).RootElement;
        var tiers = plan.GetProperty("tiers").EnumerateArray().ToDictionary(t => t.GetProperty("tier").GetString()!, t => t.GetProperty("remove").EnumerateArray().Select(s => s.GetString()!).ToList());
        tiers["local"].Should().BeEquivalentTo(sets[1], sets[2]);   // keep-last 1 keeps sets[3]; sets[0] is the newest verified
        tiers["nas"].Should().BeEquivalentTo(sets[1]);              // keep-last 2 keeps sets[2] and sets[3]; sets[0] verified there too

        var cleanup = await Run("RetentionCleanup", "--confirm", "testing");
        cleanup.ExitCode.Should().Be(0, cleanup.ToString());
        cleanup.Output.Should().Contain("BackupFull").And.Contain("Skipped");
        var localAfter = await SnapshotsAsync(Local, key);
        localAfter.Should().HaveCount(localBefore.Count - 4, "two sets of two snapshots each (the rdb and the manifest) are gone from local");
        (await SnapshotsAsync(Remote, key)).Should().HaveCount(remoteBefore.Count - 2);
        var listed = await SetsAsync();
        listed.Should().Contain([sets[0], sets[3]]).And.NotContain([sets[1], sets[2]]);

        foreach (var repository in new[] { Local, Remote })
        {
            var check = await LlmStack.Pipeline.ProcessRunner.RunAsync("restic", ["-r", repository, "--password-file", key, "check"], "/", null, CancellationToken.None);
            check.ExitCode.Should().Be(0, string.Join('\n', check.Output));
        }

        var again = await Run("RetentionCleanup", "--confirm", "testing");
        again.ExitCode.Should().Be(0, again.ToString());
        again.Output.Should().Contain("nothing to change");
        File.ReadLines(Path.Combine(Docker.Root, "audit", "audit.jsonl")).Count(l => l.Contains("\"target\":\"RetentionCleanup\"", StringComparison.Ordinal) && l.Contains(sets[1], StringComparison.Ordinal))
            .Should().Be(2, "one forget per tier");
    }

    [Fact]
    public async Task An_empty_policy_is_refused_before_anything_is_read()
    {
        await File.WriteAllTextAsync(RetentionConfig, (await File.ReadAllTextAsync(RetentionConfig)).Replace("  local:\n    keep_last: 1", "  local:\n    keep_last: 0", StringComparison.Ordinal));
        var cleanup = await Run("RetentionCleanup", "--confirm", "testing");
        cleanup.ExitCode.Should().Be(1);
        cleanup.Output.Should().Contain("policy 'local' has no keep rule");
    }

    private async Task<string> SqlAsync(string sql)
    {
        var (exit, output) = await Docker.ExecAsync("multimodal-testing-postgres-1", "psql", "-v", "ON_ERROR_STOP=1", "-At", "-U", "multimodal", "-d", "multimodal", "-c", sql);
        exit.Should().Be(0, output);
        return output.Trim();
    }

    [Fact]
    public async Task Old_rows_go_in_batches_archived_rows_are_exactly_the_removed_ones_and_the_dry_run_only_counts()
    {
        var suffix = Guid.NewGuid().ToString("N")[..6];
        var logs = $"it_logs_{suffix}";
        var audit = $"it_audit_{suffix}";
        await SqlAsync($"CREATE TABLE {logs} (id serial PRIMARY KEY, created_at timestamptz NOT NULL, msg text)");
        await SqlAsync($"CREATE TABLE {audit} (id serial PRIMARY KEY, created_at timestamptz NOT NULL, msg text)");
        await SqlAsync($"INSERT INTO {logs} (created_at, msg) SELECT now() - interval '10 days' - g * interval '1 minute', 'old ' || g FROM generate_series(1, 120) g");
        await SqlAsync($"INSERT INTO {logs} (created_at, msg) SELECT now() - interval '1 day', 'new ' || g FROM generate_series(1, 30) g");
        await SqlAsync($"INSERT INTO {audit} (created_at, msg) SELECT now() - interval '20 days', E'line one\\nline two\\t' || g FROM generate_series(1, 25) g");
        await SqlAsync($"INSERT INTO {audit} (created_at, msg) SELECT now() - interval '2 days', 'recent ' || g FROM generate_series(1, 5) g");
        var archivedExpected = await Docker.ExecAsync("multimodal-testing-postgres-1", "psql", "-U", "multimodal", "-d", "multimodal", "-c",
            $"COPY (SELECT * FROM {audit} WHERE created_at < now() - interval '14 days') TO STDOUT");
        try
        {
            await File.WriteAllTextAsync(RetentionConfig, (await File.ReadAllTextAsync(RetentionConfig))
                .Replace("      - table: logs\n        date_column: created_at\n        days: 7",
                    $"      - table: {logs}\n        date_column: created_at\n        days: 7\n        batch_size: 50", StringComparison.Ordinal)
                .Replace("      - table: audit_logs\n        date_column: created_at\n        days: 90", $"      - table: {audit}\n        date_column: created_at\n        days: 14", StringComparison.Ordinal)
                .Replace("      - table: sessions", $"      - table: it_missing_{suffix}", StringComparison.Ordinal));
            (await Run("BackupService", "--service", "redis")).ExitCode.Should().Be(0, "the archive goes into the environment's repository");

            var dry = await Run("RetentionTest");
            dry.ExitCode.Should().Be(0, dry.ToString());
            dry.Output.Should().Contain($"postgres/multimodal.{logs}").And.Contain("120 row(s)").And.Contain("25 row(s)")
                .And.Contain($"postgres/multimodal.it_missing_{suffix}").And.Contain("does not exist");
            (await SqlAsync($"SELECT count(*) FROM {logs}")).Should().Be("150");
            (await SqlAsync($"SELECT count(*) FROM {audit}")).Should().Be("30");

            var cleanup = await Run("RetentionCleanupService", "--service", "postgres", "--confirm", "testing");
            cleanup.ExitCode.Should().Be(0, cleanup.ToString());
            cleanup.Output.Should().Contain("120 row(s) deleted").And.Contain("25 row(s) archived");
            (await SqlAsync($"SELECT count(*) FROM {logs}")).Should().Be("30");
            (await SqlAsync($"SELECT count(*) FROM {logs} WHERE msg LIKE 'old %'")).Should().Be("0");
            (await SqlAsync($"SELECT count(*) FROM {audit}")).Should().Be("5");

            var key = Path.Combine(Docker.Root, "secrets", "testing.backup-key");
            var snapshots = await LlmStack.Pipeline.ProcessRunner.RunCheckedAsync("restic", ["-r", Local, "--password-file", key, "snapshots", "--json", "--no-lock", "--tag", "kind=archive"], "/", null, CancellationToken.None);
            var archive = JsonDocument.Parse(string.Concat(snapshots.Output)).RootElement.EnumerateArray().Single();
            var path = archive.GetProperty("paths")[0].GetString()!;
            var dump = await LlmStack.Pipeline.ProcessRunner.RunCheckedAsync("restic", ["-r", Local, "--password-file", key, "dump", "--no-lock", archive.GetProperty("id").GetString()!, path], "/", null, CancellationToken.None);
            string.Join('\n', dump.Output).Trim().Should().Be(archivedExpected.Output.Trim(), "the archive holds exactly the rows removed");
            dump.Output.Should().HaveCount(25);
        }
        finally
        {
            await SqlAsync($"DROP TABLE IF EXISTS {logs}, {audit}");
        }
    }
}
