using Cronos;
using LlmStack.Backup;
using LlmStack.Engine;
using LlmStack.Lifecycle;
using LlmStack.Pipeline;

namespace LlmStack.Tests.Backup;

/// <summary>The read side of a repository for the planners: the sets it is given, oldest first.</summary>
internal sealed class FakeCatalog(params BackupSetManifest[] sets) : IBackupCatalog
{
    public int Reads { get; private set; }

    public IReadOnlyList<CatalogEntry> Entries { get; } = sets.OrderBy(s => s.Started).Select(s => new CatalogEntry(s, "manifest-" + s.Set, [])).ToList();

    public Task<IReadOnlyList<CatalogEntry>> EntriesAsync(CancellationToken cancellationToken)
    {
        Reads++;
        return Task.FromResult(Entries);
    }
}

/// <summary>
/// The tiers for the planners: the first tier holds what the catalog holds; every other tier the sets it is given, or
/// an error when it cannot be read; sizes per tier, or a failure.
/// </summary>
internal sealed class FakeTiers(ResolvedTier primary) : ITierInventory
{
    private readonly List<(ResolvedTier Tier, IReadOnlyList<string>? Sets, string? Error)> _others = [];
    private readonly Dictionary<string, long> _sizes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _sizeFailures = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _verified = new(StringComparer.Ordinal);

    public FakeTiers Holding(ResolvedTier tier, params string[] sets)
    {
        _others.Add((tier, sets, null));
        return this;
    }

    public FakeTiers Unreadable(ResolvedTier tier, string error)
    {
        _others.Add((tier, null, error));
        return this;
    }

    public FakeTiers Sized(string tier, long bytes)
    {
        _sizes[tier] = bytes;
        return this;
    }

    public FakeTiers SizeFails(string tier, string message)
    {
        _sizeFailures[tier] = message;
        return this;
    }

    /// <summary>Marks a set verified on a tier (<c>verified=</c> tag of its manifest there).</summary>
    public FakeTiers Verified(string tier, string set, string date)
    {
        _verified[$"{tier}/{set}"] = date;
        return this;
    }

    public Task<IReadOnlyList<TierInventory>> InventoryAsync(IReadOnlyList<CatalogEntry> primaryEntries, CancellationToken cancellationToken)
    {
        CatalogEntry Tagged(ResolvedTier tier, CatalogEntry entry) =>
            _verified.TryGetValue($"{tier.Name}/{entry.Manifest.Set}", out var date) ? entry with { Tags = [.. entry.Tags, $"verified={date}"] } : entry;

        var inventory = new List<TierInventory> { new(primary, primaryEntries.Select(e => Tagged(primary, e)).ToList(), null) };
        inventory.AddRange(_others.Select(o => o.Sets is null
            ? new TierInventory(o.Tier, null, o.Error)
            : new TierInventory(o.Tier, primaryEntries.Where(e => o.Sets.Contains(e.Manifest.Set)).Select(e => Tagged(o.Tier, e)).ToList(), null)));
        return Task.FromResult<IReadOnlyList<TierInventory>>(inventory);
    }

    public Task<long> SizeAsync(ResolvedTier tier, CancellationToken cancellationToken) =>
        _sizeFailures.TryGetValue(tier.Name, out var message) ? throw new PipelineException(message) : Task.FromResult(_sizes.GetValueOrDefault(tier.Name));
}

/// <summary>Backup plans and tiers as the planner would resolve them, without a schema.</summary>
internal static class BackupFixtures
{
    public static readonly ResolvedTier Local = new("local", TierKind.Local, "/repo/backups/testing");
    public static readonly ResolvedTier Remote = new("remote", TierKind.Remote, "rest:http://backup:8000/testing");
    public static readonly ResolvedTier Tape = new("tape", TierKind.Tape, "/srv/tape/testing") { Catalog = "/repo/backups/tape-catalog/testing" };

    /// <summary>postgres (full, schema, data), redis (rdb, aof), qdrant's volume and the configuration; daily at 04:00 UTC.</summary>
    public static EnvironmentBackupPlan Plan(params ResolvedTier[] tiers) => new(
        "testing", "multimodal-testing", "0 4 * * *", CronExpression.Parse("0 4 * * *", CronFormat.Standard), tiers.Length == 0 ? [Local] : tiers,
        [
            new BackupMember("postgres", BackupMethod.Postgres, BackupType.Full, null, null, ["postgres"], SuspendMode.Pause),
            new BackupMember("redis", BackupMethod.Redis, BackupType.Rdb, null, null, ["redis"], SuspendMode.Pause),
            new BackupMember("qdrant", BackupMethod.Volume, BackupType.Volume, "qdrant_data", "multimodal-testing_qdrant_data", ["qdrant"], SuspendMode.Pause),
            new BackupMember("config", BackupMethod.Config, BackupType.Config, null, null, [], SuspendMode.Pause),
        ],
        new Dictionary<string, string> { ["multimodal-worker"] = "processing cache, rebuilt on demand" },
        new Dictionary<string, IReadOnlyList<BackupType>>
        {
            ["postgres"] = [BackupType.Full, BackupType.Schema, BackupType.Data],
            ["redis"] = [BackupType.Rdb, BackupType.Aof],
            ["qdrant"] = [BackupType.Volume],
            ["config"] = [BackupType.Config],
        })
    {
        Services = ["postgres", "redis", "qdrant", "multimodal-worker", "litellm"],
    };
}
