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
}

/// <summary>
/// Services on a Docker swarm (<see cref="SwarmStacks"/>), under the same lock and with the same checks before anything
/// is created as a container Start: images present (built, or pulled unless --offline), network conflicts, secrets.
/// </summary>
internal sealed class SwarmOrchestrator(EnvironmentSession session) : IStackOrchestrator
{
    public Orchestrator Kind => Orchestrator.Swarm;

    private async Task<SwarmStacks> StacksAsync(CancellationToken cancellationToken) =>
        new(await session.EngineAsync(cancellationToken), session.Environment, session.Options.Log);

    public async Task<StartSummary> StartAsync(string stack, CancellationToken cancellationToken)
    {
        var environment = session.Environment;
        environment.Stack(stack);
        RefuseWhatSwarmCannotHonour(session.Options.Schema, environment.Name);
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

        var endpoint = SwarmSpecs.Endpoint(environment.Swarm.EndpointMode, SwarmSpecs.HostHasIpvs());
        var names = new HashSet<string>(session.Options.Schema.Load().Secrets.Keys, StringComparer.Ordinal);
        var actions = await stacks.StartAsync(stack, plans, endpoint, new SwarmSecretValues(names, secrets.Get), cancellationToken);
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

    /// <summary>What the swarm orchestrator does not do yet, in one line naming the way that works.</summary>
    public static PipelineException Unavailable(string what) =>
        new($"{what} is not available with the swarm orchestrator: use Stop<Stack> then Start<Stack> (--orchestrator swarm), or the containers orchestrator (docs/SWARM.md)");
}
