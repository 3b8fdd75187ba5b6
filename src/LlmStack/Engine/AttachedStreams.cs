using System.Text;
using Docker.DotNet;

namespace LlmStack.Engine;

/// <summary>What came back on an attached container or exec stream: standard output (when not streamed) and standard error.</summary>
public sealed record StreamOutput(string Output, IReadOnlyList<string> Errors)
{
    public IReadOnlyList<string> Lines => Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToList();

    /// <summary>
    /// The process closed its standard input before all of it was written (a checker that reads only what it needs, or
    /// a tool that failed): what was left was not sent. Its exit code says which.
    /// </summary>
    public bool InputCut { get; init; }
}

/// <summary>
/// The one pump for Docker's multiplexed streams (helper containers, docker exec): standard input written by a
/// callback and then closed, standard output copied to a stream as bytes (or collected as text), standard error kept
/// as its last lines.
/// <para>
/// A process may stop reading its input before the end (a checker that needs only a dump's table of contents, or a
/// tool that failed): the engine then closes the stream, and writing the rest fails with EPIPE or a reset. That is
/// not the engine going away: the rest of the input is not sent, the output that came is kept, and the result says
/// <see cref="StreamOutput.InputCut"/>; the process's exit code (which the caller asks the engine for next) decides.
/// An engine that is really gone fails that next call.
/// </para>
/// </summary>
public static class AttachedStreams
{
    public static async Task<StreamOutput> PumpAsync(
        MultiplexedStream stream, Func<Stream, CancellationToken, Task>? stdin, Stream? stdout, int errorLines, CancellationToken cancellationToken)
    {
        var output = new StringBuilder();
        var errors = new ErrorTail(errorLines);
        var input = new InputState();
        var attached = new AttachedInput(stream);
        using var outputEnded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var pumpIn = stdin is null ? Task.CompletedTask : WriteStdinAsync(stream, attached, stdin, input, outputEnded.Token, cancellationToken);
        var pumpOut = ReadOutputAsync(stream, stdout, output, errors, input, cancellationToken);
        try
        {
            await pumpOut;
        }
        finally
        {
            // The output ended: the process is gone (its standard output and error close when it exits). Input still
            // being written goes nowhere: Docker 20.10 keeps reading an attached stdin after the process exited, at
            // well under 1 MB/s (a 58 MB dump behind pg_restore --list took 40–100 s to "send"). Stop sending, but let the
            // writer finish from its source for a moment, counting what it still has: a process that read all it was
            // given may exit before its source said so (pg_restore ends at the archive's last entry, while restic's
            // dump has yet to close its pipe) — nothing is left unread then. More data, or no end within the bound,
            // means the process left input unread (InputCut).
            if (!pumpIn.IsCompleted)
            {
                attached.StopSending();
                await Task.WhenAny(pumpIn, attached.Overflowed, Task.Delay(DrainBound, cancellationToken));
                if (!pumpIn.IsCompleted)
                {
                    await outputEnded.CancelAsync();
                }
            }

            await pumpIn;
        }

        return new StreamOutput(output.ToString(), errors.Lines) { InputCut = input.Cut };
    }

    /// <summary>How long a writer may go on (counted, not sent) after the process's output ended, to show it had nothing more.</summary>
    private static readonly TimeSpan DrainBound = TimeSpan.FromSeconds(5);

    /// <summary>Input counted after the output ended beyond which the process certainly left input unread: the writer is stopped at once.</summary>
    private const long DrainCap = 1 << 20;

    /// <summary>Whether standard input is still being written, and whether the other end closed it first.</summary>
    private sealed class InputState
    {
        public volatile bool Writing;
        public volatile bool Cut;
    }

    /// <summary>EPIPE, a reset: the other end of an established stream closed it (not a failure to reach the engine).</summary>
    private static bool ClosedByPeer(IOException e) =>
        e.InnerException is System.Net.Sockets.SocketException
        {
            SocketErrorCode: System.Net.Sockets.SocketError.Shutdown or System.Net.Sockets.SocketError.ConnectionReset or System.Net.Sockets.SocketError.ConnectionAborted,
        }
        || e.Message.Contains("Broken pipe", StringComparison.OrdinalIgnoreCase);

