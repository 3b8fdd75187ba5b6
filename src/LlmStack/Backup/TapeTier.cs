using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text.Json;
using LlmStack.Pipeline;
using Serilog;
using LlmStack.Reporting;

namespace LlmStack.Backup;

/// <summary>The record of one set written to tape: where, how big, the stream's sha256, and every entry with its size.</summary>
public sealed record TapeExport(string Set, string Environment, string Target, DateTimeOffset Exported, long Bytes, string Sha256, IReadOnlyDictionary<string, long> Entries);

/// <summary>
/// An export tier for devices that cannot hold a repository: each backup set becomes one tar stream — every member's
/// snapshot as restic dumps it (<c>restic dump --archive tar</c>), under <c>&lt;set&gt;/&lt;service&gt;/&lt;type&gt;/</c> (a
/// volume's files under <c>&lt;set&gt;/&lt;service&gt;/volume/&lt;volume&gt;/</c>, owners, modes and links kept), and the set's
/// manifest — written to a directory (one file per set) or a device file (each export replaces the last). The export
/// is read back at once: its sha256 and its listing (a volume's tree as the total of its sizes) go into the catalog,
/// and verifying reads it again.
/// </summary>
public sealed class TapeTier(ResolvedTier tier, ResticRepository source, ILogger log)
{

    public ResolvedTier Tier => tier;

    /// <summary>A device (an existing file that is not a directory) takes one set at a time; a directory keeps one file per set.</summary>
    public bool OnDevice => File.Exists(DevicePath);

    /// <summary>The configured path itself (a device is not per environment).</summary>
    private string DevicePath => Path.GetDirectoryName(tier.Repository)!;

    private string CatalogDirectory => tier.Catalog!;

    public IReadOnlyList<TapeExport> Exports()
    {
        if (!Directory.Exists(CatalogDirectory))
        {
            return [];
        }

        return Directory.GetFiles(CatalogDirectory, "*.json")
            .Select(f => JsonSerializer.Deserialize<TapeExport>(File.ReadAllText(f), JsonDefaults.Document)!)
            .OrderBy(e => e.Exported)
            .ToList();
    }

    /// <summary>Rotates an export out of a directory tier: its file and its record. A device's cassettes are not ours to erase.</summary>
    public void Remove(string set)
    {
        if (OnDevice)
        {
            throw new InvalidOperationException($"tier {tier.Name} is a device: its exports are rotated by changing the cassette");
        }

        File.Delete(Path.Combine(tier.Repository, set + ".tar"));
        File.Delete(Path.Combine(CatalogDirectory, set + ".json"));
    }

