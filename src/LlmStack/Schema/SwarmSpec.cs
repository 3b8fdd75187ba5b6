namespace LlmStack.Schema;

/// <summary>The schema's spellings of the swarm enums (<see cref="SwarmResolver"/> parses them; this writes them back for Docker and stack files).</summary>
public static class SwarmWords
{
    /// <summary><c>StartFirst</c> → <c>start-first</c>, <c>Rollback</c> → <c>rollback</c>: how the schema, Docker and stack files write it.</summary>
    public static string Text<T>(T value)
        where T : struct, Enum => SwarmResolver.Spelling(value);

    /// <summary>Swarm's restart condition for the schema's restart policy: <c>no</c> → none, <c>on-failure</c> → on-failure, <c>always</c>/<c>unless-stopped</c> → any.</summary>
    public static string RestartCondition(string restart) => restart switch
    {
        "no" => "none",
        "on-failure" => "on-failure",
        _ => "any",
    };
}

/// <summary>
/// A service's rolling-update policy on a swarm with the defaults filled in: the one policy both the swarm orchestrator
/// (Orchestration/SwarmSpecs) and the stack file use. The schema's <c>update:</c> is parsed and checked by
/// <see cref="SwarmResolver"/>; what it leaves out takes the defaults here.
/// </summary>
public sealed record SwarmUpdatePolicy(int Parallelism, UpdateOrder Order, UpdateFailureAction FailureAction, TimeSpan Monitor, TimeSpan Delay)
{
    /// <summary>Docker's own default monitor, used when a service has no healthcheck to wait for.</summary>
    public static readonly TimeSpan DockerDefaultMonitor = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The shortest monitor that can see a new task fail its healthcheck: start period + interval × retries (Docker's
    /// default monitor otherwise). A shorter one declares a rollout healthy before the first healthcheck could fail.
    /// </summary>
    public static TimeSpan MinimumMonitor(ResolvedService service) =>
        service.Healthcheck is { Disabled: false } check && check.Detection > TimeSpan.Zero ? check.Detection : DockerDefaultMonitor;

    /// <summary>
    /// The default monitor: the minimum plus each probe's timeout (a probe that hangs fails only after it), so a task that
    /// never turns healthy is caught by the monitor, not after it.
    /// </summary>
    public static TimeSpan DefaultMonitor(ResolvedService service) =>
        service.Healthcheck is { Disabled: false } check && check.Detection > TimeSpan.Zero
            ? check.StartPeriod + ((check.Interval + check.Timeout) * check.Retries)
            : DockerDefaultMonitor;

    /// <summary>A fixed host port published in host mode: the old task holds it, so a new task cannot start first.</summary>
    public static bool HoldsHostPort(ResolvedService service) => service.Ports.Any(p => p.HostPort is not null);

    /// <summary>
    /// The policy for a service: the schema's <c>update:</c> over the defaults — parallelism 1, rollback on failure, the
    /// default monitor, no delay, stop-first for a service with a named volume (two tasks must not write one volume) or a
    /// fixed host port (the old task holds it), start-first otherwise (the old task serves until the new one runs).
    /// </summary>
    public static SwarmUpdatePolicy For(ResolvedService service)
    {
        var update = service.Update;
        var order = update.Order ?? (service.HasDataVolume || HoldsHostPort(service) ? UpdateOrder.StopFirst : UpdateOrder.StartFirst);
        return new SwarmUpdatePolicy(update.Parallelism ?? 1, order, update.FailureAction ?? UpdateFailureAction.Rollback, update.Monitor ?? DefaultMonitor(service), update.Delay ?? TimeSpan.Zero);
    }

    /// <summary>How a rollback is carried out: as the update, but failures pause it (a failed rollback must not loop) and its watch is Docker's default (it restores a definition that was healthy).</summary>
    public SwarmUpdatePolicy Rollback => this with { FailureAction = UpdateFailureAction.Pause, Monitor = DockerDefaultMonitor, Delay = TimeSpan.Zero };
}

/// <summary>A secret the service reads from a file on a swarm: <c>Variable</c> is removed, <c>FileVariable</c> points at the mounted secret.</summary>
public sealed record SwarmSecretFile(string Variable, string Secret, string SwarmName)
{
    /// <summary><c>POSTGRES_PASSWORD_FILE</c>.</summary>
    public string FileVariable => Variable + "_FILE";

