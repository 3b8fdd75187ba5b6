using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace LlmStack.IntegrationTests;

/// <summary>
/// PostgreSQL and Redis with data larger than any pipe or socket buffer: a restore is exactly the backup's database, a
/// dump that fails never becomes a snapshot, and BackupVerify and RestoreTest work on tens of megabytes (and name tier,
/// set and service when the repository is damaged).
/// </summary>
[Collection(TestLane.MainCollection)]
[Trait("Category", "Integration")]
public sealed class DatabaseBackupTests(RunningCore core) : IClassFixture<RunningCore>, IAsyncLifetime
{
    private readonly BackupBed _bed = new(core.Docker, "databases");

    public async Task InitializeAsync()
    {
        var start = await _bed.Build.RunAsync("StartCore");
        start.ExitCode.Should().Be(0, start.ToString());
    }

    public async Task DisposeAsync()
    {
        // DROP DATABASE cannot share a transaction (one psql -c) with other statements.
        await _bed.Sql("DROP DATABASE IF EXISTS scratch WITH (FORCE)");
        await _bed.Sql("DROP TABLE IF EXISTS big, kept, dropped, created; DROP ROLE IF EXISTS reader;");
        await _bed.Sh(_bed.Redis, "redis-cli FLUSHALL");
        _bed.Dispose();
    }

    private Task<string> Tables() => _bed.Sql("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1");

    [Fact]
    public async Task A_postgres_restore_is_exactly_the_database_of_the_backup_tables_rows_and_roles()
    {
        await _bed.Sql("DROP TABLE IF EXISTS kept, dropped, created; DROP ROLE IF EXISTS reader; CREATE ROLE reader LOGIN CONNECTION LIMIT 3;"
                       + " CREATE TABLE kept (id int primary key, body text); INSERT INTO kept SELECT g, md5(g::text) FROM generate_series(1, 1000) g;"
                       + " CREATE TABLE dropped (id int); INSERT INTO dropped VALUES (1), (2);");
        var tables = await Tables();
        var rows = await _bed.Sql("SELECT id, body FROM kept ORDER BY id");
        var role = await _bed.Sql("SELECT rolname, rolcanlogin, rolconnlimit FROM pg_roles WHERE rolname = 'reader'");
        var backup = await _bed.Build.RunAsync("BackupService", "--service", "postgres");
        backup.ExitCode.Should().Be(0, backup.ToString());

        // After the backup: a table created, another dropped, rows and a role changed.
        await _bed.Sql("CREATE TABLE created (id int); DROP TABLE dropped; DELETE FROM kept WHERE id > 10; ALTER ROLE reader NOLOGIN CONNECTION LIMIT 1;");
        var restore = await _bed.Build.RunAsync("Restore", "--service", "postgres", "--confirm", "testing");
        restore.ExitCode.Should().Be(0, restore.ToString());

        (await Tables()).Should().Be(tables, "exactly the tables of the backup remain: none created after it");
        (await _bed.Sql("SELECT id, body FROM kept ORDER BY id")).Should().Be(rows);
        (await _bed.Sql("SELECT count(*) FROM dropped")).Trim().Should().Be("2");
        (await _bed.Sql("SELECT rolname, rolcanlogin, rolconnlimit FROM pg_roles WHERE rolname = 'reader'")).Should().Be(role, "the roles are the backup's");
        await _bed.AssertEverythingRunsAsync();
    }

    /// <summary>A second database with about <paramref name="mib"/> MiB of rows that do not compress.</summary>
    private Task FillScratchAsync(int mib) => _bed.Sh(_bed.Postgres,
        "psql -U multimodal -d multimodal -q -c 'DROP DATABASE IF EXISTS scratch WITH (FORCE)' -c 'CREATE DATABASE scratch' && "
        + $"psql -U multimodal -d scratch -q -c \"CREATE TABLE big AS SELECT g AS id, md5(random()::text) || md5(random()::text) || md5(random()::text) AS body FROM generate_series(1, {mib * 1024 * 1024 / 140}) g\"");

    [Theory]
    [InlineData("the database is dropped")]
    [InlineData("pg_dump is killed")]
    public async Task A_dump_that_fails_mid_run_never_becomes_a_snapshot(string failure)
    {
        await FillScratchAsync(120);
        var failed = await _bed.Build.RunAsync(["BackupService", "--service", "postgres"],
            whileRunning: async _ =>
            {
                // The known point: the dump of scratch runs (a pg_dump of it on this host: the helper's).
                await Cli.WaitUntilAsync(() => Task.FromResult(PgDumpOf("scratch") is not null), "pg_dump of the scratch database runs");
                if (failure == "pg_dump is killed")
                {
                    using var kill = Process.Start("kill", ["-KILL", PgDumpOf("scratch")!.Value.ToString(CultureInfo.InvariantCulture)])!;
                    await kill.WaitForExitAsync();
                }
                else
                {
                    await _bed.Sql("DROP DATABASE scratch WITH (FORCE)");
                }
            });

        failed.ExitCode.Should().Be(1, failed.ToString());
        failed.Output.Should().MatchRegex(@"backup set \S+ is incomplete: postgres/full: pg_dump of database scratch failed");
        var set = Regex.Match(failed.Output, @"Backup set (\S+) of testing").Groups[1].Value;
        var parts = (await _bed.SnapshotsAsync()).Where(s => BackupBed.Tag(s, "set") == set).Select(s => BackupBed.Tag(s, "part")).ToList();
        parts.Should().NotContain("db-scratch.dump", "a dump that failed is never committed").And.Contain("db-multimodal.dump");
        (await _bed.ListAsync()).Should().NotContain(r => r.GetProperty("service").GetString() == "postgres" && r.GetProperty("set").GetString() == set);
        (await _bed.HelpersAsync()).Should().BeEmpty();
    }

