using LlmStack.Backup;
using LlmStack.Compose;
using LlmStack.Pipeline;
using LlmStack.Retention;

/// <summary>The unified schema and its configurations: validation, and the compose files generated from it.</summary>
interface ISchema : IHazEnvironment, IHazArtifacts
{
    Target ValidateSchema => _ => _
        .Description("Check the unified schema, the backup, retention and load test configurations: every problem in one run, each with file:line:col; non-zero exit on errors.")
        .Executes(() =>
        {
            SchemaFile.Validate(Out, Log, OrchestratorArgument == LlmStack.Schema.Orchestrator.Swarm
                ? EnvironmentArgument is { } environment ? [environment] : SchemaFile.EnvironmentNames().ToList()
                : null);
            BackupConfigLoader.Validate(SchemaFile, BackupConfig, Out, Log);
            RetentionConfigLoader.Validate(SchemaFile, RetentionConfig, BackupConfig, Out, Log);
            LlmStack.Testing.LoadTestConfigLoader.Validate(SchemaFile, LoadConfig, Out, Log);
        });

    Target GenerateCompose => _ => _
        .Description("Write compose files for every environment: artifacts/compose/<environment>/<stack>.yml, all.yml and swarm-stack.yml (for docker stack deploy).")
        .DependsOn(ValidateSchema)
        .Executes(() => ReportSummary("Files", ComposeCommands.GenerateAll(SchemaFile, Path.Combine(ArtifactsDirectory, "compose"), Log).Count.ToString()));
}
