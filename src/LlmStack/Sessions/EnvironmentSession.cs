using LlmStack.ChangeControl;
using LlmStack.Engine;
using LlmStack.Images;
using LlmStack.Lifecycle;
using LlmStack.Networks;
using LlmStack.Orchestration;
using LlmStack.Pipeline;
using LlmStack.Reporting;
using LlmStack.Schema;
using LlmStack.Security;
using Serilog;

namespace LlmStack.Sessions;

/// <summary>What a run passes to its <see cref="EnvironmentSession"/>.</summary>
public sealed record SessionOptions
{
    public required SchemaFile Schema { get; init; }

    public required string Environment { get; init; }

    /// <summary>--orchestrator: overrides the environment's <c>orchestrator:</c> (null: the schema's).</summary>
    public Orchestrator? Orchestrator { get; init; }

    /// <summary>--docker-host; null uses DOCKER_HOST, else the default socket.</summary>
    public string? DockerHost { get; init; }

    public string? ImageMap { get; init; }

    /// <summary>--offline: images are never pulled; a missing one is listed in one line (builds still run).</summary>
    public bool Offline { get; init; }

    /// <summary>Where the run's persistent state lives: the state directory, the secrets directory (<c>&lt;environment&gt;.env</c>), the audit log, …</summary>
    public required StatePaths State { get; init; }

    /// <summary>The host-wide lock directory; null uses <see cref="EnvironmentLock.DefaultDirectory"/>.</summary>
    public string? LockDirectory { get; init; }

    public TimeSpan LockTimeout { get; init; } = TimeSpan.FromMinutes(5);

    public required GateOptions Gate { get; init; }

    public required SecretMasker Masker { get; init; }

    public required ILogger Log { get; init; }

    public required TextWriter Out { get; init; }

    /// <summary>How reports are written this run (table, or --json on standard output).</summary>
    public required ReportWriter Reports { get; init; }

    /// <summary>The target running now (recorded as the lock holder and in the audit log).</summary>
    public Func<string?> CurrentTarget { get; init; } = () => null;

    /// <summary>The invoked targets, for the lock holder's record.</summary>
    public string Command { get; init; } = string.Empty;

    /// <summary>
    /// The run's cleanup token (the engine's <c>CleanupToken</c>): cancelled only by a second Ctrl-C. Work that must finish
    /// after the first Ctrl-C — putting a safety backup back over a half-done restore — runs with it, never with
    /// <see cref="CancellationToken.None"/>, and names what is left undone when it is cancelled too.
    /// </summary>
    public CancellationToken Cleanup { get; init; }
}

/// <summary>
/// Everything the targets of one run share for one environment, each created on first use: the resolved environment,
/// one engine connection, the secrets, the image map, the environment lock (taken by the first target that changes
/// anything and held until the run ends), the change gate, the service lifecycle and the helper containers.
/// </summary>
public sealed class EnvironmentSession(SessionOptions options) : IDisposable
{
    private readonly ILogger _log = options.Log;
    private readonly SemaphoreSlim _locking = new(1, 1);
    private ResolvedEnvironment? _resolved;
    private DockerEngine? _engine;
    private SecretStore? _secrets;
    private ImageMap? _images;
    private ImageOperations? _imageOperations;
    private EnvironmentLock? _lock;
    private readonly Dictionary<string, EnvironmentSession> _siblings = new(StringComparer.Ordinal);
    private List<(string, ResolvedNetwork)>? _schemaNetworks;
    private IStackOrchestrator? _stacks;

    public SessionOptions Options => options;

    public ResolvedEnvironment Environment => _resolved ??= options.Schema.Resolve(options.Environment);

    /// <summary>What runs this environment's stacks: --orchestrator, else the schema's <c>orchestrator:</c>.</summary>
    public Orchestrator OrchestratorKind => options.Orchestrator ?? Environment.Orchestrator;

    /// <summary>The one orchestrator seam: the Start*, Stop*, Restart*, Rebuild*, Status* and Logs* targets go through it.</summary>
    public IStackOrchestrator Stacks => _stacks ??= OrchestratorKind switch
    {
        Orchestrator.Swarm => new SwarmOrchestrator(this),
        _ => new ContainerOrchestrator(this),
    };

    /// <summary>The swarm this run's engine is in (or is to make): init, nodes, node labels, leave.</summary>
    public async Task<SwarmCluster> SwarmAsync(CancellationToken cancellationToken) =>
        new(await EngineAsync(cancellationToken), Environment.Project, _log);

    /// <summary>SwarmInit: the default address pool kept clear of every environment's subnets in the schema.</summary>
    public async Task<string> SwarmInitAsync(SwarmInitOptions init, CancellationToken cancellationToken) =>
        await (await SwarmAsync(cancellationToken)).InitAsync(init, AllEnvironments().SelectMany(e => e.Environment.Networks.Select(n => n.Subnet)).ToList(), cancellationToken);

