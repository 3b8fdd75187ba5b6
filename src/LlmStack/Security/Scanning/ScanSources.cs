using System.Collections.Concurrent;
using System.Text;
using System.Text.RegularExpressions;
using LlmStack.Pipeline;

namespace LlmStack.Security.Scanning;

/// <summary>What a file scan covered: files scanned, and those skipped as binary or too large.</summary>
public sealed record FileScanStatistics(int Scanned, int Binary, int TooLarge, bool GitAware);

/// <summary>
/// Where the scanner reads: the files of a directory (through git when it is in a work tree and not ignored itself:
/// tracked plus untracked but not ignored, so build output and secrets/ are left out; else every file under it) and, for <c>--history</c>, every commit's added lines.
/// Binary files (a NUL byte in the first 8 KiB) and files above <see cref="MaxFileBytes"/> are skipped.
/// </summary>
public static partial class ScanSources
{
    public const long MaxFileBytes = 5 * 1024 * 1024;

    public const int BinaryProbeBytes = 8192;

    /// <summary>Is <paramref name="directory"/> inside a git work tree?</summary>
    public static async Task<bool> IsGitWorkTreeAsync(string directory, CancellationToken cancellationToken)
    {
        try
        {
            var result = await ProcessRunner.RunAsync("git", ["-C", directory, "rev-parse", "--is-inside-work-tree"], directory, null, cancellationToken, onErrorLine: _ => { });
            return result.ExitCode == 0 && result.Output.FirstOrDefault() == "true";
        }
        catch (PipelineException)
        {
            return false; // git is not installed: every file under the directory
        }
    }

    /// <summary>The files to scan, relative to <paramref name="root"/> with '/' separators, in ordinal order.</summary>
    public static async Task<(IReadOnlyList<string> Files, bool GitAware)> ListFilesAsync(string root, Func<string, bool> excluded, CancellationToken cancellationToken)
    {
        IEnumerable<string> files;

        // A directory git ignores (a tree under .nuke/temp) is walked whole: git would list none of its files.
        var git = await IsGitWorkTreeAsync(root, cancellationToken)
            && (await ProcessRunner.RunAsync("git", ["-C", root, "check-ignore", "-q", root], root, null, cancellationToken, onErrorLine: _ => { })).ExitCode != 0;
        if (git)
        {
            var errors = new List<string>();
            var listing = await ProcessRunner.RunAsync(
                "git", ["-C", root, "-c", "core.quotePath=false", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], root, null, cancellationToken, onErrorLine: errors.Add);
            if (listing.ExitCode != 0)
            {
                throw new PipelineException($"git ls-files in {root} failed (exit {listing.ExitCode}): {errors.FirstOrDefault() ?? "no message"}");
            }

            files = string.Join('\n', listing.Output).Split('\0', StringSplitOptions.RemoveEmptyEntries).Distinct(StringComparer.Ordinal);
        }
        else
        {
            var options = new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = FileAttributes.ReparsePoint };
            files = Directory.EnumerateFiles(root, "*", options)
                .Select(path => Path.GetRelativePath(root, path).Replace(Path.DirectorySeparatorChar, '/'))
                .Where(path => !path.Split('/').Contains(".git"));
        }

