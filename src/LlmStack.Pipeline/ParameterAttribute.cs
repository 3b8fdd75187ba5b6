namespace LlmStack.Pipeline;

/// <summary>Where a parameter may take its value from (see <see cref="ParameterAttribute.Sources"/>).</summary>
[Flags]
public enum ParameterSources
{
    /// <summary><c>--name value</c>.</summary>
    CommandLine = 1,

    /// <summary>The prefixed environment variable, e.g. <c>LLMSTACK_IMAGE_MAP</c>.</summary>
    PrefixedVariable = 2,

    /// <summary>The bare name as an environment variable (<c>IMAGE_MAP</c>): opt-in, since ambient variables are easy to forget.</summary>
    BareVariable = 4,

    /// <summary><c>.nuke/parameters.json</c> and the profile files.</summary>
    ParameterFile = 8,

    /// <summary>The default: command line, prefixed variable, parameter files.</summary>
    Default = CommandLine | PrefixedVariable | ParameterFile,
}

/// <summary>
/// Marks a field or property of the build class, or a property of a component interface, as a parameter.
/// Values come from (first wins) the command line, the prefixed environment variable, the profile files and
/// <c>.nuke/parameters.json</c> (narrowed or widened by <see cref="Sources"/>); otherwise the member keeps its initializer.
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

    /// <summary>
    /// Where the value may come from. Safety parameters (a confirmation, a dry-run switch) take
    /// <see cref="ParameterSources.CommandLine"/> only, so no ambient variable or committed file can answer for the user.
    /// </summary>
    public ParameterSources Sources { get; set; } = ParameterSources.Default;

    /// <summary>Shown in the run header even at its default (the environment a run targets, say); others appear there only when given.</summary>
    public bool Header { get; set; }
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
