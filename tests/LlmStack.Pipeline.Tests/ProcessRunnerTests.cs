namespace LlmStack.Pipeline.Tests;

public class ProcessRunnerTests
{
    private static readonly string Directory = Path.GetTempPath();

    [Fact]
    public async Task Stdout_and_stderr_are_collected_and_streamed_together_by_default()
    {
        var streamed = new List<string>();
        var result = await ProcessRunner.RunAsync("sh", ["-c", "echo out; echo err >&2; exit 3"], Directory, streamed.Add, CancellationToken.None);
        result.ExitCode.Should().Be(3);
        result.Output.Should().BeEquivalentTo(["out", "err"]);
        streamed.Should().BeEquivalentTo(["out", "err"]);
    }

    [Fact]
    public async Task Stderr_can_be_kept_apart_and_a_large_output_streamed_without_being_collected()
    {
        var streamed = new List<string>();
        var errors = new List<string>();
        var result = await ProcessRunner.RunAsync("sh", ["-c", "echo out; echo err >&2; seq 1 1000"], Directory, streamed.Add, CancellationToken.None, onErrorLine: errors.Add, collect: false);
        result.Output.Should().BeEmpty();
        streamed.Should().HaveCount(1001).And.NotContain("err");
        errors.Should().Equal("err");
    }
}
