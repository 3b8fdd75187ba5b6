using System.Globalization;
using System.Text;
using LlmStack.Engine;
using LlmStack.Lifecycle;
using LlmStack.Pipeline;
using Serilog;

namespace LlmStack.Backup;

/// <summary>
/// Puts one member's data back and checks it: postgres — roles from the globals, then each database dropped (its
/// sessions ended) and created again from its dump (<c>pg_restore --create</c>), with the service's dependents stopped,
/// so nothing newer than the backup remains (a <c>data</c> backup empties and refills the dump's tables in one
/// transaction); redis by writing the rdb (or the AOF directory) into its volume while it is stopped; a volume emptied
/// and refilled while its users are stopped — by restic where the backup reads volumes (a file snapshot), through the
/// engine's archive API for a set whose volume is a tar; the configuration into <c>artifacts/restore/</c>. After each,
/// the result is compared with the backup (row counts from the dump itself, keys from the rdb, file counts).
/// </summary>
/// <param name="verify">restic reads every restored file of a volume back against its snapshot (RestoreTest).</param>
public sealed class RestoreRunner(BackupContext context, string restoreDirectory, bool verify = false)
{
    private readonly ILogger _log = context.Log;

    public async Task RestoreAsync(RestoreTarget target, CancellationToken cancellationToken)
    {
        var member = target.Member;
        _log.Information("Restoring {Target}", target.ToString());
        switch (member.Method)
        {
            case BackupMethod.Postgres:
                await PostgresAsync(member, cancellationToken);
                break;
            case BackupMethod.Redis:
                await RedisAsync(member, cancellationToken);
                break;
            case BackupMethod.Volume:
                await VolumeAsync(member, cancellationToken);
                break;
            case BackupMethod.Config:
                await ConfigAsync(target, cancellationToken);
                break;
            default:
                throw new PipelineException($"backup of '{member.Service}' has unknown method '{member.Method.Word()}'");
        }

        _log.Information("Restored and checked {Member}", member.Key);
    }

