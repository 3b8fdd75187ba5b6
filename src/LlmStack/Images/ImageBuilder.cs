using System.IO.Pipelines;
using System.Text.RegularExpressions;
using Docker.DotNet;
using Docker.DotNet.Models;
using LlmStack.Compose;
using LlmStack.Engine;
using LlmStack.Pipeline;
using Serilog;

namespace LlmStack.Images;

/// <summary>What one build is: the service, the tag, the context, the final arguments and stage, and the context's hash.</summary>
public sealed record BuildRequest(string Service, string Image, BuildContext Context, IReadOnlyList<KeyValuePair<string, string>> Args, string? Target, string Hash);

/// <summary>
/// Builds an image through the engine's build API (the classic builder, API 1.41): the context streamed as a tar through a
/// bounded pipe while the engine reads it, the image tagged and labelled with the context's hash
/// (<see cref="Labels.BuiltImage"/>), the output streamed line by line with the service's name as prefix. A failing step
/// is one line naming the service, the step and the engine's error, after the last lines of output; intermediate
/// containers are removed either way. Ctrl-C cancels the request, which stops the engine's build.
/// </summary>
public sealed partial class ImageBuilder(DockerEngine engine, RegistryCredentials credentials, ILogger log)
{
    /// <summary>How many of the last output lines a failure repeats.</summary>
    public const int TailLines = 10;

    [GeneratedRegex(@"^Step (\d+/\d+) : (.*)$")]
    private static partial Regex StepLine();

    public async Task BuildAsync(BuildRequest request, bool noCache, CancellationToken cancellationToken)
    {
        log.Information("Building {Image} for {Service} from {Context}{NoCache}", request.Image, request.Service, request.Context.Directory, noCache ? " (no cache)" : string.Empty);
        var parameters = new ImageBuildParameters
        {
            Tags = [request.Image],
            Dockerfile = request.Context.Dockerfile,
            BuildArgs = request.Args.ToDictionary(a => a.Key, a => a.Value, StringComparer.Ordinal),
            Target = request.Target,
            Labels = Labels.BuiltImage(request.Service, request.Hash),
            NoCache = noCache,
            Remove = true,
            ForceRemove = true,
            Version = "1",
        };

        var output = new BuildOutput(request.Service, log);
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 1 << 20, resumeWriterThreshold: 1 << 19, useSynchronizationContext: false));
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Exception? unsent = null; // set before the pipe fails the engine's read: why the context could not be sent
        var producer = Task.Run(async () =>
        {
            try
            {
                await using var stream = pipe.Writer.AsStream(leaveOpen: true);
                await request.Context.WriteTarAsync(stream, stop.Token);
                await pipe.Writer.CompleteAsync();
            }
            catch (Exception e)
            {
                Volatile.Write(ref unsent, e);
                await pipe.Writer.CompleteAsync(e);
            }
        }, CancellationToken.None);

        string? refused = null;
        try
        {
            await using var body = pipe.Reader.AsStream();
            await engine.Client.Images.BuildImageFromDockerfileAsync(parameters, body, credentials.All, null, new Immediate<JSONMessage>(output.Add), cancellationToken);
        }
        catch (DockerApiException e)
        {
            refused = EngineImages.ApiMessage(e);
        }
        catch (Exception) when (Volatile.Read(ref unsent) is PipelineException && !cancellationToken.IsCancellationRequested)
        {
            // A file of the context could not be read: its own line, below.
        }
        finally
        {
            // The engine stopped reading (done, failed, or the run was cancelled): the producer stops too.
            await stop.CancelAsync();
            await pipe.Reader.CompleteAsync();
            await producer;
        }

        if (Volatile.Read(ref unsent) is PipelineException unreadable && !cancellationToken.IsCancellationRequested)
        {
            throw unreadable;
        }

        cancellationToken.ThrowIfCancellationRequested();
        output.Flush();
        if ((refused ?? output.Error) is { } error)
        {
            foreach (var line in output.Tail)
            {
                log.Warning("{Service} | {Line}", request.Service, line);
            }

            var step = output.Step is { } at ? $"step {at.Number} ({at.Instruction})" : "before its first step";
            throw new PipelineException(
                $"service '{request.Service}': building {request.Image} failed at {step}: {error.Trim()} — fix the Dockerfile or the context ({request.Context.Directory}); the last lines of its output are above, nothing was created");
        }

        log.Information("Built {Image} for {Service} ({Hash})", request.Image, request.Service, ImageOperations.Short(request.Hash));
    }

    /// <summary>The build's output as lines with the service as prefix, the step it is at, its last lines and its error.</summary>
    private sealed class BuildOutput(string service, ILogger log)
    {
        private readonly Queue<string> _tail = new();
        private string _partial = string.Empty;

        public (string Number, string Instruction)? Step { get; private set; }

        public string? Error { get; private set; }

        public IReadOnlyList<string> Tail => _tail.ToList();

        public void Add(JSONMessage message)
        {
            if (message.Error is { Message: { Length: > 0 } error })
            {
                Error = error;
                return;
            }

            if (message.Stream is not { Length: > 0 } text)
            {
                return;
            }

            var lines = (_partial + text).Split('\n');
            _partial = lines[^1];
            foreach (var line in lines[..^1])
            {
                Line(line);
            }
        }

        public void Flush()
        {
            if (_partial.Length > 0)
            {
                Line(_partial);
                _partial = string.Empty;
            }
        }

        private void Line(string raw)
        {
            var line = raw.TrimEnd('\r');
            if (line.Trim().Length == 0)
            {
                return;
            }

            if (StepLine().Match(line) is { Success: true } step)
            {
                Step = (step.Groups[1].Value, step.Groups[2].Value);
            }

            _tail.Enqueue(line);
            if (_tail.Count > TailLines)
            {
                _tail.Dequeue();
            }

            log.Information("{Service} | {Line}", service, line);
        }
    }
}
