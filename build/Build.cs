using LlmStack.Pipeline;
using LlmStack.Retention;
using LlmStack.Schema;

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
    /// The environment of this run: --environment, or the one an invoked WipeDevelopment/WipeStaging/WipeProduction/
    /// WipeTesting (or alias) names — never both differing.
    /// </summary>
    string Environment
    {
        get
        {
            var named = InvokedTargets.Select(t => WipeEnvironmentTargets.GetValueOrDefault(t.Name)).Where(e => e is not null).Distinct().ToList();
            if (InvokedTargets.Any(t => t.Name == nameof(WipeNuclear)) && (EnvironmentArgument is not null || named.Count > 0))
            {
                throw new PipelineException($"WipeNuclear wipes every environment of the project: drop {(EnvironmentArgument is not null ? "--environment" : "the other wipe targets")}");
            }

            if (named.Count > 1)
            {
                throw new PipelineException($"wipe targets of different environments ({string.Join(", ", named)}) in one run: wipe one environment per run");
            }

            if (named.Count == 1 && EnvironmentArgument is not null && EnvironmentArgument != named[0])
            {
                throw new PipelineException($"{InvokedTargets.First(t => WipeEnvironmentTargets.ContainsKey(t.Name)).Name} wipes {named[0]}, but --environment says {EnvironmentArgument}: drop --environment");
            }

            return named.SingleOrDefault() ?? EnvironmentArgument ?? "development";
        }
    }

    IEnumerable<string> EnvironmentNames => SchemaFile.EnvironmentNames();

    SchemaFile? _schemaFile;

    // Re-created if --schema changes it after first use (the value set of --environment is read before injection).
    SchemaFile SchemaFile => _schemaFile is { } file && file.DisplayPath == Schema ? file : _schemaFile = new SchemaFile(RootDirectory, Schema)
    {
        Overlay = environment => RetentionConfigLoader.Variables(Path.GetFullPath(RetentionConfig, RootDirectory), RetentionConfig, _schemaFile!.Load(), environment),
    };

    string ArtifactsDirectory => Path.Combine(RootDirectory, "artifacts");
}
