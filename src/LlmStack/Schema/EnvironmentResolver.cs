using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;

namespace LlmStack.Schema;

/// <summary>
/// Turns the schema and one environment name into a <see cref="ResolvedEnvironment"/>: which stacks
/// (<see cref="StackResolver"/>), each service merged (<see cref="ServiceMerger"/>) and resolved
/// (<see cref="ServiceResolver"/>), the checks across services (<see cref="EnvironmentChecks"/>), the order
/// (<see cref="ServiceGraph"/>), networks and volumes (<see cref="NetworkResolver"/>). Every problem is a diagnostic
/// at its source position.
/// </summary>
public static partial class EnvironmentResolver
{
    public const string LabelPrefix = "io.llmstack.";

    [GeneratedRegex("^[a-z0-9][a-z0-9_-]*$")]
    internal static partial Regex ProjectName();

    /// <summary>Resolves a schema that was validated; throws <see cref="SchemaException"/> on any error.</summary>
    public static ResolvedEnvironment Resolve(ComposeSchema schema, string environment, string rootDirectory, IReadOnlyDictionary<string, string>? overlay = null)
    {
        if (!schema.Environments.ContainsKey(environment))
        {
            throw new SchemaException(
                $"environment '{environment}' is not defined in {schema.File} (defined: {string.Join(", ", schema.Environments.Keys)})");
        }

        var diagnostics = new DiagnosticBag();
        var resolved = Resolve(schema, environment, rootDirectory, diagnostics, overlay);
        var first = diagnostics.Items.FirstOrDefault(d => d.IsError);
        if (first is not null || resolved is null)
        {
            throw new SchemaException(first?.ToString() ?? $"environment '{environment}' cannot be resolved");
        }

        return resolved;
    }

    internal static ResolvedEnvironment? Resolve(ComposeSchema schema, string name, string rootDirectory, DiagnosticBag diagnostics, IReadOnlyDictionary<string, string>? overlay = null)
    {
        if (!schema.Environments.TryGetValue(name, out var environment) || schema.Project?.Name is not { } projectName)
        {
            return null;
        }

        var project = environment.Project ?? $"{projectName}-{name}";
        if (!ProjectName().IsMatch(project))
        {
            diagnostics.Error(environment.Has("project") ? environment.Locate("project") : environment.Location,
                $"compose project name '{project}' of environment '{name}' must be lowercase letters, digits, '-' and '_'");
        }

        var stacks = StackResolver.Enabled(schema, name, environment, diagnostics);
        var variables = Variables(schema, environment, diagnostics);
        foreach (var (key, value) in overlay ?? new Dictionary<string, string>())
        {
            if (!variables.ContainsKey(key))
            {
                throw new SchemaException($"variable '{key}' is set by another configuration but not declared in {schema.File}: declare it under the top-level variables");
            }

            variables[key] = value;
        }

        var secrets = new HashSet<string>(schema.Secrets.Keys, StringComparer.Ordinal);
        var gpu = environment.Gpu ?? true;

        var services = new List<ResolvedService>();
        var definitions = new Dictionary<string, ServiceDefinition>(StringComparer.Ordinal);
        foreach (var stack in stacks)
        {
            foreach (var serviceName in schema.Stacks[stack].Services)
            {
                if (!schema.Services.TryGetValue(serviceName, out var definition) || !InEnvironment(definition, name))
                {
                    continue;
                }

                var merged = environment.Services.TryGetValue(serviceName, out var overrides) ? ServiceMerger.Merge(definition, overrides) : definition;
                definitions[serviceName] = merged;
                services.Add(ServiceResolver.Resolve(schema, name, serviceName, stack, merged, variables, secrets, gpu, rootDirectory, diagnostics));
            }
        }

        foreach (var serviceName in environment.Services.Keys)
        {
            if (!schema.Services.ContainsKey(serviceName))
            {
                diagnostics.Error(environment.Locate($"services.{serviceName}"), $"environment '{name}' overrides undefined service '{serviceName}'{References.Hint(serviceName, schema.Services.Keys)}");
            }
            else if (services.All(s => s.Name != serviceName))
            {
                diagnostics.Warning(environment.Locate($"services.{serviceName}"),
                    $"environment '{name}' overrides service '{serviceName}', which is not part of it (its stack is not enabled)");
            }
        }

        EnvironmentChecks.Dependencies(schema, name, services, definitions, diagnostics);
        var ordered = ServiceGraph.TopologicalOrder(services, stacks);
        var networks = NetworkResolver.Networks(schema, name, project, environment, stacks, diagnostics);
        var volumes = NetworkResolver.Volumes(schema, project, ordered);
        EnvironmentChecks.HostPorts(name, ordered, definitions, diagnostics);

        return new ResolvedEnvironment
        {
            Name = name,
            Project = project,
            Gpu = gpu,
            Orchestrator = SwarmResolver.Orchestrator(name, environment, diagnostics),
            Swarm = SwarmResolver.Swarm(name, environment, diagnostics),
            Stacks = stacks.Select(s => new ResolvedStack
            {
                Name = s,
                Description = schema.Stacks[s].Description,
                DependsOn = schema.Stacks[s].DependsOn.Where(stacks.Contains).ToList(),
                AllDependencies = StackResolver.Closure(schema, s),
                Services = ordered.Where(o => o.Stack == s).Select(o => o.Name).ToList(),
            }).ToList(),
            Services = ordered,
            Networks = networks,
            Volumes = volumes,
            Variables = variables,
            Secrets = schema.Secrets
                .Where(kv => ordered.Any(s => s.SecretReferences.Contains(kv.Key)))
                .ToDictionary(kv => kv.Key, kv => kv.Value),
        };
    }

    internal static bool InEnvironment(ServiceDefinition definition, string environment) =>
        definition.Environments is null || definition.Environments.Contains(environment);

    private static Dictionary<string, string> Variables(ComposeSchema schema, EnvironmentDefinition environment, DiagnosticBag diagnostics)
    {
        var variables = new Dictionary<string, string>(schema.Variables, StringComparer.Ordinal);
        foreach (var (key, value) in environment.Variables)
        {
            if (!schema.Variables.ContainsKey(key))
            {
                diagnostics.Error(environment.Locate($"variables.{key}"),
                    schema.Secrets.ContainsKey(key)
                        ? $"'{key}' is a secret: its value lives in secrets/<environment>.env, never in the schema"
                        : $"environment overrides undeclared variable '{key}'{References.DidYouMean(key, schema.Variables.Keys)}: declare it under the top-level variables");
                continue;
            }

            variables[key] = value;
        }

        return variables;
    }
}
