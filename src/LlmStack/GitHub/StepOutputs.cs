using LlmStack.Pipeline;

namespace LlmStack.GitHub;

/// <summary>
/// What a run tells the rest of its GitHub Actions job: when <c>GITHUB_OUTPUT</c> is set, the first target that failed
/// (else the first that was cancelled) as <c>failed-target</c>, which the environment job passes on to the report job
/// (<c>needs.&lt;job&gt;.outputs.failed-target</c>) for ReportFailure. The build writes it itself at the end of the run, so
/// the workflow step needs no shell around the build (<c>exec ./build.sh …</c>).
/// </summary>
public static class StepOutputs
{
    public const string FailedTarget = "failed-target";

    /// <summary>Appends the outputs of this run to the file GITHUB_OUTPUT names; nothing outside GitHub Actions or when every target succeeded.</summary>
    public static void Write(Func<string, string?> variable, IReadOnlyList<ExecutableTarget> plan)
    {
        if (variable("GITHUB_OUTPUT") is not { Length: > 0 } file)
        {
            return;
        }

        var failed = plan.FirstOrDefault(t => t.Status == ExecutionStatus.Failed) ?? plan.FirstOrDefault(t => t.Status == ExecutionStatus.Aborted);
        if (failed is not null)
        {
            File.AppendAllText(file, $"{FailedTarget}={failed.Name}\n");
        }
    }
}