    public bool IsEnabled(string stack) => Environment.Stacks.Any(s => s.Name == stack);

    /// <summary>
    /// Whether a stack target runs: a stack the environment does not enable is skipped when the target is only pulled in
    /// (Start of a dependent), and an error (the target's own) when it is <paramref name="invoked"/>.
    /// </summary>
    public bool Wanted(string stack, bool invoked) => IsEnabled(stack) || invoked;

    /// <summary>The skip reason of a stack target pulled in for a stack the environment does not enable.</summary>
    public string NotEnabled(string stack) => $"stack {stack} is not enabled in environment {options.Environment}";

    /// <summary>Containers restarted by this run's Restart targets (the all-stacks Restart fails when nothing ran).</summary>
    public int Restarted { get; private set; }

    /// <summary>Counts what an orchestrator's Restart restarted (for <see cref="CheckRestarted"/>).</summary>
    internal void CountRestarted(int count) => Restarted += count;

    /// <summary>The all-stacks Restart: fails when no stack of the environment had anything running.</summary>
    public void CheckRestarted()
    {
        if (Restarted == 0)
        {
            throw new PipelineException($"nothing is running in environment {options.Environment}: use Start");
        }
    }

    public async Task<DockerEngine> EngineAsync(CancellationToken cancellationToken) =>
        _engine ??= await DockerEngine.ConnectAsync(options.DockerHost, _log, cancellationToken);

    /// <summary>Forgets the loaded secrets, so the next use reads the file again (after RotateSecret wrote it).</summary>
    public void ReloadSecrets() => _secrets = null;

    /// <summary>Where the environment's secrets file is (whether or not it exists; <see cref="SecretsAsync"/> creates it).</summary>
    public string SecretsPath => SecretStore.FileFor(options.State.Repository, options.State.Secrets, Environment.Name);

    /// <summary>
    /// The environment's secrets, the missing ones generated — unless existing data keeps a value that a new one would
    /// not match (<see cref="SecretGeneration"/>): then one line, and nothing is written.
    /// </summary>
    public async Task<SecretStore> SecretsAsync(CancellationToken cancellationToken)
    {
        if (_secrets is not null)
        {
            return _secrets;
        }

        var definitions = options.Schema.Load().Secrets;
        var missing = definitions.Keys.Except(SecretStore.Read(SecretsPath).Keys).ToList();
        if (missing.Count > 0)
        {
            await SecretGeneration.CheckAsync(await EngineAsync(cancellationToken), Environment, missing, definitions, SecretsPath, cancellationToken);
        }

        return _secrets = SecretStore.LoadOrGenerate(options.State.Repository, options.State.Secrets, Environment.Name, definitions, options.Masker, _log);
    }

    /// <summary>
    /// The --image-map, read once per run, by every target that uses it — Start*, Status* and SystemStatus (the image of a
    /// service without a container is the one Start would run), and the helper containers of backups, restores, verifies,
    /// retention, wipes and CheckNetworkHealth — before it touches anything: a missing or malformed file is one error.
    /// </summary>
    public ImageMap Images => _images ??= ImageMap.Load(options.ImageMap, options.Schema.RootDirectory);

    /// <summary>An image as this run uses it (after --image-map).</summary>
    public string MapImage(string image) => Images.Apply(image);

    /// <summary>
    /// The environment's images on the engine (builds, pulls, the Images report, the GPU check), with --image-map and
    /// --offline; the registry logins of this host are read when a pull or build first needs them, masked.
    /// </summary>
    public async Task<ImageOperations> ImageOperationsAsync(CancellationToken cancellationToken) =>
        _imageOperations ??= new ImageOperations(
            await EngineAsync(cancellationToken),
            Environment,
            () => Images,
            new ImageSettings(options.Offline, !options.Reports.Json && !Console.IsOutputRedirected, () => RegistryCredentials.Load(RegistryCredentials.DefaultPath(), options.Masker.Register)),
            _log);

