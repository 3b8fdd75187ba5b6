namespace LlmStack.Schema;

/// <summary>
/// The schema's orchestrator keys, resolved: an environment's <c>orchestrator:</c> and <c>swarm:</c>, a service's
/// <c>placement:</c>, <c>update:</c> and <c>secret_files:</c>. Unknown values are diagnostics at their position; what
/// is absent stays null here and takes its default where it is used.
/// </summary>
internal static class SwarmResolver
{
    /// <summary>An enum from its schema spelling (<c>start-first</c> → StartFirst); null when it is none of them.</summary>
    internal static T? Parse<T>(string text)
        where T : struct, Enum =>
        Enum.GetValues<T>().Where(v => Spelling(v) == text.Trim()).Select(v => (T?)v).FirstOrDefault();

    /// <summary>How the schema writes an enum value: lowercase, words joined by '-' (StartFirst → start-first).</summary>
    internal static string Spelling<T>(T value)
        where T : struct, Enum =>
        string.Concat(value.ToString().Select((c, i) => char.IsUpper(c) && i > 0 ? $"-{char.ToLowerInvariant(c)}" : char.ToLowerInvariant(c).ToString()));

    private static string Choices<T>()
        where T : struct, Enum => string.Join(", ", Enum.GetValues<T>().Select(Spelling));

    internal static Orchestrator Orchestrator(string name, EnvironmentDefinition environment, DiagnosticBag diagnostics)
    {
        if (environment.Orchestrator is not { } text)
        {
            return Schema.Orchestrator.Containers;
        }

        if (Parse<Orchestrator>(text) is { } value)
        {
            return value;
        }

        diagnostics.Error(environment.Locate("orchestrator"), $"environment '{name}': orchestrator '{text}' is not one of {Choices<Orchestrator>()}");
        return Schema.Orchestrator.Containers;
    }

    internal static ResolvedSwarm Swarm(string name, EnvironmentDefinition environment, DiagnosticBag diagnostics)
    {
        if (environment.Swarm is not { } swarm)
        {
            return new ResolvedSwarm();
        }

        var mode = EndpointMode.Auto;
        if (swarm.EndpointMode is { } text)
        {
            if (Parse<EndpointMode>(text) is { } parsed)
            {
                mode = parsed;
            }
            else
            {
                diagnostics.Error(swarm.Locate("endpoint_mode"), $"environment '{name}': swarm endpoint_mode '{text}' is not one of {Choices<EndpointMode>()}");
            }
        }

        var nodes = new Dictionary<string, IReadOnlyDictionary<string, string>>(StringComparer.Ordinal);
        foreach (var (node, definition) in swarm.Nodes ?? [])
        {
            var labels = definition?.Labels ?? [];
            foreach (var key in labels.Keys.Where(k => k.StartsWith(EnvironmentResolver.LabelPrefix, StringComparison.Ordinal)))
            {
                diagnostics.Error(swarm.Locate($"nodes.{node}"), $"environment '{name}': node label '{key}' is reserved ({EnvironmentResolver.LabelPrefix}* is set by LlmStack)");
            }

            nodes[node] = new Dictionary<string, string>(labels, StringComparer.Ordinal);
        }

        return new ResolvedSwarm { EndpointMode = mode, PublishAllInterfaces = swarm.PublishAllInterfaces ?? false, Nodes = nodes };
    }

    internal static IReadOnlyDictionary<string, string> Placement(ServiceDefinition definition) =>
        new Dictionary<string, string>(definition.Placement?.Labels ?? [], StringComparer.Ordinal);

    /// <summary>
    /// <c>update:</c>: parallelism at least 1, known order and failure action, durations; a monitor shorter than the
    /// healthcheck's detection time (start period + interval × retries) is an error — the update would be declared done
    /// before a failing check could say so.
    /// </summary>
    internal static ResolvedUpdatePolicy Update(string service, ServiceDefinition definition, ResolvedHealthcheck? healthcheck, DiagnosticBag diagnostics)
    {
        if (definition.Update is not { } update)
        {
            return new ResolvedUpdatePolicy();
        }

        if (update.Parallelism is < 1)
        {
            diagnostics.Error(update.Locate("parallelism"), $"service '{service}': update parallelism must be at least 1");
        }

        T? Choice<T>(string? text, string key)
            where T : struct, Enum
        {
            if (text is null)
            {
                return null;
            }

            if (Parse<T>(text) is { } value)
            {
                return value;
            }

            diagnostics.Error(update.Locate(key), $"service '{service}': update {key} '{text}' is not one of {Choices<T>()}");
            return null;
        }

        TimeSpan? Time(string? text, string key)
        {
            if (text is null)
            {
                return null;
            }

            if (Duration.TryParse(text, out var value))
            {
                return value;
            }

            diagnostics.Error(update.Locate(key), $"service '{service}': update {key} '{text}' is not a duration like 30s or 1m30s");
            return null;
        }

        var monitor = Time(update.Monitor, "monitor");
        if (monitor is { } watched && healthcheck is { Disabled: false } check && watched < check.Detection)
        {
            diagnostics.Error(update.Locate("monitor"),
                $"service '{service}': update monitor {Duration.Format(watched)} is shorter than the healthcheck's start period + interval × retries ({Duration.Format(check.Detection)}): a failing task would be declared healthy; raise it or leave it out");
        }

        return new ResolvedUpdatePolicy
        {
            Parallelism = update.Parallelism is >= 1 ? update.Parallelism : null,
            Order = Choice<UpdateOrder>(update.Order, "order"),
            FailureAction = Choice<UpdateFailureAction>(update.FailureAction, "failure_action"),
            Monitor = monitor,
            Delay = Time(update.Delay, "delay"),
        };
    }

    /// <summary><c>secret_files:</c>: each an environment variable of the service (the one its <c>NAME_FILE</c> replaces).</summary>
    internal static IReadOnlyList<string> SecretFiles(string service, ServiceDefinition definition, DiagnosticBag diagnostics)
    {
        var names = definition.SecretFiles ?? [];
        foreach (var (name, i) in names.Select((n, i) => (n, i)).Where(x => definition.Environment?.ContainsKey(x.n) != true))
        {
            diagnostics.Error(definition.Locate($"secret_files[{i}]"), $"service '{service}': secret_files names '{name}', which is not in its environment: list the variable the image reads from {name}_FILE");
        }

        return names.Distinct(StringComparer.Ordinal).ToList();
    }
}
