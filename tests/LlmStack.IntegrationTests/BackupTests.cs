using System.Globalization;
using System.Text.Json;
using Docker.DotNet.Models;
using LlmStack.Compose;

namespace LlmStack.IntegrationTests;

/// <summary>The core stack of the testing environment, started once for a class's tests.</summary>
public sealed class RunningCore() : RunningStacks("StartCore");

/// <summary>The core stack of the second lane's environment (<see cref="TestLane.Second"/>), started once for a class's tests.</summary>
public sealed class SecondLaneCore() : RunningStacks("StartCore", TestLane.Second);

/// <summary>Backups and restores on restic against real PostgreSQL and Redis and a stand-in's volume (in the second lane).</summary>
[Collection(TestLane.SecondCollection)]
[Trait("Category", "Integration")]
public sealed class BackupTests(SecondLaneCore core) : IClassFixture<SecondLaneCore>, IAsyncLifetime
{
    private static readonly TestLane Lane = TestLane.Second;
    private static readonly string Env = Lane.Environment;
    private static readonly string Postgres = Lane.Container("postgres");
    private static readonly string Redis = Lane.Container("redis");
    private static readonly string Qdrant = Lane.Container("qdrant");
    private static readonly string Minio = Lane.Container("minio");
    private readonly string _work = Path.Combine(Path.GetTempPath(), $"llmstack-it-backup-{Guid.NewGuid():N}");
    private readonly List<Cli.Result> _runs = [];

    private DockerFixture Docker => core.Docker;

    private string ConfigFile => Path.Combine(_work, "backup-strategies.yaml");

    /// <summary>Every run of a test is recorded (<see cref="_runs"/>).</summary>
    private TestRun Build => core.Run with { Arguments = [.. core.Run.Arguments, "--backup-config", ConfigFile], Recorded = _runs.Add };

    private string Repository => Path.Combine(_work, "tier", Env);

