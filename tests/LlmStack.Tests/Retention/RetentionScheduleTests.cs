using LlmStack.Pipeline;
using LlmStack.Reporting;
using LlmStack.Retention;
using LlmStack.Schema;

namespace LlmStack.Tests.Retention;

public sealed class RetentionScheduleTests
{
    private static readonly SchemaFile Schema = new(Repository.Root, "schemas/compose-schema.yaml");

    [Fact]
    public void The_schedule_of_every_environment_comes_from_the_retention_configuration_checked_against_the_backup_configuration()
    {
        var output = new StringWriter();
        RetentionCommands.Schedule(Schema, RetentionConfigLoader.DefaultPath, LlmStack.Backup.BackupConfigLoader.DefaultPath, 2, new ReportWriter(output, TextWriter.Null, json: false));

        var text = output.ToString();
        text.Should().Contain("ENVIRONMENT").And.Contain("NEXT RUNS");
        foreach (var environment in Schema.EnvironmentNames())
        {
            text.Should().MatchRegex($@"(?m)^{environment}\s");
        }
    }

    [Fact]
    public void A_missing_backup_configuration_is_one_line_before_the_retention_configuration_is_read()
    {
        var schedule = () => RetentionCommands.Schedule(Schema, "configs/no-such-retention.yaml", "configs/no-such-backup.yaml", 2, new ReportWriter(TextWriter.Null, TextWriter.Null, json: false));
        schedule.Should().Throw<PipelineException>().WithMessage("*no-such-backup.yaml*");
    }
}