    /// <summary>The pid of a pg_dump of <paramref name="database"/> on this host (in any container), if one runs.</summary>
    private static int? PgDumpOf(string database)
    {
        foreach (var directory in Directory.EnumerateDirectories("/proc").Where(d => int.TryParse(Path.GetFileName(d), out _)))
        {
            try
            {
                var command = File.ReadAllText(Path.Combine(directory, "cmdline")).Split('\0');
                if (Path.GetFileName(command[0]) == "pg_dump" && command.Contains(database))
                {
                    return int.Parse(Path.GetFileName(directory), CultureInfo.InvariantCulture);
                }
            }
            catch (IOException)
            {
            }
        }

        return null;
    }

    [Fact]
    public async Task BackupVerify_and_RestoreTest_pass_on_a_60_MB_dump_and_100000_keys_and_a_flipped_byte_fails_them_naming_tier_set_and_service()
    {
        // pg_restore --list reads a dump's table of contents and exits: the dump must not be written to it to the end.
        await _bed.Sql("DROP TABLE IF EXISTS big; CREATE TABLE big AS SELECT g AS id, md5(random()::text) || md5(random()::text) || md5(random()::text) AS body FROM generate_series(1, 560000) g;");
        await _bed.Sh(_bed.Redis, "redis-cli FLUSHALL >/dev/null && redis-cli EVAL \"for i = 1, 100000 do redis.call('SET', 'key:' .. i, string.rep('v', 64) .. i) end\" 0 && redis-cli DBSIZE");
        var backup = await _bed.Build.RunAsync("BackupFull");
        backup.ExitCode.Should().Be(0, backup.ToString());
        var rows = await _bed.ListAsync();
        rows.Single(r => r.GetProperty("service").GetString() == "postgres").GetProperty("bytes").GetInt64().Should().BeGreaterThan(50L << 20, "the dump is larger than any pipe or socket buffer");
        var set = rows.First(r => r.GetProperty("trigger").GetString() == "BackupFull").GetProperty("set").GetString()!;

        var verify = await _bed.Build.RunAsync("BackupVerify", "--read-data-subset", "0");
        verify.ExitCode.Should().Be(0, verify.ToString());
        verify.Output.Should().MatchRegex($@"local\s+{set}\s+postgres/full db-multimodal.dump\s+ok: pg_restore --list")
            .And.MatchRegex($@"local\s+{set}\s+redis/rdb dump.rdb\s+ok: 100000 keys read")
            .And.NotContain("lost the connection to the Docker engine");

        var test = await _bed.Build.RunAsync("RestoreTest");
        test.ExitCode.Should().Be(0, test.ToString());
        test.Output.Should().MatchRegex(@"dump of database multimodal after the restore = the dump in the backup\s+ok").And.MatchRegex(@"redis/rdb\s+\S+\s+key count and digest of every value\s+ok");

        // One byte of the largest pack (the dump's: the biggest data written in one go) flipped.
        var pack = Directory.GetFiles(Path.Combine(_bed.Repository, "data"), "*", SearchOption.AllDirectories).OrderByDescending(f => new FileInfo(f).Length).First();
        var bytes = await File.ReadAllBytesAsync(pack);
        bytes[bytes.Length / 2] ^= 0xff;
        await File.WriteAllBytesAsync(pack, bytes);

        var damaged = await _bed.Build.RunAsync("BackupVerify", "--read-data");
        damaged.ExitCode.Should().Be(1, damaged.ToString());
        damaged.Output.Should().MatchRegex(@"local\s+-\s+restic check \(read data 100%\)\s+FAILED")
            .And.MatchRegex($@"local\s+{set}\s+postgres/full db-multimodal.dump\s+FAILED")
            .And.MatchRegex(@"check\(s\) failed: tier local");
        var retest = await _bed.Build.RunAsync("RestoreTest");
        retest.ExitCode.Should().Be(1, retest.ToString());
        retest.Output.Should().Contain($"restore test of set {set} failed").And.MatchRegex($@"postgres/full\s+{set}\s+restore\s+FAILED");
    }
}
