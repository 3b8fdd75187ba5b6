using System.Text.RegularExpressions;

namespace LlmStack.Schema;

/// <summary>
/// Checks a bound schema and every environment resolved from it. Reports every problem (never stops at the
/// first): undefined references, dependency cycles, stack rules, subnets, ports, container names, secrets.
/// </summary>
public static partial class SchemaValidator
{
    [GeneratedRegex("^[a-z][a-z0-9-]*$")]
    private static partial Regex EnvironmentName();

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*$")]
    private static partial Regex VariableName();

    public static void Validate(ComposeSchema schema, DiagnosticBag diagnostics, string rootDirectory)
    {
        CheckTopLevel(schema, diagnostics);
        CheckStacks(schema, diagnostics);
        CheckServices(schema, diagnostics);
        CheckSecretsAndVariables(schema, diagnostics);

        var resolved = new List<(string Name, ResolvedEnvironment Environment)>();
        foreach (var (name, environment) in schema.Environments)
        {
            if (!EnvironmentName().IsMatch(name))
            {
                diagnostics.Error(schema.Locate($"environments.{name}"), $"environment name '{name}' must be lowercase letters, digits and '-'");
            }

            if (EnvironmentResolver.Resolve(schema, name, rootDirectory, diagnostics) is { } result)
            {
                resolved.Add((name, result));
            }
        }

        CheckAcrossEnvironments(schema, resolved, diagnostics);
        CheckUnusedVolumes(schema, diagnostics);

        // An environment that runs on a swarm: what Swarm cannot honour is an error now, not a surprise at Start.
        foreach (var (name, environment) in schema.Environments)
        {
            // (an unknown orchestrator: word is reported by the resolver)
            if (resolved.Any(r => r.Name == name && r.Environment.Orchestrator == Orchestrator.Swarm))
            {
                foreach (var diagnostic in SwarmCompatibility.Check(schema, name, rootDirectory))
                {
                    diagnostics.Add(diagnostic);
                }
            }
        }
    }

    private static void CheckTopLevel(ComposeSchema schema, DiagnosticBag diagnostics)
    {
        var origin = new SourceLocation(schema.File, 1, 1);
        if (schema.Project is null)
        {
            diagnostics.Error(origin, "the schema needs project: { name: ... }");
        }
        else if (schema.Project.Name is not { } name)
        {
            diagnostics.Error(schema.Project.Location, "project needs a name");
        }
        else if (!EnvironmentResolver.ProjectName().IsMatch(name))
        {
            diagnostics.Error(schema.Project.Locate("name"), $"project name '{name}' must be lowercase letters, digits, '-' and '_'");
        }

        foreach (var (key, what) in new[] { ("stacks", "stack"), ("services", "service"), ("environments", "environment") })
        {
            if (!schema.Has(key))
            {
                diagnostics.Error(origin, $"the schema defines no {key}: add at least one {what}");
            }
        }

        foreach (var (name, template) in schema.HealthcheckTemplates)
        {
            foreach (var key in new[] { "interval", "timeout", "start_period" })
            {
                var value = key switch { "interval" => template.Interval, "timeout" => template.Timeout, _ => template.StartPeriod };
                if (value is not null && !Duration.TryParse(value, out _))
                {
                    diagnostics.Error(template.Locate(key), $"healthcheck template '{name}': '{value}' is not a duration like 10s or 1m30s");
                }
            }
        }
    }

