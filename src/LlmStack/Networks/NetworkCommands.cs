using LlmStack.Pipeline;
using LlmStack.Schema;

namespace LlmStack.Networks;

/// <summary>The network targets: print a table, then fail (non-zero) on conflicts, drift or failed probes.</summary>
public static class NetworkCommands
{
    public static void WriteConflicts(TextWriter output, IReadOnlyList<NetworkConflict> conflicts)
    {
        var table = new TextTable("NETWORK", "SUBNET", "KIND", "CONFLICTS WITH");
        foreach (var c in conflicts)
        {
            table.Add($"{c.Network}", c.Subnet.ToString(), c.Kind, c.With);
        }

        table.Write(output);
    }

    public static PipelineException ConflictError(string environment, IReadOnlyList<NetworkConflict> conflicts) =>
        new($"{conflicts.Count} network conflict(s) for environment {environment}, e.g. {conflicts[0].Subnet} ({conflicts[0].Stack}) with {conflicts[0].With}: run SuggestSubnets for free subnets");

    public static async Task CheckConflictsAsync(NetworkOperations networks, ResolvedEnvironment environment, TextWriter output, Serilog.ILogger log, CancellationToken cancellationToken)
    {
        var conflicts = await networks.ConflictsAsync(environment.Networks, HostNetworkState.Read(), cancellationToken);
        if (conflicts.Count == 0)
        {
            log.Information("No conflicts: {Count} network(s) of {Environment} checked against the schema, Docker networks, host routes, interface addresses and resolvers",
                environment.Networks.Count, environment.Name);
            return;
        }

        WriteConflicts(output, conflicts);
        throw ConflictError(environment.Name, conflicts);
    }

    public static async Task SuggestAsync(NetworkOperations networks, ResolvedEnvironment environment, TextWriter output, CancellationToken cancellationToken)
    {
        var suggestions = await networks.SuggestAsync(HostNetworkState.Read(), cancellationToken);
        output.WriteLine($"# Free subnets for environment {environment.Name}, checked against the other environments, Docker networks,");
        output.WriteLine("# host routes, interface addresses and resolvers. Paste into schemas/compose-schema.yaml:");
        output.WriteLine("environments:");
        output.WriteLine($"  {environment.Name}:");
        output.WriteLine("    networks:");
        foreach (var (stack, subnet, gateway, changed) in suggestions)
        {
            output.WriteLine($"      {stack}: {{ subnet: {subnet}, gateway: {gateway} }}{(changed ? "   # changed: the current one is taken" : string.Empty)}");
        }
    }

    public static async Task ValidateAsync(NetworkOperations networks, ResolvedEnvironment environment, TextWriter output, CancellationToken cancellationToken)
    {
        var (states, drift) = await networks.ValidateAsync(cancellationToken);
        var table = new TextTable("NETWORK", "STACK", "STATE", "EXPECTED", "ACTUAL", "CONTAINERS");
        foreach (var s in states)
        {
            table.Add(s.Name, s.Stack, s.State, s.Expected, s.Actual, s.Containers.Count == 0 ? "-" : string.Join(", ", s.Containers));
        }

        table.Write(output);
        if (drift.Count > 0)
        {
            output.WriteLine();
            foreach (var line in drift)
            {
                output.WriteLine("drift: " + line);
            }

            throw new PipelineException($"{drift.Count} network drift(s) in environment {environment.Name}, first: {drift[0]}");
        }
    }

    public static async Task HealthAsync(NetworkOperations networks, ResolvedEnvironment environment, string probeImage, TextWriter output, CancellationToken cancellationToken)
    {
        var results = await networks.HealthAsync(probeImage, cancellationToken);
        var table = new TextTable("FROM", "TO", "CHECK", "RESULT");
        foreach (var r in results)
        {
            table.Add(r.From, r.To, r.Check, r.Passed ? "ok" : "FAIL " + r.Detail);
        }

        table.Write(output);
        var failures = results.Where(r => !r.Passed).ToList();
        if (results.Count == 0)
        {
            throw new PipelineException($"nothing to probe in {environment.Name}: no running service with dependencies (start a stack first)");
        }

        if (failures.Count > 0)
        {
            throw new PipelineException(
                $"{failures.Count} of {results.Count} network check(s) failed in {environment.Name}: {string.Join("; ", failures.Take(3).Select(f => $"{f.From} -> {f.To} ({f.Check})"))}");
        }
    }

}
