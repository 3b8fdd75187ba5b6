using LlmStack.ChangeControl;
using LlmStack.Engine;
using LlmStack.Pipeline;
using LlmStack.Reporting;
using LlmStack.Schema;
using LlmStack.Security;
using LlmStack.Sessions;

/// <summary>
/// Stack lifecycle. Dependencies mirror the schema's stack dependencies (a unit test keeps them in step):
/// Start&lt;Stack&gt; depends on the Start targets of the stacks it needs; Stop&lt;Stack&gt; on the Stop targets
/// of the stacks that need it, so dependents stop first.
/// </summary>
partial class Build
{
    [Parameter("Docker engine endpoint (default: DOCKER_HOST, else unix:///var/run/docker.sock)", Sources = ParameterSources.Default | ParameterSources.BareVariable)]
    readonly string? DockerHost;

    [Parameter("YAML map of image substitutions (image: replacement; \"*\" for every other image), e.g. tests/fixtures/image-map.yaml")]
    readonly string? ImageMap;

    [Parameter("Directory of the secrets files (<environment>.env); a CI runner keeps it outside the checkout")]
    readonly string SecretsDir = SecretStore.DefaultDirectory;

    [Parameter("Host-wide directory of the environment locks (default: /run/lock/llmstack, else <temp>/llmstack-locks)")]
    readonly string? LockDir;

    [Parameter("How long a run that changes an environment waits for another run's lock (30s, 5m, 1h)")]
    readonly string LockTimeout = "5m";

    [Parameter("Print the report as one JSON document on standard output, everything else on standard error (Status*, SystemStatus, BackupList, BackupStatus, RetentionStatus, RetentionSimulate, ValidateCredentials, ValidateSecurity, WorkflowStatus)")]
    readonly bool Json;

    protected override bool WritesDocument => Json;

    ReportWriter Reports => new(Out, Document, Json);

    [Parameter("Logs: lines per container from the end (a number, or all)")]
    readonly string Tail = "100";

    [Parameter("Logs: only lines since a duration ago (10m, 1h30m) or a timestamp")]
    readonly string? Since;

    [Parameter("Logs: keep streaming until Ctrl-C")]
    readonly bool Follow;

    [Parameter("Logs: only this service")]
    readonly string? Service;

    EnvironmentSession? _stacks;

    EnvironmentSession Stacks => _stacks ??= new EnvironmentSession(new SessionOptions
    {
        Schema = SchemaFile,
        Environment = Environment,
        DockerHost = DockerHost,
        ImageMap = ImageMap,
        SecretsDirectory = SecretsDir,
        LockDirectory = LockDir,
        LockTimeout = Duration.ParseParameter("--lock-timeout", LockTimeout),
        Gate = new GateOptions(DryRun, Confirm, Console.In, !Console.IsInputRedirected, AuditLog.For(RootDirectory, Log)),
        Masker = Secrets,
        Log = Log,
        Out = Out,
        Reports = Reports,
        CurrentTarget = () => CurrentTarget?.Name,
        Command = string.Join(' ', InvokedTargets.Select(t => t.Name)),
        Cleanup = CleanupToken,
    });

    protected override void OnBuildFinished() => _stacks?.Dispose();

    protected override string? DescribeFailure(Exception exception) => Failures.Describe(exception);

    // Start: a stack after the stacks it depends on.
    Target StartCore => _ => StartStack(_, "core", nameof(StartCore));
    Target StartInference => _ => StartStack(_, "inference", nameof(StartInference)).DependsOn(StartCore);
    Target StartAi => _ => StartStack(_, "ai", nameof(StartAi)).DependsOn(StartCore, StartInference);
    Target StartUi => _ => StartStack(_, "ui", nameof(StartUi)).DependsOn(StartCore, StartInference, StartAi);
    Target StartTesting => _ => StartStack(_, "testing", nameof(StartTesting)).DependsOn(StartCore);
    Target StartMonitoring => _ => StartStack(_, "monitoring", nameof(StartMonitoring)).DependsOn(StartCore);

    Target Start => _ => _
        .Description("Start every stack of the environment, in dependency order.")
        .DependsOn(StartCore, StartInference, StartAi, StartUi, StartTesting, StartMonitoring);

    // Stop: the stacks that depend on a stack stop first.
    Target StopUi => _ => StopStack(_, "ui");
    Target StopAi => _ => StopStack(_, "ai").DependsOn(StopUi);
    Target StopInference => _ => StopStack(_, "inference").DependsOn(StopAi, StopUi);
    Target StopTesting => _ => StopStack(_, "testing");
    Target StopMonitoring => _ => StopStack(_, "monitoring");
    Target StopCore => _ => StopStack(_, "core").DependsOn(StopInference, StopAi, StopUi, StopTesting, StopMonitoring);

