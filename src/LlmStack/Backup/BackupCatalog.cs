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
/// The backup sets of a repository, read from their manifests. A manifest never changes once written (its set id is
/// in its path), so each is read from the repository once and then kept in a local cache.
/// </summary>
public sealed class BackupCatalog(ResticRepository repository, string cacheDirectory) : IBackupCatalog
{
    private string CacheDirectory => Path.Combine(cacheDirectory, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(
        System.Text.Encoding.UTF8.GetBytes(repository.Location)))[..16]);

    /// <summary>Every set with a manifest, oldest first. Member snapshots no manifest names are not backups.</summary>
    public async Task<IReadOnlyList<BackupSetManifest>> SetsAsync(CancellationToken cancellationToken) =>
        (await EntriesAsync(cancellationToken)).Select(e => e.Manifest).ToList();

    /// <summary>
    /// Every set with its manifest snapshot, oldest first. Manifests not cached yet are read in parallel: each
    /// <c>restic dump</c> spends most of its time deriving the repository key (scrypt), one core each.
    /// </summary>
    public async Task<IReadOnlyList<CatalogEntry>> EntriesAsync(CancellationToken cancellationToken)
    {
        var sets = (await repository.SnapshotsAsync([BackupTags.Marker, "kind=set"], cancellationToken))
            .Select(snapshot => (Snapshot: snapshot, Set: snapshot.Tag("set")))
            .Where(x => x.Set is not null)
            .ToList();
        var entries = new CatalogEntry[sets.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, sets.Count), new ParallelOptions { MaxDegreeOfParallelism = Math.Max(2, System.Environment.ProcessorCount), CancellationToken = cancellationToken }, async (i, ct) =>
        {
            var (snapshot, set) = (sets[i].Snapshot, sets[i].Set!);
            var cached = Path.Combine(CacheDirectory, set + ".json");
            string json;
            if (File.Exists(cached))
            {
                json = await File.ReadAllTextAsync(cached, ct);
            }
            else
            {
                using var buffer = new MemoryStream();
                await repository.DumpAsync(snapshot.Id, BackupSetManifest.ManifestPath(set), async (stream, c) => await stream.CopyToAsync(buffer, c), ct);
                json = System.Text.Encoding.UTF8.GetString(buffer.ToArray());
                Write(set, json);
            }

            entries[i] = new CatalogEntry(BackupSetManifest.FromJson(json), snapshot.Id, snapshot.Tags ?? []);
        });

        return entries.OrderBy(e => e.Manifest.Started).ToList();
    }

    /// <summary>Caches a manifest this run has just written.</summary>
    public void Remember(BackupSetManifest manifest) => Write(manifest.Set, manifest.ToJson());

    private void Write(string set, string json)
    {
        // Written aside, then moved: a run stopped half-way never leaves a truncated manifest behind.
        Directory.CreateDirectory(CacheDirectory);
        var path = Path.Combine(CacheDirectory, set + ".json");
        var partial = $"{path}.{Guid.NewGuid():N}.partial";
        File.WriteAllText(partial, json);
        File.Move(partial, path, overwrite: true);
    }
}
