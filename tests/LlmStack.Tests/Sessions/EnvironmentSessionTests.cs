using LlmStack.Pipeline;

namespace LlmStack.Tests.Sessions;

public sealed class EnvironmentSessionTests
{
    [Fact]
    public void A_stack_the_environment_does_not_enable_runs_only_when_its_target_is_invoked_and_is_skipped_in_words_otherwise()
    {
        using var development = TestSession.Of("development");
        development.Wanted("core", invoked: false).Should().BeTrue();
        development.Wanted("testing", invoked: false).Should().BeFalse("development does not enable the testing stack");
        development.Wanted("testing", invoked: true).Should().BeTrue("named on the command line, it runs and says why it cannot");
        development.NotEnabled("testing").Should().Be("stack testing is not enabled in environment development");
    }

    [Fact]
    public void The_all_stacks_restart_with_nothing_running_is_one_line()
    {
        using var staging = TestSession.Of("staging");
        var check = staging.CheckRestarted;
        check.Should().Throw<PipelineException>().WithMessage("nothing is running in environment staging: use Start");
    }
}
