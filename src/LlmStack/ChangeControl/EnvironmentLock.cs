using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using LlmStack.Pipeline;
using LlmStack.Reporting;

namespace LlmStack.ChangeControl;

/// <summary>Who holds an environment lock: written beside the lock file so that a waiting run can say so.</summary>
public sealed record LockHolder(string Target, string Command, int Pid, string User, string Host, DateTimeOffset Since, string Root)
{
    public override string ToString() =>
        $"{Target} (pid {Pid}, user {User}, since {Since.ToLocalTime():yyyy-MM-dd HH:mm:ss}, in {Root})";
}

/// <summary>
/// An exclusive lock on one (Docker endpoint, compose project): every target that changes an environment holds it for
/// its whole run, so two runs never change one environment at once, across processes and across checkouts on the host.
/// The lock is the kernel's (flock, through .NET's FileShare.None), so a crashed holder releases it when it dies and
/// nothing is ever left to clean up by hand. The holder's details sit in a <c>.holder</c> file beside it.
/// </summary>
public sealed class EnvironmentLock : IDisposable
{
    /// <summary>Environment variable that moves the host-wide lock directory.</summary>
    public const string DirectoryVariable = "LLMSTACK_LOCK_DIR";

    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(200);

    private FileStream? _stream;

    private EnvironmentLock(FileStream stream, string path, string project, LockHolder holder)
    {
        _stream = stream;
        LockPath = path;
        Project = project;
        Holder = holder;
    }

    public string LockPath { get; }

    public string Project { get; }

    public LockHolder Holder { get; }

    public bool IsHeld => _stream is not null;

    /// <summary>The host-wide default: <c>/run/lock/llmstack</c> where /run/lock exists, else <c>&lt;temp&gt;/llmstack-locks</c>.</summary>
    public static string DefaultDirectory() =>
        Directory.Exists("/run/lock") ? "/run/lock/llmstack" : Path.Combine(Path.GetTempPath(), "llmstack-locks");