    /// <summary>
    /// Takes the environment lock (endpoint + compose project) unless this run holds it already; it is kept until the
    /// run ends. Every target that changes the environment calls this before it looks at anything.
    /// </summary>
    public async Task LockAsync(CancellationToken cancellationToken)
    {
        await _locking.WaitAsync(cancellationToken);
        try
        {
            if (_lock is { IsHeld: true })
            {
                return;
            }

            var directory = options.LockDirectory is { Length: > 0 } custom
                ? Path.GetFullPath(custom, options.Schema.RootDirectory)
                : EnvironmentLock.DefaultDirectory();
            var me = new LockHolder(
                options.CurrentTarget() ?? "?", options.Command, System.Environment.ProcessId, System.Environment.UserName, System.Environment.MachineName,
                DateTimeOffset.Now, options.Schema.RootDirectory);
            _lock = await EnvironmentLock.AcquireAsync(
                directory,
                DockerEngine.ResolveEndpoint(options.DockerHost),
                Environment.Project,
                Environment.Name,
                me,
                options.LockTimeout,
                holder => _log.Warning(
                    "Environment {Environment} is locked by {Holder}: waiting up to {Timeout} (--lock-timeout)",
                    Environment.Name, holder?.ToString() ?? "another run", EnvironmentLock.Format(options.LockTimeout)),
                cancellationToken);
            _log.Debug("Holding the lock of {Environment}: {Path}", Environment.Name, _lock.LockPath);

            // Services a killed run left paused or stopped come back first.
            await (await LifecycleAsync(cancellationToken)).RecoverAsync(cancellationToken);
        }
        finally
        {
            _locking.Release();
        }
    }

    public bool HoldsLock => _lock is { IsHeld: true };

    /// <summary>The one way to change the environment destructively: plan under the lock, table, dry-run or confirm, apply, audit.</summary>
    public Task<GateOutcome> ChangeAsync(string target, Func<CancellationToken, Task<ChangePlan>> plan, CancellationToken cancellationToken, bool forceDryRun = false) =>
        new ChangeGate(forceDryRun ? options.Gate with { DryRun = true } : options.Gate, options.Out, _log).RunAsync(target, Environment.Name, LockAsync, plan, cancellationToken);

    /// <summary>
    /// The gate over several environments of the schema (WipeNuclear): every one's lock, taken in name order so two
    /// such runs cannot deadlock; confirmed by typing <paramref name="phrase"/>, never an environment's name.
    /// </summary>
    public Task<GateOutcome> ChangeAcrossAsync(
        string target, IReadOnlyList<EnvironmentSession> sessions, string scope, string phrase, Func<CancellationToken, Task<ChangePlan>> plan, CancellationToken cancellationToken) =>
        new ChangeGate(options.Gate, options.Out, _log).RunAsync(target, scope, async ct =>
        {
            foreach (var each in sessions.OrderBy(s => s.Environment.Name, StringComparer.Ordinal))
            {
                await each.LockAsync(ct);
            }
        }, plan, cancellationToken, phrase);

    /// <summary>A session of another environment of the same schema, with the same options (disposed with this one).</summary>
    public EnvironmentSession For(string environment)
    {
        if (environment == options.Environment)
        {
            return this;
        }

        if (!_siblings.TryGetValue(environment, out var sibling))
        {
            _siblings[environment] = sibling = new EnvironmentSession(options with { Environment = environment });
        }

        return sibling;
    }

    /// <summary>Every environment of the schema (this one included), in the schema's order.</summary>
    public IReadOnlyList<EnvironmentSession> AllEnvironments() => options.Schema.Load().Environments.Keys.Select(For).ToList();

    /// <summary>The service lifecycle; under the lock, its suspensions are journaled next to the lock file.</summary>
    public async Task<ServiceLifecycle> LifecycleAsync(CancellationToken cancellationToken) =>
        new(await EngineAsync(cancellationToken), Environment, _log, _lock is { IsHeld: true } held ? held.LockPath : null, options.Cleanup);

    public async Task<HelperContainers> HelpersAsync(CancellationToken cancellationToken) =>
        new(await EngineAsync(cancellationToken), Scope.Of(Environment), _log);

    /// <summary>The stacks' start, stop and restart, and the steps of a plan (<see cref="StartPlanner"/>) that Start and Deploy carry out.</summary>
    public async Task<StackOperations> OperationsAsync(CancellationToken cancellationToken) =>
        new(await EngineAsync(cancellationToken), Environment, options.Schema.RootDirectory, _log);

    /// <summary>Network checks for this environment, with every environment's networks of the schema for comparison.</summary>
    public async Task<NetworkOperations> NetworksAsync(CancellationToken cancellationToken)
    {
        _schemaNetworks ??= options.Schema.Load().Environments.Keys
            .SelectMany(name => (name == options.Environment ? Environment : options.Schema.Resolve(name)).Networks.Select(n => (name, n)))
            .ToList();
        return new NetworkOperations(await EngineAsync(cancellationToken), Environment, _schemaNetworks, await HelpersAsync(cancellationToken), await ImageOperationsAsync(cancellationToken));
    }

