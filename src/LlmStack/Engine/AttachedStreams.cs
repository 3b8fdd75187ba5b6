using System.Text;
using Docker.DotNet;

namespace LlmStack.Engine;

/// <summary>What came back on an attached container or exec stream: standard output (when not streamed) and standard error.</summary>
public sealed record StreamOutput(string Output, IReadOnlyList<string> Errors)
{
    public IReadOnlyList<string> Lines => Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToList();
}

/// <summary>
/// The one pump for Docker's multiplexed streams (helper containers, docker exec): standard input written by a
/// callback and then closed, standard output copied to a stream as bytes (or collected as text), standard error kept
/// as its last lines.
/// </summary>
public static class AttachedStreams
{
    public static async Task<StreamOutput> PumpAsync(
        MultiplexedStream stream, Func<Stream, CancellationToken, Task>? stdin, Stream? stdout, int errorLines, CancellationToken cancellationToken)
    {
        var output = new StringBuilder();
        var errors = new ErrorTail(errorLines);
        var pumpIn = stdin is null ? Task.CompletedTask : WriteStdinAsync(stream, stdin, cancellationToken);
        var pumpOut = ReadOutputAsync(stream, stdout, output, errors, cancellationToken);
        await Task.WhenAll(pumpIn, pumpOut);
        return new StreamOutput(output.ToString(), errors.Lines);
    }

    private static async Task WriteStdinAsync(MultiplexedStream stream, Func<Stream, CancellationToken, Task> write, CancellationToken cancellationToken)
    {
        await using (var input = new AttachedInput(stream))
        {
            await write(input, cancellationToken);
        }

        stream.CloseWrite();
    }

    private static async Task ReadOutputAsync(MultiplexedStream stream, Stream? stdout, StringBuilder collected, ErrorTail errors, CancellationToken cancellationToken)
    {
        var buffer = new byte[81920];
        var decoder = Encoding.UTF8.GetDecoder();
        var errorDecoder = Encoding.UTF8.GetDecoder();
        var chars = new char[Encoding.UTF8.GetMaxCharCount(buffer.Length)];
        while (true)
        {
            var read = await stream.ReadOutputAsync(buffer, 0, buffer.Length, cancellationToken);
            if (read.EOF)
            {
                break;
            }

            if (read.Target == MultiplexedStream.TargetStream.StandardError)
            {
                var count = errorDecoder.GetChars(buffer, 0, read.Count, chars, 0);
                errors.Append(chars.AsSpan(0, count));
            }
            else if (stdout is not null)
            {
                await stdout.WriteAsync(buffer.AsMemory(0, read.Count), cancellationToken);
            }
            else
            {
                var count = decoder.GetChars(buffer, 0, read.Count, chars, 0);
                collected.Append(chars, 0, count);
            }
        }

        if (stdout is not null)
        {
            await stdout.FlushAsync(cancellationToken);
        }
    }

    /// <summary>The standard input of a container or exec as a write-only stream.</summary>
    private sealed class AttachedInput(MultiplexedStream inner) : WriteOnlyStream
    {
        public override void Write(byte[] buffer, int offset, int count) => inner.WriteAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            inner.WriteAsync(buffer, offset, count, cancellationToken);

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var array = buffer.ToArray();
            await inner.WriteAsync(array, 0, array.Length, cancellationToken);
        }
    }

    /// <summary>The last lines of standard error (diagnostics, bounded).</summary>
    private sealed class ErrorTail(int max)
    {
        private readonly Queue<string> _lines = new();
        private readonly StringBuilder _current = new();

        public IReadOnlyList<string> Lines => [.. _lines, .. _current.Length > 0 ? [_current.ToString()] : Array.Empty<string>()];

        public void Append(ReadOnlySpan<char> text)
        {
            foreach (var c in text)
            {
                if (c == '\n')
                {
                    _lines.Enqueue(_current.ToString().TrimEnd('\r'));
                    _current.Clear();
                    if (_lines.Count > max)
                    {
                        _lines.Dequeue();
                    }
                }
                else if (_current.Length < 2000)
                {
                    _current.Append(c);
                }
            }
        }
    }
}
