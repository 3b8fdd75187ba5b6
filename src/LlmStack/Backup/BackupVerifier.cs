using System.Formats.Tar;
using System.Globalization;
using LlmStack.Engine;
using LlmStack.Pipeline;
using Serilog;

namespace LlmStack.Backup;

/// <summary>One verification finding: where (tier, set, service) and what.</summary>
public sealed record VerifyResult(string Tier, string? Set, string Check, bool Ok, string Detail);

/// <summary>
/// <c>BackupVerify</c>: per tier, <c>restic check</c> with a share of the data read back (all of it when asked), then the
/// content of the chosen backups checked in throwaway containers from the services' own images — <c>pg_restore --list</c>
/// on each dump, <c>redis-check-rdb</c> on the rdb — and every volume's listing (its files and directories against
/// the counts restic gave at backup time) with all its data read back (a volume written as a tar: a full tar listing).
/// A checker that needs only part of a stream (<c>pg_restore --list</c> reads the table of contents) ends it; the rest
/// of the stream is still read from restic (every blob checked) and dropped. The chosen backups are the newest of every member (across sets) or one set's. Tape
/// exports are read back against their sha256. On a tier whose repository check passes, every set whose checked members
/// all pass is marked verified there (a <c>verified=yyyy-MM-dd</c> tag on the set's manifest snapshot).
/// </summary>
public sealed class BackupVerifier(BackupContext context, Func<string, string> imageOf)
{
    private readonly ILogger _log = context.Log;

