namespace LlmStack.Backup;

/// <summary>
/// The backup sets of a repository, read from their manifests. A manifest never changes once written (its set id is
/// in its path), so each is read from the repository once and then kept in a local cache.
/// </summary>
public sealed class BackupCatalog(ResticRepository repository, string cacheDirectory)
{
    private string CacheDirectory => Path.Combine(cacheDirectory, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(
        System.Text.Encoding.UTF8.GetBytes(repository.Location)))[..16]);

    /// <summary>Every set with a manifest, oldest first. Member snapshots no manifest names are not backups.</summary>
    public async Task<IReadOnlyList<BackupSetManifest>> SetsAsync(CancellationToken cancellationToken)
    {
        var sets = new List<BackupSetManifest>();
        foreach (var snapshot in await repository.SnapshotsAsync([BackupTags.Marker, "kind=set"], cancellationToken))
        {
            var set = snapshot.Tag("set");
            if (set is null)
            {
                continue;
            }

            var cached = Path.Combine(CacheDirectory, set + ".json");
            string json;
            if (File.Exists(cached))
            {
                json = await File.ReadAllTextAsync(cached, cancellationToken);
            }
            else
            {
                using var buffer = new MemoryStream();
                await repository.DumpAsync(snapshot.Id, BackupSetManifest.ManifestPath(set), async (stream, ct) => await stream.CopyToAsync(buffer, ct), cancellationToken);
                json = System.Text.Encoding.UTF8.GetString(buffer.ToArray());
                Write(set, json);
            }

            sets.Add(BackupSetManifest.FromJson(json));
        }

        return sets.OrderBy(s => s.Started).ToList();
    }

    /// <summary>Caches a manifest this run has just written.</summary>
    public void Remember(BackupSetManifest manifest) => Write(manifest.Set, manifest.ToJson());

    private void Write(string set, string json)
    {
        Directory.CreateDirectory(CacheDirectory);
        File.WriteAllText(Path.Combine(CacheDirectory, set + ".json"), json);
    }
}
