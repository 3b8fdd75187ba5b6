using LlmStack.Pipeline;

namespace LlmStack.Security;

/// <summary>
/// The gate of every destructive operation: <c>--dry-run</c> changes nothing; otherwise <c>--confirm &lt;environment&gt;</c>
/// (CI), or typing the environment name at a prompt (interactive). Without either, nothing happens.
/// </summary>
public static class Confirmation
{
    /// <summary>A --confirm that names another environment is a mistake even when there turns out to be nothing to do.</summary>
    public static void CheckTarget(string operation, string environment, string? confirm)
    {
        if (confirm is not null && !string.Equals(confirm, environment, StringComparison.Ordinal))
        {
            throw new PipelineException($"--confirm {confirm} does not match the environment {environment}: {operation} changed nothing");
        }
    }

    /// <summary>Returns when the operation may go ahead; throws (changing nothing) when it may not.</summary>
    public static void Require(string operation, string environment, string what, string? confirm, TextReader input, TextWriter output, bool interactive)
    {
        CheckTarget(operation, environment, confirm);
        if (confirm is not null)
        {
            return;
        }

        if (!interactive)
        {
            throw new PipelineException(
                $"{operation} would {what} in environment {environment}: pass --confirm {environment} to do it, or --dry-run to only list it");
        }

        output.Write($"{operation} will {what} in environment {environment}. Type the environment name to confirm: ");
        output.Flush();
        var answer = input.ReadLine()?.Trim();
        if (!string.Equals(answer, environment, StringComparison.Ordinal))
        {
            throw new PipelineException($"not confirmed ('{answer}' is not '{environment}'): {operation} changed nothing");
        }
    }
}
