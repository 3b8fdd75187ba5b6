using System.Globalization;
using LlmStack.Pipeline;
using LlmStack.Reporting;

namespace LlmStack.Backup;

/// <summary>One backup of a service, for BackupList: its set, and the tiers that hold the set.</summary>
public sealed record BackupRow(string Service, BackupType Type, string Set, DateTimeOffset Time, SetStatus SetStatus, long Bytes, long Added, BackupTrigger Trigger, IReadOnlyList<string> Tiers,
    IReadOnlyDictionary<string, string> Verified);

/// <summary>
/// <c>BackupList</c>: every listed backup per service (what the first tier's manifests name), with the tiers that hold
/// its set and where it was verified. <see cref="Rows"/> is pure over the inventory; <see cref="Report"/> is the table
/// and the <c>--json</c> document.
/// </summary>
public static class BackupList
{
    /// <summary>The inventory of every tier, the first tier's sets read through <paramref name="catalog"/>.</summary>
    public static async Task<IReadOnlyList<TierInventory>> InventoryAsync(IBackupCatalog catalog, ITierInventory tiers, CancellationToken cancellationToken) =>
        await tiers.InventoryAsync(await catalog.EntriesAsync(cancellationToken), cancellationToken);

    /// <summary>
    /// Per service and type, every member that succeeded in a set of the first tier (<c>inventory[0]</c>), newest first
    /// within a service.
    /// </summary>
    public static IReadOnlyList<BackupRow> Rows(IReadOnlyList<TierInventory> inventory)
    {
        var tiersOf = inventory.Where(i => i.Entries is not null)
            .SelectMany(i => i.Entries!.Select(e => (e.Manifest.Set, Tier: i.Tier.Name)))
            .GroupBy(x => x.Set)
            .ToDictionary(g => g.Key, g => (IReadOnlyList<string>)g.Select(x => x.Tier).ToList());
        var verifiedOf = inventory.Where(i => i.Entries is not null)
            .SelectMany(i => i.Entries!.Where(e => e.Verified is not null).Select(e => (e.Manifest.Set, Tier: i.Tier.Name, Date: e.Verified!)))
            .GroupBy(x => x.Set)
            .ToDictionary(g => g.Key, g => (IReadOnlyDictionary<string, string>)g.ToDictionary(x => x.Tier, x => x.Date));
        return inventory[0].Entries!
            .SelectMany(e => e.Manifest.Members.Where(m => m.Succeeded).Select(m =>
                new BackupRow(m.Volume is null ? m.Service : $"{m.Service} ({m.Volume})", m.Type, e.Manifest.Set, e.Manifest.Started, e.Manifest.Status, m.Bytes, m.Added, e.Manifest.Trigger,
                    tiersOf[e.Manifest.Set], verifiedOf.GetValueOrDefault(e.Manifest.Set) ?? new Dictionary<string, string>())))
            .OrderBy(r => r.Service, StringComparer.Ordinal)
            .ThenByDescending(r => r.Time)
            .ToList();
    }

    public static Report Report(IReadOnlyList<BackupRow> rows)
    {
        var table = new TextTable("SERVICE", "TYPE", "TIME (UTC)", "SET", "SET STATUS", "SIZE", "ADDED", "TRIGGER", "TIERS", "VERIFIED");
        foreach (var r in rows)
        {
            table.Add(r.Service, r.Type.Word(), r.Time.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture), r.Set, r.SetStatus.Word(),
                BackupProgress.Size(r.Bytes), BackupProgress.Size(r.Added), r.Trigger.Text, string.Join(",", r.Tiers),
                r.Verified.Count == 0 ? "-" : $"{r.Verified.Values.Max(StringComparer.Ordinal)} ({string.Join(",", r.Verified.Keys)})");
        }

        return new Report { Document = rows }.Table(table);
    }
}