    private string KeyFile => Lane.SecretFile(Docker.Root, "backup-key");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_work);
        var config = await File.ReadAllTextAsync(Path.Combine(Docker.Root, "configs", "backup-strategies.yaml"));
        await File.WriteAllTextAsync(ConfigFile, Lane.WithEnvironment(config.Replace("    path: backups", $"    path: {Path.Combine(_work, "tier")}", StringComparison.Ordinal)));

        // Every test starts from a healthy, unpaused core (a previous test may have stopped a service).
        var start = await Build.RunAsync("StartCore");
        start.ExitCode.Should().Be(0, start.ToString());
    }

    public Task DisposeAsync()
    {
        Directory.Delete(_work, recursive: true);
        return Task.CompletedTask;
    }

    private async Task<string> Sh(string container, string script)
    {
        var (code, output) = await Docker.ExecAsync(container, "sh", "-c", script);
        code.Should().Be(0, output);
        return output;
    }

    private Task<string> Sql(string sql) => Sh(Postgres, $"psql -U multimodal -d multimodal -AtX -v ON_ERROR_STOP=1 -c \"{sql}\"");

    private Task<string> Tree() => Sh(Qdrant, "cd /qdrant/storage && find . -exec stat -c '%n %a %s' {} \\; | sort && find . -type f -exec sha256sum {} \\; | sort");

    private async Task<List<JsonElement>> ListAsync()
    {
        var list = await Build.RunAsync("BackupList", "--json");
        list.ExitCode.Should().Be(0, list.ToString());
        var json = list.StandardOutput;
        return JsonDocument.Parse(json).RootElement.EnumerateArray().ToList();
    }

    private async Task AssertEverythingRunsAsync()
    {
        foreach (var container in await Docker.ContainersAsync(Env, "core"))
        {
            var state = (await Docker.Docker.Containers.InspectContainerAsync(container.ID)).State!;
            state.Running.Should().BeTrue($"{container.Names[0]} runs again");
            state.Paused.Should().BeFalse($"{container.Names[0]} is not left paused");
        }
    }

    [Fact]
    public async Task BackupFull_then_Restore_brings_back_postgres_rows_and_roles_redis_keys_and_ttls_and_a_volume_tree_exactly()
    {
        await Sql("DROP TABLE IF EXISTS ledger; DROP ROLE IF EXISTS auditor; CREATE ROLE auditor LOGIN; "
                  + "CREATE TABLE ledger (id int primary key, body text); INSERT INTO ledger SELECT g, 'row ' || g || E'\\\\nsecond line' FROM generate_series(1, 500) g;");
        var rows = await Sql("SELECT id, body FROM ledger ORDER BY id");
        await Sh(Redis, "redis-cli FLUSHALL && redis-cli SET plain value && redis-cli SET temporary soon EX 3600 && redis-cli -n 2 HSET profile name ada");
        await Sh(Qdrant, "rm -rf /qdrant/storage/* && mkdir -p /qdrant/storage/collections/docs && head -c 300000 /dev/urandom > /qdrant/storage/collections/docs/segment.bin "
                         + "&& chmod 640 /qdrant/storage/collections/docs/segment.bin && echo meta > /qdrant/storage/meta.json && chmod 700 /qdrant/storage/collections");
        var tree = await Tree();

        var backup = await Build.RunAsync("BackupFull");
        backup.ExitCode.Should().Be(0, backup.ToString());
        backup.Output.Should().Contain("Backed up postgres/full").And.Contain("Backed up redis/rdb").And.Contain("Backed up qdrant/qdrant_data")
            .And.Contain("Backed up config/config").And.Contain("Nothing to back up for vllm/vllm_cache").And.MatchRegex(@"Backup set \S+: complete");
        (await Docker.Docker.Volumes.ListAsync(new VolumesListParameters())).Volumes.Select(v => v.Name).Should().NotContain(Lane.Volume("vllm_cache"),
            "a volume that does not exist is never created by a backup");
        var listed = await ListAsync();
        listed.Select(r => r.GetProperty("service").GetString()).Should().Contain(["postgres", "redis", "qdrant (qdrant_data)", "minio (minio_data)", "config"]);
        (await Build.RunAsync("BackupStatus")).ExitCode.Should().Be(0);
        await AssertEverythingRunsAsync();

        await Sql("DELETE FROM ledger WHERE id > 100; UPDATE ledger SET body = 'changed'; DROP ROLE auditor;");
        await Sh(Redis, "redis-cli FLUSHALL && redis-cli SET intruder 1");
        await Sh(Qdrant, "rm -rf /qdrant/storage/collections && echo changed > /qdrant/storage/meta.json && echo new > /qdrant/storage/new.txt");

        var dryRun = await Build.RunAsync("Restore", "--service", "postgres", "--dry-run");
        dryRun.ExitCode.Should().Be(0, dryRun.ToString());
        dryRun.Output.Should().MatchRegex(@"postgres\s+postgres/full\s+\S+ \S+\s+would restore");
        (await Sql("SELECT count(*) FROM ledger")).Trim().Should().Be("100", "a dry run changes nothing");

        foreach (var service in new[] { "postgres", "redis", "qdrant" })
        {
            var restore = await Build.RunAsync("Restore", "--service", service, "--confirm", Env);
            restore.ExitCode.Should().Be(0, restore.ToString());
            restore.Output.Should().Contain("Restored and checked").And.Contain("trigger pre-restore");
        }

        (await Sql("SELECT id, body FROM ledger ORDER BY id")).Should().Be(rows);
        (await Sql("SELECT rolname FROM pg_roles WHERE rolname = 'auditor'")).Trim().Should().Be("auditor");
        (await Sh(Redis, "redis-cli KEYS '*' | sort")).Split('\n', StringSplitOptions.RemoveEmptyEntries).Should().Equal("plain", "temporary");
        (await Sh(Redis, "redis-cli GET plain")).Trim().Should().Be("value");
        int.Parse((await Sh(Redis, "redis-cli TTL temporary")).Trim(), CultureInfo.InvariantCulture).Should().BeInRange(3000, 3600, "the TTL survives");
        (await Sh(Redis, "redis-cli -n 2 HGET profile name")).Trim().Should().Be("ada");
        (await Tree()).Should().Be(tree, "the volume is byte-identical, with its modes");
        await AssertEverythingRunsAsync();

        var after = await ListAsync();
        after.Count(r => r.GetProperty("trigger").GetString() == "pre-restore").Should().Be(3, "each restore kept a safety copy first");

        // Neither the environment's secrets nor the repository key ever reach the console or the logs.
        var secrets = File.ReadAllLines(Lane.SecretFile(Docker.Root, "env")).Where(l => l.Contains('=') && !l.StartsWith('#')).Select(l => l[(l.IndexOf('=') + 1)..]).ToList();
        secrets.Add(File.ReadAllText(KeyFile).Trim());
        foreach (var run in _runs)
        {
            foreach (var secret in secrets)
            {
                (run.Output + run.Log + run.JsonLog).Should().NotContain(secret);
            }
        }
    }

    [Fact]
    public async Task Data_only_postgres_and_aof_redis_backups_restore_exactly()
    {
        await Sql("DROP TABLE IF EXISTS stock; CREATE TABLE stock (sku text primary key, qty int); INSERT INTO stock SELECT 'sku-' || g, g FROM generate_series(1, 50) g;");
        var rows = await Sql("SELECT sku, qty FROM stock ORDER BY sku");
        await Sh(Redis, "redis-cli FLUSHALL && redis-cli SET kept 1 && redis-cli RPUSH queue a b c");

        (await Build.RunAsync("BackupService", "--service", "postgres", "--backup-type", "data")).ExitCode.Should().Be(0);
        var aof = await Build.RunAsync("BackupService", "--service", "redis", "--backup-type", "aof");
        aof.ExitCode.Should().Be(0, aof.ToString());

        await Sql("DELETE FROM stock WHERE qty > 10; INSERT INTO stock VALUES ('extra', 1); UPDATE stock SET qty = 0;");
        await Sh(Redis, "redis-cli FLUSHALL && redis-cli SET other 2");

        var data = await Build.RunAsync("Restore", "--service", "postgres", "--backup-type", "data", "--confirm", Env);
        data.ExitCode.Should().Be(0, data.ToString());
        (await Sql("SELECT sku, qty FROM stock ORDER BY sku")).Should().Be(rows);

        var restored = await Build.RunAsync("Restore", "--service", "redis", "--backup-type", "aof", "--confirm", Env);
        restored.ExitCode.Should().Be(0, restored.ToString());
        (await Sh(Redis, "redis-cli KEYS '*' | sort")).Split('\n', StringSplitOptions.RemoveEmptyEntries).Should().Equal("kept", "queue");
        (await Sh(Redis, "redis-cli LRANGE queue 0 -1")).Split('\n', StringSplitOptions.RemoveEmptyEntries).Should().Equal("a", "b", "c");
        await AssertEverythingRunsAsync();
    }

    [Fact]
    public async Task A_backup_killed_mid_run_leaves_no_listed_backup_its_paused_service_comes_back_and_the_next_backup_succeeds()
    {
        await Sh(Minio, "dd if=/dev/urandom of=/data/big.bin bs=1M count=400 2>/dev/null");
        try
        {
            var killed = await Build.RunAsync(["BackupService", "--service", "minio"],
                whileRunning: async process =>
                {
                    var deadline = DateTime.UtcNow.AddMinutes(2);
                    while (!(await Docker.Docker.Containers.InspectContainerAsync(Minio)).State!.Paused)
                    {
                        DateTime.UtcNow.Should().BeBefore(deadline, "the backup pauses minio while it reads its volume");
                        await Task.Delay(20);
                    }

                    using var kill = System.Diagnostics.Process.Start("kill", ["-KILL", process.Id.ToString(CultureInfo.InvariantCulture)])!;
                    await kill.WaitForExitAsync();
                });
            killed.ExitCode.Should().Be(137, killed.ToString());
            await Task.Delay(2000); // restic, left alone, sees the end of its input

            (await ListAsync()).Should().NotContain(r => r.GetProperty("service").GetString() == "minio (minio_data)", "a run that never wrote its manifest has no backup");

            var next = await Build.RunAsync("BackupService", "--service", "minio");
            next.ExitCode.Should().Be(0, next.ToString());
            next.Output.Should().Contain($"left 1 container(s) paused or stopped ({Minio}): bringing them back");
            (await ListAsync()).Count(r => r.GetProperty("service").GetString() == "minio (minio_data)").Should().Be(1);
            await AssertEverythingRunsAsync();
        }
        finally
        {
            await Build.RunAsync("StartCore"); // unpauses minio if the test failed before the recovery did
            await Sh(Minio, "rm -f /data/big.bin");
        }
    }

    private string AuditFile => Path.Combine(Docker.Root, "audit", "audit.jsonl");

    private Task<string> MinioTree() => Sh(Minio, "cd /data && find . -path ./.minio.sys -prune -o -type f -exec sha256sum {} \\; | sort");

    private async Task<string> StateAsync() =>
        string.Join("\n", await Sql("SELECT count(*), coalesce(sum(id), 0) FROM orders"), await Sh(Redis, "redis-cli KEYS '*' | sort; redis-cli GET session"), await Tree(), await MinioTree());

    private async Task<IList<ContainerListResponse>> HelpersAsync() =>
        await Docker.Docker.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>>
            {
                ["label"] = new Dictionary<string, bool> { [Names.Helper] = true, [$"{Names.Environment}={Env}"] = true },
            },
        });

    /// <summary>Every member snapshot of the repository whose set has no manifest snapshot.</summary>
    private async Task<List<string>> MembersWithoutManifestAsync()
    {
        var result = await LlmStack.Pipeline.ProcessRunner.RunCheckedAsync("restic",
            ["-r", Repository, "--password-file", KeyFile, "snapshots", "--json", "--no-lock"], "/", null, CancellationToken.None);
        var snapshots = JsonDocument.Parse(string.Concat(result.Output)).RootElement.EnumerateArray()
            .Select(s => s.GetProperty("tags").EnumerateArray().Select(t => t.GetString()!).ToList()).ToList();
        static string? Tag(List<string> tags, string key) => tags.FirstOrDefault(t => t.StartsWith(key + "=", StringComparison.Ordinal))?[(key.Length + 1)..];
        var manifests = snapshots.Where(t => t.Contains("kind=set")).Select(t => Tag(t, "set")).ToHashSet();
        return snapshots.Where(t => t.Contains("kind=member") && !manifests.Contains(Tag(t, "set"))).Select(t => $"{Tag(t, "set")} {Tag(t, "service")}/{Tag(t, "part")}").ToList();
    }

    /// <summary>A full set of old data, then today's data in every member; returns the set and today's state.</summary>
    private async Task<(string Set, string Today)> OldSetAndTodaysDataAsync()
    {
        await Sql("DROP TABLE IF EXISTS orders; CREATE TABLE orders (id int); INSERT INTO orders SELECT generate_series(1, 20);");
        await Sh(Redis, "redis-cli FLUSHALL && redis-cli SET session old");
        await Sh(Qdrant, "rm -rf /qdrant/storage/* && echo old > /qdrant/storage/a.txt");
        await Sh(Minio, "mkdir -p /data/bucket && echo old > /data/bucket/object.txt");
        var backup = await Build.RunAsync("BackupFull");
        backup.ExitCode.Should().Be(0, backup.ToString());
        var set = (await ListAsync()).First(r => r.GetProperty("trigger").GetString() == "BackupFull").GetProperty("set").GetString()!;

        await Sql("DELETE FROM orders WHERE id > 5; INSERT INTO orders VALUES (100);");
        await Sh(Redis, "redis-cli FLUSHALL && redis-cli SET session today && redis-cli SET fresh 1");
        await Sh(Qdrant, "echo today > /qdrant/storage/a.txt && echo new > /qdrant/storage/b.txt");
        await Sh(Minio, "echo today > /data/bucket/object.txt");
        return (set, await StateAsync());
    }

    /// <summary>Whether the run's audit lines (after <paramref name="offset"/>) show a restore change done.</summary>
    private async Task<bool> RestoreDoneAsync(long offset, int pid)
    {
        if (!File.Exists(AuditFile))
        {
            return false;
        }

        await using var stream = new FileStream(AuditFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        stream.Seek(offset, SeekOrigin.Begin);
        var text = await new StreamReader(stream).ReadToEndAsync();
        return text.Split('\n').Any(l => l.Contains($"\"pid\":{pid}", StringComparison.Ordinal)
            && l.Contains("\"action\":\"restore\"", StringComparison.Ordinal) && l.Contains("\"result\":\"done\"", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Ctrl_C_during_RestoreSet_puts_the_safety_set_back_for_every_member_and_names_it()
    {
        // Fault 1: after Ctrl-C, postgres kept the old set while the others kept today's data, and no safety set was named.
        var (set, before) = await OldSetAndTodaysDataAsync();
        var audited = File.Exists(AuditFile) ? new FileInfo(AuditFile).Length : 0;
        var restore = await Build.RunAsync(
            ["RestoreSet", "--backup-set", set, "--confirm", Env],
            processGroup: true,
            whileRunning: async process =>
            {
                // The known point: the first restore of the set is done (its audit line), the others are still to come.
                await Cli.WaitUntilAsync(() => RestoreDoneAsync(audited, process.Id), "RestoreSet restores its first member");
                await Cli.InterruptGroupAsync(process);
            });

        restore.ExitCode.Should().Be(130, restore.ToString());
        restore.Output.Should().MatchRegex(@"RestoreSet\s+Aborted").And.MatchRegex(@"the data from before the restore was put back \(safety set \d{8}T\d{6}Z-[0-9a-f]{4}\)");
        (await StateAsync()).Should().Be(before, "every member has the data it had before the RestoreSet: the safety set was put back");
        await AssertEverythingRunsAsync();
    }

    [Fact]
    public async Task A_second_Ctrl_C_stops_putting_the_safety_set_back_and_the_run_names_the_command_that_finishes_it()
    {
        var (set, before) = await OldSetAndTodaysDataAsync();
        var logs = Path.Combine(_work, "logs");
        var audited = File.Exists(AuditFile) ? new FileInfo(AuditFile).Length : 0;
        var restore = await (Build with { EnvironmentVariables = new Dictionary<string, string> { ["LLMSTACK_LOG_DIRECTORY"] = logs } }).RunAsync(
            ["RestoreSet", "--backup-set", set, "--confirm", Env],
            processGroup: true,
            whileRunning: async process =>
            {
                await Cli.WaitUntilAsync(() => RestoreDoneAsync(audited, process.Id), "RestoreSet restores its first member");
                await Cli.InterruptGroupAsync(process);

                // The second known point: the rollback has begun (its log line).
                var log = Path.Combine(logs, "build.log");
                await Cli.WaitUntilAsync(async () => File.Exists(log) && (await ReadSharedAsync(log)).Contains("putting the data from before the restore back", StringComparison.Ordinal),
                    "the cancelled RestoreSet starts putting the safety set back");
                await Cli.InterruptGroupAsync(process);
            });

        restore.ExitCode.Should().Be(130, restore.ToString());
        var command = System.Text.RegularExpressions.Regex.Match(restore.Output,
            @"putting the safety backup (\S+) back did not finish \(.*\): put it back with \./build\.sh (RestoreSet --environment secondlane --backup-set \1 --confirm secondlane)");
        command.Success.Should().BeTrue(restore.ToString());

        var finish = await (Build with { Environment = null }).RunAsync(command.Groups[2].Value.Split(' '));
        finish.ExitCode.Should().Be(0, finish.ToString());
        (await StateAsync()).Should().Be(before, "the command the run named puts back the data from before the RestoreSet");
        await AssertEverythingRunsAsync();
    }

    private static async Task<string> ReadSharedAsync(string path)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        return await new StreamReader(stream).ReadToEndAsync();
    }

    [Fact]
    public async Task Restore_latest_after_a_Restore_takes_the_same_backup_again_and_never_the_safety_copy_of_what_it_replaced()
    {
        // Fault 4: after a Restore, latest was the pre-restore safety copy, so a second Restore undid the first.
        await Sql("DROP TABLE IF EXISTS orders; CREATE TABLE orders (id int); INSERT INTO orders SELECT generate_series(1, 10);");
        var backup = await Build.RunAsync("BackupService", "--service", "postgres");
        backup.ExitCode.Should().Be(0, backup.ToString());
        var set = (await ListAsync()).First(r => r.GetProperty("service").GetString() == "postgres").GetProperty("set").GetString()!;
        await Sql("DELETE FROM orders WHERE id > 3;");

        var first = await Build.RunAsync("Restore", "--service", "postgres", "--confirm", Env);
        first.ExitCode.Should().Be(0, first.ToString());
        (await Sql("SELECT count(*) FROM orders")).Trim().Should().Be("10");

        var plan = await Build.RunAsync("Restore", "--service", "postgres", "--dry-run");
        plan.ExitCode.Should().Be(0, plan.ToString());
        plan.Output.Should().MatchRegex($@"would restore\s+replace the current data with set {set} \(\S+ \S+Z, full, trigger BackupService\)")
            .And.MatchRegex(@"! set \S+ \(\S+ \S+Z, trigger pre-restore\) is newer than the chosen set .*safety copy.*--backup latest-safety");
        var safety = await Build.RunAsync("Restore", "--service", "postgres", "--backup", "latest-safety", "--dry-run");
        safety.ExitCode.Should().Be(0, safety.ToString());
        safety.Output.Should().Contain("trigger pre-restore: a safety copy)");

        var again = await Build.RunAsync("Restore", "--service", "postgres", "--backup", "latest", "--confirm", Env);
        again.ExitCode.Should().Be(0, again.ToString());
        again.Output.Should().Contain($"from set {set}");
        (await Sql("SELECT count(*) FROM orders")).Trim().Should().Be("10", "the second Restore latest restores the same backup, it does not undo the first");
    }

    [Fact]
    public async Task The_backup_a_wipe_takes_is_a_pre_wipe_safety_copy_that_latest_skips_and_latest_safety_restores()
    {
        // Fault 4: a wipe's BackupFull was recorded as "BackupFull", so it was taken for an ordinary backup.
        await File.WriteAllTextAsync(ConfigFile, (await File.ReadAllTextAsync(ConfigFile))
            .Replace("    schedule: \"0 4 * * *\"\n    tiers: [local]", "    schedule: \"0 4 * * *\"\n    tiers: [local]\n    backup_before_wipe: true", StringComparison.Ordinal));
        await Sh(Redis, "redis-cli FLUSHALL && redis-cli SET kept 1");
        var wipe = await Build.RunAsync("WipeCache", "--confirm", Env);
        wipe.ExitCode.Should().Be(0, wipe.ToString());
        (await Sh(Redis, "redis-cli EXISTS kept")).Trim().Should().Be("0", "the wipe emptied redis");
        var set = (await ListAsync()).Should().Contain(r => r.GetProperty("service").GetString() == "redis").Which;
        set.GetProperty("trigger").GetString().Should().Be("pre-wipe");

        var latest = await Build.RunAsync("Restore", "--service", "redis", "--dry-run");
        latest.ExitCode.Should().Be(1, latest.ToString());
        latest.Output.Should().Contain($"service 'redis' has only safety copies in {Env} (the newest: set {set.GetProperty("set").GetString()}, trigger pre-wipe): restore it with --backup latest-safety");
        var undo = await Build.RunAsync("Restore", "--service", "redis", "--backup", "latest-safety", "--confirm", Env);
        undo.ExitCode.Should().Be(0, undo.ToString());
        (await Sh(Redis, "redis-cli GET kept")).Trim().Should().Be("1");
    }

    [Fact]
    public async Task BackupVerify_and_RestoreTest_check_the_newest_backup_of_every_member_not_only_the_newest_set()
    {
        // Fault 5: after BackupFull then BackupService --service postgres, only the postgres set was content-checked.
        await Sh(Redis, "redis-cli FLUSHALL && redis-cli SET proof 42");
        (await Build.RunAsync("BackupFull")).ExitCode.Should().Be(0);
        (await Build.RunAsync("BackupService", "--service", "postgres")).ExitCode.Should().Be(0);
        var rows = await ListAsync();
        var full = rows.First(r => r.GetProperty("service").GetString() == "redis").GetProperty("set").GetString()!;
        var postgres = rows.Where(r => r.GetProperty("service").GetString() == "postgres").Select(r => r.GetProperty("set").GetString()!).First(s => s != full);

        var verify = await Build.RunAsync("BackupVerify", "--read-data-subset", "0");
        verify.ExitCode.Should().Be(0, verify.ToString());
        verify.Output.Should().MatchRegex($@"local\s+{postgres}\s+postgres/full db-multimodal.dump\s+ok: pg_restore --list")
            .And.MatchRegex($@"local\s+{full}\s+redis/rdb dump.rdb\s+ok")
            .And.MatchRegex($@"local\s+{full}\s+qdrant/qdrant_data qdrant_data\s+ok: listing: \d+ file\(s\), \d+ directories, .*; all data read back")
            .And.MatchRegex($@"local\s+{full}\s+minio/minio_data minio_data\s+ok: listing")
            .And.MatchRegex($@"local\s+{full}\s+config/config files\s+ok")
            .And.NotMatchRegex($@"{full}\s+postgres/full", "postgres comes from the newer set");
        var verified = await ListAsync();
        verified.Where(r => r.GetProperty("set").GetString() is var s && (s == full || s == postgres))
            .Should().OnlyContain(r => r.GetProperty("verified").EnumerateObject().Any(), "each set whose members were checked is marked verified");

        var test = await Build.RunAsync("RestoreTest");
        test.ExitCode.Should().Be(0, test.ToString());
        test.Output.Should().MatchRegex($@"postgres/full\s+{postgres}\s+dump of database multimodal after the restore = the dump in the backup\s+ok")
            .And.MatchRegex($@"redis/rdb\s+{full}\s+key count and digest of every value\s+ok")
            .And.MatchRegex($@"qdrant/qdrant_data\s+{full}\s+every entry \(type, mode, owner, size\) against the snapshot's listing; content verified by restic\s+ok")
            .And.MatchRegex($@"minio/minio_data\s+{full}\s+every entry \(type, mode, owner, size\) against the snapshot's listing; content verified by restic\s+ok");
        var report = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(Docker.Root, "artifacts", "restore-test", Env, $"{postgres}.json"))).RootElement;
        report.GetProperty("sets").EnumerateArray().Select(e => e.GetString()).Should().BeEquivalentTo([full, postgres]);
        report.GetProperty("checks").EnumerateArray().Where(c => c.GetProperty("member").GetString() == "redis/rdb").Should().OnlyContain(c => c.GetProperty("set").GetString() == full);
    }

    [Fact]
    public async Task Ctrl_C_mid_backup_exits_130_without_escapes_or_helpers_and_the_next_backup_removes_the_orphaned_members()
    {
        // Fault 7: exit 1 and "Failed", restic's raw ESC[2K in the message and build.log, a helper left in Created state,
        // and the cancelled set's member snapshots left in the repository for ever.
        await Sh(Minio, "dd if=/dev/urandom of=/data/big.bin bs=1M count=300 2>/dev/null");
        try
        {
            var cancelled = await Build.RunAsync(["BackupFull"],
                processGroup: true,
                whileRunning: async process =>
                {
                    // The known point: minio is paused while restic reads its volume (the members before it are in the repository).
                    await Cli.WaitUntilAsync(async () => (await Docker.Docker.Containers.InspectContainerAsync(Minio)).State!.Paused,
                        "the backup pauses minio and reads its volume");
                    await Cli.InterruptGroupAsync(process);
                });
            cancelled.ExitCode.Should().Be(130, cancelled.ToString());
            cancelled.Output.Should().MatchRegex(@"BackupFull\s+Aborted").And.NotMatchRegex(@"BackupFull\s+Failed");
            (cancelled.Output + cancelled.Log + cancelled.JsonLog).Should().NotContain("\u001b", "no terminal escape reaches the output or the logs")
                .And.NotContain("\\u001b");
            (await HelpersAsync()).Should().BeEmpty("every helper is removed, also after Ctrl-C");
            await AssertEverythingRunsAsync();
            (await MembersWithoutManifestAsync()).Should().NotBeEmpty("the members backed up before Ctrl-C are in the repository without a manifest");

            var next = await Build.RunAsync("BackupService", "--service", "redis");
            next.ExitCode.Should().Be(0, next.ToString());
            next.Output.Should().MatchRegex(@"Removed \d+ orphaned member snapshot\(s\) of 1 set\(s\) that never got a manifest \(their run stopped before the end\) from tier local: \S+ \(\d+: postgres/full");
            (await MembersWithoutManifestAsync()).Should().BeEmpty("no member snapshot is left without its set's manifest");
        }
        finally
        {
            await Build.RunAsync("StartCore");
            await Sh(Minio, "rm -f /data/big.bin");
        }
    }

    [Fact]
    public async Task A_service_a_type_or_a_read_data_subset_that_does_not_exist_is_one_line_naming_the_allowed_values()
    {
        // Fault 11: "run BackupService --service nope first", "no backup" for qdrant's rdb, and 200% reaching restic.
        var nope = await Build.RunAsync("Restore", "--service", "nope", "--dry-run");
        nope.ExitCode.Should().Be(1, nope.ToString());
        nope.Output.Should().MatchRegex(@"there is no service 'nope' in secondlane: --service takes one of postgres, redis, .*config \(the services with backups\)")
            .And.NotContain("BackupService --service nope");
        var rdb = await Build.RunAsync("Restore", "--service", "qdrant", "--backup-type", "rdb", "--dry-run");
        rdb.ExitCode.Should().Be(1, rdb.ToString());
        rdb.Output.Should().Contain("service 'qdrant' has no backup type 'rdb': --backup-type takes volume for qdrant");
        var subset = await Build.RunAsync("BackupVerify", "--read-data-subset", "200%");
        subset.ExitCode.Should().Be(1, subset.ToString());
        subset.Output.Should().Contain("--read-data-subset '200%' is not a share restic can read back: use n/t").And.NotContain("restic check");
    }

    [Fact]
    public async Task Every_json_report_is_its_document_alone_on_standard_output()
    {
        (await Build.RunAsync("BackupService", "--service", "redis")).ExitCode.Should().Be(0);
        foreach (var target in new[] { "StatusCore", "SystemStatus", "BackupList", "BackupStatus", "RetentionStatus", "ValidateCredentials" })
        {
            // Exit codes differ (BackupStatus fails: postgres was never backed up here); `X --json | jq .` must work for each.
            var run = await Build.RunAsync(target, "--json");
            var parse = () => JsonDocument.Parse(run.StandardOutput);
            parse.Should().NotThrow($"{target} --json must put only its JSON document on standard output; it wrote:\n{run.StandardOutput}");
            run.Output.Should().Contain($"║ {target}", "the banner goes to standard error");
            run.StandardOutput.Should().NotContain("[INF]").And.NotContain("═══");
        }
    }

    [Fact]
    public async Task A_wrong_key_fails_with_one_line_and_writes_nothing()
    {
        (await Build.RunAsync("BackupService", "--service", "redis")).ExitCode.Should().Be(0);
        var before = Directory.GetFiles(Repository, "*", SearchOption.AllDirectories).Select(f => (f, new FileInfo(f).Length)).OrderBy(x => x.f).ToList();
        var wrong = Path.Combine(_work, "wrong.key");
        await File.WriteAllTextAsync(wrong, "not-the-key-of-this-repository");

        var result = await Build.RunAsync("BackupFull", "--backup-key-file", wrong);
        result.ExitCode.Should().Be(1);
        result.Output.Should().Contain($"backup repository local for {Env} cannot be opened with the configured key ({wrong}): use the key it was created with")
            .And.NotContain("   at ").And.NotContain("not-the-key-of-this-repository");
        Directory.GetFiles(Repository, "*", SearchOption.AllDirectories).Select(f => (f, new FileInfo(f).Length)).OrderBy(x => x.f).ToList()
            .Should().Equal(before, "nothing was written");
        await AssertEverythingRunsAsync();
    }

    [Fact]
    public async Task A_failing_member_fails_BackupFull_naming_it_while_the_others_are_kept()
    {
        await Docker.Docker.Containers.StopContainerAsync(Redis, new ContainerStopParameters { WaitBeforeKillSeconds = 1 });
        var result = await Build.RunAsync("BackupFull");
        result.ExitCode.Should().Be(1, result.ToString());
        result.Output.Should().MatchRegex(@"backup set \S+ is incomplete: redis/rdb: service 'redis' is not running in secondlane: start it \(StartCore\)")
            .And.Contain("other member(s) were kept");
        var listed = await ListAsync();
        listed.Should().Contain(r => r.GetProperty("service").GetString() == "postgres" && r.GetProperty("setStatus").GetString() == "failed");
        listed.Should().NotContain(r => r.GetProperty("service").GetString() == "redis");
        var status = await Build.RunAsync("BackupStatus");
        status.ExitCode.Should().Be(1);
        status.Output.Should().Contain("redis: failed in");
    }

    [Fact]
    public async Task RestoreSet_brings_a_whole_set_back_in_dependency_order()
    {
        await Sql("DROP TABLE IF EXISTS orders; CREATE TABLE orders (id int); INSERT INTO orders SELECT generate_series(1, 20);");
        await Sh(Redis, "redis-cli FLUSHALL && redis-cli SET session abc");
        var backup = await Build.RunAsync("BackupFull");
        backup.ExitCode.Should().Be(0, backup.ToString());
        var set = (await ListAsync()).First(r => r.GetProperty("trigger").GetString() == "BackupFull").GetProperty("set").GetString()!;

        await Sql("TRUNCATE orders;");
        await Sh(Redis, "redis-cli FLUSHALL");
        var restore = await Build.RunAsync("RestoreSet", "--backup-set", set, "--confirm", Env);
        restore.ExitCode.Should().Be(0, restore.ToString());
        var order = new[] { "Restoring postgres/full", "Restoring redis/rdb", "Restoring qdrant/qdrant_data", "Restoring minio/minio_data" }
            .Select(line => restore.Output.IndexOf(line, StringComparison.Ordinal)).ToList();
        order.Should().OnlyContain(i => i >= 0).And.BeInAscendingOrder();
        restore.Output.Should().Contain($"The configuration of set {set} is in");
        (await Sql("SELECT count(*) FROM orders")).Trim().Should().Be("20");
        (await Sh(Redis, "redis-cli GET session")).Trim().Should().Be("abc");
        await AssertEverythingRunsAsync();
    }

    [Fact]
    public async Task A_restore_whose_check_fails_puts_the_data_from_before_it_back()
    {
        await Sh(Qdrant, "rm -rf /qdrant/storage/* && echo backed-up > /qdrant/storage/a.txt");
        (await Build.RunAsync("BackupService", "--service", "qdrant")).ExitCode.Should().Be(0);
        await Sh(Qdrant, "echo current > /qdrant/storage/a.txt && echo current > /qdrant/storage/b.txt");
        var current = await Tree();

        // A backup that does not match its manifest (as a damaged one would): its file count is off by one. The manifest
        // is the set snapshot's tag, so the tag is replaced (restic tag) by one that says two files.
        var key = (await File.ReadAllTextAsync(KeyFile)).Trim();
        var environment = new Dictionary<string, string> { ["RESTIC_REPOSITORY"] = Repository, ["RESTIC_PASSWORD"] = key };
        var listed = await LlmStack.Pipeline.ProcessRunner.RunCheckedAsync("restic", ["snapshots", "--json", "--tag", "kind=set"], "/", null, CancellationToken.None, environment);
        var snapshot = JsonDocument.Parse(string.Concat(listed.Output)).RootElement.EnumerateArray().Single();
        var tag = snapshot.GetProperty("tags").EnumerateArray().Select(t => t.GetString()!).Single(t => t.StartsWith(LlmStack.Backup.BackupTags.ManifestTag, StringComparison.Ordinal));
        var manifest = LlmStack.Backup.BackupSetManifest.FromTag(tag);
        var qdrant = manifest.Members.Single();
        var wrong = manifest with { Members = [qdrant with { Counts = new Dictionary<string, long> { ["files"] = qdrant.Counts!["files"] + 1, ["directories"] = qdrant.Counts["directories"] } }] };
        await LlmStack.Pipeline.ProcessRunner.RunCheckedAsync("restic", ["tag", "--remove", tag, "--add", wrong.ToTag()!, snapshot.GetProperty("id").GetString()!], "/", null, CancellationToken.None, environment);

        var restore = await Build.RunAsync("Restore", "--service", "qdrant", "--confirm", Env);
        restore.ExitCode.Should().Be(1, restore.ToString());
        restore.Output.Should().Contain($"check after restoring volume {Lane.Volume("qdrant_data")} failed: 1 regular file(s) and directories, the backup has 2")
            .And.Contain("the data from before the restore was put back (safety set");
        (await Tree()).Should().Be(current, "the safety backup was restored");
        await AssertEverythingRunsAsync();
    }

    [Fact]
    public async Task A_stale_restic_lock_of_a_killed_restic_is_removed_and_the_backup_goes_on()
    {
        (await Build.RunAsync("BackupService", "--service", "redis")).ExitCode.Should().Be(0);
        var locks = Path.Combine(Repository, "locks");
        var start = new System.Diagnostics.ProcessStartInfo("restic", ["backup", "--stdin", "--stdin-filename", "intruder", "--host", "intruder"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["RESTIC_REPOSITORY"] = Repository;
        start.Environment["RESTIC_PASSWORD_FILE"] = KeyFile;
        using (var intruder = System.Diagnostics.Process.Start(start)!)
        {
            await intruder.StandardInput.WriteAsync(new string('x', 100000));
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (!Directory.Exists(locks) || Directory.GetFiles(locks).Length == 0)
            {
                DateTime.UtcNow.Should().BeBefore(deadline, "restic takes its lock");
                await Task.Delay(20);
            }

            intruder.Kill();
            await intruder.WaitForExitAsync();
        }

        Directory.GetFiles(locks).Should().HaveCount(1, "kill -9 leaves restic's lock behind");
        var next = await Build.RunAsync("BackupService", "--service", "redis");
        next.ExitCode.Should().Be(0, next.ToString());
        Directory.GetFiles(locks).Should().BeEmpty("the stale lock was removed, and the run removed its own");
        (await ListAsync()).Count(r => r.GetProperty("service").GetString() == "redis").Should().Be(2);
    }

    [Fact]
    public async Task Two_backups_of_one_environment_at_once_the_second_waits_for_the_lock()
    {
        var results = await Task.WhenAll(Build.RunAsync("BackupService", "--service", "postgres"), Build.RunAsync("BackupService", "--service", "postgres"));
        results.Should().OnlyContain(r => r.ExitCode == 0);
        results.Count(r => r.Output.Contains($"Environment {Env} is locked by BackupService", StringComparison.Ordinal)).Should().Be(1);
        (await ListAsync()).Count(r => r.GetProperty("service").GetString() == "postgres").Should().Be(2);
    }
}
