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

    /// <summary>The compose project of an environment.</summary>
    public static string Project(string environment = "testing") =>
        environment == TestLane.Second.Environment ? TestLane.Second.Project : Projects.GetOrAdd(environment, e => Default.Resolve(e).Project);

    /// <summary>The container of a service's replica <paramref name="number"/>.</summary>
    public static string Container(string service, string environment = "testing", int number = 1) => Names.Container(Project(environment), service, number);

    /// <summary>The network of a stack.</summary>
    public static string Network(string stack, string environment = "testing") => $"{Project(environment)}_{stack}";

    /// <summary>A named volume (the key it has in the schema's <c>volumes:</c>).</summary>
    public static string Volume(string volume, string environment = "testing") => $"{Project(environment)}_{volume}";
}
