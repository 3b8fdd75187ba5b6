namespace LlmStack.Pipeline;

/// <summary>
/// A failure the user can act on: its message is one clear line naming the thing and the fix.
/// The engine prints it without a stack trace and exits non-zero.
/// </summary>
public class PipelineException(string message, Exception? inner = null) : Exception(message, inner);
