using LlmStack.Networks;
using LlmStack.Pipeline;

/// <summary>Network management: conflicts, free subnets, drift, reachability, scoped cleanup.</summary>
interface INetworks : IHazEnvironment
{
    Target CheckNetworkConflicts => _ => _
        .Description("The environment's networks against the schema, every Docker network, host routes, interface addresses and DNS resolvers; non-zero exit on a conflict.")
        .After<ISchema>(x => x.ValidateSchema)
        .ProceedAfterFailure()
        .Executes(async ct => await NetworkCommands.CheckConflictsAsync(await Session.NetworksAsync(ct), Session.Environment, Out, Log, ct));

    Target SuggestSubnets => _ => _
        .Description("Free private subnets for the environment's networks (same prefix), as a ready-to-paste schema snippet.")
        .Executes(async ct => await NetworkCommands.SuggestAsync(await Session.NetworksAsync(ct), Session.Environment, Out, ct));

    Target ValidateNetworks => _ => _
        .Description("Live networks against the schema: existence, driver, subnet, gateway, labels, and which containers are attached; non-zero exit on drift.")
        .Executes(async ct => await NetworkCommands.ValidateAsync(await Session.NetworksAsync(ct), Session.Environment, Out, ct));

    Target CheckNetworkHealth => _ => _
        .Description("From inside each running service: resolve and connect to every dependency (cross-stack too) and fetch its health endpoint; a matrix; non-zero exit on a failure.")
        .Executes(async ct => await NetworkCommands.HealthAsync(await Session.NetworksAsync(ct), Session.Environment, Session.MapImage(HelperImage), Out, ct));

    Target CleanupNetworks => _ => _
        .Description("Remove this environment's labelled networks that are not in the schema, or unused while their stack is stopped, through the change gate (--dry-run; --confirm <environment>); audited.")
        .Executes(ct => Session.ChangeAsync(nameof(CleanupNetworks), async c => await (await Session.NetworksAsync(c)).CleanupPlanAsync(c), ct));
}