    /// <summary>
    /// Starts a stack under the lock. Before anything is created, the stack's images are built (missing, or their sources
    /// changed) and pulled (missing), and the networks it would create are checked for conflicts with the schema, Docker
    /// networks, host routes, interface addresses and resolvers.
    /// </summary>
    public async Task<StartReport> StartAsync(string stack, CancellationToken cancellationToken)
    {
        Environment.Stack(stack);
        var map = Images;
        await LockAsync(cancellationToken);
        var operations = await OperationsAsync(cancellationToken);
        var networks = await NetworksAsync(cancellationToken);
        var images = await ImageOperationsAsync(cancellationToken);
        var secrets = await SecretsAsync(cancellationToken);
        return await operations.StartAsync(stack, secrets, map, async (wanted, ct) =>
        {
            await images.EnsureAsync(Environment.Services.Where(s => s.Stack == stack).ToList(), ct);
            await CheckConflictsAsync(networks, wanted, ct);
        }, cancellationToken);
    }

    /// <summary>Networks about to be created against the schema, Docker's networks, host routes, interface addresses and resolvers: the conflicts and one error.</summary>
    public async Task CheckConflictsAsync(NetworkOperations networks, IReadOnlyList<ResolvedNetwork> wanted, CancellationToken cancellationToken)
    {
        var conflicts = await networks.ConflictsAsync(wanted, HostNetworkState.Read(), cancellationToken);
        if (conflicts.Count > 0)
        {
            NetworkCommands.WriteConflicts(options.Out, conflicts);
            throw NetworkCommands.ConflictError(Environment.Name, conflicts);
        }
    }

    /// <summary>
    /// Rebuild&lt;Stack&gt; under the lock: the stack's images built again without the cache (first, so a failing build leaves
    /// the stack as it was), then its services stopped and started again health-gated. Returns the images built and what
    /// the start did.
    /// </summary>
    public async Task<(int Built, StartReport Start)> RebuildAsync(string stack, CancellationToken cancellationToken)
    {
        Environment.Stack(stack);
        await LockAsync(cancellationToken);
        var built = await (await ImageOperationsAsync(cancellationToken)).RebuildAsync(stack, cancellationToken);
        await StopAsync(stack, cancellationToken);
        return (built, await StartAsync(stack, cancellationToken));
    }

    public async Task<int> StopAsync(string stack, CancellationToken cancellationToken)
    {
        await LockAsync(cancellationToken);
        return await (await OperationsAsync(cancellationToken)).StopAsync(stack, cancellationToken);
    }

    /// <summary>
    /// Restarts a stack under the lock: its running containers in place (dependency order, health-gated), then, when a
    /// service of the stack is down or missing, the stack brought up as Start brings it (started, created, repaired; the
    /// images and --image-map it needs), so a restart ends with
    /// every service of the stack running and healthy or fails naming the one that is not. A stack with nothing running
    /// fails only when <paramref name="required"/>, and is otherwise left stopped.
    /// </summary>
    public async Task<RestartReport> RestartAsync(string stack, bool required, CancellationToken cancellationToken)
    {
        Environment.Stack(stack);
        await LockAsync(cancellationToken);
        var count = await (await OperationsAsync(cancellationToken)).RestartAsync(stack, required, cancellationToken);
        Restarted += count;
        if (count == 0 || await StatusReport.AllReplicasRunningAsync(await EngineAsync(cancellationToken), Environment, stack, cancellationToken))
        {
            return new RestartReport(count, null);
        }

        return new RestartReport(count, await StartAsync(stack, cancellationToken));
    }

    /// <summary>Status&lt;Stack&gt;: the stack's services; fails (after the report) when one of them is not running and healthy.</summary>
    public async Task StatusAsync(string stack, CancellationToken cancellationToken)
    {
        Environment.Stack(stack);
        var images = Images;
        var services = await StatusReport.ServicesAsync(await EngineAsync(cancellationToken), Environment, stack, images, cancellationToken);
        options.Reports.Write(StatusReport.ForStack(services, Environment, stack));
    }

    /// <summary>SystemStatus: every service, network and volume; fails when a stack that is up is only partly up or unhealthy.</summary>
    public async Task SystemStatusAsync(CancellationToken cancellationToken)
    {
        var images = Images;
        var status = await StatusReport.SystemAsync(await EngineAsync(cancellationToken), Environment, images, cancellationToken);
        options.Reports.Write(StatusReport.ForSystem(status, Environment));
    }

    public async Task LogsAsync(string stack, LogOptions logOptions, CancellationToken cancellationToken)
    {
        Environment.Stack(stack);
        await LogStream.WriteAsync(await EngineAsync(cancellationToken), Environment, stack, logOptions, options.Out, cancellationToken);
    }

    public void Dispose()
    {
        foreach (var sibling in _siblings.Values)
        {
            sibling.Dispose();
        }

        _lock?.Dispose();
        _engine?.Dispose();
        _locking.Dispose();
    }
}