        return (files.Where(path => !excluded(path)).Order(StringComparer.Ordinal).ToList(), git);
    }

    /// <summary>
    /// Scans the files in parallel. A file that vanished, a directory (a submodule), a symbolic link, a binary or a
    /// too large file is not scanned.
    /// </summary>
    public static async Task<(List<Finding> Findings, FileScanStatistics Statistics)> ScanFilesAsync(
        string root, IReadOnlyList<string> files, bool gitAware, ContentScanner scanner, CancellationToken cancellationToken)
    {
        var findings = new ConcurrentBag<Finding>();
        int scanned = 0, binary = 0, tooLarge = 0;
        await Parallel.ForEachAsync(files, new ParallelOptions { CancellationToken = cancellationToken }, async (relative, ct) =>
        {
            var info = new FileInfo(Path.Combine(root, relative));
            if (!info.Exists || info.LinkTarget is not null)
            {
                return;
            }

            if (info.Length > MaxFileBytes)
            {
                Interlocked.Increment(ref tooLarge);
                return;
            }

            byte[] bytes;
            try
            {
                bytes = await File.ReadAllBytesAsync(info.FullName, ct);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return;
            }

            if (IsBinary(bytes))
            {
                Interlocked.Increment(ref binary);
                return;
            }

            Interlocked.Increment(ref scanned);
            foreach (var finding in scanner.Scan(Encoding.UTF8.GetString(bytes), relative))
            {
                findings.Add(finding);
            }
        });

        return (findings.ToList(), new FileScanStatistics(scanned, binary, tooLarge, gitAware));
    }

    /// <summary>A NUL byte in the first <see cref="BinaryProbeBytes"/> bytes (git's own test).</summary>
    public static bool IsBinary(ReadOnlySpan<byte> bytes) => bytes[..Math.Min(bytes.Length, BinaryProbeBytes)].Contains((byte)0);

    /// <summary>
    /// Every line any commit of any ref added (<c>git log -p -U0 --all</c>; below a subdirectory only its files, with
    /// paths relative to it), scanned hunk by hunk, so a secret committed
    /// and deleted later is found, reported with the commit that added it, its path and its line in that commit. Binary
    /// changes have no lines; a hunk above <see cref="MaxFileBytes"/> is skipped like a large file. Returns the number
    /// of commits read.
    /// </summary>
    public static async Task<int> ScanHistoryAsync(string root, ContentScanner scanner, Func<string, bool> excluded, List<Finding> findings, CancellationToken cancellationToken)
    {
        if (!await IsGitWorkTreeAsync(root, cancellationToken))
        {
            throw new PipelineException($"--history needs a git repository, and {root} is none: drop --history or pass --path to a repository");
        }

        var history = new HistoryParser(scanner, excluded, findings);
        var errors = new List<string>();
        var log = await ProcessRunner.RunAsync(
            "git",
            ["-C", root, "-c", "core.quotePath=false", "log", "-p", "-U0", "--relative", "--all", "--no-color", "--no-ext-diff", "--no-textconv", "--format=commit %H"],
            root,
            history.Read,
            cancellationToken,
            onErrorLine: errors.Add,
            collect: false);
        history.Flush();
        if (log.ExitCode != 0)
        {
            // A repository without a commit has no history to scan.
            if (errors.Any(e => e.Contains("does not have any commits", StringComparison.Ordinal)))
            {
                return 0;
            }

            throw new PipelineException($"git log in {root} failed (exit {log.ExitCode}): {errors.FirstOrDefault() ?? "no message"}");
        }

        return history.Commits;
    }

    [GeneratedRegex(@"^@@ -\d+(?:,\d+)? \+(?<start>\d+)(?:,\d+)? @@")]
    private static partial Regex HunkHeader();

    /// <summary>A streaming reader of <c>git log -p -U0</c>: commit, file header, hunks of added lines.</summary>
    private sealed class HistoryParser(ContentScanner scanner, Func<string, bool> excluded, List<Finding> findings)
    {
        private readonly StringBuilder _block = new();
        private string? _commit;
        private string? _path;
        private bool _inHunk;
        private int _blockStart;
        private int _nextLine;

        public int Commits { get; private set; }

        public void Read(string line)
        {
            if (_inHunk && line.Length > 0 && line[0] is '+' or '-' or '\\' or ' ')
            {
                if (line[0] == '+')
                {
                    if (_block.Length == 0)
                    {
                        _blockStart = _nextLine;
                    }

                    _block.Append(line, 1, line.Length - 1).Append('\n');
                    _nextLine++;
                }
                else if (line[0] == ' ')
                {
                    Flush();
                    _nextLine++;
                }

                return;
            }

            Flush();
            _inHunk = false;
            if (line.StartsWith("commit ", StringComparison.Ordinal))
            {
                _commit = line["commit ".Length..].Trim();
                _path = null;
                Commits++;
            }
            else if (line.StartsWith("diff --git ", StringComparison.Ordinal))
            {
                _path = null;
            }
            else if (line.StartsWith("+++ ", StringComparison.Ordinal))
            {
                var target = Unquote(line[4..]);
                _path = target.StartsWith("b/", StringComparison.Ordinal) ? target[2..] : null; // "+++ /dev/null": a deletion
            }
            else if (_path is not null && HunkHeader().Match(line) is { Success: true } hunk)
            {
                _inHunk = !excluded(_path);
                _nextLine = int.Parse(hunk.Groups["start"].Value, System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        public void Flush()
        {
            if (_block.Length == 0)
            {
                return;
            }

            if (_block.Length <= MaxFileBytes)
            {
                findings.AddRange(scanner.Scan(_block.ToString(), _path!, _blockStart, _commit));
            }

            _block.Clear();
        }

        private static string Unquote(string path) =>
            path.Length >= 2 && path[0] == '"' && path[^1] == '"' ? Regex.Unescape(path[1..^1]) : path.TrimEnd('\t');
    }
}
