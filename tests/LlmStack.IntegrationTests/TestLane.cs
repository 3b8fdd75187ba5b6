using System.Collections.Concurrent;
using System.Globalization;
using System.Text.RegularExpressions;
using LlmStack.Compose;
using YamlDotNet.RepresentationModel;

namespace LlmStack.IntegrationTests;

/// <summary>
/// A lane of the integration tests: an xUnit collection whose classes run one after another, in an environment of its
/// own. The two lanes run beside each other on one engine and share nothing else: the second lane's environment is the
/// testing environment copied under another name (only its schema copies have it), with its own compose project, host
/// ports and subnets, and the product selects everything it does by labels. A class moves lanes by its collection and
/// the lane it names; balance the lanes by their classes' times (docs/ARCHITECTURE.md, Tests).
/// </summary>
public sealed partial class TestLane
{
    /// <summary>The collection of the first lane (the schema's own testing environment).</summary>
    public const string MainCollection = "docker";

    /// <summary>The collection of the second lane.</summary>
    public const string SecondCollection = "second";

    /// <summary>The testing environment as the schema has it.</summary>
    public static readonly TestLane Main = new(MainCollection, "testing", project: null, portOffset: 0, subnetPrefix: "10.83.");

    /// <summary>
    /// The testing environment copied as <c>secondlane</c>: project <c>multimodal-secondlane</c> (not a prefix of the other's,
    /// nor the other's of it), every host port 30000 higher, subnets 10.88.x.0/24 instead of 10.83.x.0/24.
    /// </summary>
    public static readonly TestLane Second = new(SecondCollection, "secondlane", "multimodal-secondlane", portOffset: 30000, subnetPrefix: "10.88.");

    private static readonly ConcurrentDictionary<string, string> SchemaCopies = new(StringComparer.Ordinal);
    private readonly string? _project;

    private TestLane(string collection, string environment, string? project, int portOffset, string subnetPrefix)
    {
        Collection = collection;
        Environment = environment;
        _project = project;
        PortOffset = portOffset;
        SubnetPrefix = subnetPrefix;
    }

    public string Collection { get; }

    /// <summary>The environment its classes run in (<c>--environment</c>, <c>--confirm</c>).</summary>
    public string Environment { get; }

    /// <summary>The environment's compose project, the prefix of every container, network and volume of the lane.</summary>
    public string Project => _project ?? TestNames.Project(Environment);

    public int PortOffset { get; }

    public string SubnetPrefix { get; }

    /// <summary>Whether this lane's environment is the schema's own (no schema copy or configuration copy needed).</summary>
    public bool IsMain => _project is null;

    public string Container(string service, int number = 1) => Names.Container(Project, service, number);

    public string Network(string stack) => $"{Project}_{stack}";

    public string Volume(string volume) => $"{Project}_{volume}";

    /// <summary>
    /// Whether an engine resource (container, volume or network, by name) is this lane's: its project's, its RestoreTest's
    /// throwaway project's, and for the second lane the networks a swarm makes for itself (ingress, docker_gwbridge:
    /// SwarmTests runs there). A test that compares the whole engine leaves out the other lane's, which may change meanwhile.
    /// </summary>
    public bool Owns(string name) =>
        new[] { Project, $"llmstack-restoretest-{Environment}" }.Any(p => name.StartsWith(p + "_", StringComparison.Ordinal) || name.StartsWith(p + "-", StringComparison.Ordinal))
        || (this == Second && name is "ingress" or "docker_gwbridge");

    /// <summary>The lane's environment's secret file of <paramref name="kind"/> (<c>env</c>, <c>backup-key</c>) under the repository's secrets.</summary>
    public string SecretFile(string root, string kind) => Path.Combine(root, "secrets", $"{Environment}.{kind}");

