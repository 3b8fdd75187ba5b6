namespace LlmStack.Backup;

/// <summary>A set as one repository holds it: its manifest, the id of the manifest's snapshot there, and its tags.</summary>
public sealed record CatalogEntry(BackupSetManifest Manifest, string SnapshotId, IReadOnlyList<string> Tags)
{
    /// <summary>When the set was last verified on this tier (<c>verified=yyyy-MM-dd</c> tags), if ever.</summary>
    public string? Verified => Tags.Where(t => t.StartsWith("verified=", StringComparison.Ordinal)).Select(t => t["verified=".Length..]).Order(StringComparer.Ordinal).LastOrDefault();
}

/// <summary>The sets a repository holds, as the planners read them (the real one is <see cref="BackupCatalog"/>; tests pass fakes).</summary>
public interface IBackupCatalog
{
    /// <summary>Every set with its manifest snapshot, oldest first.</summary>
    Task<IReadOnlyList<CatalogEntry>> EntriesAsync(CancellationToken cancellationToken);
}

/// <summary>
/// The backup sets of a repository, read from their manifests with one <c>restic snapshots</c>: each set's manifest
/// snapshot carries the manifest in a tag (<see cref="BackupSetManifest.ToTag"/>). A set written before the tag has its
/// manifest read from its snapshot's file (one <c>restic dump</c>, each deriving the key again) and kept in a local
/// cache, which is only that: it can be deleted at any time, and is never read for a set whose tag holds the manifest.
/// </summary>
public sealed class BackupCatalog(ResticRepository repository, string cacheDirectory) : IBackupCatalog
{
    private string CacheDirectory => Path.Combine(cacheDirectory, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(
        System.Text.Encoding.UTF8.GetBytes(repository.Location)))[..16]);

    /// <summary>Every set with a manifest, oldest first. Member snapshots no manifest names are not backups.</summary>
    public async Task<IReadOnlyList<BackupSetManifest>> SetsAsync(CancellationToken cancellationToken) =>
        (await EntriesAsync(cancellationToken)).Select(e => e.Manifest).ToList();

    /// <summary>Every set with its manifest snapshot, oldest first.</summary>
    public async Task<IReadOnlyList<CatalogEntry>> EntriesAsync(CancellationToken cancellationToken) =>
        await EntriesAsync(await repository.SnapshotsAsync([BackupTags.Marker, "kind=set"], cancellationToken), cancellationToken);

    /// <summary>
    /// The sets among <paramref name="snapshots"/> (a listing a caller already has). Manifests without a tag that are
    /// not cached yet are read in parallel: each <c>restic dump</c> spends most of its time deriving the key, one core each.
    /// </summary>
    public async Task<IReadOnlyList<CatalogEntry>> EntriesAsync(IReadOnlyList<ResticSnapshot> snapshots, CancellationToken cancellationToken)
    {
        var sets = snapshots
            .Where(s => s.Tags?.Contains("kind=set", StringComparer.Ordinal) == true && s.Tags.Contains(BackupTags.Marker, StringComparer.Ordinal))
            .Select(snapshot => (Snapshot: snapshot, Set: snapshot.Tag("set")))
            .Where(x => x.Set is not null)
            .ToList();
        var entries = new CatalogEntry[sets.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, sets.Count), new ParallelOptions { MaxDegreeOfParallelism = Math.Max(2, System.Environment.ProcessorCount), CancellationToken = cancellationToken }, async (i, ct) =>
        {
            var (snapshot, set) = (sets[i].Snapshot, sets[i].Set!);
            var tag = snapshot.Tags!.FirstOrDefault(t => t.StartsWith(BackupTags.ManifestTag, StringComparison.Ordinal));
            var manifest = tag is not null ? BackupSetManifest.FromTag(tag) : BackupSetManifest.FromJson(await LegacyManifestAsync(snapshot, set, ct));
            entries[i] = new CatalogEntry(manifest, snapshot.Id, snapshot.Tags ?? []);
        });

        return entries.OrderBy(e => e.Manifest.Started).ToList();
    }

    /// <summary>The manifest file of a set written before manifests were tags: from the cache, else read once and cached.</summary>
    private async Task<string> LegacyManifestAsync(ResticSnapshot snapshot, string set, CancellationToken cancellationToken)
    {
        var cached = Path.Combine(CacheDirectory, set + ".json");
        if (File.Exists(cached))
        {
            return await File.ReadAllTextAsync(cached, cancellationToken);
        }

        using var buffer = new MemoryStream();
        await repository.DumpAsync(snapshot.Id, BackupSetManifest.ManifestPath(set), async (stream, c) => await stream.CopyToAsync(buffer, c), cancellationToken);
        var json = System.Text.Encoding.UTF8.GetString(buffer.ToArray());

        // Written aside, then moved: a run stopped half-way never leaves a truncated manifest behind.
        Directory.CreateDirectory(CacheDirectory);
        var partial = $"{cached}.{Guid.NewGuid():N}.partial";
        await File.WriteAllTextAsync(partial, json, cancellationToken);
        File.Move(partial, cached, overwrite: true);
        return json;
    }
}
