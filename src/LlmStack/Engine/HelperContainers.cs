using Docker.DotNet;
using Docker.DotNet.Models;
using LlmStack.Compose;
using LlmStack.Pipeline;
using Serilog;

namespace LlmStack.Engine;

/// <summary>
/// A named volume mounted into a helper container, or (<see cref="Bind"/>) a path of the engine's host: a local engine's
/// only (a backup repository, restic's cache, a directory of FIFOs).
/// </summary>
public sealed record HelperMount(string Volume, string Target, bool ReadOnly = true)
{
    /// <summary>A host path (<see cref="Volume"/> is then the path).</summary>
    public bool IsBind { get; init; }

    /// <summary>A path of the engine's host at <paramref name="target"/>.</summary>
    public static HelperMount Bind(string path, string target, bool readOnly) => new(path, target, readOnly) { IsBind = true };
}

/// <summary>
/// A one-off container: what it runs, what it mounts, which network namespace it joins, and its streams.
/// <see cref="Stdin"/> writes the container's standard input (closed when it returns); standard output goes to
/// <see cref="Stdout"/> as bytes, or is collected as text when that is null.
/// </summary>
public sealed record HelperSpec
{
    /// <summary>What it is for (<c>network-probe</c>, <c>volume-backup</c>): its label and part of its name.</summary>
    public required string Purpose { get; init; }

    public required string Image { get; init; }

    public IReadOnlyList<string>? Entrypoint { get; init; }

    public IReadOnlyList<string> Command { get; init; } = [];

    public IReadOnlyList<HelperMount> Mounts { get; init; } = [];

    /// <summary>Join this container's network namespace (<c>--network container:&lt;id&gt;</c>).</summary>
    public string? NetworkOfContainer { get; init; }

    /// <summary>Or attach to this network by name; with neither, no network at all.</summary>
    public string? Network { get; init; }

    public string? User { get; init; }

    public string? WorkingDirectory { get; init; }

    /// <summary>NAME=value pairs (paths and names for a script: safer than quoting them into it).</summary>
    public IReadOnlyList<string> Environment { get; init; } = [];

    public Func<Stream, CancellationToken, Task>? Stdin { get; init; }

    public Stream? Stdout { get; init; }

    /// <summary>Kill it after this long (default: no limit beyond the run's cancellation).</summary>
    public TimeSpan? Timeout { get; init; }
}

/// <summary>How a helper ended: its exit code, standard output as text (when not streamed) and its last error lines.</summary>
public sealed record HelperResult(long ExitCode, string Output, IReadOnlyList<string> Errors)
{
    public IReadOnlyList<string> Lines => new StreamOutput(Output, Errors).Lines;

    /// <summary>The helper closed its standard input before all of it was written (<see cref="StreamOutput.InputCut"/>).</summary>
    public bool InputCut { get; init; }
}

/// <summary>
/// One-off helper containers of an environment, in one place: labelled as ours (compose project, one-off, our
/// environment and helper labels, the run that made it), no log driver (a streamed volume never lands in Docker's
/// logs), standard streams attached, and removed when done, cancelled or failed. Leftovers of a run that was killed
/// (its process is gone) are removed by the next helper of the environment.
/// </summary>
public sealed class HelperContainers(DockerEngine engine, Scope scope, ILogger log)
{
    private const int ErrorLines = 20;

    /// <summary>The run (host and process) a helper belongs to.</summary>
    public static string RunId => $"{System.Environment.MachineName}/{System.Environment.ProcessId}";

