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

    [Fact]
    public async Task Terminal_escapes_of_a_tools_diagnostics_are_removed_and_its_data_is_left_alone()
    {
        var errors = new List<string>();
        var result = await ProcessRunner.RunAsync("sh", ["-c", "printf 'a\\000b\\033[32m\\n'; printf '\\033[2Ksignal interrupt received\\r\\n' >&2; printf '\\033[2Kgone\\n' >&2"],
            Directory, null, CancellationToken.None);
        result.Output.Should().BeEquivalentTo(["a\0b\u001b[32m", "signal interrupt received", "gone"], "standard output is data (git ls-files -z), standard error diagnostics");
        await ProcessRunner.RunAsync("sh", ["-c", "printf '\\033]0;title\\007\\033[1;31merr\\n' >&2"], Directory, null, CancellationToken.None, onErrorLine: errors.Add);
        errors.Should().Equal("err");
    }

    [Theory]
    [InlineData("\u001b[2Ksignal interrupt received", "signal interrupt received")]
    [InlineData("a\u001b[1;31mb\u001b[0mc", "abc")]
    [InlineData("\u001b]0;title\u0007text", "text")]
    [InlineData("\u001b]8;;http://x\u001b\\link\u001b]8;;\u001b\\", "link")]
    [InlineData("bell\u0007 back\bspace\r", "bell backspace")]
    [InlineData("\u009b2Kone-byte CSI", "one-byte CSI")]
    [InlineData("\u001b(Bcharset", "charset")]
    [InlineData("keeps\ttabs\nand lines", "keeps\ttabs\nand lines")]
    [InlineData("trailing escape \u001b", "trailing escape ")]
    [InlineData("unterminated \u001b[12", "unterminated ")]
    public void TerminalText_removes_control_sequences_and_keeps_text(string input, string expected) =>
        TerminalText.Clean(input).Should().Be(expected);
}