    /// <summary>The file name under <c>/run/secrets/</c>: the schema's secret name.</summary>
    public string Target => Secret;

    /// <summary><c>/run/secrets/POSTGRES_PASSWORD</c>.</summary>
    public string Path => "/run/secrets/" + Secret;
}

/// <summary>
/// How a service's secrets travel on a swarm. The variables listed under <c>secret_files:</c> (whose value is exactly one
/// schema secret, and whose image reads <c>&lt;VAR&gt;_FILE</c>) become Swarm secrets mounted under <c>/run/secrets/</c>:
/// the variable is removed and <c>&lt;VAR&gt;_FILE</c> set to the file. Every other value that references a secret stays an
/// environment value, readable by whoever can inspect the service (<see cref="Visible"/>).
/// </summary>
public sealed record SwarmSecretPlan
{
    /// <summary>The variables that become files, in the schema's order.</summary>
    public required IReadOnlyList<SwarmSecretFile> Files { get; init; }

    /// <summary>The service's environment on the swarm (compose form): the file variables replaced by their <c>_FILE</c> path, in place.</summary>
    public required IReadOnlyList<KeyValuePair<string, string>> Environment { get; init; }

    /// <summary>Environment variables that still carry a secret in their value (visible in the service's spec), with the secrets they carry.</summary>
    public required IReadOnlyList<KeyValuePair<string, IReadOnlyList<string>>> Visible { get; init; }

    /// <summary>The Swarm secrets the service needs (distinct), by the schema's secret name.</summary>
    public IReadOnlyList<SwarmSecretFile> Secrets => Files.DistinctBy(f => f.Secret).ToList();

    /// <summary>The Swarm secret of a schema secret in an environment: <c>&lt;project&gt;_&lt;SECRET&gt;</c>.</summary>
    public static string SwarmName(string project, string secret) => $"{project}_{secret}";

    /// <summary>
    /// The plan for one service. <paramref name="secretFiles"/> is the schema's <c>secret_files:</c> (merged for the
    /// environment); <paramref name="secrets"/> the schema's secret names. Each problem (index into
    /// <paramref name="secretFiles"/>, message) goes to <paramref name="problem"/>; a variable with a problem stays an
    /// environment value.
    /// </summary>
    public static SwarmSecretPlan For(string project, ResolvedService service, IReadOnlyList<string>? secretFiles, IReadOnlySet<string> secrets, Action<int, string>? problem = null)
    {
        var files = new List<SwarmSecretFile>();
        for (var i = 0; i < (secretFiles?.Count ?? 0); i++)
        {
            var variable = secretFiles![i];
            var entry = service.Environment.FirstOrDefault(kv => kv.Key == variable);
            if (entry.Key is null || files.Any(f => f.Variable == variable))
            {
                continue; // not in its environment: SwarmResolver reports it; named twice: once is enough
            }

            if (service.Environment.Any(kv => kv.Key == variable + "_FILE"))
            {
                problem?.Invoke(i, $"service '{service.Name}': secret_files names '{variable}', but its environment already sets {variable}_FILE");
                continue;
            }

            var referenced = Interpolation.References(entry.Value).Distinct().ToList();
            if (referenced is not [var secret] || !secrets.Contains(secret) || entry.Value != $"${{{secret}}}")
            {
                problem?.Invoke(i, $"service '{service.Name}': secret_files names '{variable}', whose value '{entry.Value}' is not exactly one secret (\"${{SECRET}}\"): only a whole secret can be a file");
                continue;
            }

            files.Add(new SwarmSecretFile(variable, secret, SwarmName(project, secret)));
        }

        var environment = service.Environment
            .Select(kv => files.FirstOrDefault(f => f.Variable == kv.Key) is { } file
                ? new KeyValuePair<string, string>(file.FileVariable, file.Path)
                : kv)
            .ToList();
        var visible = environment
            .Select(kv => new KeyValuePair<string, IReadOnlyList<string>>(kv.Key, Interpolation.References(kv.Value).Where(secrets.Contains).Distinct().ToList()))
            .Where(kv => kv.Value.Count > 0)
            .ToList();
        return new SwarmSecretPlan { Files = files, Environment = environment, Visible = visible };
    }
}

/// <summary>One service of an environment as a swarm runs it: what the resolved service does not carry (placement, update policy, secrets).</summary>
public sealed record SwarmServicePlan(ResolvedService Service, IReadOnlyList<string> Constraints, SwarmUpdatePolicy Update, SwarmSecretPlan Secrets)
{
    /// <summary>Generic resources a GPU request reserves (<c>NVIDIA-GPU</c> × count); none for <c>count: all</c> or device ids.</summary>
    public const string GpuResourceKind = "NVIDIA-GPU";