    public async Task<HelperResult> RunAsync(HelperSpec spec, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var id = await CreateAsync(spec, cancellationToken);
        if (spec.Timeout is { } limit)
        {
            timeout.CancelAfter(limit);
        }

        try
        {
            using var stream = await engine.Client.Containers.AttachContainerAsync(
                id,
                new ContainerAttachParameters { Stream = true, Stdin = spec.Stdin is not null, Stdout = true, Stderr = true },
                timeout.Token);
            try
            {
                await engine.Client.Containers.StartContainerAsync(id, new ContainerStartParameters(), timeout.Token);
            }
            catch (DockerApiException e)
            {
                throw new PipelineException($"Docker refused to start the {spec.Purpose} helper ({spec.Image}): {EngineImages.ApiMessage(e)}");
            }

            var streams = await AttachedStreams.PumpAsync(stream, spec.Stdin, spec.Stdout, ErrorLines, timeout.Token);
            var exit = await engine.Client.Containers.WaitContainerAsync(id, timeout.Token);
            var result = new HelperResult(exit.StatusCode, streams.Output, streams.Errors) { InputCut = streams.InputCut };
            log.Debug("Helper {Purpose} ({Image}) exited with {Code}", spec.Purpose, spec.Image, exit.StatusCode);
            return result;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && timeout.IsCancellationRequested)
        {
            throw new PipelineException($"the {spec.Purpose} helper ({spec.Image}) did not finish within {spec.Timeout!.Value.TotalSeconds:0}s");
        }
        finally
        {
            await RemoveAsync(id);
        }
    }

    /// <summary>
    /// Streams a path of a helper container's mounts as a tar (entries <c>./…</c> for a path ending in <c>/.</c>) through
    /// the engine's archive API: the container is created but never started, so no tar runs anywhere and nothing passes
    /// through an attached stream (about ten times faster on Docker 20.10).
    /// </summary>
    public async Task ReadArchiveAsync(HelperSpec spec, string path, Stream output, CancellationToken cancellationToken)
    {
        var id = await CreateIdleAsync(spec, cancellationToken);
        try
        {
            var archive = await engine.Client.Containers.GetArchiveFromContainerAsync(id, new ContainerPathStatParameters { Path = path }, false, cancellationToken);
            await using (var tar = archive.Stream ?? throw new PipelineException($"the engine sent no archive of {path}"))
            {
                await tar.CopyToAsync(output, cancellationToken);
            }

            await output.FlushAsync(cancellationToken);
        }
        catch (DockerApiException e)
        {
            throw new PipelineException($"reading {path} of the {spec.Purpose} helper failed: {EngineImages.ApiMessage(e)}");
        }
        finally
        {
            await RemoveAsync(id);
        }
    }

    /// <summary>Unpacks a tar stream into a path of a helper container's mounts (archive API; owners and modes kept).</summary>
    public async Task WriteArchiveAsync(HelperSpec spec, string path, Stream input, CancellationToken cancellationToken)
    {
        var id = await CreateIdleAsync(spec, cancellationToken);
        try
        {
            await engine.Client.Containers.ExtractArchiveToContainerAsync(id, new CopyToContainerParameters { Path = path, CopyUIDGID = true }, input, cancellationToken);
        }
        catch (DockerApiException e)
        {
            throw new PipelineException($"writing into {path} of the {spec.Purpose} helper failed: {EngineImages.ApiMessage(e)}");
        }
        finally
        {
            await RemoveAsync(id);
        }
    }

    private Task<string> CreateIdleAsync(HelperSpec spec, CancellationToken cancellationToken) => CreateAsync(spec, cancellationToken);

    /// <summary>
    /// Creates a helper. The create request itself is never cut short: cancelled half-way, the engine would still create
    /// the container and we would never learn its id (a helper left behind in Created state). A cancellation that came
    /// meanwhile removes it at once; every later path removes it in the caller's <c>finally</c>.
    /// </summary>
    private async Task<string> CreateAsync(HelperSpec spec, CancellationToken cancellationToken)
    {
        await SweepAsync(cancellationToken);
        string id;
        try
        {
            id = (await engine.Client.Containers.CreateContainerAsync(CreateParameters(spec), CancellationToken.None)).ID;
        }
        catch (DockerImageNotFoundException)
        {
            throw new PipelineException($"helper image {spec.Image} ({spec.Purpose}) is not present: pull it, or map it with --image-map");
        }
        catch (DockerApiException e)
        {
            throw new PipelineException($"Docker refused to create the {spec.Purpose} helper ({spec.Image}): {EngineImages.ApiMessage(e)}");
        }

        if (cancellationToken.IsCancellationRequested)
        {
            await RemoveAsync(id);
            cancellationToken.ThrowIfCancellationRequested();
        }

        return id;
    }

