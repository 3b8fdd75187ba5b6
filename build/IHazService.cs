using LlmStack.Pipeline;

/// <summary>The service a target acts on (--service): shared by the stacks', backups', retention's and GitHub's targets.</summary>
interface IHazService : IPipelineBuild
{
    [Parameter("The service a target acts on: BackupService, Restore and RetentionCleanupService need one; DispatchRestore restores it (default all: a whole backup set); BuildImages builds only its image; Logs<Stack> shows only its lines")]
    string? Service => TryGetValue(() => Service);
}
