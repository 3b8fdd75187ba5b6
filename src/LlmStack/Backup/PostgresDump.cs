using System.Runtime.InteropServices;
using Docker.DotNet;
using LlmStack.Engine;
using LlmStack.Pipeline;

namespace LlmStack.Backup;

/// <summary>
/// <c>pg_dump</c> of one database, written to a stream (restic's standard input), without the engine's slow attached
/// streams: a helper container from the database container's own image (the same pg_dump as the server) joins the
/// database container's network namespace and connects to 127.0.0.1; with a local engine it writes into a FIFO on
/// this host that is read here (about four times the throughput of an attached stream on Docker 20.10), with a remote
/// one to its attached standard output. The dump is uncompressed (<c>-Z0</c>): restic compresses it (zstd) and, unlike
/// zlib's output, deduplicates what did not change since the last dump. A dump that fails throws once its output ended,
/// so the caller never commits it.
/// </summary>
public sealed class PostgresDump(BackupContext context)
{
    private const string OutDirectory = "/llmstack/out";

    /// <param name="only"><c>--schema-only</c>, <c>--data-only</c> or nothing.</param>
    public async Task WriteAsync(string containerId, string containerName, string service, string user, string database, IReadOnlyList<string> only, Stream destination, CancellationToken cancellationToken)
    {
        var image = (await context.Engine.CallAsync(ct => context.Engine.Client.Containers.InspectContainerAsync(containerId, ct), cancellationToken)).Image;
        var port = context.ServiceVariable(service, "PGPORT") ?? "5432";
        List<string> arguments = ["pg_dump", "-h", "127.0.0.1", "-p", port, "-U", user, "--format=custom", "-Z0", .. only, "-d", database];
        var environment = context.ServiceVariable(service, "POSTGRES_PASSWORD") is { Length: > 0 } password ? new[] { $"PGPASSWORD={password}" } : [];
        var spec = new HelperSpec
        {
            Purpose = "postgres-dump",
            Image = image,
            Entrypoint = [arguments[0]],
            Command = arguments.Skip(1).ToList(),
            NetworkOfContainer = containerId,
            Environment = environment,
        };

        HelperResult result;
        if (context.Engine.IsLocal && OperatingSystem.IsLinux())
        {
            result = await ThroughFifoAsync(spec, destination, cancellationToken);
        }
        else
        {
            result = await context.Helpers.RunAsync(spec with { Stdout = destination }, cancellationToken);
        }

        if (result.ExitCode != 0)
        {
            throw new PipelineException(
                $"pg_dump of database {database} failed ({containerName}, exit {result.ExitCode}): {result.Errors.LastOrDefault(l => l.Trim().Length > 0) ?? "no error output"}");
        }
    }

    /// <summary>
    /// The helper writes into a FIFO in a directory of this run (0700) that it mounts; this process reads the FIFO to its
    /// end and copies it on. Opening a FIFO waits for its other end, so if the helper ends without opening it (a failure
    /// before pg_dump ran), this side opens the write end itself to let the read end go.
    /// </summary>
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    private async Task<HelperResult> ThroughFifoAsync(HelperSpec spec, Stream destination, CancellationToken cancellationToken)
    {
        var directory = Path.Combine(context.ScratchDirectory, $"pgdump-{Guid.NewGuid():N}");
        Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var fifo = Path.Combine(directory, "dump");
        try
        {
            if (MakeFifo(fifo, Convert.ToUInt32("600", 8)) != 0)
            {
                throw new PipelineException($"could not make a FIFO at {fifo} (errno {Marshal.GetLastPInvokeError()}): is {context.ScratchDirectory} on a file system that has them?");
            }

            var opening = Task.Run(() => new FileStream(fifo, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.None), CancellationToken.None);
            var helper = context.Helpers.RunAsync(
                spec with
                {
                    Entrypoint = ["/bin/sh", "-c"],
                    Command = ["exec \"$@\" > " + OutDirectory + "/dump", "postgres-dump", .. spec.Entrypoint!, .. spec.Command],
                    Mounts = [HelperMount.Bind(directory, OutDirectory, readOnly: false)],
                },
                cancellationToken);
            try
            {
                if (await Task.WhenAny(opening, helper) != opening)
                {
                    // The helper ended (or failed to start) without opening the FIFO: let the read end go.
                    await using (new FileStream(fifo, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, 1, FileOptions.None))
                    {
                    }
                }

                await using (var dump = await opening)
                {
                    var buffer = new byte[1 << 20];
                    int read;
                    while ((read = await dump.ReadAsync(buffer, cancellationToken)) > 0)
                    {
                        await destination.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                    }
                }
            }
            catch when (!helper.IsCompleted)
            {
                // The destination failed (restic stopped) or Ctrl-C: the helper goes (removed, pg_dump with it).
                try
                {
                    await helper;
                }
                catch (Exception e) when (e is PipelineException or OperationCanceledException or DockerApiException or IOException)
                {
                }

                throw;
            }

            return await helper;
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [DllImport("libc", EntryPoint = "mkfifo", SetLastError = true)]
    private static extern int MakeFifo([MarshalAs(UnmanagedType.LPUTF8Str)] string path, uint mode);
}
