using LlmStack.Pipeline;

namespace LlmStack.Pipeline.Tests;

/// <summary>Under GitHub Actions: a group per target, the failing target's one line as an annotation (masked), the run's summary table in the job summary.</summary>
public class GitHubActionsLogTests
{
    private const string Secret = "s3cr3t-value-for-the-annotation";

    public class ActionsBuild : PipelineBuild
    {
        public Target Compile => _ => _.Executes(() => Out.WriteLine("compiling"));

        public Target Publish => _ => _.DependsOn(Compile).Executes(() =>
        {
            Secrets.Register(Secret);
            throw new PipelineException($"upload failed: token {Secret} was refused, 50% done\nsecond line");
        });
    }

    [Fact]
    public async Task Each_target_is_a_group_the_failure_an_error_annotation_and_the_run_a_summary_table()
    {
        using var h = new Harness();
        var summary = Path.Combine(h.Root, "summary.md");
        h.Environment["GITHUB_ACTIONS"] = "true";
        h.Environment["GITHUB_STEP_SUMMARY"] = summary;

        (await h.RunAsync<ActionsBuild>("Publish")).Should().Be(PipelineRunner.Failure);

        var lines = h.Output.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        lines.Should().ContainInOrder("::group::Compile", "compiling", "::endgroup::", "::group::Publish", "::endgroup::",
            "::error title=Publish failed::upload failed: token **** was refused, 50%25 done");
        h.Output.Should().NotContain(Secret);
        File.ReadAllText(summary).Should().Contain("### LlmStack run: failed")
            .And.Contain("| Target | Status | Duration | Reported |")
            .And.MatchRegex(@"\| Compile \| Succeeded \| < 1sec \|  \|")
            .And.Contain("| Publish | **Failed** | < 1sec | upload failed: token **** was refused, 50% done |")
            .And.NotContain(Secret);
    }

    [Fact]
    public async Task Outside_GitHub_Actions_nothing_changes()
    {
        using var h = new Harness();
        h.Environment["GITHUB_STEP_SUMMARY"] = Path.Combine(h.Root, "summary.md");

        (await h.RunAsync<ActionsBuild>("Compile")).Should().Be(0);

        h.Output.Should().NotContain("::group::").And.NotContain("::endgroup::");
        File.Exists(Path.Combine(h.Root, "summary.md")).Should().BeFalse();
    }
}