    /// <summary><c>node.labels.K == V</c> for each placement label, by key: the constraints of the service on a swarm and in the stack file.</summary>
    public static IReadOnlyList<string> ConstraintsOf(ResolvedService service) =>
        service.Placement.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"node.labels.{kv.Key} == {kv.Value}").ToList();
}

/// <summary>An environment as a swarm runs it: the endpoint mode, whether host-IP ports are published on all interfaces, and each service.</summary>
public sealed record SwarmEnvironment(ResolvedEnvironment Environment, EndpointMode EndpointMode, bool PublishAllInterfaces, IReadOnlyList<SwarmServicePlan> Services)
{
    /// <summary>
    /// The swarm view of a resolved environment, read from the schema's <c>swarm:</c>, <c>placement:</c>, <c>update:</c> and
    /// <c>secret_files:</c> (environment overrides merged as for every key). Problems with those keys go to
    /// <paramref name="diagnostics"/> when given (<see cref="SwarmCompatibility"/> reports them).
    /// </summary>
    public static SwarmEnvironment Of(ComposeSchema schema, ResolvedEnvironment environment, DiagnosticBag? diagnostics = null)
    {

        var secrets = new HashSet<string>(schema.Secrets.Keys, StringComparer.Ordinal);
        var services = new List<SwarmServicePlan>();
        foreach (var service in environment.Services)
        {
            var merged = Merged(schema, environment.Name, service.Name);
            var update = SwarmUpdatePolicy.For(service);
            var plan = SwarmSecretPlan.For(environment.Project, service, service.SecretFiles, secrets,
                (index, message) => diagnostics?.Error(merged.Locate($"secret_files[{index}]"), message));
            foreach (var (key, value) in merged.Placement?.Labels ?? [])
            {
                if (string.IsNullOrWhiteSpace(key) || string.IsNullOrWhiteSpace(value) || key.Any(char.IsWhiteSpace) || value.Any(char.IsWhiteSpace))
                {
                    diagnostics?.Error(merged.Placement!.Locate($"labels.{key}"), $"service '{service.Name}': placement label '{key}: {value}' needs a key and a value without spaces");
                }
            }

            services.Add(new SwarmServicePlan(service, SwarmServicePlan.ConstraintsOf(service), update, plan));
        }

        return new SwarmEnvironment(environment, environment.Swarm.EndpointMode, environment.Swarm.PublishAllInterfaces, services);
    }

    /// <summary>A service's definition with its environment's overrides on top.</summary>
    internal static ServiceDefinition Merged(ComposeSchema schema, string environment, string service) =>
        schema.Environments[environment].Services.TryGetValue(service, out var overrides)
            ? ServiceMerger.Merge(schema.Services[service], overrides)
            : schema.Services[service];

    /// <summary>The endpoint mode a file or service states: vip only when the schema asks for it; dnsrr otherwise (works without IPVS).</summary>
    public string EndpointModeText => EndpointMode == EndpointMode.Vip ? "vip" : "dnsrr";

    /// <summary>Whether a port can be published on a swarm: no host IP, a wildcard, or an environment that acknowledges publishing on all interfaces.</summary>
    public bool Publishable(PortMapping port) => PublishAllInterfaces || !PortBindsHostIp(port);

    /// <summary>A port bound to one host address (<c>127.0.0.1:5432:5432</c>), which Swarm cannot do.</summary>
    public static bool PortBindsHostIp(PortMapping port) => port.HostIp is { Length: > 0 } ip && ip is not ("0.0.0.0" or "::");
}