    /// <summary>Removes this environment's helpers whose run is gone (killed before it could clean up).</summary>
    public async Task<int> SweepAsync(CancellationToken cancellationToken)
    {
        var helpers = await engine.CallAsync(
            ct => engine.Client.Containers.ListContainersAsync(new ContainersListParameters { All = true, Filters = scope.HelperFilter() }, ct),
            cancellationToken);
        var removed = 0;
        foreach (var helper in helpers)
        {
            if (helper.Labels.Value(Names.Run) is not { } run || IsAlive(run))
            {
                continue;
            }

            await RemoveAsync(helper.ID);
            log.Information("Removed helper {Container} left by a run that ended ({Run})", helper.Names.FirstOrDefault()?.TrimStart('/') ?? helper.ID[..12], run);
            removed++;
        }

        return removed;
    }

    internal CreateContainerParameters CreateParameters(HelperSpec spec)
    {
        var labels = Labels.Helper(scope.Project, scope.Environment, spec.Purpose, RunId);
        var stdin = spec.Stdin is not null;
        return new CreateContainerParameters
        {
            Name = $"{scope.Project}-{spec.Purpose}-{Guid.NewGuid().ToString("N")[..8]}",
            Image = spec.Image,
            Entrypoint = spec.Entrypoint?.ToList()!,
            Cmd = spec.Command.ToList(),
            User = spec.User!,
            Env = spec.Environment.ToList(),
            WorkingDir = spec.WorkingDirectory!,
            Labels = labels,
            AttachStdin = stdin,
            OpenStdin = stdin,
            StdinOnce = stdin,
            AttachStdout = true,
            AttachStderr = true,
            Tty = false,
            HostConfig = new HostConfig
            {
                NetworkMode = spec.NetworkOfContainer is { } id ? $"container:{id}" : spec.Network ?? "none",
                Mounts = spec.Mounts.Select(m => new Mount { Type = m.IsBind ? "bind" : "volume", Source = m.Volume, Target = m.Target, ReadOnly = m.ReadOnly }).ToList(),
                LogConfig = new LogConfig { Type = "none" },
            },
        };
    }

    private async Task RemoveAsync(string id)
    {
        try
        {
            // Never cancelled: a helper must not outlive a Ctrl-C.
            await engine.Client.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters { Force = true }, CancellationToken.None);
        }
        catch (DockerContainerNotFoundException)
        {
        }
        catch (DockerApiException e) when (e.StatusCode == System.Net.HttpStatusCode.Conflict)
        {
            // Removal already in progress.
        }
        catch (Exception e) when (e is DockerApiException or HttpRequestException or IOException)
        {
            // Never hides the error that brought us here; the next run's sweep removes it (this process will be gone).
            log.Warning("Helper container {Id} could not be removed ({Error}): the next run removes it", id[..Math.Min(12, id.Length)], e.Message.Split('\n')[0]);
        }
    }

    internal static bool IsAlive(string run)
    {
        var slash = run.LastIndexOf('/');
        if (slash < 0 || !int.TryParse(run[(slash + 1)..], out var pid))
        {
            return false;
        }

        if (!string.Equals(run[..slash], System.Environment.MachineName, StringComparison.Ordinal))
        {
            return true; // another host's run: not ours to judge
        }

        if (pid == System.Environment.ProcessId)
        {
            return true;
        }

        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
