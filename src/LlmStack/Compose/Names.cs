namespace LlmStack.Compose;

/// <summary>
/// Label keys and resource names. Every Docker resource LlmStack creates carries the compose labels and ours;
/// every query and destructive operation selects by them, never by name.
/// </summary>
public static class Names
{
    public const string ComposeProject = "com.docker.compose.project";
    public const string ComposeService = "com.docker.compose.service";
    public const string ComposeNetwork = "com.docker.compose.network";
    public const string ComposeVolume = "com.docker.compose.volume";
    public const string ComposeContainerNumber = "com.docker.compose.container-number";
    public const string ComposeOneoff = "com.docker.compose.oneoff";

    public const string Environment = "io.llmstack.environment";
    public const string Stack = "io.llmstack.stack";
    public const string Service = "io.llmstack.service";
    public const string Volume = "io.llmstack.volume";
    public const string ConfigHash = "io.llmstack.config-hash";

    /// <summary>On service containers: per-aspect digests of the definition (what a plan names when the config hash differs).</summary>
    public const string ConfigDigests = "io.llmstack.config-digests";
    public const string DependsOn = "io.llmstack.depends-on";
    public const string Managed = "io.llmstack.managed";

    /// <summary>A swarm service's definition hash: the same hash means a Start leaves the service as it is.</summary>
    public const string SpecHash = "io.llmstack.spec-hash";

    /// <summary>On a swarm's own labels: SwarmInit made it (the project that asked), so SwarmLeave may take it down.</summary>
    public const string Swarm = "io.llmstack.swarm";

    /// <summary>On a Swarm secret we created: the schema's secret it carries (its name on the swarm also has a hash of the value).</summary>
    public const string Secret = "io.llmstack.secret";

    /// <summary>Docker's label on a swarm task's container: the id of the service the task belongs to.</summary>
    public const string SwarmServiceId = "com.docker.swarm.service.id";
    public const string Image = "io.llmstack.image";

    /// <summary>On images LlmStack built: the content hash of the build context, Dockerfile, arguments and target they were built from.</summary>
    public const string BuildHash = "io.llmstack.build-hash";

    /// <summary>On one-off helper containers: what the helper is for (network-probe, volume-backup, …).</summary>
    public const string Helper = "io.llmstack.helper";

    /// <summary>On helper containers: the run that made it (host/pid), so leftovers of a killed run can be found.</summary>
    public const string Run = "io.llmstack.run";

    /// <summary>Container name of replica <paramref name="number"/> (compose v2 style): <c>&lt;project&gt;-&lt;service&gt;-&lt;n&gt;</c>.</summary>
    public static string Container(string project, string service, int number) => $"{project}-{service}-{number}";
}
