using Docker.DotNet;
using Docker.DotNet.Models;
using LlmStack.Engine;
using LlmStack.Pipeline;
using Serilog;
using Spectre.Console;

namespace LlmStack.Images;

/// <summary>An image a run needs, and the services that need it (for the one line when it cannot be had).</summary>
public sealed record ImageNeed(string Image, IReadOnlyList<string> Services)
{
    public string ServicesText => string.Join(", ", Services);
}

/// <summary>
/// The bytes of one image's pull, from the engine's progress messages: each layer's downloaded and total bytes (a layer
/// that already exists, or whose pull completed, counts as done).
/// </summary>
public sealed class PullTally
{
    private readonly Dictionary<string, (long Current, long Total)> _layers = new(StringComparer.Ordinal);

    public long Current => _layers.Values.Sum(l => l.Current);

    public long Total => _layers.Values.Sum(l => l.Total);

    /// <summary>Layers known, and those done.</summary>
    public (int Done, int Known) Layers => (_layers.Values.Count(l => l.Total > 0 && l.Current >= l.Total), _layers.Count);

    /// <summary>Takes one progress message of the pull.</summary>
    public void Add(JSONMessage message)
    {
        if (message.ID is not { Length: > 0 } layer || message.Status is not { } status)
        {
            return;
        }

        _layers.TryGetValue(layer, out var known);
        if (status == "Downloading" && message.Progress is { Total: > 0 } progress)
        {
            _layers[layer] = (Math.Min(progress.Current ?? 0, progress.Total.Value), progress.Total.Value);
        }
        else if (status is "Download complete" or "Pull complete" or "Already exists" or "Verifying Checksum")
        {
            var total = Math.Max(known.Total, 1);
            _layers[layer] = (total, total);
        }
        else if (!_layers.ContainsKey(layer) && status is "Pulling fs layer" or "Waiting")
        {
            _layers[layer] = (0, 0);
        }
    }
}

/// <summary>
/// Pulls images in parallel with progress: on a terminal (and never in a <c>--json</c> run) one Spectre.Console bar per image
/// with its bytes; otherwise plain log lines (a layer's status changes, and each image's size when it is done). With the
/// engine's own logins (<see cref="RegistryCredentials"/>), never printed. An image that cannot be pulled is one line
/// naming it, the registry's answer and the fix; the run then fails naming them all.
/// </summary>
public sealed class ImagePuller(DockerEngine engine, RegistryCredentials credentials, bool bars, ILogger log)
{
    public async Task PullAsync(IReadOnlyList<ImageNeed> images, CancellationToken cancellationToken)
    {
        if (images.Count == 0)
        {
            return;
        }

        foreach (var registry in images.Select(i => RegistryCredentials.RegistryOf(i.Image)).Distinct().Where(credentials.OnlyAHelperKnows))
        {
            log.Warning("The login for {Registry} in {Config} is a credential helper's, which LlmStack does not run: pulling from it anonymously", registry, credentials.Path);
        }

        var failures = new System.Collections.Concurrent.ConcurrentDictionary<string, string>(StringComparer.Ordinal);
        if (bars)
        {
            var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out) });
            await console.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(), new SpinnerColumn())
                .StartAsync(async context =>
                {
                    await Task.WhenAll(images.Select(async need =>
                    {
                        var task = context.AddTask(need.Image, maxValue: 1);
                        var tally = new PullTally();
                        var error = await PullOneAsync(need, message =>
                        {
                            tally.Add(message);
                            task.MaxValue = Math.Max(tally.Total, 1);
                            task.Value = tally.Current;
                        }, cancellationToken);
                        if (error is null)
                        {
                            task.Value = task.MaxValue;
                        }
                        else
                        {
                            failures[need.Image] = error;
                        }

                        task.StopTask();
                    }));
                });
        }
        else
        {
            await Task.WhenAll(images.Select(async need =>
            {
                log.Information("Pulling {Image} (for {Services})", need.Image, need.ServicesText);
                var tally = new PullTally();
                var statuses = new Dictionary<string, string>(StringComparer.Ordinal);
                var error = await PullOneAsync(need, message =>
                {
                    tally.Add(message);
                    if (message is { ID: { Length: > 0 } layer, Status: { Length: > 0 } status } && (!statuses.TryGetValue(layer, out var last) || last != status))
                    {
                        statuses[layer] = status;
                        log.Information("  {Image} {Layer} {Status}", need.Image, layer, status);
                    }
                }, cancellationToken);
                if (error is null)
                {
                    log.Information("Pulled {Image}: {Bytes} in {Layers} layer(s)", need.Image, Schema.ByteSize.Format(tally.Current), tally.Layers.Known);
                }
                else
                {
                    failures[need.Image] = error;
                }
            }));
        }

        cancellationToken.ThrowIfCancellationRequested();
        if (failures.IsEmpty)
        {
            return;
        }

        var lines = images.Where(i => failures.ContainsKey(i.Image)).Select(i => CannotPull(i, failures[i.Image])).ToList();
        foreach (var line in lines.Skip(lines.Count == 1 ? 1 : 0))
        {
            log.Error("{Line}", line);
        }

        throw new PipelineException(lines.Count == 1
            ? lines[0]
            : $"{lines.Count} images cannot be pulled ({string.Join(", ", images.Where(i => failures.ContainsKey(i.Image)).Select(i => i.Image))}), each named above with the registry's answer: nothing was created");
    }

    /// <summary>The one line of an image that cannot be had: it, the registry's answer, the ways out.</summary>
    public static string CannotPull(ImageNeed need, string answer)
    {
        var registry = RegistryCredentials.RegistryOf(need.Image);
        return $"image '{need.Image}' (service {need.ServicesText}) cannot be pulled from {registry}: {answer.TrimEnd('.')} — map it to an image you have with --image-map, log in to the registry (docker login {registry}), or give the service a build:";
    }

    /// <summary>Pulls one image; returns the registry's answer when it failed (null: pulled).</summary>
    private async Task<string?> PullOneAsync(ImageNeed need, Action<JSONMessage> onMessage, CancellationToken cancellationToken)
    {
        var (name, tag) = EngineImages.Split(need.Image);
        string? error = null;
        var progress = new Immediate<JSONMessage>(message =>
        {
            if (message.Error is { Message: { Length: > 0 } text })
            {
                error = text;
            }
            else
            {
                onMessage(message);
            }
        });

        try
        {
            await engine.Client.Images.CreateImageAsync(
                new ImagesCreateParameters { FromImage = name, Tag = tag }, credentials.For(RegistryCredentials.RegistryOf(need.Image)), progress, cancellationToken);
        }
        catch (DockerApiException e)
        {
            error ??= EngineImages.ApiMessage(e);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && DockerEngine.IsUnreachable(e))
        {
            error ??= e.Message;
        }

        if (error is null && !await EngineImages.ExistsAsync(engine, need.Image, cancellationToken))
        {
            error = "the engine reported no error, but has no such image afterwards";
        }

        return error;
    }
}

/// <summary>An <see cref="IProgress{T}"/> that acts on each message as it arrives, in order (<see cref="Progress{T}"/> posts them to the thread pool).</summary>
internal sealed class Immediate<T>(Action<T> action) : IProgress<T>
{
    public void Report(T value) => action(value);
}