    Target Stop => _ => _
        .Description("Stop and remove every stack's containers (dependents first); volumes stay.")
        .DependsOn(StopUi, StopAi, StopInference, StopTesting, StopMonitoring, StopCore);

    // Restart: in place, health-gated; dependents keep running. In a full Restart, dependencies go first.
    Target RestartCore => _ => RestartStack(_, "core", nameof(RestartCore));
    Target RestartInference => _ => RestartStack(_, "inference", nameof(RestartInference)).After(RestartCore);
    Target RestartAi => _ => RestartStack(_, "ai", nameof(RestartAi)).After(RestartCore, RestartInference);
    Target RestartUi => _ => RestartStack(_, "ui", nameof(RestartUi)).After(RestartCore, RestartInference, RestartAi);
    Target RestartTesting => _ => RestartStack(_, "testing", nameof(RestartTesting)).After(RestartCore);
    Target RestartMonitoring => _ => RestartStack(_, "monitoring", nameof(RestartMonitoring)).After(RestartCore);

    Target Restart => _ => _
        .Description("Restart every running stack of the environment in dependency order, health-gated; stopped stacks are left alone.")
        .DependsOn(RestartCore, RestartInference, RestartAi, RestartUi, RestartTesting, RestartMonitoring)
        .Executes(() => Stacks.Restarted > 0
            ? Task.CompletedTask
            : throw new PipelineException($"nothing is running in environment {Environment}: use Start"));

    Target StatusCore => _ => StatusStack(_, "core");
    Target StatusInference => _ => StatusStack(_, "inference");
    Target StatusAi => _ => StatusStack(_, "ai");
    Target StatusUi => _ => StatusStack(_, "ui");
    Target StatusTesting => _ => StatusStack(_, "testing");
    Target StatusMonitoring => _ => StatusStack(_, "monitoring");

    Target SystemStatus => _ => _
        .Description("Every service of the environment, plus its networks and volumes (--json); non-zero exit when a started stack is partly down or unhealthy.")
        .Executes(ct => Stacks.SystemStatusAsync(ct));

    Target LogsCore => _ => LogsStack(_, "core");
    Target LogsInference => _ => LogsStack(_, "inference");
    Target LogsAi => _ => LogsStack(_, "ai");
    Target LogsUi => _ => LogsStack(_, "ui");
    Target LogsTesting => _ => LogsStack(_, "testing");
    Target LogsMonitoring => _ => LogsStack(_, "monitoring");

    bool IsInvoked(string target) => InvokedTargets.Any(t => t.Name == target);

    /// <summary>A stack the environment does not enable is skipped when pulled in, and an error when named on the command line.</summary>
    bool Wanted(string stack, string target) => Stacks.IsEnabled(stack) || IsInvoked(target);

    /// <summary>The skip reason of a stack target pulled in for a stack the environment does not enable.</summary>
    string NotEnabled(string stack) => $"stack {stack} is not enabled in environment {Environment}";

    ITargetDefinition StartStack(ITargetDefinition _, string stack, string target) => _
        .Description($"Start the {stack} stack: create missing networks, volumes and containers, wait until healthy.")
        .OnlyWhenStatic(() => Wanted(stack, target), () => NotEnabled(stack))
        .Executes(async ct => ReportSummary("Containers", (await Stacks.StartAsync(stack, ct)).ToString()));

    ITargetDefinition StopStack(ITargetDefinition _, string stack) => _
        .Description($"Stop and remove the {stack} stack's containers (graceful timeout); volumes stay; its network goes once unused.")
        .Executes(async ct => ReportSummary("Removed", (await Stacks.StopAsync(stack, ct)).ToString()));

    ITargetDefinition RestartStack(ITargetDefinition _, string stack, string target) => _
        .Description($"Restart the {stack} stack's running services in place in dependency order, each level health-gated, then bring up what of it is down or missing (as Start does); ends with every service running and healthy or fails naming it (an error if named while the stack is stopped).")
        .OnlyWhenStatic(() => Wanted(stack, target), () => NotEnabled(stack))
        .Executes(async ct => ReportSummary("Restarted", (await Stacks.RestartAsync(stack, IsInvoked(target), ct)).ToString()));

    ITargetDefinition StatusStack(ITargetDefinition _, string stack) => _
        .Description($"Per service of the {stack} stack: state, health, uptime, replicas, image, ports (--json); non-zero exit unless every service is running and healthy.")
        .Executes(ct => Stacks.StatusAsync(stack, ct));

    ITargetDefinition LogsStack(ITargetDefinition _, string stack) => _
        .Description($"Logs of the {stack} stack, prefixed by container (--tail, --since, --follow, --service).")
        .Executes(ct => Stacks.LogsAsync(stack, new LogOptions(Tail, Since, Follow, Service), ct));
}