    /// <summary>
    /// The arguments every run of the lane takes after <c>--environment</c>: <c>--schema</c> when <paramref name="schema"/> (a
    /// class's copy) is given; for a lane other than the main one, its schema copy unless a class's, and a retention
    /// configuration with its environment (every run checks that its environment has retention settings).
    /// </summary>
    public IReadOnlyList<string> Arguments(string root, string? schema = null) =>
        IsMain
            ? schema is null ? [] : ["--schema", schema]
            : ["--schema", schema ?? Schema(root), "--retention-config", Config(root, "retention-policies.yaml")];

    /// <summary>A run of the lane (<see cref="TestRun"/> with its environment and <see cref="Arguments"/>).</summary>
    public TestRun Run(string root, string? schema = null) => new(root) { Environment = Environment, Arguments = Arguments(root, schema) };

    /// <summary>The default schema with the lane's environment (written once per test run; the default path for the main lane).</summary>
    public string Schema(string root) =>
        IsMain ? "schemas/compose-schema.yaml" : SchemaCopies.GetOrAdd("schema:" + root, _ => SchemaCopy.Write(root, AddTo));

    /// <summary>A shipped configuration (configs/<paramref name="name"/>) with the lane's environment added (written once per test run).</summary>
    public string Config(string root, string name) =>
        SchemaCopies.GetOrAdd($"{name}:{root}", _ =>
        {
            var path = Path.Combine(Path.GetTempPath(), $"llmstack-it-{Environment}-{Guid.NewGuid():N}-{name}");
            File.WriteAllText(path, WithEnvironment(File.ReadAllText(Path.Combine(root, "configs", name))));
            return path;
        });

    /// <summary>
    /// A configuration's text (backup-strategies.yaml, retention-policies.yaml: <c>environments:</c> keyed by name at two
    /// spaces) with the testing environment's block copied as this lane's; the text itself for the main lane. Apply it after
    /// any edit of the testing block, so the lane has the edit too.
    /// </summary>
    public string WithEnvironment(string config)
    {
        if (IsMain)
        {
            return config;
        }

        var block = TestingBlock().Match(config);
        block.Success.Should().BeTrue("the configuration has a testing environment to copy");
        return config.Insert(block.Index, $"  {Environment}:" + block.Value[("  testing:".Length)..]);
    }

    /// <summary>Adds the lane's environment to a schema: the testing environment copied, with the lane's project, ports and subnets (nothing for the main lane).</summary>
    public void AddTo(YamlMappingNode schema)
    {
        if (IsMain)
        {
            return;
        }

        var environments = schema.Map("environments");
        var testing = environments.Map("testing");
        var lane = new YamlMappingNode();
        foreach (var (key, value) in testing.Children)
        {
            lane.Add(key, value);
        }

        lane.Set("project", new YamlScalarNode(Project));
        var variables = new YamlMappingNode();
        foreach (var (key, value) in ((YamlMappingNode)testing["variables"]).Children)
        {
            var name = ((YamlScalarNode)key).Value!;
            var text = ((YamlScalarNode)value).Value!;
            variables.Add(name, name.EndsWith("_PORT", StringComparison.Ordinal)
                ? (int.Parse(text, CultureInfo.InvariantCulture) + PortOffset).ToString(CultureInfo.InvariantCulture)
                : text);
        }

        lane.Set("variables", variables);
        var networks = new YamlMappingNode();
        foreach (var (key, value) in ((YamlMappingNode)testing["networks"]).Children)
        {
            var network = (YamlMappingNode)value;
            networks.Add(key, new YamlMappingNode(
                "subnet", ((YamlScalarNode)network["subnet"]).Value!.Replace(Main.SubnetPrefix, SubnetPrefix, StringComparison.Ordinal),
                "gateway", ((YamlScalarNode)network["gateway"]).Value!.Replace(Main.SubnetPrefix, SubnetPrefix, StringComparison.Ordinal)));
        }

        lane.Set("networks", networks);
        environments.Set(Environment, lane);
    }

    public override string ToString() => Environment;

    /// <summary>The testing environment's block of a configuration: its key line and every line indented deeper (or blank) after it.</summary>
    [GeneratedRegex(@"^  testing:\n(?:(?:    .*|)\n)*", RegexOptions.Multiline)]
    private static partial Regex TestingBlock();
}
