namespace LlmStack.Schema;

/// <summary>What runs an environment: one engine's containers (today's), or services on a Docker swarm.</summary>
public enum Orchestrator
{
    Containers,
    Swarm,
}

/// <summary>The schema's words for <see cref="Orchestrator"/> and the swarm settings, mapped once.</summary>
public static class SwarmWords
{
    public static bool TryOrchestrator(string? text, out Orchestrator orchestrator)
    {
        orchestrator = Orchestrator.Containers;
        switch (text)
        {
            case null or "containers":
                return true;
            case "swarm":
                orchestrator = Orchestrator.Swarm;
                return true;
            default:
                return false;
        }
    }

    /// <summary>An environment's own orchestrator (<c>orchestrator:</c>, default containers; an unknown word counts as containers and is reported by the check).</summary>
    public static Orchestrator Of(EnvironmentDefinition environment) =>
        TryOrchestrator(environment.Orchestrator, out var orchestrator) ? orchestrator : Orchestrator.Containers;

    public static bool TryEndpointMode(string? text, out SwarmEndpointMode mode)
    {
        mode = text switch
        {
            null or "auto" => SwarmEndpointMode.Auto,
            "vip" => SwarmEndpointMode.Vip,
            "dnsrr" => SwarmEndpointMode.Dnsrr,
            _ => (SwarmEndpointMode)(-1),
        };
        return Enum.IsDefined(mode);
    }

    public static string Text(SwarmEndpointMode mode) => mode switch
    {
        SwarmEndpointMode.Vip => "vip",
        SwarmEndpointMode.Dnsrr => "dnsrr",
        _ => "auto",
    };

    public static bool TryOrder(string text, out SwarmUpdateOrder order)
    {
        order = text == "start-first" ? SwarmUpdateOrder.StartFirst : SwarmUpdateOrder.StopFirst;
        return text is "start-first" or "stop-first";
    }

    public static string Text(SwarmUpdateOrder order) => order == SwarmUpdateOrder.StartFirst ? "start-first" : "stop-first";

    public static bool TryFailureAction(string text, out SwarmFailureAction action)
    {
        action = text switch
        {
            "pause" => SwarmFailureAction.Pause,
            "continue" => SwarmFailureAction.Continue,
            _ => SwarmFailureAction.Rollback,
        };
        return text is "rollback" or "pause" or "continue";
    }

    public static string Text(SwarmFailureAction action) => action switch
    {
        SwarmFailureAction.Pause => "pause",
        SwarmFailureAction.Continue => "continue",
        _ => "rollback",
    };

    /// <summary>Swarm's restart condition for the schema's restart policy: <c>no</c> → none, <c>on-failure</c> → on-failure, <c>always</c>/<c>unless-stopped</c> → any.</summary>
    public static string RestartCondition(string restart) => restart switch
    {
        "no" => "none",
        "on-failure" => "on-failure",
        _ => "any",
    };
}

/// <summary><c>swarm.endpoint_mode</c>: auto (dnsrr where the kernel has no IPVS), vip, dnsrr.</summary>
public enum SwarmEndpointMode
{
    Auto,
    Vip,
    Dnsrr,
}

public enum SwarmUpdateOrder
{
    StopFirst,
    StartFirst,
}

public enum SwarmFailureAction
{
    Rollback,
    Pause,
    Continue,
}

