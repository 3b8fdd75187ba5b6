using System.Globalization;
using System.Text;
using Docker.DotNet;
using Docker.DotNet.Models;
using LlmStack.Compose;
using LlmStack.Pipeline;
using LlmStack.Schema;

namespace LlmStack.Engine;

/// <summary>Options of the Logs targets; <c>--tail</c> is checked when they are made, before any container is looked at.</summary>
public sealed record LogOptions(string? Tail, string? Since, bool Follow, string? Service)
{
    /// <summary>Docker's tail: the lines per container from the end (0 or more), or <c>all</c> (also when not given).</summary>
    public string TailLines { get; } = ParseTail(Tail);

    /// <summary>A number of lines (0 or more) or <c>all</c>; anything else is one error naming the allowed values.</summary>
    public static string ParseTail(string? tail)
    {
        var text = tail?.Trim() ?? string.Empty;
        if (text.Length == 0 || text.Equals("all", StringComparison.OrdinalIgnoreCase))
        {
            return "all";
        }

        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var lines)
            ? lines.ToString(CultureInfo.InvariantCulture)
            : throw new PipelineException($"--tail '{tail}' is not a number of lines: give 0 or more (e.g. --tail 50), or all");
    }
}

/// <summary>
/// The logs of a stack's containers, demultiplexed (stdout and stderr) and prefixed by container
/// (<c>postgres-1 | …</c>). With follow, every container is streamed at once until cancelled (Ctrl-C).
/// </summary>
public static class LogStream
{
    public static async Task WriteAsync(DockerEngine engine, ResolvedEnvironment environment, string stack, LogOptions options, TextWriter output, CancellationToken cancellationToken)
    {
        var scope = Scope.Of(environment);
        CheckService(environment, stack, options.Service);

        var containers = await engine.ServiceContainersAsync(scope, cancellationToken, stack, options.Service);
        if (containers.Count == 0)
        {
            throw new PipelineException($"no containers of {(options.Service is null ? $"stack {stack}" : $"service {options.Service}")} in environment {environment.Name}: start it first");
        }

        var since = Since(options.Since);
        var prefixes = containers.ToDictionary(c => c.ID, c => $"{c.Labels.Value(Names.Service)}-{c.Labels.Value(Names.ComposeContainerNumber)}");
        var width = prefixes.Values.Max(p => p.Length);
        var gate = new Lock();
        await Task.WhenAll(containers.Select(async container =>
        {
            var parameters = new ContainerLogsParameters
            {
                ShowStdout = true,
                ShowStderr = true,
                Follow = options.Follow,
                Tail = options.TailLines,
                Since = since,
            };
            var prefix = prefixes[container.ID].PadRight(width) + " | ";
            try
            {
                using var stream = await engine.Client.Containers.GetContainerLogsAsync(container.ID, parameters, cancellationToken);
                await PumpAsync(stream, line =>
                {
                    lock (gate)
                    {
                        output.WriteLine(prefix + line);
                    }
                }, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested && options.Follow)
            {
                // Ctrl-C ends a follow: not an error of this container.
            }
        }));

        if (cancellationToken.IsCancellationRequested)
        {
            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    /// <summary>--service must name a service of the stack: otherwise one line listing the stack's services.</summary>
    public static void CheckService(ResolvedEnvironment environment, string stack, string? service)
    {
        if (service is { } wanted && environment.Services.All(s => s.Name != wanted || s.Stack != stack))
        {
            var services = environment.Services.Where(s => s.Stack == stack).Select(s => s.Name);
            throw new PipelineException($"service '{wanted}' is not in stack {stack} (services: {string.Join(", ", services)})");
        }
    }

    /// <summary>Reads a multiplexed stream and emits complete lines per source (stdout and stderr kept apart).</summary>
    internal static async Task PumpAsync(MultiplexedStream stream, Action<string> onLine, CancellationToken cancellationToken)
    {
        var buffer = new byte[16 * 1024];
        var pending = new Dictionary<MultiplexedStream.TargetStream, StringBuilder>();
        var decoders = new Dictionary<MultiplexedStream.TargetStream, Decoder>();
        while (true)
        {
            var read = await stream.ReadOutputAsync(buffer, 0, buffer.Length, cancellationToken);
            if (read.EOF)
            {
                break;
            }

            if (!pending.TryGetValue(read.Target, out var text))
            {
                pending[read.Target] = text = new StringBuilder();
                decoders[read.Target] = Encoding.UTF8.GetDecoder();
            }

            var chars = new char[Encoding.UTF8.GetMaxCharCount(read.Count)];
            var count = decoders[read.Target].GetChars(buffer, 0, read.Count, chars, 0);
            text.Append(chars, 0, count);
            var content = text.ToString();
            var last = content.LastIndexOf('\n');
            if (last < 0)
            {
                continue;
            }

            foreach (var line in content[..last].Split('\n'))
            {
                onLine(line.TrimEnd('\r'));
            }

            text.Clear().Append(content[(last + 1)..]);
        }

        foreach (var rest in pending.Values.Where(p => p.Length > 0))
        {
            onLine(rest.ToString());
        }
    }

    /// <summary><c>10m</c> (a duration back from now) or a timestamp, as the API's unix seconds.</summary>
    internal static string? Since(string? since)
    {
        if (string.IsNullOrWhiteSpace(since))
        {
            return null;
        }

        if (Duration.TryParse(since, out var ago))
        {
            return (DateTimeOffset.UtcNow - ago).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        }

        if (DateTimeOffset.TryParse(since, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
        {
            return at.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        }

        throw new PipelineException($"--since '{since}' is neither a duration (10m, 1h30m) nor a timestamp (2026-11-24T10:00:00Z)");
    }
}