    /// <summary>The lock file of a project on an endpoint: <c>&lt;project&gt;@&lt;hash of the endpoint&gt;.lock</c>.</summary>
    public static string FileFor(string directory, string endpoint, string project)
    {
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(CanonicalEndpoint(endpoint))))[..12];
        return Path.Combine(directory, $"{project}@{hash}.lock");
    }

    /// <summary>
    /// One spelling per engine: case and trailing slashes ignored, and a unix socket by its real path
    /// (<c>/var/run/docker.sock</c> and <c>/run/docker.sock</c> are one engine on Debian).
    /// </summary>
    public static string CanonicalEndpoint(string endpoint)
    {
        var text = endpoint.Trim().TrimEnd('/');
        if (text.StartsWith("unix://", StringComparison.OrdinalIgnoreCase))
        {
            return "unix://" + RealPath(text["unix://".Length..]);
        }

        return text.ToLowerInvariant();
    }

    /// <summary>
    /// Takes the lock, waiting up to <paramref name="timeout"/> while another run holds it; <paramref name="waiting"/> is
    /// told once who that is. Fails with one line naming the holder when the time is up.
    /// </summary>
    public static async Task<EnvironmentLock> AcquireAsync(
        string directory,
        string endpoint,
        string project,
        string environment,
        LockHolder me,
        TimeSpan timeout,
        Action<LockHolder?> waiting,
        CancellationToken cancellationToken)
    {
        if (Environment.GetEnvironmentVariable("DOTNET_SYSTEM_IO_DISABLEFILELOCKING") is "1" or "true")
        {
            throw new PipelineException(
                "DOTNET_SYSTEM_IO_DISABLEFILELOCKING is set, so the environment lock cannot work: unset it to change an environment");
        }

        PrepareDirectory(directory);
        var path = FileFor(directory, endpoint, project);
        var started = DateTime.UtcNow;
        var deadline = started + timeout;
        var announced = false;
        LockHolder? holder = null;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                var options = new FileStreamOptions { Mode = FileMode.OpenOrCreate, Access = FileAccess.ReadWrite, Share = FileShare.None };
                if (!OperatingSystem.IsWindows())
                {
                    // Other users' runs must be able to open (and so wait on) the same lock file.
                    options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite
                        | UnixFileMode.OtherRead | UnixFileMode.OtherWrite;
                }

                var stream = new FileStream(path, options);
                var taken = new EnvironmentLock(stream, path, project, me);
                taken.WriteHolder();
                return taken;
            }
            catch (IOException e) when (IsHeldElsewhere(e))
            {
                holder = ReadHolder(path) ?? holder;
                if (!announced && (holder is not null || DateTime.UtcNow > started + TimeSpan.FromSeconds(1) || DateTime.UtcNow >= deadline))
                {
                    // The holder writes its details right after taking the lock: give it a moment before saying "unknown".
                    waiting(holder);
                    announced = true;
                }

                if (DateTime.UtcNow >= deadline)
                {
                    var who = holder is null ? "another run" : holder.ToString();
                    throw new PipelineException(
                        $"environment {environment} ({project}) is locked by {who}: gave up after {Format(timeout)} (--lock-timeout); wait for it to finish, or raise --lock-timeout");
                }

                await Task.Delay(Poll, cancellationToken);
            }
            catch (UnauthorizedAccessException e)
            {
                throw new PipelineException($"cannot open the lock file {path}: {e.Message}: make {directory} writable, or pass --lock-dir (or set {DirectoryVariable})");
            }
        }
    }

    public void Dispose()
    {
        var stream = Interlocked.Exchange(ref _stream, null);
        if (stream is null)
        {
            return;
        }

        // Forget the holder first: a waiter must never read our details for somebody else's lock.
        TryDelete(HolderPath(LockPath));
        stream.Dispose();
    }

    internal static string Format(TimeSpan span) =>
        span.TotalMinutes >= 1 && span.Seconds == 0 ? $"{(int)span.TotalMinutes}m" : $"{span.TotalSeconds:0.#}s";

    private static bool IsHeldElsewhere(IOException e) =>
        // EWOULDBLOCK (11) from flock on Linux, EAGAIN (35) on macOS, ERROR_SHARING_VIOLATION (32) on Windows.
        e is not FileNotFoundException and not DirectoryNotFoundException && e.HResult is 11 or 35 or 32 or unchecked((int)0x80070020);

    private static void PrepareDirectory(string directory)
    {
        try
        {
            if (!Directory.Exists(directory))
            {
                Directory.CreateDirectory(directory);
                if (!OperatingSystem.IsWindows())
                {
                    // Like /tmp: every user may create locks, nobody may delete another's.
                    File.SetUnixFileMode(directory, (UnixFileMode)0x3FF | UnixFileMode.StickyBit);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new PipelineException($"cannot create the lock directory {directory}: {e.Message}: pass --lock-dir (or set {DirectoryVariable}) with a writable directory");
        }
    }

    private static string HolderPath(string lockPath) => Path.ChangeExtension(lockPath, ".holder");

    private void WriteHolder()
    {
        var path = HolderPath(LockPath);
        try
        {
            TryDelete(path);
            File.WriteAllText(path, JsonSerializer.Serialize(Holder, JsonDefaults.Line));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Details are a courtesy to waiters; the lock itself is held.
        }
    }

    internal static LockHolder? ReadHolder(string lockPath)
    {
        try
        {
            var path = HolderPath(lockPath);
            return File.Exists(path) ? JsonSerializer.Deserialize<LockHolder>(File.ReadAllText(path), JsonDefaults.Line) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            return null; // being written right now, or not ours to read
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    private static string RealPath(string path)
    {
        var full = Path.GetFullPath(path);
        var parts = full.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var current = "/";
        foreach (var part in parts)
        {
            var next = Path.Combine(current, part);
            for (var hops = 0; hops < 32; hops++)
            {
                FileSystemInfo info = Directory.Exists(next) ? new DirectoryInfo(next) : new FileInfo(next);
                if (info.LinkTarget is not { } target)
                {
                    break;
                }

                next = Path.GetFullPath(target, Path.GetDirectoryName(next) ?? "/");
            }

            current = next;
        }

        return current;
    }
}