/// <summary>A service's rolling-update policy on a swarm, with the defaults filled in.</summary>
public sealed record SwarmUpdatePolicy(int Parallelism, SwarmUpdateOrder Order, SwarmFailureAction FailureAction, TimeSpan Monitor, TimeSpan Delay)
{
    /// <summary>Docker's own default monitor, used when a service has no healthcheck to wait for.</summary>
    public static readonly TimeSpan DockerDefaultMonitor = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The shortest monitor that can see a new task fail its healthcheck: start period + interval × retries (Docker's
    /// default monitor otherwise). A shorter one declares a rollout healthy before the first healthcheck could fail.
    /// </summary>
    public static TimeSpan MinimumMonitor(ResolvedService service) =>
        service.Healthcheck is { Disabled: false } check
            ? check.StartPeriod + (check.Interval * check.Retries)
            : DockerDefaultMonitor;

    /// <summary>
    /// The default monitor: the minimum plus each probe's timeout (a probe that hangs fails only after it), so a task that
    /// never turns healthy is caught by the monitor, not after it.
    /// </summary>
    public static TimeSpan DefaultMonitor(ResolvedService service) =>
        service.Healthcheck is { Disabled: false } check
            ? check.StartPeriod + ((check.Interval + check.Timeout) * check.Retries)
            : DockerDefaultMonitor;

    /// <summary>A fixed host port published in host mode: the old task holds it, so a new task cannot start first.</summary>
    public static bool HoldsHostPort(ResolvedService service) => service.Ports.Any(p => p.HostPort is not null);

    /// <summary>A named volume: two tasks of the service would share it during a start-first update.</summary>
    public static bool HasNamedVolume(ResolvedService service) => service.Volumes.Any(v => v.Kind == MountKind.Volume);

    /// <summary>
    /// The policy for a service: the schema's <c>update:</c> over the defaults (parallelism 1, rollback on failure, the
    /// default monitor, no delay, stop-first for a service with a named volume or a fixed host port, start-first
    /// otherwise). Each problem goes to <paramref name="problem"/> (error or warning, where, message).
    /// </summary>
    public static SwarmUpdatePolicy For(ResolvedService service, UpdatePolicyDefinition? update, Action<Severity, SourceLocation, string>? problem = null)
    {
        void Report(Severity severity, string key, string message) =>
            problem?.Invoke(severity, update!.Has(key) ? update.Locate(key) : update!.Location, $"service '{service.Name}': {message}");

        var stopFirst = HasNamedVolume(service) || HoldsHostPort(service);
        var order = stopFirst ? SwarmUpdateOrder.StopFirst : SwarmUpdateOrder.StartFirst;
        var parallelism = 1;
        var action = SwarmFailureAction.Rollback;
        var minimum = MinimumMonitor(service);
        var monitor = DefaultMonitor(service);
        var delay = TimeSpan.Zero;
        if (update is null)
        {
            return new SwarmUpdatePolicy(parallelism, order, action, monitor, delay);
        }

        if (update.Parallelism is { } given)
        {
            if (given < 0)
            {
                Report(Severity.Error, "parallelism", $"update parallelism must be 0 (all tasks at once) or more, not {given}");
            }
            else
            {
                parallelism = given;
            }
        }

        if (update.Order is { } orderText)
        {
            if (!SwarmWords.TryOrder(orderText, out var chosen))
            {
                Report(Severity.Error, "order", $"update order '{orderText}' is not start-first or stop-first");
            }
            else
            {
                order = chosen;
                if (chosen == SwarmUpdateOrder.StartFirst && HoldsHostPort(service))
                {
                    Report(Severity.Error, "order",
                        $"update order start-first cannot work: the service publishes host port {service.Ports.First(p => p.HostPort is not null).HostPort} in host mode, which the old task holds until it stops (use stop-first, or publish no fixed host port)");
                }
                else if (chosen == SwarmUpdateOrder.StartFirst && HasNamedVolume(service))
                {
                    Report(Severity.Warning, "order",
                        $"update order start-first runs the old and the new task on the same named volume ({string.Join(", ", service.Volumes.Where(v => v.Kind == MountKind.Volume).Select(v => v.Source))}) at once");
                }
            }
        }

        if (update.FailureAction is { } actionText)
        {
            if (!SwarmWords.TryFailureAction(actionText, out action))
            {
                Report(Severity.Error, "failure_action", $"update failure_action '{actionText}' is not rollback, pause or continue");
            }
        }

        if (update.Monitor is { } monitorText)
        {
            if (!Duration.TryParse(monitorText, out var chosen))
            {
                Report(Severity.Error, "monitor", $"update monitor '{monitorText}' is not a duration like 90s or 2m");
            }
            else if (chosen < minimum)
            {
                Report(Severity.Error, "monitor",
                    $"update monitor {monitorText} is shorter than start period + interval × retries ({Duration.Format(minimum)}): a rollout would be declared healthy before the healthcheck could fail (leave monitor out for the default {Duration.Format(monitor)})");
            }
            else
            {
                monitor = chosen;
            }
        }

        if (update.Delay is { } delayText)
        {
            if (!Duration.TryParse(delayText, out delay))
            {
                Report(Severity.Error, "delay", $"update delay '{delayText}' is not a duration like 10s");
            }
        }

        return new SwarmUpdatePolicy(parallelism, order, action, monitor, delay);
    }
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
            if (entry.Key is null)
            {
                problem?.Invoke(i, $"service '{service.Name}': secret_files names '{variable}', which is not in its environment");
                continue;
            }

            if (files.Any(f => f.Variable == variable))
            {
                problem?.Invoke(i, $"service '{service.Name}': secret_files names '{variable}' twice");
                continue;
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
public sealed record SwarmService(ResolvedService Service, IReadOnlyList<string> Constraints, SwarmUpdatePolicy Update, SwarmSecretPlan Secrets)
{
    /// <summary>Generic resources a GPU request reserves (<c>NVIDIA-GPU</c> × count); none for <c>count: all</c> or device ids.</summary>
    public const string GpuResourceKind = "NVIDIA-GPU";

    /// <summary><c>node.labels.K == V</c> for each placement label, in the schema's order.</summary>
    public static IReadOnlyList<string> ConstraintsOf(PlacementDefinition? placement) =>
        (placement?.Labels ?? []).Select(kv => $"node.labels.{kv.Key} == {kv.Value}").ToList();
}

/// <summary>An environment as a swarm runs it: the endpoint mode, whether host-IP ports are published on all interfaces, and each service.</summary>
public sealed record SwarmEnvironment(ResolvedEnvironment Environment, SwarmEndpointMode EndpointMode, bool PublishAllInterfaces, IReadOnlyList<SwarmService> Services)
{
    /// <summary>
    /// The swarm view of a resolved environment, read from the schema's <c>swarm:</c>, <c>placement:</c>, <c>update:</c> and
    /// <c>secret_files:</c> (environment overrides merged as for every key). Problems with those keys go to
    /// <paramref name="diagnostics"/> when given (<see cref="SwarmCompatibility"/> reports them).
    /// </summary>
    public static SwarmEnvironment Of(ComposeSchema schema, ResolvedEnvironment environment, DiagnosticBag? diagnostics = null)
    {
        var definition = schema.Environments[environment.Name];
        var settings = definition.Swarm;
        if (!SwarmWords.TryEndpointMode(settings?.EndpointMode, out var mode))
        {
            diagnostics?.Error(settings!.Locate("endpoint_mode"), $"environment '{environment.Name}': swarm endpoint_mode '{settings.EndpointMode}' is not auto, vip or dnsrr");
            mode = SwarmEndpointMode.Auto;
        }

        var secrets = new HashSet<string>(schema.Secrets.Keys, StringComparer.Ordinal);
        var services = new List<SwarmService>();
        foreach (var service in environment.Services)
        {
            var merged = Merged(schema, environment.Name, service.Name);
            var update = SwarmUpdatePolicy.For(service, merged.Update, (severity, location, message) =>
            {
                if (severity == Severity.Error)
                {
                    diagnostics?.Error(location, message);
                }
                else
                {
                    diagnostics?.Warning(location, message);
                }
            });
            var plan = SwarmSecretPlan.For(environment.Project, service, merged.SecretFiles, secrets,
                (index, message) => diagnostics?.Error(merged.Locate($"secret_files[{index}]"), message));
            foreach (var (key, value) in merged.Placement?.Labels ?? [])
            {
                if (string.IsNullOrWhiteSpace(key) || string.IsNullOrWhiteSpace(value) || key.Any(char.IsWhiteSpace) || value.Any(char.IsWhiteSpace))
                {
                    diagnostics?.Error(merged.Placement!.Locate($"labels.{key}"), $"service '{service.Name}': placement label '{key}: {value}' needs a key and a value without spaces");
                }
            }

            services.Add(new SwarmService(service, SwarmService.ConstraintsOf(merged.Placement), update, plan));
        }

        return new SwarmEnvironment(environment, mode, settings?.PublishAllInterfaces ?? false, services);
    }

    /// <summary>A service's definition with its environment's overrides on top.</summary>
    internal static ServiceDefinition Merged(ComposeSchema schema, string environment, string service) =>
        schema.Environments[environment].Services.TryGetValue(service, out var overrides)
            ? ServiceMerger.Merge(schema.Services[service], overrides)
            : schema.Services[service];

    /// <summary>The endpoint mode a file or service states: vip only when the schema asks for it; dnsrr otherwise (works without IPVS).</summary>
    public string EndpointModeText => EndpointMode == SwarmEndpointMode.Vip ? "vip" : "dnsrr";

    /// <summary>Whether a port can be published on a swarm: no host IP, a wildcard, or an environment that acknowledges publishing on all interfaces.</summary>
    public bool Publishable(PortMapping port) => PublishAllInterfaces || !PortBindsHostIp(port);

    /// <summary>A port bound to one host address (<c>127.0.0.1:5432:5432</c>), which Swarm cannot do.</summary>
    public static bool PortBindsHostIp(PortMapping port) => port.HostIp is { Length: > 0 } ip && ip is not ("0.0.0.0" or "::");
}
