using LlmStack.Pipeline;
using LlmStack.Reporting;

namespace LlmStack.Tests.Reporting;

/// <summary>An area's own table also reaches the job summary, as the console shows it, and a --json run's too.</summary>
public sealed class ReportWriterSummaryTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Each_report_is_given_to_the_summary_as_text(bool json)
    {
        var summaries = new List<string>();
        var console = new StringWriter();
        var writer = new ReportWriter(console, new StringWriter(), json, summaries.Add);

        writer.Write(new Report { Document = new { ok = true } }.Table(new TextTable("Tier", "Result").Add("local", "ok")));
        writer.Write(new Report());

        summaries.Should().ContainSingle().Which.Should().MatchRegex(@"Tier\s+Result").And.MatchRegex(@"local\s+ok");
        if (!json)
        {
            summaries[0].Should().Be(console.ToString());
        }
    }

    [Fact]
    public void A_job_summary_block_names_the_target()
    {
        GitHubActionsLog.TextBlock("BackupStatus", "Tier  Result\nlocal ok\n").Should().Be("#### BackupStatus\n\n```text\nTier  Result\nlocal ok\n```\n\n");
    }
}
