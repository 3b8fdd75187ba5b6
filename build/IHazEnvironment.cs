using LlmStack.Backup;
using LlmStack.ChangeControl;
using LlmStack.Pipeline;
using LlmStack.Reporting;
using LlmStack.Retention;
using LlmStack.Schema;
using LlmStack.Security;
using LlmStack.Sessions;
using LlmStack.Wipe;

/// <summary>
/// What the areas share: the schema and its configurations, the run's environment and how it is reached (Docker host,
/// image map, secrets, lock, helper image), the change gate's --dry-run and --confirm, and the report (--json).
/// </summary>
/// <remarks>
/// Interfaces hold no fields. An object a run makes once is a member without a body here (<see cref="SchemaFile"/>,
/// <see cref="Session"/>; the areas' likewise), which Build implements with a private field; how it is made is a
/// member with a body next to it (<see cref="NewSession"/>), so Build only keeps it.
/// </remarks>
interface IHazEnvironment : IPipelineBuild
{
    [Parameter("Unified schema file, relative to the repository root")]
    string Schema => TryGetValue(() => Schema) ?? DefaultSchema;

    /// <summary>The schema's default path (the help cache's input: its key is taken before any parameter is read).</summary>
    const string DefaultSchema = "schemas/compose-schema.yaml";

    [Parameter("Backup configuration, relative to the repository root")]
    string BackupConfig => TryGetValue(() => BackupConfig) ?? BackupConfigLoader.DefaultPath;

    [Parameter("Retention configuration, relative to the repository root")]
    string RetentionConfig => TryGetValue(() => RetentionConfig) ?? RetentionConfigLoader.DefaultPath;

    [Parameter("Load test configuration (LoadTest's plans, targets and thresholds), relative to the repository root")]
    string LoadConfig => TryGetValue(() => LoadConfig) ?? LlmStack.Testing.LoadTestConfigLoader.DefaultPath;

    // Never from a bare ENVIRONMENT variable: a host-wide one would silently retarget every run.
    [Parameter("Environment to operate on (from the schema; default development, or the one a Wipe<Environment> target names)", Name = "Environment", ValueProviderMember = nameof(EnvironmentNames), Header = true)]
    string? EnvironmentArgument => TryGetValue(() => EnvironmentArgument);

    [Parameter("What runs the stacks: containers (one engine) or swarm (services on a Docker swarm); default: the environment's orchestrator: in the schema, else containers", Name = "Orchestrator")]
    Orchestrator? OrchestratorArgument => TryGetValue<Orchestrator?>(() => OrchestratorArgument);

    [Parameter("Print the report a target makes (its table) as one JSON document on standard output, everything else on standard error")]
    bool Json => TryGetValue<bool?>(() => Json) ?? false;

    [Parameter("Destructive operations: list what would change and change nothing", Sources = ParameterSources.CommandLine)]
    bool DryRun => TryGetValue<bool?>(() => DryRun) ?? false;

    [Parameter("Destructive operations: confirm by naming the environment, WipeNuclear with the phrase 'wipe <project> everywhere' (for CI; interactive runs are asked)", Sources = ParameterSources.CommandLine)]
    string? Confirm => TryGetValue(() => Confirm);

    [Parameter("Docker engine endpoint (default: DOCKER_HOST, else unix:///var/run/docker.sock)", Sources = ParameterSources.Default | ParameterSources.BareVariable)]
    string? DockerHost => TryGetValue(() => DockerHost);

    [Parameter("YAML map of image substitutions (image: replacement; \"*\" for every other image), e.g. tests/fixtures/image-map.yaml")]
    string? ImageMap => TryGetValue(() => ImageMap);

    [Parameter("Never pull an image: Start, PullImages, Images and the network probe list what is missing in one line instead (builds still run)")]
    bool Offline => TryGetValue<bool?>(() => Offline) ?? false;

    [Parameter("Directory of persistent state: backups of local tiers, the audit log, retention records, the backup catalog, restore reports, secrets (default: the repository root; a CI runner keeps it outside the checkout, e.g. /var/lib/llmstack)")]
    string? StateDir => TryGetValue(() => StateDir);

    [Parameter("Directory of the secrets files (<environment>.env, <environment>.backup-key), relative to the state directory (default: <state dir>/secrets)")]
    string? SecretsDir => TryGetValue(() => SecretsDir);

