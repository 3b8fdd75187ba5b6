using LlmStack.Pipeline;
using LlmStack.Security;

namespace LlmStack.Tests.Networks;

public class SafetyTests
{
    [Fact]
    public void Confirm_must_name_the_environment()
    {
        var wrong = () => Confirmation.Require("CleanupNetworks", "testing", "remove 2 network(s)", "staging", TextReader.Null, TextWriter.Null, interactive: true);
        wrong.Should().Throw<PipelineException>().WithMessage("--confirm staging does not match the environment testing: CleanupNetworks changed nothing");

        Confirmation.Require("CleanupNetworks", "testing", "remove 2 network(s)", "testing", TextReader.Null, TextWriter.Null, interactive: false);
    }

    [Fact]
    public void Without_confirm_a_non_interactive_run_changes_nothing_and_says_how()
    {
        var ci = () => Confirmation.Require("CleanupNetworks", "testing", "remove 2 network(s)", null, TextReader.Null, TextWriter.Null, interactive: false);
        ci.Should().Throw<PipelineException>().WithMessage("CleanupNetworks would remove 2 network(s) in environment testing: pass --confirm testing to do it, or --dry-run to only list it");
    }

    [Theory]
    [InlineData("testing\n", true)]
    [InlineData("yes\n", false)]
    [InlineData("", false)]
    public void Interactive_runs_must_type_the_environment_name(string typed, bool accepted)
    {
        var prompt = new StringWriter();
        var ask = () => Confirmation.Require("CleanupNetworks", "testing", "remove 2 network(s)", null, new StringReader(typed), prompt, interactive: true);
        if (accepted)
        {
            ask.Should().NotThrow();
        }
        else
        {
            ask.Should().Throw<PipelineException>().WithMessage("not confirmed*");
        }

        prompt.ToString().Should().Contain("Type the environment name to confirm");
    }

    [Fact]
    public void The_audit_log_appends_one_json_line_per_change()
    {
        var file = Path.Combine(Repository.TempDirectory("audit"), "audit.jsonl");
        var audit = new AuditLog(file, Serilog.Core.Logger.None);
        audit.Record("CleanupNetworks", "testing", "removed network", "multimodal-testing_legacy", "10.83.9.0/24");
        audit.Record("CleanupNetworks", "testing", "removed network", "multimodal-testing_old");
        File.ReadAllLines(file).Should().HaveCount(2);
        var entries = audit.Read();
        entries.Select(e => e.Target).Should().Equal("multimodal-testing_legacy", "multimodal-testing_old");
        entries[0].Detail.Should().Be("10.83.9.0/24");
        entries[0].User.Should().NotBeNullOrEmpty();
    }
}