    private async Task PostgresAsync(MemberResult member, CancellationToken cancellationToken)
    {
        // Dependents stop (and come back) around the restore; postgres itself must run for pg_restore.
        var dependents = context.Lifecycle.Graph.DependentsOf(member.Service);
        await using var stopped = dependents.Count == 0 ? null : await context.Lifecycle.SuspendAsync(dependents, SuspendMode.Stop, cancellationToken);
        var (id, name) = await context.RunningContainerAsync(member.Service, cancellationToken);
        var user = context.ServiceVariable(member.Service, "POSTGRES_USER") ?? "postgres";
        var maintenance = context.ServiceVariable(member.Service, "POSTGRES_DB") ?? user;

        var globals = member.Parts.First(p => p.Name == "globals.sql");
        var applied = await ExecFromDumpAsync(globals, id, ["psql", "-U", user, "-d", maintenance, "-X", "-q", "-v", "ON_ERROR_STOP=0", "-f", "-"], cancellationToken);
        var errors = applied.ErrorLines.Where(l => l.Contains("ERROR:", StringComparison.Ordinal) && !l.Contains("already exists", StringComparison.Ordinal)).ToList();
        if (applied.ExitCode != 0 || errors.Count > 0)
        {
            throw new PipelineException($"restoring the roles into {name} failed: {errors.FirstOrDefault() ?? applied.ErrorLines.LastOrDefault() ?? $"exit {applied.ExitCode}"}");
        }

        foreach (var part in member.Parts.Where(p => p.Source is not null))
        {
            var database = part.Source!;
            var exists = await PsqlAsync(id, name, user, "template1", $"SELECT count(*) FROM pg_database WHERE datname = {Literal(database)};", cancellationToken);
            if (exists.Trim() == "0" && member.Type == BackupType.Data)
            {
                var created = await Exec.RunAsync(context.Engine, id, ["createdb", "-U", user, "--", database], cancellationToken);
                if (created.ExitCode != 0)
                {
                    throw BackupContext.Failed($"createdb {database}", name, created);
                }
            }

            Exec.Result restored;
            if (member.Type == BackupType.Data)
            {
                // Rows only: the tables of the dump are emptied and refilled in one transaction.
                var tables = (await CountRowsInDumpAsync(part, id, cancellationToken)).Keys.ToList();
                restored = await ExecFromDumpAsync(part, id,
                    ["sh", "-c", "{ echo 'BEGIN;'; printf '%s\\n' \"$LLMSTACK_TRUNCATE\"; pg_restore --data-only --disable-triggers -f -; echo 'COMMIT;'; } | psql -U \"$LLMSTACK_USER\" -d \"$LLMSTACK_DATABASE\" -X -q -v ON_ERROR_STOP=1"],
                    cancellationToken,
                    [$"LLMSTACK_USER={user}", $"LLMSTACK_DATABASE={database}", $"LLMSTACK_TRUNCATE={(tables.Count == 0 ? string.Empty : $"TRUNCATE TABLE {string.Join(", ", tables)} CASCADE;")}"]);
            }
            else
            {
                // The database as it was: dropped (its sessions ended first) and created again from the dump, owner,
                // encoding and settings included, so no table, view or row newer than the backup remains.
                await PsqlAsync(id, name, user, "template1", $"DROP DATABASE IF EXISTS {Identifier(database)} WITH (FORCE);", cancellationToken);
                restored = await ExecFromDumpAsync(part, id, ["pg_restore", "-U", user, "-d", "template1", "--create", "--exit-on-error", "--no-password"], cancellationToken);
            }

            if (restored.ExitCode != 0)
            {
                throw BackupContext.Failed($"pg_restore of database {database}", name, restored);
            }

            if (member.Type != BackupType.Schema)
            {
                await CheckRowsAsync(part, id, name, user, database, cancellationToken);
            }
        }
    }

    /// <summary>The rows the dump holds per table (its COPY blocks) against the live counts after the restore.</summary>
    private async Task CheckRowsAsync(BackupPart part, string id, string name, string user, string database, CancellationToken cancellationToken)
    {
        var expected = await CountRowsInDumpAsync(part, id, cancellationToken);
        if (expected.Count == 0)
        {
            return;
        }

        var sql = string.Concat(expected.Keys.Select(t => $"SELECT {Literal(t)}, count(*) FROM {t};\n"));
        var live = (await PsqlAsync(id, name, user, database, sql, cancellationToken))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split('|'))
            .ToDictionary(p => p[0], p => long.Parse(p[1], CultureInfo.InvariantCulture), StringComparer.Ordinal);
        var wrong = expected.Where(kv => live.GetValueOrDefault(kv.Key, -1) != kv.Value).ToList();
        if (wrong.Count > 0)
        {
            var (table, rows) = wrong[0];
            throw new PipelineException($"check after restoring database {database} failed: {table} has {live.GetValueOrDefault(table, -1)} rows, the backup {rows} ({wrong.Count} table(s) differ)");
        }

