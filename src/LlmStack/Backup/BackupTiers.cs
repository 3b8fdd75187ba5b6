using LlmStack.Pipeline;
using Serilog;

namespace LlmStack.Backup;

/// <summary>What happened on one tier: copied or exported sets, or why it failed.</summary>
public sealed record TierResult(string Tier, TierKind Kind, bool Ok, string Outcome);

/// <summary>What one tier holds: its sets (null when it cannot be read), and why not.</summary>
public sealed record TierInventory(ResolvedTier Tier, IReadOnlyList<CatalogEntry>? Entries, string? Error);

/// <summary>What the tiers hold, as the planners read it (the real one is <see cref="BackupTiers"/>; tests pass fakes).</summary>
public interface ITierInventory
{
    /// <summary>The sets each tier holds, the first tier first (its entries are <paramref name="primaryEntries"/>); an unreadable tier has none and its error.</summary>
    Task<IReadOnlyList<TierInventory>> InventoryAsync(IReadOnlyList<CatalogEntry> primaryEntries, CancellationToken cancellationToken);

    /// <summary>A repository tier's size on disk; a <see cref="PipelineException"/> when it cannot be read.</summary>
    Task<long> SizeAsync(ResolvedTier tier, CancellationToken cancellationToken);
}

/// <summary>
/// The tiers after the first: a backup is written to the environment's first tier, then copied to the others —
/// <c>restic copy</c> for repositories (initialised with the first tier's chunker parameters, so copies deduplicate),
/// an export for tape. Each tier succeeds or fails on its own: an unreachable one is named, and the others still get
/// the copy.
/// </summary>
public sealed class BackupTiers(ResticRepository primary, IReadOnlyList<ResolvedTier> others, Func<ResolvedTier, ResticRepository> open, string manifestCache, ILogger log) : ITierInventory
{
    public IReadOnlyList<ResolvedTier> Others => others;

    public ResticRepository Open(ResolvedTier tier) => open(tier);

    public Task<long> SizeAsync(ResolvedTier tier, CancellationToken cancellationToken) =>
        (tier.Name == primary.Tier.Name ? primary : open(tier)).SizeAsync(cancellationToken);

    /// <summary>Copies (or exports) the sets to every other tier; what a tier already has is skipped.</summary>
    public async Task<IReadOnlyList<TierResult>> CopyAsync(IReadOnlyList<CatalogEntry> entries, CancellationToken cancellationToken)
    {
        var results = new List<TierResult>();
        foreach (var tier in others)
        {
            try
            {
                if (tier.Kind == TierKind.Tape)
                {
                    var tape = new TapeTier(tier, primary, log);
                    var exported = tape.Exports().Select(e => e.Set).ToHashSet(StringComparer.Ordinal);
                    var missing = entries.Where(e => !exported.Contains(e.Manifest.Set)).ToList();
                    foreach (var entry in missing)
                    {
                        await tape.ExportAsync(entry, cancellationToken);
                    }

                    results.Add(new TierResult(tier.Name, tier.Kind, true, missing.Count == 0 ? "up to date" : $"exported {missing.Count} set(s)"));
                    continue;
                }

                var repository = open(tier);
                await repository.OpenAsync(cancellationToken, chunkerSource: primary);
                var ids = entries
                    .SelectMany(e => e.Manifest.Members.Where(m => m.Succeeded).SelectMany(m => m.Parts.Select(p => p.Snapshot)).Append(e.SnapshotId))
                    .Distinct(StringComparer.Ordinal)
                    .ToList();
                var copied = await repository.CopyFromAsync(primary, ids, cancellationToken);
                log.Information("Tier {Tier}: {Copied} snapshot(s) copied, {Skipped} already there", tier.Name, copied, ids.Count - copied);
                results.Add(new TierResult(tier.Name, tier.Kind, true, copied == 0 ? "up to date" : $"copied {copied} snapshot(s)"));
            }
            catch (PipelineException e) when (!cancellationToken.IsCancellationRequested)
            {
                log.Error("Tier {Tier} failed: {Error}", tier.Name, e.Message);
                results.Add(new TierResult(tier.Name, tier.Kind, false, e.Message));
            }
        }

        return results;
    }

    /// <summary>The sets each tier holds (tape: the sets exported); an unreachable tier is reported, not fatal.</summary>
    public async Task<IReadOnlyList<TierInventory>> InventoryAsync(IReadOnlyList<CatalogEntry> primaryEntries, CancellationToken cancellationToken)
    {
        var inventory = new List<TierInventory> { new(primary.Tier, primaryEntries, null) };
        foreach (var tier in others)
        {
            try
            {
                if (tier.Kind == TierKind.Tape)
                {
                    // An export is read back as it is written: it counts as verified on the day it was exported.
                    var exported = new TapeTier(tier, primary, log).Exports().ToDictionary(e => e.Set, e => e.Exported, StringComparer.Ordinal);
                    inventory.Add(new TierInventory(tier, primaryEntries.Where(e => exported.ContainsKey(e.Manifest.Set))
                        .Select(e => e with { Tags = [$"verified={exported[e.Manifest.Set].UtcDateTime:yyyy-MM-dd}"] }).ToList(), null));
                    continue;
                }

                inventory.Add(new TierInventory(tier, await new BackupCatalog(open(tier), manifestCache).EntriesAsync(cancellationToken), null));
            }
            catch (PipelineException e) when (!cancellationToken.IsCancellationRequested)
            {
                inventory.Add(new TierInventory(tier, null, e.Message));
            }
        }

        return inventory;
    }

    /// <summary>One line naming every tier that failed, or null.</summary>
    public static string? Failures(IReadOnlyList<TierResult> results) =>
        results.Any(r => !r.Ok)
            ? $"{results.Count(r => !r.Ok)} tier(s) failed: {string.Join("; ", results.Where(r => !r.Ok).Select(r => $"{r.Tier}: {r.Outcome}"))} (the others have the backup; BackupCopy retries)"
            : null;
}
