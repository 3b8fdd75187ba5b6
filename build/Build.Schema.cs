using LlmStack.Compose;
using LlmStack.Pipeline;

partial class Build
{
    Target ValidateSchema => _ => _
        .Description("Check the unified schema, the backup and the retention configuration: every problem in one run, each with file:line:col; non-zero exit on errors.")
        .Executes(() =>
        {
            SchemaFile.Validate(Out, Log);
            LlmStack.Backup.BackupConfigLoader.Validate(SchemaFile, BackupConfig, Out, Log);
            LlmStack.Retention.RetentionConfigLoader.Validate(SchemaFile, RetentionConfig, BackupConfig, Out, Log);
        });

    Target GenerateCompose => _ => _
        .Description("Write compose files for every environment: artifacts/compose/<environment>/<stack>.yml and all.yml.")
        .DependsOn(ValidateSchema)
        .Executes(() =>
        {
            var files = ComposeCommands.GenerateAll(SchemaFile, Path.Combine(ArtifactsDirectory, "compose"), Log);
            ReportSummary("Files", files.Count.ToString());
        });
}
