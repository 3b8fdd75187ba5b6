using System.Globalization;
using LlmStack.Backup;
using LlmStack.Pipeline;

namespace LlmStack.Retention;

/// <summary>A configured redis key pattern: keys matching it in these databases get a TTL of at most <see cref="Days"/>.</summary>
public sealed record KeyRetention(string Service, string Pattern, IReadOnlyList<int> Databases, int Days)
{
    public long TtlSeconds => Days * 86_400L;
}

/// <summary>What one pass over a pattern in one database found (or did).</summary>
public sealed record KeyPass(int Database, long Matched, long Due);

/// <summary>
/// redis <c>expire_keys</c>: SCAN with MATCH, and a TTL set only on keys that have none or a longer one
/// (<c>EXPIRE key ttl LT</c>, Redis 7). Each SCAN page (about 1000 keys) is one short script, which is the pipeline: one
/// round trip per page, never a long block. Keys are never deleted; the dry run counts only.
/// </summary>
internal sealed class RedisRetention(RedisCli redis) : IKeyProbe
{
    // ARGV: database, cursor, pattern, ttl seconds, apply (1) or count (0). Returns {next cursor, matched, due (or set)}.
    private const string PageScript =
        "redis.call('SELECT', tonumber(ARGV[1])) local r = redis.call('SCAN', ARGV[2], 'MATCH', ARGV[3], 'COUNT', 1000) "
        + "local ttl = tonumber(ARGV[4]) local matched, due = 0, 0 for _, k in ipairs(r[2]) do matched = matched + 1 "
        + "local t = redis.call('TTL', k) if t == -1 or t > ttl then if ARGV[5] == '1' then "
        + "due = due + redis.call('EXPIRE', k, ttl, 'LT') else due = due + 1 end end end return {r[1], matched, due}";

    /// <summary>The logical databases the server has (CONFIG GET databases).</summary>
    public async Task<int> DatabasesAsync(CancellationToken cancellationToken) =>
        int.Parse(await redis.ConfigAsync("databases", cancellationToken), CultureInfo.InvariantCulture);

    /// <summary>The keys matching the pattern in one database, and how many have no TTL or a longer one (nothing changed).</summary>
    public Task<KeyPass> CountAsync(KeyRetention keys, int database, CancellationToken cancellationToken) => PassAsync(keys, database, apply: false, cancellationToken);

    /// <summary>One full SCAN of a pattern in one database: counts keys whose TTL is missing or longer, and with <paramref name="apply"/> sets it.</summary>
    public async Task<KeyPass> PassAsync(KeyRetention keys, int database, bool apply, CancellationToken cancellationToken)
    {
        var cursor = "0";
        long matched = 0, due = 0;
        do
        {
            var output = await redis.RunAsync(["EVAL", PageScript, "0", database.ToString(CultureInfo.InvariantCulture), cursor, keys.Pattern,
                keys.TtlSeconds.ToString(CultureInfo.InvariantCulture), apply ? "1" : "0"], cancellationToken);
            var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (lines.Length != 3)
            {
                throw new PipelineException($"redis answered the key scan of '{keys.Pattern}' in db {database} unexpectedly: {output.Split('\n')[0]}");
            }

            cursor = lines[0];
            matched += long.Parse(lines[1], CultureInfo.InvariantCulture);
            due += long.Parse(lines[2], CultureInfo.InvariantCulture);
        }
        while (cursor != "0");

        return new KeyPass(database, matched, due);
    }
}