    [Parameter("Host-wide directory of the environment locks (default: /run/lock/llmstack, else <temp>/llmstack-locks)")]
    string? LockDir => TryGetValue(() => LockDir);

    [Parameter("How long a run that changes an environment waits for another run's lock (30s, 5m, 1h)")]
    string LockTimeout => TryGetValue(() => LockTimeout) ?? "5m";

    [Parameter("Image of the helper containers: network probes, volume backups, restores and their checks, retention in volumes, wipes' volume sizes (needs sh, nslookup, nc, wget, tar, find, stat, du)")]
    string HelperImage => TryGetValue(() => HelperImage) ?? "busybox:1.36";

    /// <summary>
    /// The environment of this run: --environment, or the one an invoked environment wipe (WipeStaging, WipeProd, …)
    /// names — never both differing (<see cref="WipePolicy.Environment"/>).
    /// </summary>
    string Environment => WipeRules.Environment(InvokedTargets.Select(t => t.Name).ToList(), EnvironmentArgument);

    IEnumerable<string> EnvironmentNames => SchemaFile.EnvironmentNames();

    /// <summary>Which targets are wipes and of what, the environment they set, and when a BackupFull comes first: from the schema.</summary>
    WipePolicy WipeRules => WipePolicy.Of(() => SchemaFile);

    /// <summary>This run's target names as the wipe policy reads them.</summary>
    WipeRun WipeRun => new(InvokedTargets.Select(t => t.Name).ToList(), ExecutionPlan.Select(t => t.Name).ToList(),
        ExecutionPlan.Where(t => t.SkippedByParameter).Select(t => t.Name).ToList(), DryRun);

    ReportWriter Reports => new(Out, Document, Json,
        GitHubActions is { } github ? text => github.AppendSummary(GitHubActionsLog.TextBlock(CurrentTarget?.Name ?? "Report", text)) : null);

    /// <summary>Where this run's persistent state lives (--state-dir, --secrets-dir); inputs stay in the repository.</summary>
    StatePaths State => StatePaths.Of(RootDirectory, StateDir, SecretsDir);

    /// <summary>Under GitHub Actions on a self-hosted runner, a state or secrets directory the checkout would delete is refused before anything runs; Build calls it first.</summary>
    void CheckState() => State.Check(name => Variables.GetValueOrDefault(name));

    /// <summary>The schema, loaded once (made again when --schema changes it after it was first read).</summary>
    SchemaFile SchemaFile { get; }

    SchemaFile NewSchemaFile() => RetentionConfigLoader.Schema(RootDirectory, Schema, () => RetentionConfig);

    /// <summary>The run's environment: one engine connection, its secrets, its lock (held until the run ends), the change gate.</summary>
    EnvironmentSession Session { get; }

    EnvironmentSession NewSession() => new(new SessionOptions
    {
        Schema = SchemaFile,
        Environment = Environment,
        Orchestrator = OrchestratorArgument,
        DockerHost = DockerHost,
        ImageMap = ImageMap,
        Offline = Offline,
        State = State,
        LockDirectory = LockDir,
        LockTimeout = Duration.ParseParameter("--lock-timeout", LockTimeout),
        Gate = new GateOptions(DryRun, Confirm, Console.In, !Console.IsInputRedirected, AuditLog.For(State.AuditLog, Log)),
        Masker = Secrets,
        Log = Log,
        Out = Out,
        Reports = Reports,
        CurrentTarget = () => CurrentTarget?.Name,
        Command = string.Join(' ', InvokedTargets.Select(t => t.Name)),
        Cleanup = CleanupToken,
    });

    /// <summary>
    /// A target whose declaration reads the schema (the stacks' and wipes' names and graph): when the schema cannot be
    /// read, or does not fit the declarations, the target fails with that one line when it runs, and --help and every
    /// other target still work (ValidateSchema is how a broken schema is found).
    /// </summary>
    ITargetDefinition FromSchema<T>(ITargetDefinition _, Func<T> read, Func<T, ITargetDefinition> define)
    {
        T value;
        try
        {
            value = read();
        }
        catch (PipelineException e)
        {
            return _.Description($"Unavailable: {e.Message.TrimEnd('.')}.").Executes(() => throw e);
        }

        return define(value);
    }
}
