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
        _ when DockerEngine.IsUnreachable(exception) =>
            $"lost the connection to the Docker engine ({Innermost(exception).Message}): is dockerd running? (./build.sh SystemStatus checks)",
        _ => null,
    };

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
