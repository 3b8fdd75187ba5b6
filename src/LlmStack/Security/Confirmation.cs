using LlmStack.Pipeline;

namespace LlmStack.Security;

/// <summary>
/// The confirmation step of the change gate: <c>--confirm &lt;environment&gt;</c> (CI), or typing the environment name
/// at a prompt (interactive). Without either, nothing happens. Ctrl-C at the prompt cancels the run.
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
    public static async Task RequireAsync(
        string operation, string environment, string what, string? confirm, TextReader input, TextWriter output, bool interactive, CancellationToken cancellationToken)
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

        // A console read cannot be cancelled: read on the side and stop waiting on Ctrl-C (the read dies with the process).
        var read = Task.Run(input.ReadLine, CancellationToken.None);
        string? answer;
        try
        {
            answer = (await read.WaitAsync(cancellationToken))?.Trim();
        }
        catch (OperationCanceledException)
        {
            output.WriteLine();
            throw;
        }

        if (!string.Equals(answer, environment, StringComparison.Ordinal))
        {
            throw new PipelineException($"not confirmed ('{answer}' is not '{environment}'): {operation} changed nothing");
        }
    }
}
