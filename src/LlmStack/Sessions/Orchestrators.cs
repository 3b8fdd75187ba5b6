using LlmStack.Engine;
using LlmStack.Orchestration;
using LlmStack.Pipeline;
using LlmStack.Schema;

namespace LlmStack.Sessions;

/// <summary>Today's orchestrator: one engine's containers (<see cref="Lifecycle.StackOperations"/>, through the session).</summary>
internal sealed class ContainerOrchestrator(EnvironmentSession session) : IStackOrchestrator
{
    public Orchestrator Kind => Orchestrator.Containers;

    public async Task<StartSummary> StartAsync(string stack, CancellationToken cancellationToken) =>
        new("Containers", (await session.StartAsync(stack, cancellationToken)).ToString());

    public Task<int> StopAsync(string stack, CancellationToken cancellationToken) => session.StopAsync(stack, cancellationToken);

    public Task StatusAsync(string stack, CancellationToken cancellationToken) => session.StatusAsync(stack, cancellationToken);

    public async Task<string> RestartAsync(string stack, bool required, CancellationToken cancellationToken) =>
        (await session.RestartAsync(stack, required, cancellationToken)).ToString();

    public async Task<string> RebuildAsync(string stack, CancellationToken cancellationToken)
    {
        var (built, start) = await session.RebuildAsync(stack, cancellationToken);
        return $"{built} image(s); {start}";
    }

    public Task LogsAsync(string stack, LogOptions options, CancellationToken cancellationToken) => session.LogsAsync(stack, options, cancellationToken);
}

/// <summary>
/// Services on a Docker swarm (<see cref="SwarmStacks"/>), under the same lock and with the same checks before anything
/// is created as a container Start: images present (built, or pulled unless --offline), network conflicts, secrets.
/// </summary>
public sealed class SwarmOrchestrator(EnvironmentSession session) : IStackOrchestrator
{
    private bool _checked;

    public Orchestrator Kind => Orchestrator.Swarm;

    /// <summary>The environment's stacks on the swarm this run's engine manages.</summary>
    public async Task<SwarmStacks> StacksAsync(CancellationToken cancellationToken) =>
        new(await session.EngineAsync(cancellationToken), session.Environment, session.Options.Log);

    /// <summary>The endpoint mode this run's services get (the schema's, or for auto what this host's kernel can do).</summary>
    public EndpointChoice Endpoint => SwarmSpecs.Endpoint(session.Environment.Swarm.EndpointMode, SwarmSpecs.HostHasIpvs());

    /// <summary>The schema's secret names and the session's values, as a swarm Start mounts them.</summary>
    public SwarmSecretValues SecretValues(Func<string, string?> value) =>
        new(new HashSet<string>(session.Options.Schema.Load().Secrets.Keys, StringComparer.Ordinal), value);

    /// <summary>
    /// What Swarm cannot honour stops the run before anything is created (<see cref="RefuseWhatSwarmCannotHonour"/>),
    /// checked once per run: every stack's Start, Restart, Rebuild and Deploy of the run share the answer.
    /// </summary>
    public void Refuse()
    {
        if (!_checked)
        {
            RefuseWhatSwarmCannotHonour(session.Options.Schema, session.Environment.Name);
            _checked = true;
        }
    }

    public async Task<StartSummary> StartAsync(string stack, CancellationToken cancellationToken)
    {
        var environment = session.Environment;
        environment.Stack(stack);
        Refuse();
        var map = session.Images;
        await session.LockAsync(cancellationToken);
        var stacks = await StacksAsync(cancellationToken);
        await SwarmStacks.SwarmAsync(await session.EngineAsync(cancellationToken), cancellationToken);
        var secrets = await session.SecretsAsync(cancellationToken);
        var plans = ContainerSpecs.ForStack(environment, stack, map.Apply, secrets.Get, session.Options.Schema.RootDirectory);
        await (await session.ImageOperationsAsync(cancellationToken)).EnsureAsync(environment.Services.Where(s => s.Stack == stack).ToList(), cancellationToken);
        var existing = await stacks.ServicesAsync(stack, cancellationToken);
        if (existing.Count == 0)
        {
            await session.CheckConflictsAsync(await session.NetworksAsync(cancellationToken), [environment.NetworkOf(stack)], cancellationToken);
        }

        var endpoint = Endpoint;
        var actions = await stacks.StartAsync(stack, plans, endpoint, SecretValues(secrets.Get), cancellationToken);
        return new StartSummary("Services", $"{SwarmStacks.Summary(actions)} (endpoint mode {endpoint.Api})");
    }