    private static void CheckStacks(ComposeSchema schema, DiagnosticBag diagnostics)
    {
        var owner = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, stack) in schema.Stacks)
        {
            for (var i = 0; i < stack.DependsOn.Count; i++)
            {
                var dependency = stack.DependsOn[i];
                if (dependency == name)
                {
                    diagnostics.Error(stack.Locate($"depends_on[{i}]"), $"stack '{name}' depends on itself");
                }
                else if (!schema.Stacks.ContainsKey(dependency))
                {
                    diagnostics.Error(stack.Locate($"depends_on[{i}]"),
                        $"stack '{name}' depends on undefined stack '{dependency}'{References.Hint(dependency, schema.Stacks.Keys)}");
                }
            }

            for (var i = 0; i < stack.Services.Count; i++)
            {
                var service = stack.Services[i];
                if (!schema.Services.ContainsKey(service))
                {
                    diagnostics.Error(stack.Locate($"services[{i}]"), $"stack '{name}' lists undefined service '{service}'{References.Hint(service, schema.Services.Keys)}");
                }
                else if (owner.TryGetValue(service, out var first))
                {
                    diagnostics.Error(stack.Locate($"services[{i}]"), $"service '{service}' is listed in stack '{first}' and in stack '{name}': a service belongs to one stack");
                }
                else
                {
                    owner[service] = name;
                }
            }

            if (stack.Services.Count == 0)
            {
                diagnostics.Error(stack.Location, $"stack '{name}' has no services");
            }
        }

        ReportCycles(
            schema.Stacks.Keys,
            s => schema.Stacks[s].DependsOn.Where(d => schema.Stacks.ContainsKey(d) && d != s),
            s => schema.Locate($"stacks.{s}"),
            "stack dependency cycle",
            diagnostics);

        foreach (var service in schema.Services.Keys.Where(s => !owner.ContainsKey(s)))
        {
            diagnostics.Error(schema.Locate($"services.{service}"), $"service '{service}' is in no stack: list it under one stack's services");
        }
    }

    private static void CheckServices(ComposeSchema schema, DiagnosticBag diagnostics)
    {
        foreach (var (name, service) in schema.Services)
        {
            for (var i = 0; i < (service.DependsOn?.Count ?? 0); i++)
            {
                var dependency = service.DependsOn![i];
                if (dependency == name)
                {
                    diagnostics.Error(service.Locate($"depends_on[{i}]"), $"service '{name}' depends on itself");
                }
                else if (!schema.Services.ContainsKey(dependency))
                {
                    diagnostics.Error(service.Locate($"depends_on[{i}]"), $"service '{name}' depends on undefined service '{dependency}'{References.Hint(dependency, schema.Services.Keys)}");
                }
            }

            for (var i = 0; i < (service.Environments?.Count ?? 0); i++)
            {
                var environment = service.Environments![i];
                if (!schema.Environments.ContainsKey(environment))
                {
                    diagnostics.Error(service.Locate($"environments[{i}]"),
                        $"service '{name}' names unknown environment '{environment}'{References.Hint(environment, schema.Environments.Keys)}");
                }
            }
        }

        ReportCycles(
            schema.Services.Keys,
            s => (schema.Services[s].DependsOn ?? []).Where(d => schema.Services.ContainsKey(d) && d != s),
            s => schema.Locate($"services.{s}"),
            "service dependency cycle",
            diagnostics);

        foreach (var (environmentName, environment) in schema.Environments)
        {
            foreach (var (name, overrides) in environment.Services)
            {
                if (overrides.Has("environments"))
                {
                    diagnostics.Error(overrides.Locate("environments"), $"'environments' cannot be overridden per environment (service '{name}' in '{environmentName}')");
                }
            }
        }

        // A smoke check's bearer secret names a secret of the schema: checked here, not first when SmokeTest runs. Every
        // service and every environment's override, whether or not an environment enables its stack.
        var definitions = schema.Services.Select(s => (s.Key, s.Value))
            .Concat(schema.Environments.Values.SelectMany(e => e.Services.Select(s => (s.Key, s.Value))));
        foreach (var (name, service) in definitions)
        {
            foreach (var (check, index) in (service.Smoke ?? []).Select((c, i) => (c, i)))
            {
                if (check.BearerSecret is { } secret && !schema.Secrets.ContainsKey(secret))
                {
                    diagnostics.Error(check.Locate("bearer_secret"),
                        $"service '{name}': smoke[{index}] bearer_secret '{secret}' is not a secret of the schema{References.Hint(secret, schema.Secrets.Keys)}");
                }
            }
        }
    }

    /// <summary>A PostgreSQL image: its repository's last path segment is postgres (postgres:15-alpine, docker.io/library/postgres).</summary>
    private static bool IsPostgresImage(string? image) =>
        image is not null && image.Split('@')[0].Split(':')[0].Split('/')[^1] == "postgres";

    private static void CheckSecretsAndVariables(ComposeSchema schema, DiagnosticBag diagnostics)
    {
        foreach (var name in schema.Variables.Keys.Where(v => !VariableName().IsMatch(v)))
        {
            diagnostics.Error(schema.Locate($"variables.{name}"), $"variable name '{name}' must be letters, digits and '_'");
        }

        foreach (var (name, secret) in schema.Secrets)
        {
            if (!VariableName().IsMatch(name))
            {
                diagnostics.Error(schema.Locate($"secrets.{name}"), $"secret name '{name}' must be letters, digits and '_'");
            }

            if (schema.Variables.ContainsKey(name))
            {
                diagnostics.Error(schema.Locate($"secrets.{name}"), $"'{name}' is both a variable and a secret: keep it under secrets only");
            }

            if (secret.Length is { } length && (length < 16 || length > 256))
            {
                diagnostics.Error(secret.Locate("length"), $"secret '{name}': length must be between 16 and 256, not {length}");
            }

            if (secret.Charset is { } charset && charset is not ("alphanumeric" or "hex"))
            {
                diagnostics.Error(secret.Locate("charset"), $"secret '{name}': charset must be alphanumeric or hex, not '{charset}'");
            }

            if (secret.Account is { } account && !schema.Variables.ContainsKey(account))
            {
                diagnostics.Error(secret.Locate("account"), $"secret '{name}': account '{account}' is not a variable{References.DidYouMean(account, schema.Variables.Keys)} (name the variable that holds the account, e.g. POSTGRES_USER)");
            }

            if (secret.Login is { } login)
            {
                if (!schema.Services.TryGetValue(login, out var service))
                {
                    diagnostics.Error(secret.Locate("login"), $"secret '{name}': login service '{login}' is not a service of the schema{References.Hint(login, schema.Services.Keys)}");
                }
                else if (!IsPostgresImage(service.Image))
                {
                    diagnostics.Error(secret.Locate("login"), $"secret '{name}': login service '{login}' is not PostgreSQL (image {service.Image}); only PostgreSQL logins are checked");
                }
                else if (secret.Account is null)
                {
                    diagnostics.Error(secret.Locate("login"), $"secret '{name}': a login needs the account too (account: <variable>)");
                }
            }
        }
    }

    private static void CheckAcrossEnvironments(ComposeSchema schema, List<(string Name, ResolvedEnvironment Environment)> environments, DiagnosticBag diagnostics)
    {
        // Environments run side by side on one host: their networks must not overlap, their names must differ.
        var networks = environments.SelectMany(e => e.Environment.Networks.Select(n => (Environment: e.Name, Network: n))).ToList();
        for (var i = 0; i < networks.Count; i++)
        {
            for (var j = 0; j < i; j++)
            {
                var (environment, network) = networks[i];
                var (otherEnvironment, other) = networks[j];
                if (Subnets.Overlap(network.Subnet, other.Subnet))
                {
                    diagnostics.Error(schema.Environments[environment].Networks[network.Stack].Locate("subnet"),
                        $"subnet {network.Subnet} ({environment}/{network.Stack}) overlaps {other.Subnet} ({otherEnvironment}/{other.Stack})");
                }
            }
        }

        foreach (var group in environments.GroupBy(e => e.Environment.Project).Where(g => g.Count() > 1))
        {
            foreach (var (name, _) in group.Skip(1))
            {
                diagnostics.Error(schema.Locate($"environments.{name}"),
                    $"environments {string.Join(" and ", group.Select(g => g.Name))} share the compose project '{group.Key}': give each its own project");
            }
        }

        var containerNames = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, environment) in environments)
        {
            foreach (var service in environment.Services.Where(s => s.ContainerName is not null))
            {
                var where = $"{name}/{service.Name}";
                if (containerNames.TryGetValue(service.ContainerName!, out var first) && !first.EndsWith("/" + service.Name, StringComparison.Ordinal))
                {
                    diagnostics.Error(Locate(schema, name, service.Name, "container_name"),
                        $"container name '{service.ContainerName}' of {where} is also used by {first}: container names are global on a host");
                }
                else if (containerNames.TryGetValue(service.ContainerName!, out first))
                {
                    diagnostics.Error(Locate(schema, name, service.Name, "container_name"),
                        $"container name '{service.ContainerName}' is used in environments {first.Split('/')[0]} and {name}: they could not run side by side (drop container_name)");
                }
                else
                {
                    containerNames[service.ContainerName!] = where;
                }
            }
        }
    }

    private static void CheckUnusedVolumes(ComposeSchema schema, DiagnosticBag diagnostics)
    {
        foreach (var (volume, definition) in schema.Volumes)
        {
            if (definition.Holds is null)
            {
                diagnostics.Error(schema.Locate($"volumes.{volume}"), $"volume '{volume}' does not say what it holds: add holds: one of {string.Join(", ", DataTypes.All)}");
            }
            else if (!DataTypes.All.Contains(definition.Holds))
            {
                diagnostics.Error(definition.Locate("holds"), $"volume '{volume}': holds '{definition.Holds}' is not a data type ({string.Join(", ", DataTypes.All)})");
            }

            var used = schema.Services.Values.Any(s => (s.Volumes ?? []).Any(v => v.Split(':')[0] == volume))
                || schema.Environments.Values.Any(e => e.Services.Values.Any(s => (s.Volumes ?? []).Any(v => v.Split(':')[0] == volume)));
            if (!used)
            {
                diagnostics.Warning(schema.Locate($"volumes.{volume}"), $"volume '{volume}' is not used by any service");
            }
        }
    }

    private static SourceLocation Locate(ComposeSchema schema, string environment, string service, string key) =>
        schema.Environments[environment].Services.TryGetValue(service, out var overrides) && overrides.Has(key)
            ? overrides.Locate(key)
            : schema.Services[service].Locate(key);

    /// <summary>Reports each cycle once, naming its members in order: a -> b -> a.</summary>
    private static void ReportCycles(IEnumerable<string> nodes, Func<string, IEnumerable<string>> edges, Func<string, SourceLocation> locate, string what, DiagnosticBag diagnostics)
    {
        var state = new Dictionary<string, int>(StringComparer.Ordinal);
        var path = new List<string>();
        var reported = new HashSet<string>(StringComparer.Ordinal);

        void Visit(string node)
        {
            state[node] = 1;
            path.Add(node);
            foreach (var next in edges(node))
            {
                if (!state.TryGetValue(next, out var s))
                {
                    Visit(next);
                }
                else if (s == 1)
                {
                    var cycle = path.Skip(path.IndexOf(next)).ToList();
                    var key = string.Join(",", cycle.Order(StringComparer.Ordinal));
                    if (reported.Add(key))
                    {
                        diagnostics.Error(locate(next), $"{what}: {string.Join(" -> ", cycle.Append(next))}");
                    }
                }
            }

            path.RemoveAt(path.Count - 1);
            state[node] = 2;
        }

        foreach (var node in nodes)
        {
            if (!state.ContainsKey(node))
            {
                Visit(node);
            }
        }
    }
}
