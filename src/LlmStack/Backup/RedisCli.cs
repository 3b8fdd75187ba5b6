using System.Globalization;
using LlmStack.Engine;
using LlmStack.Pipeline;

namespace LlmStack.Backup;

/// <summary>
/// redis-cli in the redis container (docker exec): configuration, INFO, and saves that are awaited by watching INFO
/// persistence until Redis reports the save finished and succeeded — never a fixed sleep.
/// </summary>
internal sealed class RedisCli(DockerEngine engine, string containerId, string containerName)
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan SaveDeadline = TimeSpan.FromHours(1);

    public async Task<string> RunAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        var result = await Exec.RunAsync(engine, containerId, ["redis-cli", .. arguments], cancellationToken);
        var output = result.Output.Trim();
        if (result.ExitCode != 0 || output.StartsWith("ERR", StringComparison.Ordinal) || output.StartsWith("(error)", StringComparison.Ordinal))
        {
            var why = output.Length > 0 ? output.Split('\n')[0] : result.ErrorLines.LastOrDefault() ?? $"exit {result.ExitCode}";
            throw new PipelineException($"redis-cli {string.Join(' ', arguments)} failed in {containerName}: {why}");
        }

        return output;
    }

    public async Task<string> ConfigAsync(string key, CancellationToken cancellationToken)
    {
        var lines = (await RunAsync(["CONFIG", "GET", key], cancellationToken)).Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        return lines.Count >= 2 && lines[0] == key
            ? lines[1]
            : throw new PipelineException($"redis ({containerName}) has no setting '{key}' (Redis 7 or later is needed)");
    }

    public async Task<Dictionary<string, string>> InfoAsync(string section, CancellationToken cancellationToken)
    {
        var info = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in (await RunAsync(["INFO", section], cancellationToken)).Split('\n'))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0 && !line.StartsWith('#'))
            {
                info[line[..colon]] = line[(colon + 1)..].TrimEnd('\r');
            }
        }

        return info;
    }

    /// <summary>BGSAVE, then wait until INFO persistence shows a new save that finished OK.</summary>
    public async Task SaveAsync(CancellationToken cancellationToken)
    {
        await BackgroundAsync("BGSAVE", "rdb_saves", "rdb_bgsave_in_progress", "rdb_last_bgsave_status", cancellationToken);
    }

    /// <summary>BGREWRITEAOF, then wait until the rewrite finished OK (the AOF is then a consistent base plus increments).</summary>
    public async Task RewriteAofAsync(CancellationToken cancellationToken)
    {
        await BackgroundAsync("BGREWRITEAOF", "aof_rewrites", "aof_rewrite_in_progress", "aof_last_bgrewrite_status", cancellationToken);
    }

    private const string DigestScript =
        "local out = {} local n = 0 for db = 0, tonumber(ARGV[1]) - 1 do redis.call('SELECT', db) local cursor = '0' repeat "
        + "local r = redis.call('SCAN', cursor, 'COUNT', 1000) cursor = r[1] for _, k in ipairs(r[2]) do n = n + 1 "
        + "out[#out + 1] = redis.sha1hex(db .. ':' .. k .. ':' .. redis.call('DUMP', k)) end until cursor == '0' end "
        + "table.sort(out) return {n, redis.sha1hex(table.concat(out))}";

    /// <summary>
    /// A digest of every key's value in every database (sorted sha1 of db, key and DUMP), and the key count. A script:
    /// Redis runs it atomically, so it sees one consistent dataset.
    /// </summary>
    public async Task<(long Keys, string Digest)> DigestAsync(CancellationToken cancellationToken)
    {
        var databases = await ConfigAsync("databases", cancellationToken);
        var lines = (await RunAsync(["EVAL", DigestScript, "0", databases], cancellationToken)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        return (long.Parse(lines[0].Trim(), CultureInfo.InvariantCulture), lines[1].Trim());
    }

    /// <summary>Keys in every logical database (INFO keyspace).</summary>
    public async Task<long> KeyCountAsync(CancellationToken cancellationToken)
    {
        var keyspace = await InfoAsync("keyspace", cancellationToken);
        return keyspace.Values.Sum(v => long.Parse(v.Split(',')[0].Split('=')[1], CultureInfo.InvariantCulture));
    }

    private async Task BackgroundAsync(string command, string counter, string inProgress, string status, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + SaveDeadline;
        var before = Counter(await InfoAsync("persistence", cancellationToken), counter);
        while (true)
        {
            var answer = await Exec.RunAsync(engine, containerId, ["redis-cli", command], cancellationToken);
            // "Background saving started", "Background append only file rewriting started", or "… scheduled".
            if (answer.ExitCode == 0 && (answer.Output.Contains("started", StringComparison.Ordinal) || answer.Output.Contains("scheduled", StringComparison.Ordinal)))
            {
                break;
            }

            if (!answer.Output.Contains("in progress", StringComparison.Ordinal))
            {
                throw new PipelineException($"redis-cli {command} failed in {containerName}: {answer.Output.Trim()}");
            }

            // Another save runs: wait for it, then ask for ours (it must start after now).
            await Task.Delay(Poll, cancellationToken);
            Deadline(deadline, command);
        }

        while (true)
        {
            var info = await InfoAsync("persistence", cancellationToken);
            if (info.GetValueOrDefault(inProgress) == "0" && Counter(info, counter) > before && info.GetValueOrDefault("aof_rewrite_scheduled", "0") == "0")
            {
                if (info.GetValueOrDefault(status) != "ok")
                {
                    throw new PipelineException($"redis ({containerName}) reports its {command} failed ({status}:{info.GetValueOrDefault(status)}): see LogsCore --service redis");
                }

                return;
            }

            await Task.Delay(Poll, cancellationToken);
            Deadline(deadline, command);
        }
    }

    private static long Counter(IReadOnlyDictionary<string, string> info, string name) =>
        info.TryGetValue(name, out var text) && long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new PipelineException($"redis does not report {name} in INFO persistence: Redis 7 or later is needed");

    private void Deadline(DateTime deadline, string command)
    {
        if (DateTime.UtcNow > deadline)
        {
            throw new PipelineException($"redis ({containerName}) did not finish {command} within {SaveDeadline.TotalMinutes:0} minutes");
        }
    }
}