    public async Task<int> StopAsync(string stack, CancellationToken cancellationToken)
    {
        session.Environment.Stack(stack);
        await session.LockAsync(cancellationToken);
        return await (await StacksAsync(cancellationToken)).StopAsync(stack, cancellationToken);
    }

    public async Task StatusAsync(string stack, CancellationToken cancellationToken)
    {
        session.Environment.Stack(stack);
        session.Options.Reports.Write(await (await StacksAsync(cancellationToken)).StatusAsync(stack, cancellationToken));
    }

    /// <summary>
    /// Restart on the swarm, under the lock: a rolling restart of the stack's services (<see cref="SwarmStacks.RestartAsync"/>),
    /// then — when a service of the stack is missing — the stack brought up as Start brings it.
    /// </summary>
    public async Task<string> RestartAsync(string stack, bool required, CancellationToken cancellationToken)
    {
        session.Environment.Stack(stack);
        Refuse();
        await session.LockAsync(cancellationToken);
        var missing = new List<string>();
        var count = await (await StacksAsync(cancellationToken)).RestartAsync(stack, missing, cancellationToken);
        if (count == 0)
        {
            if (required)
            {
                throw new PipelineException($"stack {stack} is not running on the swarm for {session.Environment.Name}: use Start{Health.Capitalize(stack)} --orchestrator swarm");
            }

            session.Options.Log.Information("Stack {Stack} is not running on the swarm for {Environment}: nothing to restart", stack, session.Environment.Name);
            return "0 service(s)";
        }

        session.CountRestarted(count);
        if (missing.Count == 0)
        {
            return $"{count} service(s) (rolling)";
        }

        session.Options.Log.Information("Missing from the swarm: {Services}; starting the stack", string.Join(", ", missing));
        return $"{count} service(s) (rolling); started: {await StartAsync(stack, cancellationToken)}";
    }

    /// <summary>
    /// Rebuild on the swarm, under the lock: the stack's images built again without the cache first (a failing build
    /// changes nothing), then every service of the stack rolled onto them (a forced update: the tag is the same, the
    /// image behind it is new), health-gated; a stack that is not on the swarm is started.
    /// </summary>
    public async Task<string> RebuildAsync(string stack, CancellationToken cancellationToken)
    {
        session.Environment.Stack(stack);
        Refuse();
        await session.LockAsync(cancellationToken);
        var built = await (await session.ImageOperationsAsync(cancellationToken)).RebuildAsync(stack, cancellationToken);
        var missing = new List<string>();
        var count = await (await StacksAsync(cancellationToken)).RestartAsync(stack, missing, cancellationToken);
        var started = missing.Count > 0 ? $"; started: {await StartAsync(stack, cancellationToken)}" : string.Empty;
        return $"{built} image(s); {count} service(s) updated (rolling){started}";
    }

    public async Task LogsAsync(string stack, LogOptions options, CancellationToken cancellationToken)
    {
        session.Environment.Stack(stack);
        await (await StacksAsync(cancellationToken)).LogsAsync(stack, options, session.Options.Out, cancellationToken);
    }

    /// <summary>
    /// What Swarm cannot honour (<see cref="SwarmCompatibility"/>: a container name, GPU device ids, a port bound to one
    /// host address without the acknowledgement, an unpinned data volume…) stops a Start before anything is created,
    /// naming the first problem at its file:line:col and the target that lists them all.
    /// </summary>
    internal static void RefuseWhatSwarmCannotHonour(SchemaFile schema, string environment)
    {
        var errors = SwarmCompatibility.Check(schema.Load(), environment, schema.RootDirectory).Where(d => d.IsError).ToList();
        if (errors.Count > 0)
        {
            throw new PipelineException(
                $"environment '{environment}' cannot run on a swarm as defined: {errors[0]}{(errors.Count > 1 ? $" (and {errors.Count - 1} more)" : string.Empty)}: run ValidateSchema --orchestrator swarm --environment {environment} for the list (docs/SWARM.md, What maps and what does not)");
        }
    }
}
