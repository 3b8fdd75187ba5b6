using Docker.DotNet;

namespace LlmStack.Engine;

/// <summary>
/// One line for a failure a target did not expect from a dependency it talks to, instead of a stack trace: the Docker
/// engine refusing a request, or the connection to it failing mid-run. The stack trace still goes to the log files.
/// </summary>
public static class Failures
{
    public static string? Describe(Exception exception) => exception switch
    {
        DockerApiException api =>
            $"the Docker engine refused a request ({(int)api.StatusCode} {api.StatusCode}): {EngineImages.ApiMessage(api)}",
        _ when BrokenStream(exception) is { } broken =>
            $"a stream to or from the Docker engine broke mid-transfer ({broken.Message}): the process at its other end stopped reading or ended; ./build.sh SystemStatus checks the engine",
        _ when DockerEngine.IsUnreachable(exception) =>
            $"lost the connection to the Docker engine ({Innermost(exception).Message}): is dockerd running? (./build.sh SystemStatus checks)",
        _ => null,
    };

    /// <summary>
    /// EPIPE or a reset on a connection that was established (an attached stream, an archive): the other end closed it.
    /// Not the engine being unreachable, which is a connection that cannot be made.
    /// </summary>
    private static System.Net.Sockets.SocketException? BrokenStream(Exception exception) =>
        Innermost(exception) is System.Net.Sockets.SocketException
        {
            SocketErrorCode: System.Net.Sockets.SocketError.Shutdown or System.Net.Sockets.SocketError.ConnectionReset or System.Net.Sockets.SocketError.ConnectionAborted,
        } socket && exception is IOException or AggregateException { InnerException: IOException }
            ? socket
            : null;

    private static Exception Innermost(Exception exception)
    {
        while (true)
        {
            var next = exception is AggregateException { InnerExceptions.Count: > 0 } aggregate ? aggregate.InnerExceptions[0] : exception.InnerException;
            if (next is null)
            {
                return exception;
            }

            exception = next;
        }
    }
}