    private static async Task WriteStdinAsync(
        MultiplexedStream stream, AttachedInput input, Func<Stream, CancellationToken, Task> write, InputState state, CancellationToken outputOpen, CancellationToken cancellationToken)
    {
        state.Writing = true;
        try
        {
            await write(input, outputOpen);
            if (input.Unsent > 0)
            {
                // It ended, after the process had: what it still had was not sent.
                state.Cut = true;
            }
        }
        catch (IOException e) when (input.Failed && ClosedByPeer(e) && !cancellationToken.IsCancellationRequested)
        {
            // The process stopped reading: the rest is not sent (the caller's source is drained or dropped by its owner).
            state.Cut = true;
        }
        catch (OperationCanceledException) when (outputOpen.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            // The process exited (its output ended) before it read all its input: the rest is not sent.
            state.Cut = true;
        }
        finally
        {
            state.Writing = false;
            await input.DisposeAsync();
        }

        if (!state.Cut && !input.Stopped)
        {
            try
            {
                stream.CloseWrite();
            }
            catch (IOException e) when (ClosedByPeer(e))
            {
                state.Cut = true;
            }
        }
    }

    private static async Task ReadOutputAsync(
        MultiplexedStream stream, Stream? stdout, StringBuilder collected, ErrorTail errors, InputState input, CancellationToken cancellationToken)
    {
        var buffer = new byte[81920];
        var decoder = Encoding.UTF8.GetDecoder();
        var errorDecoder = Encoding.UTF8.GetDecoder();
        var chars = new char[Encoding.UTF8.GetMaxCharCount(buffer.Length)];
        while (true)
        {
            MultiplexedStream.ReadResult read;
            try
            {
                read = await stream.ReadOutputAsync(buffer, 0, buffer.Length, cancellationToken);
            }
            catch (IOException e) when ((input.Writing || input.Cut) && ClosedByPeer(e) && !cancellationToken.IsCancellationRequested)
            {
                // The engine closed the stream while input it never read was pending (the process had exited): its
                // output ended there. Its exit code is asked for next.
                input.Cut = true;
                break;
            }

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

    /// <summary>
    /// The standard input of a container or exec as a write-only stream; <see cref="Failed"/> once a write failed. After
    /// <see cref="StopSending"/> (the process is gone), writes are counted in <see cref="Unsent"/>, not sent, and a write
    /// the engine had not yet taken is dropped and counted too.
    /// </summary>
    private sealed class AttachedInput(MultiplexedStream inner) : WriteOnlyStream
    {
        private readonly CancellationTokenSource _sending = new();
        private readonly TaskCompletionSource _overflowed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private long _unsent;

        public bool Failed { get; private set; }

        /// <summary>Bytes given after the process had gone (or whose write it never took).</summary>
        public long Unsent => Interlocked.Read(ref _unsent);

        /// <summary>Completes once <see cref="Unsent"/> passed <see cref="DrainCap"/>.</summary>
        public Task Overflowed => _overflowed.Task;

        /// <summary>Whether <see cref="StopSending"/> was called (the process is gone: nothing more goes to the engine, not even the end of input).</summary>
        public bool Stopped => _sending.IsCancellationRequested;

        // (The source needs no disposing: no timer, no linked tokens.)
        public void StopSending() => _sending.Cancel();

        public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();

        public override async Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (_sending.IsCancellationRequested)
            {
                Count(count);
                return;
            }

            using var both = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _sending.Token);
            try
            {
                await inner.WriteAsync(buffer, offset, count, both.Token);
            }
            catch (OperationCanceledException) when (_sending.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                Count(count);
            }
            catch (IOException)
            {
                Failed = true;
                throw;
            }
        }

        private void Count(int count)
        {
            if (Interlocked.Add(ref _unsent, count) > DrainCap)
            {
                _overflowed.TrySetResult();
            }
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (System.Runtime.InteropServices.MemoryMarshal.TryGetArray(buffer, out var segment))
            {
                await WriteAsync(segment.Array!, segment.Offset, segment.Count, cancellationToken);
                return;
            }

            var array = buffer.ToArray();
            await WriteAsync(array, 0, array.Length, cancellationToken);
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
