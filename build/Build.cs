using LlmStack.Backup;
using LlmStack.Credentials;
using LlmStack.Engine;
using LlmStack.Pipeline;
using LlmStack.Retention;
using LlmStack.Schema;
using LlmStack.Sessions;
using LlmStack.Wipe;

/// <summary>
/// The LlmStack build: its targets and parameters are the components' (build/I&lt;Area&gt;.cs, one interface per area with
/// default-member targets and the parameters that area uses; IHazEnvironment, IHazService, IHazGitHub and IHazArtifacts
/// hold what several areas share). Target bodies only call into src/LlmStack. Build keeps what is the whole build's: the
/// entry point, the names the engine asks for, the run's start and end, and the objects a run makes once — interfaces
/// cannot hold fields, so each is a private field here behind the member its component declares without a body, made
/// by the component's own New… member.
/// </summary>
class Build : PipelineBuild, IStacks, ISwarm, IDeploy, IImages, INetworks, IBackup, IRetention, IWipe, ICredentials, ISecretScan, IWorkflows, IGitHub, ITests, ITesting, IBenchmarks, ISchema, IMonitoring
{
    public static Task<int> Main(string[] args) => Execute<Build>(args);

    protected override string EnvironmentPrefix => "LLMSTACK";

    protected override string CommandName => "./build.sh";

    IHazEnvironment Shared => this;

    // The environments (--environment's value set) come from the schema.
    // (the default path: the help cache's key is taken before any parameter is read).
    protected override IReadOnlyList<string> HelpInputs => [Path.Combine(RootDirectory, IHazEnvironment.DefaultSchema)];

    protected override bool WritesDocument => Shared.Json;

    protected override string? DescribeFailure(Exception exception) => Failures.Describe(exception);

    protected override void OnBuildInitialized()
    {
        Shared.CheckState();
        ((IWorkflows)this).WarnWhenStale();
    }

    protected override void OnBuildFinished()
    {
        _session?.Dispose();
        ((IGitHub)this).WriteStepOutputs();
    }

    SchemaFile? _schemaFile;

    // Made again if --schema changes it after first use (the stack targets and --environment's value set read it before injection).
    SchemaFile IHazEnvironment.SchemaFile => _schemaFile is { } file && file.DisplayPath == Shared.Schema ? file : _schemaFile = Shared.NewSchemaFile();

    EnvironmentSession? _session;

    EnvironmentSession IHazEnvironment.Session => _session ??= Shared.NewSession();

    BackupOperations? _backups;

    BackupOperations IBackup.BackupTargets => _backups ??= ((IBackup)this).NewBackupTargets();

    RetentionOperations? _retention;

    RetentionOperations IRetention.Retention => _retention ??= ((IRetention)this).NewRetention();

    WipeOperations? _wipes;

    WipeOperations IWipe.Wipes => _wipes ??= ((IWipe)this).NewWipes();

    CredentialOperations? _credentials;

    CredentialOperations ICredentials.Credentials => _credentials ??= ((ICredentials)this).NewCredentials();
}
