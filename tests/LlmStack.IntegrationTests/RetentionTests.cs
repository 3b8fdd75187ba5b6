using System.Text.Json;

namespace LlmStack.IntegrationTests;

/// <summary>
/// Retention on the real engine: backups on two tiers (the dry run changes nothing, the cleanup removes exactly the plan,
/// restic check stays clean), rows in PostgreSQL, TTLs in Redis, files and model directories in a volume.
/// </summary>
[Collection(TestLane.MainCollection)]
[Trait("Category", "Integration")]
public sealed class RetentionTests(RunningInference core) : IClassFixture<RunningInference>, IAsyncLifetime
{
    private static readonly string Postgres = TestNames.Container("postgres");
    private readonly string _work = Path.Combine(Path.GetTempPath(), $"llmstack-it-retention-{Guid.NewGuid():N}");

    private DockerFixture Docker => core.Docker;

    private string BackupConfig => Path.Combine(_work, "backup-strategies.yaml");

    private string RetentionConfig => Path.Combine(_work, "retention-policies.yaml");

    private TestRun Build => new(Docker.Root) { Arguments = ["--backup-config", BackupConfig, "--retention-config", RetentionConfig] };

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
            .Replace("tiers:\n  local: local\n", "tiers:\n  local: local\n  nas: remote\n", StringComparison.Ordinal)
            .Replace("when_unused_above: 10%", "when_unused_above: 0%", StringComparison.Ordinal);
        await File.WriteAllTextAsync(RetentionConfig, retention);
        (await Build.RunAsync("StartInference")).ExitCode.Should().Be(0);
    }

    public Task DisposeAsync()
    {
        Directory.Delete(_work, recursive: true);
        return Task.CompletedTask;
    }

    private static async Task<List<string>> SnapshotsAsync(string repository, string keyFile)
    {
        var result = await LlmStack.Pipeline.ProcessRunner.RunCheckedAsync("restic", ["-r", repository, "--password-file", keyFile, "snapshots", "--json", "--no-lock"], "/", null, CancellationToken.None);
        return JsonDocument.Parse(string.Concat(result.Output)).RootElement.EnumerateArray().Select(s => s.GetProperty("id").GetString()!).Order().ToList();
    }

    private async Task<List<string>> SetsAsync()
    {
        var list = await Build.RunAsync("BackupList", "--json");
        list.ExitCode.Should().Be(0, list.ToString());
        var json = list.StandardOutput;
        return JsonDocument.Parse(json).RootElement.EnumerateArray().Select(r => r.GetProperty("set").GetString()!).Distinct().Order().ToList();
    }

    [Fact]
    public async Task RetentionTest_changes_nothing_and_RetentionCleanup_removes_exactly_the_plan_keeping_the_newest_verified()
    {
        var sets = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            var backup = await Build.RunAsync("BackupService", "--service", "redis");
            backup.ExitCode.Should().Be(0, backup.ToString());
            sets.Add(backup.Output.Split("Backup set ")[1][..21]);
        }

        // The oldest set is the only verified one: the safety rules keep it although no keep rule does.
        (await Build.RunAsync("BackupVerify", "--backup-set", sets[0], "--read-data-subset", "0")).ExitCode.Should().Be(0);
        var key = Path.Combine(Docker.Root, "secrets", "testing.backup-key");
        var localBefore = await SnapshotsAsync(Local, key);
        var remoteBefore = await SnapshotsAsync(Remote, key);
        var listBefore = await SetsAsync();

        var dry = await Build.RunAsync("RetentionTest");
        dry.ExitCode.Should().Be(0, dry.ToString());
        dry.Output.Should().Contain($"local/{sets[1]}").And.Contain("would forget").And.Contain("newest verified");
        (await SnapshotsAsync(Local, key)).Should().Equal(localBefore);
        (await SnapshotsAsync(Remote, key)).Should().Equal(remoteBefore);
        (await SetsAsync()).Should().Equal(listBefore);

        var status = await Build.RunAsync("RetentionStatus", "--json");
        status.ExitCode.Should().Be(0, status.ToString());
        var plan = JsonDocument.Parse(status.StandardOutput).RootElement;
        var tiers = plan.GetProperty("tiers").EnumerateArray().ToDictionary(t => t.GetProperty("tier").GetString()!, t => t.GetProperty("remove").EnumerateArray().Select(s => s.GetString()!).ToList());
        tiers["local"].Should().BeEquivalentTo(sets[1], sets[2]);   // keep-last 1 keeps sets[3]; sets[0] is the newest verified
        tiers["nas"].Should().BeEquivalentTo(sets[1]);              // keep-last 2 keeps sets[2] and sets[3]; sets[0] verified there too

        var cleanup = await Build.RunAsync("RetentionCleanup", "--confirm", "testing");
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

        var again = await Build.RunAsync("RetentionCleanup", "--confirm", "testing");
        again.ExitCode.Should().Be(0, again.ToString());
        again.Output.Should().Contain("nothing to change");
        File.ReadLines(Path.Combine(Docker.Root, "audit", "audit.jsonl")).Count(l => l.Contains("\"target\":\"RetentionCleanup\"", StringComparison.Ordinal) && l.Contains(sets[1], StringComparison.Ordinal))
            .Should().Be(2, "one forget per tier");
    }

    [Fact]
    public async Task RetentionCleanup_forgets_the_members_of_a_set_whose_run_ended_before_its_manifest_and_says_so()
    {
        // Fault 7: member snapshots of a set that never got its manifest were invisible to BackupList and never removed.
        var backup = await Build.RunAsync("BackupService", "--service", "redis");
        backup.ExitCode.Should().Be(0, backup.ToString());
        var key = Path.Combine(Docker.Root, "secrets", "testing.backup-key");
        int pid;
        using (var ended = System.Diagnostics.Process.Start("true")!)
        {
            await ended.WaitForExitAsync();
            pid = ended.Id;
        }

        // What a run killed half-way leaves: a member snapshot tagged with its set and run, and no manifest.
        const string orphan = "20260101T000000Z-dead";
        string[] tags = ["llmstack", "kind=member", "env=testing", $"set={orphan}", "version=0.0.0", "service=redis", "type=rdb", "part=dump.rdb", $"run={System.Environment.MachineName}/{pid}"];
        await LlmStack.Pipeline.ProcessRunner.RunCheckedAsync("sh",
            ["-c", $"echo partial | restic -r \"$0\" --password-file \"$1\" backup --stdin --stdin-filename /redis/rdb/dump.rdb --host {TestNames.Project()} {string.Join(' ', tags.Select(t => $"--tag {t}"))}", Local, key],
            "/", null, CancellationToken.None);
        var before = await SnapshotsAsync(Local, key);

        var dry = await Build.RunAsync("RetentionTest");
        dry.ExitCode.Should().Be(0, dry.ToString());
        dry.Output.Should().MatchRegex($@"orphaned members\s+local/{orphan}\s+\S+ \S+Z, 1 snapshot\(s\)\s+would forget\s+member snapshots of a set that never got its manifest: its run \(\S+\) has ended");
        (await SnapshotsAsync(Local, key)).Should().Equal(before, "a dry run forgets nothing");

        var cleanup = await Build.RunAsync("RetentionCleanup", "--confirm", "testing");
        cleanup.ExitCode.Should().Be(0, cleanup.ToString());
        cleanup.Output.Should().Contain($"Removed 1 orphaned member snapshot(s) of 1 set(s) that never got a manifest (their run stopped before the end) from tier local: {orphan} (1: redis/rdb dump.rdb)");
        (await SnapshotsAsync(Local, key)).Should().HaveCount(before.Count - 1, "only the orphan is gone: the one redis set is kept by keep_last 1");
        (await SetsAsync()).Should().HaveCount(1);
    }

    [Fact]
    public async Task An_empty_policy_is_refused_before_anything_is_read()
    {
        await File.WriteAllTextAsync(RetentionConfig, (await File.ReadAllTextAsync(RetentionConfig)).Replace("  local:\n    keep_last: 1", "  local:\n    keep_last: 0", StringComparison.Ordinal));
        var cleanup = await Build.RunAsync("RetentionCleanup", "--confirm", "testing");
        cleanup.ExitCode.Should().Be(1);
        cleanup.Output.Should().Contain("policy 'local' has no keep rule");
    }

    private async Task<string> SqlAsync(string sql)
    {
        var (exit, output) = await Docker.ExecAsync(Postgres, "psql", "-v", "ON_ERROR_STOP=1", "-At", "-U", "multimodal", "-d", "multimodal", "-c", sql);
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
        var archivedExpected = await Docker.ExecAsync(Postgres, "psql", "-U", "multimodal", "-d", "multimodal", "-c",
            $"COPY (SELECT * FROM {audit} WHERE created_at < now() - interval '14 days') TO STDOUT");
        try
        {
            await File.WriteAllTextAsync(RetentionConfig, (await File.ReadAllTextAsync(RetentionConfig))
                .Replace("      - table: logs\n        date_column: created_at\n        days: 7",
                    $"      - table: {logs}\n        date_column: created_at\n        days: 7\n        batch_size: 50", StringComparison.Ordinal)
                .Replace("      - table: audit_logs\n        date_column: created_at\n        days: 90", $"      - table: {audit}\n        date_column: created_at\n        days: 14", StringComparison.Ordinal)
                .Replace("      - table: sessions", $"      - table: it_missing_{suffix}", StringComparison.Ordinal));
            (await Build.RunAsync("BackupService", "--service", "redis")).ExitCode.Should().Be(0, "the archive goes into the environment's repository");

            var dry = await Build.RunAsync("RetentionTest");
            dry.ExitCode.Should().Be(0, dry.ToString());
            dry.Output.Should().Contain($"postgres/multimodal.{logs}").And.Contain("120 row(s)").And.Contain("25 row(s)")
                .And.Contain($"postgres/multimodal.it_missing_{suffix}").And.Contain("does not exist");
            (await SqlAsync($"SELECT count(*) FROM {logs}")).Should().Be("150");
            (await SqlAsync($"SELECT count(*) FROM {audit}")).Should().Be("30");

            var cleanup = await Build.RunAsync("RetentionCleanupService", "--service", "postgres", "--confirm", "testing");
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

    private static readonly string Vllm = TestNames.Container("vllm");
    private static readonly string Redis = TestNames.Container("redis");

    private async Task<string> RedisAsync(int database, params string[] command)
    {
        var (exit, output) = await Docker.ExecAsync(Redis, ["redis-cli", "-n", database.ToString(System.Globalization.CultureInfo.InvariantCulture), .. command]);
        exit.Should().Be(0, output);
        return output.Trim();
    }

    private async Task<string> InVllmAsync(string script)
    {
        var (exit, output) = await Docker.ExecAsync(Vllm, "sh", "-c", script);
        exit.Should().Be(0, output);
        return output.Trim();
    }

    /// <summary>Every file and directory under the cache with its modification time, and every test key with its TTL.</summary>
    private async Task<string> StateAsync(string prefix) =>
        await InVllmAsync("cd /root/.cache && find huggingface vllm -exec stat -c '%Y %n' {} + | sort") + "\n"
        + string.Join('\n', await Task.WhenAll(new[] { (0, "a"), (0, "b"), (0, "c"), (3, "d") }.Select(async k => $"{k.Item1}:{k.Item2} {Ttl(await RedisAsync(k.Item1, "TTL", $"{prefix}{k.Item2}"))}")));

    /// <summary>A TTL as what the rule looks at (TTLs count down, so not the seconds).</summary>
    private static string Ttl(string seconds) => long.Parse(seconds, System.Globalization.CultureInfo.InvariantCulture) switch
    {
        -1 => "none",
        > 86_400 => "over a day",
        _ => "a day or less",
    };

    [Fact]
    public async Task Redis_TTLs_files_and_model_directories_change_only_as_the_rules_say_and_never_in_the_dry_run()
    {
        var prefix = $"it{Guid.NewGuid():N}"[..10] + ":";
        await RedisAsync(0, "SET", $"{prefix}a", "no ttl");
        await RedisAsync(0, "SET", $"{prefix}b", "ten days", "EX", "864000");
        await RedisAsync(0, "SET", $"{prefix}c", "one minute", "EX", "60");
        await RedisAsync(3, "SET", $"{prefix}d", "no ttl, db 3");
        await RedisAsync(0, "SET", $"other{prefix}x", "not matched");
        var old = "$(date -d @$(( $(date +%s) - 10 * 86400 )) '+%Y-%m-%d %H:%M:%S')";
        await InVllmAsync(
            "set -e; cd /root/.cache; mkdir -p vllm/torch_compile_cache huggingface/hub; " +
            "echo old > vllm/torch_compile_cache/old.bin; echo new > vllm/torch_compile_cache/new.bin; " +
            $"touch -d \"{old}\" vllm/torch_compile_cache/old.bin; " +
            "for m in models--microsoft--DialoGPT-medium models--old--unused models--fresh--model; do " +
            "mkdir -p hub/$m/blobs hub/$m/snapshots/abc; echo weights > hub/$m/blobs/b1; ln -sf ../../blobs/b1 hub/$m/snapshots/abc/config.json; done; " +
            "mv hub/* huggingface/hub/; rmdir hub; cd huggingface/hub; " +
            $"for m in models--microsoft--DialoGPT-medium models--old--unused; do find $m -exec touch -h -d \"{old}\" {{}} +; done");
        try
        {
            await File.WriteAllTextAsync(RetentionConfig, (await File.ReadAllTextAsync(RetentionConfig))
                .Replace("      - pattern: \"processing:*\"\n        databases: [0]\n        days: 1", $"      - pattern: \"{prefix}*\"\n        databases: [0, 3]\n        days: 1", StringComparison.Ordinal)
                .Replace("  vllm:\n    models:", "  vllm:\n    files:\n      - volume: vllm_cache\n        path: vllm/torch_compile_cache\n        days: 7\n    models:", StringComparison.Ordinal)
                .Replace("      path: huggingface/hub\n      days: 30", "      path: huggingface/hub\n      days: 7", StringComparison.Ordinal));
            (await Build.RunAsync("BackupService", "--service", "redis")).ExitCode.Should().Be(0, "RetentionTest reads every tier, which must exist");
            var before = await StateAsync(prefix);
            before.Should().Contain("models--old--unused").And.Contain("old.bin").And.Contain("0:a none").And.Contain("0:b over a day").And.Contain("3:d none");

            var dry = await Build.RunAsync("RetentionTest");
            dry.ExitCode.Should().Be(0, dry.ToString());
            dry.Output.Should().MatchRegex($@"redis/db0:{System.Text.RegularExpressions.Regex.Escape(prefix)}\*\s+2 of 3 key\(s\)\s+would expire")
                .And.MatchRegex($@"redis/db3:{System.Text.RegularExpressions.Regex.Escape(prefix)}\*\s+1 of 1 key\(s\)\s+would expire")
                .And.MatchRegex(@"vllm/vllm_cache:vllm/torch_compile_cache\s+1 file\(s\), 4 B\s+would delete")
                .And.MatchRegex(@"huggingface/hub/models--old--unused\s.*would remove")
                .And.MatchRegex(@"huggingface/hub/models--microsoft--DialoGPT-medium\s.*keep\s+in use: microsoft/DialoGPT-medium")
                .And.MatchRegex(@"huggingface/hub/models--fresh--model\s.*keep\s+used ");
            (await StateAsync(prefix)).Should().Be(before, "the dry run changes no TTL, file or directory");

            var redis = await Build.RunAsync("RetentionCleanupService", "--service", "redis", "--confirm", "testing");
            redis.ExitCode.Should().Be(0, redis.ToString());
            redis.Output.Should().Contain("TTL set on 2 key(s)").And.Contain("TTL set on 1 key(s)");
            long Ttl(string text) => long.Parse(text, System.Globalization.CultureInfo.InvariantCulture);
            Ttl(await RedisAsync(0, "TTL", $"{prefix}a")).Should().BeInRange(86_000, 86_400, "a key without a TTL gets one");
            Ttl(await RedisAsync(0, "TTL", $"{prefix}b")).Should().BeInRange(86_000, 86_400, "a longer TTL is shortened");
            Ttl(await RedisAsync(0, "TTL", $"{prefix}c")).Should().BeInRange(1, 60, "a shorter TTL is left as it is");
            Ttl(await RedisAsync(3, "TTL", $"{prefix}d")).Should().BeInRange(86_000, 86_400, "every configured database");
            Ttl(await RedisAsync(0, "TTL", $"other{prefix}x")).Should().Be(-1, "keys that do not match are not touched");
            (await RedisAsync(0, "EXISTS", $"{prefix}a", $"{prefix}b", $"{prefix}c")).Should().Be("3", "no key is ever deleted");

            var vllm = await Build.RunAsync("RetentionCleanupService", "--service", "vllm", "--confirm", "testing");
            vllm.ExitCode.Should().Be(0, vllm.ToString());
            vllm.Output.Should().Contain("1 file(s), 4 B deleted").And.Contain("directory removed");
            var after = await InVllmAsync("cd /root/.cache && find vllm huggingface/hub -mindepth 1 -maxdepth 2 | sort");
            after.Should().Contain("vllm/torch_compile_cache/new.bin").And.NotContain("old.bin");
            after.Should().Contain("huggingface/hub/models--microsoft--DialoGPT-medium").And.Contain("huggingface/hub/models--fresh--model").And.NotContain("models--old--unused");

            var again = await Build.RunAsync("RetentionCleanupService", "--service", "vllm", "--confirm", "testing");
            again.ExitCode.Should().Be(0, again.ToString());
            again.Output.Should().Contain("nothing to change");
        }
        finally
        {
            await InVllmAsync("rm -rf /root/.cache/vllm /root/.cache/huggingface");
            await RedisAsync(0, "DEL", $"{prefix}a", $"{prefix}b", $"{prefix}c", $"other{prefix}x");
            await RedisAsync(3, "DEL", $"{prefix}d");
        }
    }
}
