using LlmStack.Compose;

namespace LlmStack.Engine;

/// <summary>
/// The label selector of one environment: its compose project and our environment label. Every query and every
/// destructive operation goes through it, so resources without both labels are never seen, let alone touched.
/// </summary>
public sealed record Scope(string Project, string Environment)
{
    public static Scope Of(Schema.ResolvedEnvironment environment) => new(environment.Project, environment.Name);

    public IReadOnlyList<string> Labels(string? stack = null, string? service = null)
    {
        var labels = new List<string> { $"{Names.ComposeProject}={Project}", $"{Names.Environment}={Environment}" };
        if (stack is not null)
        {
            labels.Add($"{Names.Stack}={stack}");
        }

        if (service is not null)
        {
            labels.Add($"{Names.Service}={service}");
        }

        return labels;
    }

    /// <summary>The Docker API filter for these labels (all must match).</summary>
    public IDictionary<string, IDictionary<string, bool>> Filter(string? stack = null, string? service = null) =>
        new Dictionary<string, IDictionary<string, bool>>
        {
            ["label"] = Labels(stack, service).ToDictionary(l => l, _ => true),
        };

    /// <summary>Whether a resource's labels put it in this scope.</summary>
    public bool Owns(IDictionary<string, string>? labels) =>
        labels is not null
        && labels.TryGetValue(Names.ComposeProject, out var project) && project == Project
        && labels.TryGetValue(Names.Environment, out var environment) && environment == Environment;

    /// <summary>Labels for a network or volume we create (compose-compatible, so compose accepts it as its own).</summary>
    public Dictionary<string, string> ResourceLabels(string stack, string composeKind, string key) => new()
    {
        [Names.ComposeProject] = Project,
        [composeKind] = key,
        [Names.Environment] = Environment,
        [Names.Stack] = stack,
        [Names.Managed] = "true",
    };
}

public static class LabelExtensions
{
    /// <summary>A label's value, or null (Docker gives label maps as IDictionary, possibly null).</summary>
    public static string? Value(this IDictionary<string, string>? labels, string key) =>
        labels is not null && labels.TryGetValue(key, out var value) ? value : null;
}
