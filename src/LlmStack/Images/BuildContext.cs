using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text;
using LlmStack.Pipeline;
using LlmStack.Schema;

namespace LlmStack.Images;

public enum ContextEntryKind
{
    Directory,
    File,
    SymbolicLink,
}

/// <summary>One entry of a build context as it is sent: its path in the context (<c>/</c>-separated), kind, mode, link target.</summary>
public sealed record ContextEntry(string Path, string FullPath, ContextEntryKind Kind, UnixFileMode Mode, string? LinkTarget, DateTimeOffset Modified);

/// <summary>
/// A service's build context as the engine receives it: the directory walked in lexical order (Go's <c>filepath.Walk</c>, as
/// the CLI walks it) with <c>.dockerignore</c> applied (<see cref="DockerIgnore"/>), written as a tar stream file by file
/// (never the whole context in memory), and its content hash: the entries sent (path, kind, mode, content or link target;
/// not times or owners), the Dockerfile's path, the arguments and the target. The hash is the label a built image carries,
/// so a second Start builds nothing and a changed file, argument or stage builds again.
/// </summary>
public sealed class BuildContext
{
    /// <summary>The label value's prefix; the version moves when what the hash covers changes.</summary>
    public const string HashPrefix = "sha256:";

    private const string HashVersion = "llmstack-build-context 1";

    private BuildContext(string directory, string dockerfile, DockerIgnore ignore)
    {
        Directory = directory;
        Dockerfile = dockerfile;
        Ignore = ignore;
    }

    /// <summary>The context directory (absolute).</summary>
    public string Directory { get; }

    /// <summary>The Dockerfile, relative to the context.</summary>
    public string Dockerfile { get; }

    public DockerIgnore Ignore { get; }

    /// <summary>
    /// The context of a service's build; one line naming the service and the fix when the context or the Dockerfile is not
    /// there (the target needs the image), or when the <c>.dockerignore</c> is malformed.
    /// </summary>
    public static BuildContext Open(string service, ResolvedBuild build)
    {
        if (!build.ContextExists)
        {
            throw new PipelineException(
                $"service '{service}': build context '{build.Context}' ({build.Location}) does not exist: put the service's sources there (LlmStack lives in the stack's repository next to services/), map its image with --image-map, or remove build:");
        }

        if (!File.Exists(System.IO.Path.Combine(build.ContextPath, build.Dockerfile)))
        {
            throw new PipelineException($"service '{service}': dockerfile '{build.Dockerfile}' does not exist in build context '{build.Context}' ({build.Location}): add it, or name the right one with build.dockerfile");
        }

        return new BuildContext(build.ContextPath, build.Dockerfile, DockerIgnore.Load(build.ContextPath, build.Dockerfile));
    }

    /// <summary>A context directory with a Dockerfile in it (tests, tools).</summary>
    public static BuildContext Of(string directory, string dockerfile = ResolvedBuild.DefaultDockerfile) =>
        new(System.IO.Path.GetFullPath(directory), dockerfile, DockerIgnore.Load(directory, dockerfile));

    /// <summary>What is sent, in order: every directory, file and link the <c>.dockerignore</c> keeps (sockets and devices never).</summary>
    public IEnumerable<ContextEntry> Entries() => Walk(Directory, string.Empty);

