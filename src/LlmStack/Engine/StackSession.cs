using LlmStack.Networks;
using LlmStack.Pipeline;
using LlmStack.Schema;
using LlmStack.Security;
using Serilog;

namespace LlmStack.Engine;

/// <summary>
/// Everything the stack targets of one run share: the resolved environment, one engine connection, the
/// environment's secrets and the image map, each created on first use.
/// </summary>
public sealed class StackSession(SchemaFile schema, string environment, string? dockerHost, string? imageMap, SecretMasker masker, ILogger log) : IDisposable
{
    private ResolvedEnvironment? _resolved;
    private DockerEngine? _engine;
    private SecretStore? _secrets;
    private List<(string, ResolvedNetwork)>? _schemaNetworks;

    public ResolvedEnvironment Environment => _resolved ??= schema.Resolve(environment);

    public bool IsEnabled(string stack) => Environment.Stacks.Any(s => s.Name == stack);

    public async Task<DockerEngine> EngineAsync(CancellationToken cancellationToken) =>
        _engine ??= await DockerEngine.ConnectAsync(dockerHost, log, cancellationToken);

    public SecretStore Secrets =>
        _secrets ??= SecretStore.LoadOrGenerate(schema.RootDirectory, Environment.Name, schema.Load().Secrets, masker, log);

    private async Task<StackOperations> OperationsAsync(CancellationToken cancellationToken) =>
        new(await EngineAsync(cancellationToken), Environment, schema.RootDirectory, log);

    /// <summary>An image as this run uses it (after --image-map).</summary>
    public string MapImage(string image) => ImageMap.Load(imageMap, schema.RootDirectory).Apply(image);

    /// <summary>Network checks for this environment, with every environment's networks of the schema for comparison.</summary>
    public async Task<NetworkOperations> NetworksAsync(CancellationToken cancellationToken)
    {
        _schemaNetworks ??= schema.Load().Environments.Keys
            .SelectMany(name => (name == environment ? Environment : schema.Resolve(name)).Networks.Select(n => (name, n)))
            .ToList();
        return new NetworkOperations(await EngineAsync(cancellationToken), Environment, _schemaNetworks, log);
    }

    /// <summary>
    /// Starts a stack. Before anything is created, the networks it would create are checked for conflicts with
    /// the schema, Docker networks, host routes, interface addresses and resolvers.
    /// </summary>
    public async Task<StartReport> StartAsync(string stack, TextWriter output, CancellationToken cancellationToken)
    {
        Environment.Stack(stack);
        var map = ImageMap.Load(imageMap, schema.RootDirectory);
        var operations = await OperationsAsync(cancellationToken);
        var networks = await NetworksAsync(cancellationToken);
        return await operations.StartAsync(stack, Secrets, map, async (wanted, ct) =>
        {
            var conflicts = await networks.ConflictsAsync(wanted, HostNetworkState.Read(), ct);
            if (conflicts.Count > 0)
            {
                NetworkCommands.WriteConflicts(output, conflicts);
                throw NetworkCommands.ConflictError(Environment.Name, conflicts);
            }
        }, cancellationToken);
    }

    public async Task<int> StopAsync(string stack, CancellationToken cancellationToken) =>
        await (await OperationsAsync(cancellationToken)).StopAsync(stack, cancellationToken);

    public async Task RestartAsync(string stack, CancellationToken cancellationToken) =>
        await (await OperationsAsync(cancellationToken)).RestartAsync(stack, cancellationToken);

    public async Task StatusAsync(string stack, bool json, TextWriter output, CancellationToken cancellationToken)
    {
        Environment.Stack(stack);
        var services = await StatusReport.ServicesAsync(await EngineAsync(cancellationToken), Environment, stack, cancellationToken);
        if (json)
        {
            output.WriteLine(StatusReport.ToJson(services));
        }
        else
        {
            StatusReport.WriteServices(output, services);
        }
    }

    public async Task SystemStatusAsync(bool json, TextWriter output, CancellationToken cancellationToken)
    {
        var status = await StatusReport.SystemAsync(await EngineAsync(cancellationToken), Environment, cancellationToken);
        if (json)
        {
            output.WriteLine(StatusReport.ToJson(status));
        }
        else
        {
            StatusReport.WriteSystem(output, status);
        }
    }

    public async Task LogsAsync(string stack, LogOptions options, TextWriter output, CancellationToken cancellationToken)
    {
        Environment.Stack(stack);
        await LogStream.WriteAsync(await EngineAsync(cancellationToken), Environment, stack, options, output, cancellationToken);
    }

    public void Dispose() => _engine?.Dispose();
}