    /// <summary>
    /// The <c>--read-data-subset</c> restic accepts — <c>n/t</c> (1 ≤ n ≤ t), <c>p%</c> (0 &lt; p ≤ 100), a size
    /// (<c>500M</c>, <c>2G</c>) — or <c>0</c> for the metadata only; anything else is one line naming them, before
    /// anything runs.
    /// </summary>
    public static string CheckReadDataSubset(string value)
    {
        var text = value.Trim();
        var ok = text == "0" || Fraction(text) || Percentage(text) || Size(text);
        return ok
            ? text
            : throw new PipelineException(
                $"--read-data-subset '{value}' is not a share restic can read back: use n/t with 1 ≤ n ≤ t (1/10), p% with 0 < p ≤ 100 (10%, 2.5%), a size (500M, 2G), or 0 for the metadata only");

        static bool Fraction(string t) =>
            t.Split('/') is [var n, var of] && int.TryParse(n, NumberStyles.None, CultureInfo.InvariantCulture, out var part)
            && int.TryParse(of, NumberStyles.None, CultureInfo.InvariantCulture, out var total) && part >= 1 && part <= total;

        static bool Percentage(string t) =>
            t.EndsWith('%') && double.TryParse(t[..^1], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var p) && p > 0 && p <= 100;

        static bool Size(string t)
        {
            var digits = t.Length > 0 && "kKmMgGtT".Contains(t[^1], StringComparison.Ordinal) ? t[..^1] : t;
            return long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var bytes) && bytes > 0;
        }
    }

    public async Task<IReadOnlyList<VerifyResult>> VerifyAsync(IReadOnlyList<ChosenMember> chosen, string readDataSubset, CancellationToken cancellationToken)
    {
        var results = new List<VerifyResult>();
        var sets = chosen.GroupBy(c => c.Set, StringComparer.Ordinal).ToList();
        foreach (var tier in new[] { context.Repository.Tier }.Concat(context.Tiers.Others))
        {
            if (tier.Kind == TierKind.Tape)
            {
                var tape = new TapeTier(tier, context.Repository, _log);
                var exports = tape.Exports();
                foreach (var set in sets)
                {
                    var export = exports.FirstOrDefault(e => e.Set == set.Key);
                    var problem = export is null ? $"set {set.Key} was never exported here (BackupCopy)" : await tape.VerifyAsync(export, cancellationToken);
                    results.Add(new VerifyResult(tier.Name, set.Key, "read back (sha256, listing)", problem is null, problem ?? $"{BackupProgress.Size(export!.Bytes)}, sha256 ok"));
                }

                continue;
            }

            var repository = tier.Name == context.Repository.Tier.Name ? context.Repository : context.Tiers.Open(tier);
            var repositoryOk = true;
            try
            {
                await repository.OpenAsync(cancellationToken);
                await repository.CheckAsync(readDataSubset == "0" ? null : readDataSubset, cancellationToken);
                results.Add(new VerifyResult(tier.Name, null, $"restic check (read data {readDataSubset})", true, "no errors"));
            }
            catch (PipelineException e) when (!cancellationToken.IsCancellationRequested)
            {
                repositoryOk = false;
                results.Add(new VerifyResult(tier.Name, null, $"restic check (read data {readDataSubset})", false, e.Message));
                if (e is TierUnreachableException)
                {
                    continue;
                }
            }

            IReadOnlyList<ResticSnapshot> snapshots;
            IReadOnlyList<CatalogEntry> entries;
            try
            {
                snapshots = await repository.SnapshotsAsync([BackupTags.Marker, $"env={context.Environment.Name}"], cancellationToken);
                entries = await new BackupCatalog(repository, context.ManifestCache).EntriesAsync(cancellationToken);
            }
            catch (PipelineException e) when (!cancellationToken.IsCancellationRequested)
            {
                results.Add(new VerifyResult(tier.Name, null, "list snapshots", false, e.Message));
                continue;
            }

            var verified = new List<(string Set, string SnapshotId)>();
            foreach (var set in sets)
            {
                var entry = entries.FirstOrDefault(e => e.Manifest.Set == set.Key);
                if (entry is null)
                {
                    results.Add(new VerifyResult(tier.Name, set.Key, "set present", false, $"set {set.Key} is not on this tier (BackupCopy)"));
                    continue;
                }

                var before = results.Count;
                var ofSet = snapshots.Where(s => s.Tag("set") == set.Key).ToList();
                foreach (var member in set.Select(c => c.Member))
                {
                    if (member.IsEmptyVolume)
                    {
                        results.Add(new VerifyResult(tier.Name, set.Key, $"{member.Key} {member.Volume}", true, "empty at backup time: nothing to read"));
                    }

                    foreach (var part in member.Parts)
                    {
                        // The manifest has restic's short ids; a copy keeps the first tier's full id as its original.
                        var here = ofSet.FirstOrDefault(s => s.SourceId.StartsWith(part.Snapshot, StringComparison.Ordinal));
                        var check = $"{member.Key} {part.Name}";
                        if (here is null)
                        {
                            results.Add(new VerifyResult(tier.Name, set.Key, check, false, "snapshot missing on this tier"));
                            continue;
                        }

                        try
                        {
                            var detail = await CheckPartAsync(repository, here.Id, member, part, cancellationToken);
                            results.Add(new VerifyResult(tier.Name, set.Key, check, true, detail));
                        }
                        catch (PipelineException e) when (!cancellationToken.IsCancellationRequested)
                        {
                            results.Add(new VerifyResult(tier.Name, set.Key, check, false, e.Message.Split('\n')[0]));
                        }
                    }
                }

                if (repositoryOk && results.Skip(before).All(r => r.Ok))
                {
                    verified.Add((set.Key, entry.SnapshotId));
                }
            }

            if (verified.Count > 0)
            {
                await repository.TagAsync(verified.Select(v => v.SnapshotId).ToList(), [$"verified={DateTime.UtcNow:yyyy-MM-dd}"], cancellationToken);
                _log.Information("Verified on tier {Tier}: set(s) {Sets}", tier.Name, string.Join(", ", verified.Select(v => v.Set)));
            }
        }

        return results;
    }

    private async Task<string> CheckPartAsync(ResticRepository repository, string snapshot, MemberResult member, BackupPart part, CancellationToken cancellationToken)
    {
        switch (member.Method)
        {
            case BackupMethod.Postgres when part.Source is not null:
            {
                var result = await InImageAsync(repository, snapshot, part, member.Service, ["pg_restore"], ["--list"], cancellationToken);
                var entries = result.Lines.Count(l => !l.StartsWith(';'));
                return $"pg_restore --list: {entries} entries";
            }

            case BackupMethod.Redis when member.Type == BackupType.Rdb:
            {
                var result = await InImageAsync(repository, snapshot, part, member.Service, ["/bin/sh", "-c"], ["cat > /tmp/dump.rdb && redis-check-rdb /tmp/dump.rdb"], cancellationToken);
                return string.Join(' ', result.Lines.Where(l => l.Contains("keys read", StringComparison.Ordinal)).Select(l => l.Split(']').Last().Trim()).DefaultIfEmpty("redis-check-rdb: OK"));
            }

            case BackupMethod.Volume when part.IsFiles:
            {
                // The snapshot's listing against the counts restic gave at backup time, then every file's data read
                // back (restic checks each blob as it decrypts it: a damaged pack fails here, naming the set and service).
                long files = 0, directories = 0, listed = 0;
                await repository.ListAsync(snapshot, node =>
                {
                    files += node.Type == "file" ? 1 : 0;
                    directories += node.Type == "dir" ? 1 : 0;
                    listed += node.Type == "file" ? node.Size : 0;
                }, cancellationToken);
                var counts = member.Counts ?? new Dictionary<string, long>();
                if (files != counts.GetValueOrDefault("files") || directories != counts.GetValueOrDefault("directories"))
                {
                    throw new PipelineException(string.Create(CultureInfo.InvariantCulture,
                        $"the snapshot lists {files} file(s) and {directories} directories, the backup counted {counts.GetValueOrDefault("files")} and {counts.GetValueOrDefault("directories")}"));
                }

                long bytes = 0;
                await repository.DumpArchiveAsync(snapshot, async (stream, ct) =>
                {
                    var buffer = new byte[1 << 20];
                    int read;
                    while ((read = await stream.ReadAsync(buffer, ct)) > 0)
                    {
                        bytes += read;
                    }
                }, cancellationToken);
                return string.Create(CultureInfo.InvariantCulture, $"listing: {files} file(s), {directories} directories, {BackupProgress.Size(listed)}; all data read back");
            }

            case BackupMethod.Volume or BackupMethod.Config or BackupMethod.Redis when part.Name.EndsWith(".tar", StringComparison.Ordinal) || member.Method == BackupMethod.Config:
            {
                // A full listing: every entry's header and data is read, so a damaged pack fails restic's decryption here.
                long entries = 0;
                long bytes = 0;
                Func<Stream, CancellationToken, Task> list = async (stream, ct) =>
                {
                    await using var reader = new TarReader(stream, leaveOpen: true);
                    while (await reader.GetNextEntryAsync(copyData: false, ct) is { } entry)
                    {
                        if (entry.Name is not ("./" or "."))
                        {
                            entries++;
                        }

                        if (entry.DataStream is { } data)
                        {
                            await data.CopyToAsync(Stream.Null, ct);
                        }

                        bytes += entry.Length;
                    }
                };
                try
                {
                    if (member.Method == BackupMethod.Config)
                    {
                        await repository.DumpArchiveAsync(snapshot, list, cancellationToken);
                    }
                    else
                    {
                        await repository.DumpAsync(snapshot, part.Path, list, cancellationToken);
                    }
                }
                catch (Exception e) when (e is InvalidDataException or EndOfStreamException)
                {
                    throw new PipelineException($"the tar is damaged: {e.Message}");
                }

                var expected = member.Counts?.GetValueOrDefault("entries", -1) ?? -1;
                if (member.Method == BackupMethod.Volume && expected >= 0 && entries != expected)
                {
                    throw new PipelineException($"the tar lists {entries} entries, the backup counted {expected}");
                }

                return string.Create(CultureInfo.InvariantCulture, $"tar listing: {entries} entries, {BackupProgress.Size(bytes)}");
            }

            default:
            {
                // Globals and anything else: read it all back (restic verifies every blob it decrypts).
                long bytes = 0;
                await repository.DumpAsync(snapshot, part.Path, async (stream, ct) =>
                {
                    var buffer = new byte[81920];
                    int read;
                    while ((read = await stream.ReadAsync(buffer, ct)) > 0)
                    {
                        bytes += read;
                    }
                }, cancellationToken);
                return bytes == part.Bytes ? $"read back, {BackupProgress.Size(bytes)}" : throw new PipelineException($"read back {bytes} bytes, the backup has {part.Bytes}");
            }
        }
    }

    /// <summary>A tool from the service's own image, run in a throwaway container with the part on its standard input.</summary>
    private async Task<HelperResult> InImageAsync(
        ResticRepository repository, string snapshot, BackupPart part, string service, IReadOnlyList<string> entrypoint, IReadOnlyList<string> command, CancellationToken cancellationToken)
    {
        HelperResult? result = null;
        var image = imageOf(context.Environment.Service(service).Image);
        await repository.DumpAsync(snapshot, part.Path, async (dump, ct) =>
        {
            result = await context.Helpers.RunAsync(
                new HelperSpec { Purpose = "backup-verify", Image = image, Entrypoint = entrypoint, Command = command, Stdin = (input, c) => dump.CopyToAsync(input, c), Timeout = TimeSpan.FromMinutes(30) },
                ct);
        }, cancellationToken);
        return result!.ExitCode == 0
            ? result
            : throw new PipelineException($"{entrypoint[0]} {string.Join(' ', command)} in {image} rejects it (exit {result.ExitCode}): {result.Errors.LastOrDefault() ?? result.Lines.LastOrDefault() ?? "no output"}");
    }
}
