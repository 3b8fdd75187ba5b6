using System.Collections.Concurrent;
using LlmStack.Compose;
using LlmStack.Schema;

namespace LlmStack.IntegrationTests;

/// <summary>
/// The names LlmStack gives the Docker resources of an environment, for tests to find them and to expect them in
/// output. The compose project is the one the product resolves from the schema the build runs
/// (schemas/compose-schema.yaml); containers are named by the product's <see cref="Names.Container"/>, networks and
/// volumes as compose names them (<c>&lt;project&gt;_&lt;stack&gt;</c>, <c>&lt;project&gt;_&lt;volume&gt;</c>: docs/ARCHITECTURE.md,
/// Compose), also for a stack or volume the schema does not have (a look-alike a test makes on purpose).
/// </summary>
public static class TestNames
{
    private static readonly SchemaFile Default = new(DockerFixture.FindRoot(), "schemas/compose-schema.yaml");
    private static readonly ConcurrentDictionary<string, string> Projects = new(StringComparer.Ordinal);

    /// <summary>The schema's project name (<c>project.name</c>), the prefix of the environments' compose projects.</summary>
    public static string ProjectName => Default.Load().Project?.Name ?? throw new InvalidOperationException("schemas/compose-schema.yaml has no project name");

    /// <summary>
    /// The swarm lane's environment and project: SwarmTests runs in its own collection, beside the other classes (the
    /// <c>docker</c> collection), in an environment only its schema copy has — its own project, ports and subnets — so
    /// the two lanes share the engine and nothing else (everything the product does selects by labels).
    /// </summary>
    public const string SwarmEnvironment = "swarmtest";

    /// <summary>The compose project of <see cref="SwarmEnvironment"/> (the prefix of every resource the swarm lane makes).</summary>
    public const string SwarmProject = "multimodal-swarmtest";

    /// <summary>
    /// Whether an engine resource (container, volume or network, by name) belongs to the swarm lane, which may change
    /// while a test of the other lane compares the engine's state: its project's resources, and the networks a swarm
    /// makes for itself (ingress, docker_gwbridge).
    /// </summary>
    public static bool OfTheSwarmLane(string name) =>
        name.StartsWith(SwarmProject, StringComparison.Ordinal) || name is "ingress" or "docker_gwbridge";

    /// <summary>The compose project of an environment.</summary>
    public static string Project(string environment = "testing") =>
        environment == SwarmEnvironment ? SwarmProject : Projects.GetOrAdd(environment, e => Default.Resolve(e).Project);

    /// <summary>The container of a service's replica <paramref name="number"/>.</summary>
    public static string Container(string service, string environment = "testing", int number = 1) => Names.Container(Project(environment), service, number);

    /// <summary>The network of a stack.</summary>
    public static string Network(string stack, string environment = "testing") => $"{Project(environment)}_{stack}";

    /// <summary>A named volume (the key it has in the schema's <c>volumes:</c>).</summary>
    public static string Volume(string volume, string environment = "testing") => $"{Project(environment)}_{volume}";
}