        _log.Information("Checked database {Database}: {Tables} table(s), {Rows} row(s) as in the backup", database, expected.Count, expected.Values.Sum());
    }

    /// <summary>Rows per table in a dump: <c>pg_restore --data-only -f -</c> in the container, COPY lines counted as they stream.</summary>
    private async Task<Dictionary<string, long>> CountRowsInDumpAsync(BackupPart part, string id, CancellationToken cancellationToken)
    {
        var counter = new CopyRowCounter();
        await context.Repository.DumpAsync(part.Snapshot, part.Path, async (dump, ct) =>
        {
            var result = await Exec.StreamAsync(context.Engine, id, ["pg_restore", "--data-only", "-f", "-"], ct, stdin: (input, c) => dump.CopyToAsync(input, c), stdout: counter);
            if (result.ExitCode != 0)
            {
                throw new PipelineException($"reading the backup of {part.Source} failed: {result.ErrorLines.LastOrDefault() ?? $"exit {result.ExitCode}"}");
            }
        }, cancellationToken);
        return counter.Rows;
    }

    private async Task RedisAsync(MemberResult member, CancellationToken cancellationToken)
    {
        var (id, name) = await context.RunningContainerAsync(member.Service, cancellationToken);
        var redis = new RedisCli(context.Engine, id, name);
        var directory = (await redis.ConfigAsync("dir", cancellationToken)).TrimEnd('/');
        var file = await redis.ConfigAsync("dbfilename", cancellationToken);
        var appendOnly = await redis.ConfigAsync("appendonly", cancellationToken) == "yes";
        var appendDirectory = await redis.ConfigAsync("appenddirname", cancellationToken);
        var appendFile = await redis.ConfigAsync("appendfilename", cancellationToken);
        var mount = context.Environment.Service(member.Service).Volumes
            .Where(v => v.Kind == Schema.MountKind.Volume && (directory == v.Target.TrimEnd('/') || directory.StartsWith(v.Target.TrimEnd('/') + "/", StringComparison.Ordinal)))
            .OrderByDescending(v => v.Target.Length)
            .FirstOrDefault()
            ?? throw new PipelineException($"redis ({name}) keeps its data in {directory}, which is on no named volume: nothing to restore into");
        var volume = context.Environment.Volumes.First(v => v.Key == mount.Source).Name;
        var part = member.Parts.Single();
        // The part is received whole into a file beside the data, and its size checked against the backup's, before
        // anything is replaced: a stream cut short (restic killed by Ctrl-C, a damaged pack) leaves the data as it was.
        const string received = "set -e; owner=$(stat -c %u:%g \"$D\"); cat > \"$D/.llmstack-restore\"; got=$(stat -c %s \"$D/.llmstack-restore\"); "
                                + "if [ \"$got\" != \"$SIZE\" ]; then rm -f \"$D/.llmstack-restore\"; echo \"received $got of $SIZE bytes: nothing replaced\" >&2; exit 3; fi; ";
        var script = member.Type == BackupType.Aof
            ? received + "rm -rf \"$D/$AD\"; tar -x -C \"$D\" -f \"$D/.llmstack-restore\"; rm -f \"$D/.llmstack-restore\"; chown -R \"$owner\" \"$D/$AD\""
            : received + "rm -rf \"$D/$AD\"; mv \"$D/.llmstack-restore\" \"$D/$F\"; "
              + "chown \"$owner\" \"$D/$F\"; chmod 600 \"$D/$F\"; "
              + "if [ \"$AOF\" = yes ]; then mkdir \"$D/$AD\"; cp \"$D/$F\" \"$D/$AD/$AF.1.base.rdb\"; : > \"$D/$AD/$AF.1.incr.aof\"; "
              + "printf 'file %s seq 1 type b\\nfile %s seq 1 type i\\n' \"$AF.1.base.rdb\" \"$AF.1.incr.aof\" > \"$D/$AD/$AF.manifest\"; "
              + "chmod 700 \"$D/$AD\"; chmod 600 \"$D/$AD\"/*; chown -R \"$owner\" \"$D/$AD\"; fi";

        await using (var stopped = await context.Lifecycle.SuspendAsync([member.Service], SuspendMode.Stop, cancellationToken))
        {
            await WriteIntoVolumeAsync(part, volume, mount.Target, script,
                [$"D={directory}", $"F={file}", $"AD={appendDirectory}", $"AF={appendFile}", $"AOF={(appendOnly ? "yes" : "no")}", string.Create(CultureInfo.InvariantCulture, $"SIZE={part.Bytes}")],
                cancellationToken);
        }

        (id, name) = await context.RunningContainerAsync(member.Service, cancellationToken);
        redis = new RedisCli(context.Engine, id, name);
        var live = await redis.KeyCountAsync(cancellationToken);
        if (member.Type == BackupType.Rdb)
        {
            var check = await Exec.RunAsync(context.Engine, id, ["redis-check-rdb", $"{directory}/{file}"], cancellationToken);
            var text = check.Output + check.Error;
            var read = Number(text, "keys read");
            var expired = Number(text, "already expired");
            var expires = Number(text, "expires");
            if (check.ExitCode != 0 || read is null)
            {
                throw new PipelineException($"redis-check-rdb does not accept the restored {file}: {text.Split('\n').LastOrDefault(l => l.Trim().Length > 0)}");
            }

            var expected = read.Value - (expired ?? 0);
            if (live > expected || live < expected - (expires ?? 0))
            {
                throw new PipelineException($"check after restoring redis failed: {live} key(s) live, the backup holds {expected}");
            }

            _log.Information("Checked redis: {Live} key(s), the backup holds {Expected} ({Expires} with a TTL)", live, expected, expires ?? 0);
        }
        else
        {
            _log.Information("Checked redis: it loaded the restored AOF, {Live} key(s)", live);
        }
    }

    private async Task VolumeAsync(MemberResult member, CancellationToken cancellationToken)
    {
        var volume = context.Environment.Volumes.First(v => v.Key == member.Volume).Name;
        var writers = context.Environment.Services
            .Where(s => s.Volumes.Any(m => m.Kind == Schema.MountKind.Volume && m.Source == member.Volume))
            .Select(s => s.Name)
            .ToList();
        var spec = new HelperSpec
        {
            Purpose = "volume-restore",
            Image = context.HelperImage,
            Entrypoint = ["/bin/sh", "-c"],
            Command = ["find /volume -mindepth 1 -maxdepth 1 -exec rm -rf {} \\;"],
            Mounts = [new HelperMount(volume, "/volume", ReadOnly: false)],
        };
        var tree = member.Tree;
        long entries;
        await using (var stopped = await context.Lifecycle.SuspendAsync(writers, SuspendMode.Stop, cancellationToken))
        {
            var emptied = await context.Helpers.RunAsync(spec, cancellationToken);
            if (emptied.ExitCode != 0)
            {
                throw new PipelineException($"emptying volume {volume} failed (exit {emptied.ExitCode}): {emptied.Errors.LastOrDefault() ?? "no error output"}");
            }

            if (tree is not null)
            {
                // restic writes the files itself, where it reads volumes: owners, modes, times, links, empty directories.
                await context.Repository.RestoreTreeAsync(await context.VolumeSiteAsync(volume, cancellationToken), tree.Snapshot, verify, cancellationToken);
                entries = await context.CountEntriesAsync(spec, volume, cancellationToken, filesAndDirectoriesOnly: true);
            }
            else if (member.IsEmptyVolume)
            {
                // Empty when it was backed up: emptied is restored.
                entries = await context.CountEntriesAsync(spec, volume, cancellationToken, filesAndDirectoriesOnly: true);
            }
            else
            {
                // A set written as a tar: the engine's archive API unpacks it.
                var part = member.Parts.First(p => p.Name.EndsWith(".tar", StringComparison.Ordinal));
                await context.Repository.DumpAsync(part.Snapshot, part.Path, (dump, ct) => context.Helpers.WriteArchiveAsync(spec, "/volume", dump, ct), cancellationToken);
                entries = await context.CountEntriesAsync(spec, volume, cancellationToken);
            }
        }

        var asTar = tree is null && !member.IsEmptyVolume;
        var expected = asTar
            ? member.Counts?.GetValueOrDefault("entries", -1) ?? -1
            : member.Counts is { } counts ? counts.GetValueOrDefault("files") + counts.GetValueOrDefault("directories") : -1;
        var what = asTar ? "file(s) and directories" : "regular file(s) and directories";
        if (expected >= 0 && entries != expected)
        {
            throw new PipelineException($"check after restoring volume {volume} failed: {entries} {what}, the backup has {expected}");
        }

        _log.Information("Checked volume {Volume}: {Entries} {What} as in the backup", volume, entries, what);
    }

    private async Task ConfigAsync(RestoreTarget target, CancellationToken cancellationToken)
    {
        var directory = Path.Combine(restoreDirectory, target.Set.Set);
        if (Directory.Exists(directory))
        {
            Directory.Delete(directory, recursive: true);
        }

        Directory.CreateDirectory(directory);
        await context.Repository.RestoreAsync(target.Member.Parts.Single().Snapshot, directory, cancellationToken);
        _log.Warning("The configuration of set {Set} is in {Directory} (the checkout is never overwritten): compare and copy what you need", target.Set.Set, directory);
    }

    /// <summary>A helper container that reads a backup part on its standard input and writes it into a volume.</summary>
    private async Task<HelperResult> WriteIntoVolumeAsync(BackupPart part, string volume, string mountPoint, string script, IReadOnlyList<string> environment, CancellationToken cancellationToken)
    {
        HelperResult? result = null;
        await context.Repository.DumpAsync(part.Snapshot, part.Path, async (dump, ct) =>
        {
            result = await context.Helpers.RunAsync(
                new HelperSpec
                {
                    Purpose = "volume-restore",
                    Image = context.HelperImage,
                    Entrypoint = ["/bin/sh", "-c"],
                    Command = [script],
                    Mounts = [new HelperMount(volume, mountPoint, ReadOnly: false)],
                    Environment = environment,
                    Stdin = (input, c) => dump.CopyToAsync(input, c),
                },
                ct);
            if (result.ExitCode != 0)
            {
                throw new PipelineException($"writing the backup into volume {volume} failed (exit {result.ExitCode}): {result.Errors.LastOrDefault() ?? "no error output"}");
            }
        }, cancellationToken);
        return result!;
    }

    /// <summary>
    /// A command in a service's container whose standard input is a backup part. A restore must read all of it: one that
    /// ends without doing so fails (its exit code, or, if it said 0, that it stopped reading).
    /// </summary>
    private async Task<Exec.Result> ExecFromDumpAsync(BackupPart part, string id, IReadOnlyList<string> command, CancellationToken cancellationToken, IReadOnlyList<string>? environment = null)
    {
        Exec.Result? result = null;
        await context.Repository.DumpAsync(part.Snapshot, part.Path, async (dump, ct) =>
        {
            result = await Exec.StreamAsync(context.Engine, id, command, ct, stdin: (input, c) => dump.CopyToAsync(input, c), environment: environment);
        }, cancellationToken);
        return result!.ExitCode == 0 && result.InputCut
            ? result with { ExitCode = -1, Error = $"{command[0]} stopped reading the backup of {part.Name} before its end" }
            : result;
    }

    private async Task<string> PsqlAsync(string id, string name, string user, string database, string sql, CancellationToken cancellationToken)
    {
        var result = await Exec.StreamAsync(context.Engine, id, ["psql", "-U", user, "-d", database, "-AtX", "-v", "ON_ERROR_STOP=1", "-f", "-"], cancellationToken,
            stdin: async (input, ct) => await input.WriteAsync(Encoding.UTF8.GetBytes(sql), ct));
        return result.ExitCode == 0 ? result.Output : throw BackupContext.Failed("psql", name, result);
    }

    private static string Literal(string text) => "'" + text.Replace("'", "''", StringComparison.Ordinal) + "'";

    private static string Identifier(string name) => "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    private static long? Number(string text, string label)
    {
        var match = System.Text.RegularExpressions.Regex.Match(text, $@"(\d+) {label}");
        return match.Success ? long.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : null;
    }
}
