using System.Formats.Tar;
using System.IO.Pipelines;
using System.Security.Cryptography;
using System.Text;
using LlmStack.Engine;

namespace LlmStack.Backup;

/// <summary>A tree as a backup saw it: entries (files, directories, links), regular files, and a sha256 per file.</summary>
public sealed record TreeListing(long Entries, long Files, IReadOnlyList<string> Lines)
{
    /// <summary>
    /// <c>sha256  ./path</c> lines in ordinal order (what <c>sha256sum</c> prints), after a comment line with the counts (restic
    /// refuses an empty input, and an empty volume has no file to list).
    /// </summary>
    public string Text => $"# llmstack tree listing: {Entries} entries, {Files} files\n" + string.Concat(Lines.Select(l => l + "\n"));

    /// <summary>The sha256 of the file lines (the comment left out).</summary>
    public string Digest => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Concat(Lines.Select(l => l + "\n")))));

    /// <summary>Parses <c>sha256sum</c> output (any order; comment lines ignored) into a listing.</summary>
    public static TreeListing Parse(string text, long entries)
    {
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).Where(l => !l.StartsWith('#')).Order(StringComparer.Ordinal).ToList();
        return new TreeListing(entries, lines.Count, lines);
    }
}

/// <summary>
/// Passes a tar stream through to its destination (restic's standard input) and, on the way, to a reader that lists
/// it: entries counted, every regular file hashed. Nothing is read twice and nothing is staged.
/// </summary>
public sealed class TarListingTee : WriteOnlyStream
{
    private readonly Stream _destination;
    private readonly Pipe _pipe = new(new PipeOptions(pauseWriterThreshold: 8 << 20, resumeWriterThreshold: 4 << 20));
    private readonly Task<TreeListing> _listing;
    private bool _readerGone;

    public TarListingTee(Stream destination)
    {
        _destination = destination;
        _listing = Task.Run(ListAsync);
    }

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count).GetAwaiter().GetResult();

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await _destination.WriteAsync(buffer, cancellationToken);
        if (!_readerGone)
        {
            var result = await _pipe.Writer.WriteAsync(buffer, cancellationToken);
            _readerGone = result.IsCompleted;
        }
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => _destination.FlushAsync(cancellationToken);

    /// <summary>Ends the stream and returns the listing (fails if the stream was not a tar).</summary>
    public async Task<TreeListing> CompleteAsync(CancellationToken cancellationToken)
    {
        await _pipe.Writer.CompleteAsync();
        return await _listing.WaitAsync(cancellationToken);
    }

    public override async ValueTask DisposeAsync()
    {
        await _pipe.Writer.CompleteAsync();
        try
        {
            await _listing;
        }
        catch (InvalidDataException)
        {
            // Reported by CompleteAsync when it matters.
        }

        await base.DisposeAsync();
    }

    private async Task<TreeListing> ListAsync()
    {
        var input = _pipe.Reader.AsStream();
        try
        {
            long entries = 0;
            var lines = new List<string>();
            await using (var reader = new TarReader(input, leaveOpen: true))
            {
                while (await reader.GetNextEntryAsync(copyData: false) is { } entry)
                {
                    var name = entry.Name.TrimEnd('/');
                    if (name is "." or "")
                    {
                        continue;
                    }

                    entries++;
                    if (entry.EntryType is TarEntryType.RegularFile or TarEntryType.V7RegularFile && entry.DataStream is { } data)
                    {
                        lines.Add($"{Convert.ToHexStringLower(await SHA256.HashDataAsync(data))}  {(name.StartsWith("./", StringComparison.Ordinal) ? name : "./" + name)}");
                    }
                }
            }

            await input.CopyToAsync(Stream.Null); // the end-of-archive blocks: the writer must never wait on us
            return new TreeListing(entries, lines.Count, lines.Order(StringComparer.Ordinal).ToList());
        }
        catch
        {
            await _pipe.Reader.CompleteAsync();
            throw;
        }
    }
}
