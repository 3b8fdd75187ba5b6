using LlmStack.Pipeline;

namespace LlmStack.ChangeControl;

/// <summary>
/// The confirmation step of the change gate: <c>--confirm &lt;environment&gt;</c> (CI), or typing the environment name
/// at a prompt (interactive). Without either, nothing happens. Ctrl-C at the prompt cancels the run.
/// </summary>
public static class Confirmation
{
    /// <summary>A --confirm that names another environment (or is not the phrase asked for) is a mistake even when there turns out to be nothing to do.</summary>
    public static void CheckTarget(string operation, string environment, string? confirm, string? phrase = null)
    {
        if (confirm is not null && !string.Equals(confirm, phrase ?? environment, StringComparison.Ordinal))
        {
            throw new PipelineException(phrase is null || phrase == environment
                ? $"--confirm {Quote(confirm)} does not match the environment {environment}: {operation} changed nothing"
                : $"--confirm {Quote(confirm)} is not {Quote(phrase)}: {operation} changed nothing");
        }
    }

    /// <summary>
    /// Returns when the operation may go ahead; throws (changing nothing) when it may not. The person types
    /// <paramref name="phrase"/> (default: the environment's name), or passes it as <c>--confirm</c>.
    /// </summary>
    public static async Task RequireAsync(
        string operation, string environment, string what, string? confirm, TextReader input, TextWriter output, bool interactive, CancellationToken cancellationToken,
        string? phrase = null)
    {
        phrase ??= environment;
        CheckTarget(operation, environment, confirm, phrase);
        if (confirm is not null)
        {
            return;
        }

        var where = phrase == environment ? $"in environment {environment}" : $"in {environment}";
        if (!interactive)
        {
            throw new PipelineException(
                $"{operation} would {what} {where}: pass --confirm {Quote(phrase)} to do it, or --dry-run to only list it");
        }

        output.Write(phrase == environment
            ? $"{operation} will {what} {where}. Type the environment name to confirm: "
            : $"{operation} will {what} {where}. Type '{phrase}' to confirm: ");
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

        if (!string.Equals(answer, phrase, StringComparison.Ordinal))
        {
            throw new PipelineException($"not confirmed ('{answer}' is not '{phrase}'): {operation} changed nothing");
        }
    }

    /// <summary>A phrase with spaces as the shell needs it.</summary>
    private static string Quote(string text) => text.Contains(' ', StringComparison.Ordinal) ? $"\"{text}\"" : text;
}
