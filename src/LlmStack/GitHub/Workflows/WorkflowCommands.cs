using LlmStack.Pipeline;
using Serilog;

namespace LlmStack.GitHub.Workflows;

/// <summary>The bodies of GenerateWorkflows and CheckWorkflows, and the start-of-run staleness warning.</summary>
public static class WorkflowCommands
{
    public static readonly IReadOnlyList<string> OwnTargets = ["GenerateWorkflows", "CheckWorkflows"];

    public static void Generate(string root, IReadOnlyDictionary<string, string> files, Func<string> key, ILogger log)
    {
        var changed = WorkflowFiles.Write(root, files);
        WorkflowStaleness.Record(root, key(), files, stale: false);
        log.Information(changed.Count == 0 ? "{Count} generated files under .github/ are up to date" : "{Count} generated files under .github/; written or removed: {Changed}",
            files.Count, string.Join(", ", changed));
    }

    public static void Check(string root, IReadOnlyDictionary<string, string> files, ILogger log)
    {
        if (WorkflowFiles.Compare(root, files) is { } problem)
        {
            throw new PipelineException(problem);
        }

        log.Information("{Count} generated files under .github/ match the declarations", files.Count);
    }

    /// <summary>Warns (once per run) when the committed workflows differ from the declarations; never fails a run.</summary>
    public static void WarnWhenStale(string root, IEnumerable<string> invoked, Func<string> key, Func<IReadOnlyDictionary<string, string>> render, ILogger log)
    {
        if (invoked.Any(OwnTargets.Contains) || !Directory.Exists(Path.Combine(root, WorkflowFiles.WorkflowsDirectory)))
        {
            return;
        }

        try
        {
            if (WorkflowStaleness.IsStale(root, key(), render))
            {
                log.Warning("The GitHub workflows under .github/ are stale: the build or its configuration changed since they were generated; run ./build.sh GenerateWorkflows and commit them");
            }
        }
        catch (Exception e) when (e is PipelineException or IOException or UnauthorizedAccessException)
        {
            // A broken configuration is the targets' to report; the check stays silent.
            log.Debug("Workflow staleness check skipped: {Message}", e.Message);
        }
    }
}
