using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace LlmStack.Backup;

/// <summary>
/// A tree's listing (one canonical line per entry) reduced to a digest that does not depend on the order of the lines
/// and holds nothing per entry: 256 buckets by the hash of the entry's path, each the sum of its lines' SHA-256 (the
/// paths make every line unique). Two listings are equal when every bucket is; when they differ,
/// <see cref="TreeComparison"/> reads both again for the first differing bucket only, to name an entry (about 1/256 of
/// the lines, kept for that pass; an entry that differs is in the same bucket on both sides).
/// </summary>
public sealed class TreeDigest(Func<string, string> pathOf)
{
    private const int Buckets = 256;
    private readonly ulong[] _sums = new ulong[Buckets * 4];

    public long Lines { get; private set; }

    public void Add(string line)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(line), hash);
        var bucket = BucketOf(pathOf(line));
        for (var i = 0; i < 4; i++)
        {
            _sums[(bucket * 4) + i] += BinaryPrimitives.ReadUInt64LittleEndian(hash[(i * 8)..]);
        }

        Lines++;
    }

    /// <summary>The first bucket where the two differ, or null when they are equal.</summary>
    public int? FirstDifference(TreeDigest other)
    {
        for (var bucket = 0; bucket < Buckets; bucket++)
        {
            if (!_sums.AsSpan(bucket * 4, 4).SequenceEqual(other._sums.AsSpan(bucket * 4, 4)))
            {
                return bucket;
            }
        }

        return null;
    }

    /// <summary>The bucket of an entry's path.</summary>
    public static int BucketOf(string path)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(path), hash);
        return hash[0];
    }
}

/// <summary>
/// Compares two listings of a tree that are read as streams (each a function that hands every line to a callback:
/// <c>restic ls</c>, a <c>find</c> in a helper, a sha256 listing), in bounded memory: the digests first; only when they
/// differ, a second read of both keeps the lines of one bucket and names the first entry that differs.
/// </summary>
public static class TreeComparison
{
    /// <summary>The entries on each side, and what differs (null when the listings are equal).</summary>
    public sealed record Outcome(long Expected, long Actual, string? Difference)
    {
        public bool Equal => Difference is null;
    }

    /// <summary>
    /// Compares the listings; <see cref="Outcome.Difference"/> names the first entry that differs (<c>in the backup, not as
    /// restored: …</c>). <paramref name="pathOf"/> gives a line's path (<see cref="PathOfLine"/>, <see cref="PathOfSha256"/>).
    /// </summary>
    public static async Task<Outcome> CompareAsync(
        Func<Action<string>, CancellationToken, Task> expected, Func<Action<string>, CancellationToken, Task> actual, Func<string, string> pathOf, CancellationToken cancellationToken)
    {
        var want = new TreeDigest(pathOf);
        var have = new TreeDigest(pathOf);
        await expected(want.Add, cancellationToken);
        await actual(have.Add, cancellationToken);
        if (want.FirstDifference(have) is not { } bucket)
        {
            return new Outcome(want.Lines, have.Lines, null);
        }

        var wanted = new List<string>();
        var had = new List<string>();
        await expected(l => Keep(wanted, l, pathOf, bucket), cancellationToken);
        await actual(l => Keep(had, l, pathOf, bucket), cancellationToken);
        var missing = wanted.Except(had, StringComparer.Ordinal).Order(StringComparer.Ordinal).FirstOrDefault();
        var extra = had.Except(wanted, StringComparer.Ordinal).Order(StringComparer.Ordinal).FirstOrDefault();
        var counts = string.Create(CultureInfo.InvariantCulture, $"{want.Lines} entries in the backup, {have.Lines} restored");
        return new Outcome(want.Lines, have.Lines, missing is not null
            ? $"{counts}; in the backup, not as restored: {missing}" + (extra is null ? string.Empty : $"; restored instead: {extra}")
            : $"{counts}; restored, not in the backup: {extra ?? "(a listing changed between two reads)"}");
    }

    private static void Keep(List<string> lines, string line, Func<string, string> pathOf, int bucket)
    {
        if (TreeDigest.BucketOf(pathOf(line)) == bucket)
        {
            lines.Add(line);
        }
    }

    /// <summary>The path of a <see cref="Line"/> (after its five fields).</summary>
    public static string PathOfLine(string line) => line.Split(' ', 6) is { Length: 6 } fields ? fields[5] : line;

    /// <summary>The path of a <c>sha256sum</c> line (<c>hash  ./path</c>).</summary>
    public static string PathOfSha256(string line) => line.Split("  ", 2) is { Length: 2 } fields ? fields[1] : line;

    /// <summary>
    /// One entry as a line both sides can give: its type, permission bits (with setuid, setgid, sticky), owner, group,
    /// size for a regular file, and its path relative to the tree's top (<c>d 0755 0 0 0 collections</c>).
    /// </summary>
    public static string Line(char type, int permissions, long uid, long gid, long size, string path) =>
        string.Create(CultureInfo.InvariantCulture, $"{type} {Convert.ToString(permissions, 8).PadLeft(4, '0')} {uid} {gid} {(type == 'f' ? size : 0)} {path.TrimStart('.').TrimStart('/')}");

    /// <summary>A <c>restic ls --json</c> node as a <see cref="Line"/> (Go's mode bits: the permissions and setuid 1&lt;&lt;23, setgid 1&lt;&lt;22, sticky 1&lt;&lt;20).</summary>
    public static string Line(ResticNode node)
    {
        var mode = node.Mode;
        var permissions = (int)(mode & 0x1ff) | ((mode & (1L << 23)) != 0 ? 0x800 : 0) | ((mode & (1L << 22)) != 0 ? 0x400 : 0) | ((mode & (1L << 20)) != 0 ? 0x200 : 0);
        var type = node.Type switch
        {
            "file" => 'f',
            "dir" => 'd',
            "symlink" => 'l',
            "fifo" => 'p',
            "socket" => 's',
            "chardev" => 'c',
            "dev" => 'b',
            _ => '?',
        };
        return Line(type, permissions, node.Uid, node.Gid, node.Size, node.Path);
    }

    /// <summary>
    /// The shell command that lists a tree (the current directory) in <see cref="Line"/>'s form from busybox's
    /// <c>stat -c '%f %u %g %s %n'</c> (the raw mode in hex): see <see cref="FromStat"/>.
    /// </summary>
    public const string StatCommand = "find . -mindepth 1 -exec stat -c '%f %u %g %s %n' {} +";

    /// <summary>A line of <see cref="StatCommand"/>'s output as a <see cref="Line"/>; null when it is not one.</summary>
    public static string? FromStat(string stat)
    {
        var fields = stat.Split(' ', 5);
        if (fields.Length < 5 || !int.TryParse(fields[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var mode)
            || !long.TryParse(fields[1], CultureInfo.InvariantCulture, out var uid) || !long.TryParse(fields[2], CultureInfo.InvariantCulture, out var gid)
            || !long.TryParse(fields[3], CultureInfo.InvariantCulture, out var size))
        {
            return null;
        }

        var type = (mode & 0xf000) switch
        {
            0x8000 => 'f',
            0x4000 => 'd',
            0xa000 => 'l',
            0x1000 => 'p',
            0xc000 => 's',
            0x2000 => 'c',
            0x6000 => 'b',
            _ => '?',
        };
        return Line(type, mode & 0xfff, uid, gid, size, fields[4]);
    }
}
