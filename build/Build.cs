using LlmStack.Pipeline;
using LlmStack.Retention;
using LlmStack.Schema;
using LlmStack.Wipe;

/// <summary>
/// The LlmStack build: targets for the LLM Multimodal Stack, declared in partial files by area
/// (Build.Schema.cs, Build.Tests.cs, …). Target bodies only call into src/LlmStack.
/// </summary>
partial class Build : PipelineBuild
{
    public static Task<int> Main(string[] args) => Execute<Build>(args);

    protected override string EnvironmentPrefix => "LLMSTACK";

    protected override string CommandName => "./build.sh";

    // The environments (--environment's value set) come from the schema.
    protected override IReadOnlyList<string> HelpInputs => [Path.Combine(RootDirectory, Schema)];

    [Parameter("Unified schema file, relative to the repository root")]
    readonly string Schema = "schemas/compose-schema.yaml";

    // Never from a bare ENVIRONMENT variable: a host-wide one would silently retarget every run.
    [Parameter("Environment to operate on (from the schema; default development, or the one a Wipe<Environment> target names)", Name = "Environment", ValueProviderMember = nameof(EnvironmentNames), Header = true)]
    readonly string? EnvironmentArgument;

    /// <summary>
    /// The environment of this run: --environment, or the one an invoked environment wipe (WipeStaging, WipeProd, …)
    /// names — never both differing (<see cref="WipePolicy.Environment"/>).
    /// </summary>
    string Environment => WipeRules.Environment(InvokedTargets.Select(t => t.Name).ToList(), EnvironmentArgument);

    WipePolicy? _wipeRules;

    /// <summary>Which targets are wipes and of what, the environment they set, and when a BackupFull comes first: from the schema.</summary>
    WipePolicy WipeRules => _wipeRules ??= WipePolicy.Of(() => SchemaFile);

    IEnumerable<string> EnvironmentNames => SchemaFile.EnvironmentNames();

    SchemaFile? _schemaFile;

    // Re-created if --schema changes it after first use (the value set of --environment is read before injection).
    SchemaFile SchemaFile => _schemaFile is { } file && file.DisplayPath == Schema ? file : _schemaFile = new SchemaFile(RootDirectory, Schema)
    {
        Overlay = environment => RetentionConfigLoader.Variables(Path.GetFullPath(RetentionConfig, RootDirectory), RetentionConfig, _schemaFile!.Load(), environment),
    };

    string ArtifactsDirectory => Path.Combine(RootDirectory, "artifacts");
}
