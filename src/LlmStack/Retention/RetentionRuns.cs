using System.Text.Json;
using LlmStack.Reporting;

namespace LlmStack.Retention;

/// <summary>The last cleanup of an environment.</summary>
public sealed record RetentionRun(DateTimeOffset Finished, int Removed, string Outcome)
{
    /// <summary>When LlmStack last pruned each tier (for <c>prune.schedule</c>).</summary>
    public Dictionary<string, DateTimeOffset>? Pruned { get; init; }
}

/// <summary>
/// The record of an environment's last cleanup, <c>.nuke/temp/retention-&lt;environment&gt;.json</c> under the state
/// directory (<see cref="Sessions.StatePaths.RetentionRecord"/>): what RetentionStatus shows and <c>prune.schedule</c> counts from.
/// </summary>
public sealed class RetentionRuns(string stateFile)
{
    private string StateFile => stateFile;

    /// <summary>The last cleanup, or null when there was none (or its record cannot be read).</summary>
    public RetentionRun? Last()
    {
        try
        {
            return File.Exists(StateFile) ? JsonSerializer.Deserialize<RetentionRun>(File.ReadAllText(StateFile), JsonDefaults.Document) : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public void Record(RetentionRun run)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(StateFile)!);
        File.WriteAllText(StateFile, JsonSerializer.Serialize(run, JsonDefaults.Document));
    }
}
