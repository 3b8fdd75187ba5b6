namespace LlmStack.Pipeline;

/// <summary>
/// Marks a field or property of the build class, or a property of a component interface, as a parameter.
/// Values come from (first wins) the command line, an environment variable, the profile files and
/// <c>.nuke/parameters.json</c>; otherwise the member keeps its initializer.
/// Component properties read their value with <c>TryGetValue(() =&gt; Member)</c>.
/// </summary>
[AttributeUsage(AttributeTargets.Field | AttributeTargets.Property)]
public sealed class ParameterAttribute(string? description = null) : Attribute
{
    public string? Description { get; } = description;

    /// <summary>Overrides the member name (the canonical name used in parameters.json and the schema).</summary>
    public string? Name { get; set; }

    /// <summary>Name of a member of the same type returning <c>IEnumerable&lt;string&gt;</c>: the allowed values.</summary>
    public string? ValueProviderMember { get; set; }

    /// <summary>False hides the parameter from --help (it still resolves).</summary>
    public bool List { get; set; } = true;

    /// <summary>Extra separator for array values given as one token (e.g. '+').</summary>
    public char Separator { get; set; }
}

/// <summary>The parameter's value is never printed: not in help, logs, plans or the schema.</summary>
[AttributeUsage(AttributeTargets.Field | AttributeTargets.Property)]
public sealed class SecretAttribute : Attribute;

/// <summary>Console verbosity (files always log everything).</summary>
public enum Verbosity
{
    Quiet,
    Minimal,
    Normal,
    Verbose,
}
