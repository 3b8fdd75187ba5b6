using System.Globalization;
using System.Text.RegularExpressions;
using LlmStack.Backup;
using LlmStack.Engine;
using LlmStack.Pipeline;

namespace LlmStack.Retention;

/// <summary>One table's data retention: rows whose <paramref name="DateColumn"/> is older than <paramref name="Days"/> days.</summary>
public sealed record TableRetention(string Service, string Table, string DateColumn, int Days, string Strategy, int BatchSize)
{
    public const string DeleteOldRows = "delete_old_rows";
    public const string ArchiveThenDelete = "archive_then_delete";

    /// <summary>The cut-off for a run at <paramref name="now"/>: rows strictly older go.</summary>
    public DateTimeOffset Cutoff(DateTimeOffset now) => now.AddDays(-Days);
}

/// <summary>
/// Data retention in PostgreSQL through its own SQL, run with <c>psql</c> inside the service's container: counts for
/// the plan (the dry run only counts), batched deletes (a few thousand rows per transaction, so no long locks), and
/// archive-then-delete — the rows streamed with <c>COPY … TO STDOUT</c> into the backup repository as an archive
/// snapshot, then deleted in one transaction that refuses to commit unless it deletes exactly the rows archived.
/// </summary>
public sealed partial class PostgresRetention(DockerEngine engine, string containerId, string containerName, string user, string database) : ITableProbe
{
    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$", RegexOptions.CultureInvariant)]
    public static partial Regex Identifier();

    public string Database => database;

    /// <summary>Rows older than the cut-off; null when the table does not exist.</summary>
    public async Task<long?> CountAsync(TableRetention table, DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        var exists = await QueryAsync($"SELECT to_regclass({Literal(table.Table)}) IS NOT NULL", cancellationToken);
        if (exists != "t")
        {
            return null;
        }

        return long.Parse(await QueryAsync($"SELECT count(*) FROM {Quote(table.Table)} WHERE {Where(table, cutoff)}", cancellationToken), CultureInfo.InvariantCulture);
    }

    /// <summary>Deletes in batches of <see cref="TableRetention.BatchSize"/> rows, each its own transaction, until none is older. Returns the rows deleted.</summary>
    public async Task<long> DeleteAsync(TableRetention table, DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        long total = 0;
        while (true)
        {
            var deleted = long.Parse(await QueryAsync(
                $"WITH doomed AS (SELECT ctid FROM {Quote(table.Table)} WHERE {Where(table, cutoff)} LIMIT {table.BatchSize}), " +
                $"gone AS (DELETE FROM {Quote(table.Table)} WHERE ctid IN (SELECT ctid FROM doomed) RETURNING 1) SELECT count(*) FROM gone",
                cancellationToken), CultureInfo.InvariantCulture);
            total += deleted;
            if (deleted < table.BatchSize)
            {
                return total;
            }
        }
    }

    /// <summary>
    /// Streams the rows to delete into <paramref name="repository"/> (an archive snapshot tagged kind=archive), then
    /// deletes exactly those: the delete runs in one transaction that rolls back if the count differs from the
    /// archive's (rows changed in between). Returns the snapshot id and the rows archived and deleted.
    /// </summary>
    public async Task<(string Snapshot, long Rows)> ArchiveThenDeleteAsync(
        TableRetention table, DateTimeOffset cutoff, ResticRepository repository, string environment, string host, CancellationToken cancellationToken)
    {
        long rows = 0;
        var stamp = cutoff.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
        var summary = await repository.BackupStreamAsync(
            $"/archive/{table.Service}/{database}/{table.Table}/{stamp}.copy",
            [BackupTags.Marker, "kind=archive", $"env={environment}", $"service={table.Service}", $"table={database}.{table.Table}", $"cutoff={stamp}"],
            host,
            async (stdin, ct) =>
            {
                var counter = new LineCountingStream(stdin);
                var result = await Exec.StreamAsync(engine, containerId,
                    ["psql", "-v", "ON_ERROR_STOP=1", "-U", user, "-d", database, "-c", $"COPY (SELECT * FROM {Quote(table.Table)} WHERE {Where(table, cutoff)}) TO STDOUT"],
                    ct, stdout: counter);
                if (result.ExitCode != 0)
                {
                    throw new PipelineException($"archiving {database}.{table.Table} from {containerName} failed: {result.ErrorLines.LastOrDefault()}");
                }

                rows = counter.Lines;
            },
            null,
            cancellationToken);

        await QueryAsync(
            $"DO $retention$ DECLARE n bigint; BEGIN DELETE FROM {Quote(table.Table)} WHERE {Where(table, cutoff)}; GET DIAGNOSTICS n = ROW_COUNT; " +
            $"IF n <> {rows} THEN RAISE EXCEPTION 'rows changed since the archive: % to delete, % archived', n, {rows}; END IF; END $retention$",
            cancellationToken);
        return (summary.SnapshotId, rows);
    }

    private static string Where(TableRetention table, DateTimeOffset cutoff) =>
        $"{Quote(table.DateColumn)} < {Literal(cutoff.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture))}::timestamptz";

    /// <summary>An identifier (optionally schema-qualified) quoted for SQL; the configuration only admits plain names.</summary>
    private static string Quote(string name) => string.Join('.', name.Split('.').Select(part => $"\"{part.Replace("\"", "\"\"", StringComparison.Ordinal)}\""));

    private static string Literal(string text) => $"'{text.Replace("'", "''", StringComparison.Ordinal)}'";

    private async Task<string> QueryAsync(string sql, CancellationToken cancellationToken)
    {
        var result = await Exec.RunAsync(engine, containerId, ["psql", "-v", "ON_ERROR_STOP=1", "-At", "-U", user, "-d", database, "-c", sql], cancellationToken);
        return result.ExitCode == 0
            ? result.Output.Trim()
            : throw new PipelineException($"psql in {containerName} failed: {result.ErrorLines.LastOrDefault() ?? $"exit {result.ExitCode}"}");
    }

    /// <summary>Counts the rows of COPY's text format (one line per row: newlines inside values are escaped) on their way through.</summary>
    private sealed class LineCountingStream(Stream inner) : WriteOnlyStream
    {
        public long Lines { get; private set; }

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            Lines += buffer.Count((byte)'\n');
            inner.Write(buffer);
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Lines += buffer.Span.Count((byte)'\n');
            await inner.WriteAsync(buffer, cancellationToken);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }
}