    /// <summary>Writes a set, reads it back, records it. Returns the record.</summary>
    public async Task<TapeExport> ExportAsync(CatalogEntry entry, CancellationToken cancellationToken)
    {
        var manifest = entry.Manifest;
        var device = OnDevice;
        var target = device ? DevicePath : Path.Combine(tier.Repository, manifest.Set + ".tar");
        if (!device)
        {
            Directory.CreateDirectory(tier.Repository);
        }

        var written = new Dictionary<string, long>(StringComparer.Ordinal);
        try
        {
            await using (var output = new FileStream(target, device ? FileMode.Open : FileMode.Create, FileAccess.Write))
            {
                if (device)
                {
                    output.SetLength(0);
                }

                await using var writer = new TarWriter(output, TarEntryFormat.Pax, leaveOpen: true);
                foreach (var member in manifest.Members.Where(m => m.Succeeded))
                {
                    foreach (var part in member.Parts)
                    {
                        // A stream part keeps restic's path (/postgres/full/db-x.dump, the config files' own); a volume's
                        // file snapshot goes under <set>/<service>/volume/<volume>/ and is recorded as one total.
                        var tree = part.IsFiles ? $"{manifest.Set}/{BackupTags.PartPath(member.Service, member.Type, part.Name).TrimStart('/')}/" : null;
                        long treeBytes = 0;
                        await source.DumpArchiveAsync(part.Snapshot, async (tar, ct) =>
                        {
                            await using var reader = new TarReader(tar, leaveOpen: true);
                            while (await reader.GetNextEntryAsync(copyData: false, ct) is { } item)
                            {
                                var name = (tree ?? $"{manifest.Set}/") + item.Name.TrimStart('/');
                                if (tree is null && item.EntryType == TarEntryType.Directory && written.ContainsKey(name))
                                {
                                    continue;
                                }

                                var copy = new PaxTarEntry(item.EntryType, name) { ModificationTime = item.ModificationTime, Mode = item.Mode, Uid = item.Uid, Gid = item.Gid };
                                if (item.EntryType is TarEntryType.SymbolicLink or TarEntryType.HardLink)
                                {
                                    copy.LinkName = item.LinkName;
                                }

                                if (item.EntryType is TarEntryType.RegularFile or TarEntryType.V7RegularFile)
                                {
                                    copy.DataStream = item.DataStream;
                                }

                                await writer.WriteEntryAsync(copy, ct);
                                if (tree is null)
                                {
                                    written[name] = item.Length;
                                }
                                else
                                {
                                    treeBytes += item.Length;
                                }
                            }
                        }, cancellationToken);
                        if (tree is not null)
                        {
                            written[tree + TreeTotal] = treeBytes;
                        }
                    }
                }

                var json = System.Text.Encoding.UTF8.GetBytes(manifest.ToJson());
                var manifestName = $"{manifest.Set}/llmstack-set.json";
                await writer.WriteEntryAsync(new PaxTarEntry(TarEntryType.RegularFile, manifestName) { DataStream = new MemoryStream(json) }, cancellationToken);
                written[manifestName] = json.Length;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException or InvalidOperationException or FormatException)
        {
            throw new PipelineException($"tier {tier.Name} (tape): writing {target} failed: {e.Message}");
        }

        var (bytes, sha256, entries) = await ReadBackAsync(target, Trees(written.Keys), cancellationToken);
        var missing = written.Where(w => entries.GetValueOrDefault(w.Key, -1) != w.Value).Select(w => w.Key).ToList();
        if (missing.Count > 0)
        {
            throw new PipelineException($"tier {tier.Name} (tape): reading {target} back does not give what was written ({missing[0]}, {missing.Count} entries differ)");
        }

        var export = new TapeExport(manifest.Set, manifest.Environment, target, DateTimeOffset.UtcNow, bytes, sha256, entries);
        Directory.CreateDirectory(CatalogDirectory);
        await File.WriteAllTextAsync(Path.Combine(CatalogDirectory, manifest.Set + ".json"), JsonSerializer.Serialize(export, JsonDefaults.Document), cancellationToken);
        log.Information("Exported set {Set} to tape tier {Tier}: {Target}, {Bytes}, sha256 {Sha}", manifest.Set, tier.Name, target, BackupProgress.Size(bytes), sha256[..16]);
        return export;
    }

    /// <summary>Reads an export back: its sha256 must match the catalog and its entries the recorded sizes. Null when it does; else what differs.</summary>
    public async Task<string?> VerifyAsync(TapeExport export, CancellationToken cancellationToken)
    {
        if (!File.Exists(export.Target))
        {
            return $"{export.Target} is gone";
        }

        var latest = OnDevice ? Exports().LastOrDefault()?.Set : export.Set;
        if (latest != export.Set)
        {
            return null; // the device has been overwritten by a later set: only the last one can be read back
        }

        var (_, sha256, entries) = await ReadBackAsync(export.Target, Trees(export.Entries.Keys), cancellationToken);
        if (sha256 != export.Sha256)
        {
            return $"{export.Target}: sha256 {sha256[..16]}… differs from the recorded {export.Sha256[..16]}…";
        }

        var wrong = export.Entries.FirstOrDefault(e => entries.GetValueOrDefault(e.Key, -1) != e.Value);
        return wrong.Key is null ? null : $"{export.Target}: entry {wrong.Key} is not as written";
    }

    /// <summary>The key of a volume tree's total in the catalog: <c>&lt;set&gt;/&lt;service&gt;/volume/&lt;volume&gt;/*</c>, the sum of its entries' sizes.</summary>
    private const string TreeTotal = "*";

    private static List<string> Trees(IEnumerable<string> keys) => keys.Where(k => k.EndsWith("/" + TreeTotal, StringComparison.Ordinal)).Select(k => k[..^TreeTotal.Length]).ToList();

    /// <summary>
    /// Reads an export: its size, sha256, and each entry's size; the entries under a volume tree (<paramref name="trees"/>)
    /// are summed into the tree's total instead (a volume may hold a great many files: nothing per file is kept).
    /// </summary>
    private static async Task<(long Bytes, string Sha256, Dictionary<string, long> Entries)> ReadBackAsync(string target, IReadOnlyList<string> trees, CancellationToken cancellationToken)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        await using var file = new FileStream(target, FileMode.Open, FileAccess.Read);
        await using var hashing = new HashingReadStream(file, hash);
        var entries = new Dictionary<string, long>(StringComparer.Ordinal);
        await using (var reader = new TarReader(hashing, leaveOpen: true))
        {
            while (await reader.GetNextEntryAsync(copyData: false, cancellationToken) is { } entry)
            {
                if (entry.DataStream is { } data)
                {
                    await data.CopyToAsync(Stream.Null, cancellationToken);
                }

                if (trees.FirstOrDefault(t => entry.Name.StartsWith(t, StringComparison.Ordinal)) is { } tree)
                {
                    entries[tree + TreeTotal] = entries.GetValueOrDefault(tree + TreeTotal) + entry.Length;
                }
                else
                {
                    entries[entry.Name] = entry.Length;
                }
            }
        }

        await hashing.CopyToAsync(Stream.Null, cancellationToken); // the end-of-archive blocks count too
        return (hashing.Count, Convert.ToHexStringLower(hash.GetHashAndReset()), entries);
    }

    /// <summary>Hashes what is read through it.</summary>
    private sealed class HashingReadStream(Stream inner, IncrementalHash hash) : Stream
    {
        public long Count { get; private set; }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => Count;
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            var read = inner.Read(buffer, offset, count);
            hash.AppendData(buffer, offset, read);
            Count += read;
            return read;
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var read = await inner.ReadAsync(buffer, cancellationToken);
            hash.AppendData(buffer.Span[..read]);
            Count += read;
            return read;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