    private IEnumerable<ContextEntry> Walk(string directory, string prefix)
    {
        var children = new DirectoryInfo(directory).EnumerateFileSystemInfos().OrderBy(i => i.Name, StringComparer.Ordinal).ToList();
        foreach (var info in children)
        {
            var path = prefix + info.Name;
            var link = info.LinkTarget;
            var isDirectory = link is null && info is DirectoryInfo;
            if (Ignore.Excludes(path))
            {
                // An excluded directory is walked only when an exception pattern may keep something under it; it is not sent itself.
                if (isDirectory && Ignore.HasExceptions && Ignore.MayKeepUnder(path))
                {
                    foreach (var entry in Walk(info.FullName, path + "/"))
                    {
                        yield return entry;
                    }
                }

                continue;
            }

            if (link is not null)
            {
                yield return new ContextEntry(path, info.FullName, ContextEntryKind.SymbolicLink, (UnixFileMode)0b111_111_111, link, info.LastWriteTimeUtc);
            }
            else if (isDirectory)
            {
                yield return new ContextEntry(path, info.FullName, ContextEntryKind.Directory, info.UnixFileMode, null, info.LastWriteTimeUtc);
                foreach (var entry in Walk(info.FullName, path + "/"))
                {
                    yield return entry;
                }
            }
            else if ((info.Attributes & (FileAttributes.Device | FileAttributes.ReparsePoint)) == 0 && info is FileInfo)
            {
                yield return new ContextEntry(path, info.FullName, ContextEntryKind.File, info.UnixFileMode, null, info.LastWriteTimeUtc);
            }
        }
    }

    /// <summary>
    /// The content hash of what is sent plus the Dockerfile's path, the arguments (final values, by name) and the target:
    /// <c>sha256:&lt;hex&gt;</c>. Files are read as streams.
    /// </summary>
    public async Task<string> HashAsync(IEnumerable<KeyValuePair<string, string>> args, string? target, CancellationToken cancellationToken)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Line(string text) => hash.AppendData(Encoding.UTF8.GetBytes(text + "\n"));

        Line(HashVersion);
        Line("dockerfile " + Dockerfile);
        Line("target " + (target ?? string.Empty));
        foreach (var (key, value) in args.OrderBy(a => a.Key, StringComparer.Ordinal))
        {
            Line($"arg {key}={value}");
        }

        foreach (var entry in Entries())
        {
            var mode = Convert.ToString((int)entry.Mode, 8);
            switch (entry.Kind)
            {
                case ContextEntryKind.File:
                    Line($"file {mode} {entry.Path} {await FileHashAsync(entry.FullPath, cancellationToken)}");
                    break;
                case ContextEntryKind.SymbolicLink:
                    Line($"link {entry.Path} -> {entry.LinkTarget}");
                    break;
                default:
                    Line($"dir {mode} {entry.Path}");
                    break;
            }
        }

        return HashPrefix + Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>
    /// Writes the context as a tar stream to <paramref name="output"/>, one entry at a time, each file copied from its own
    /// stream (memory stays bounded whatever the context's size). Owners are root, as the CLI sends them.
    /// </summary>
    public async Task WriteTarAsync(Stream output, CancellationToken cancellationToken)
    {
        await using var writer = new TarWriter(output, TarEntryFormat.Pax, leaveOpen: true);
        foreach (var entry in Entries())
        {
            cancellationToken.ThrowIfCancellationRequested();
            var type = entry.Kind switch
            {
                ContextEntryKind.Directory => TarEntryType.Directory,
                ContextEntryKind.SymbolicLink => TarEntryType.SymbolicLink,
                _ => TarEntryType.RegularFile,
            };
            var tar = new PaxTarEntry(type, entry.Kind == ContextEntryKind.Directory ? entry.Path + "/" : entry.Path)
            {
                Mode = entry.Mode,
                ModificationTime = entry.Modified,
                Uid = 0,
                Gid = 0,
            };
            if (entry.Kind == ContextEntryKind.SymbolicLink)
            {
                tar.LinkName = entry.LinkTarget!;
                await writer.WriteEntryAsync(tar, cancellationToken);
            }
            else if (entry.Kind == ContextEntryKind.File)
            {
                await using var stream = OpenRead(entry.FullPath);
                tar.DataStream = stream;
                await writer.WriteEntryAsync(tar, cancellationToken);
            }
            else
            {
                await writer.WriteEntryAsync(tar, cancellationToken);
            }
        }
    }

    private static async Task<string> FileHashAsync(string path, CancellationToken cancellationToken)
    {
        await using var stream = OpenRead(path);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, cancellationToken));
    }

    private static FileStream OpenRead(string path)
    {
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new PipelineException($"cannot read {path} of a build context ({e.Message}): make it readable, or leave it out with .dockerignore");
        }
    }
}
