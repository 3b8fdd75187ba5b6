using System.Globalization;
using System.Reflection;
using System.Text.Json;

namespace LlmStack.Pipeline;

/// <summary>A parameter as the engine sees it: built-in (target, skip, …) or declared on the build or a component.</summary>
public sealed class ParameterDescriptor
{
    internal ParameterDescriptor(string name, Type type, string? description)
    {
        Name = name;
        Type = type;
        Description = description?.TrimEnd('.');
        var underlying = Nullable.GetUnderlyingType(type) ?? type;
        IsArray = underlying.IsArray;
        ElementType = IsArray ? underlying.GetElementType()! : underlying;
        ElementType = Nullable.GetUnderlyingType(ElementType) ?? ElementType;
    }

    /// <summary>Canonical name: the member name (or <see cref="ParameterAttribute.Name"/>); the key in parameters.json.</summary>
    public string Name { get; }

    /// <summary>The command-line form: <c>--image-map</c>.</summary>
    public string DisplayName => "--" + Naming.ToKebabCase(Name);

    public string? Description { get; }

    public Type Type { get; }

    public Type ElementType { get; }

    public bool IsArray { get; }

    public bool IsFlag => ElementType == typeof(bool) && !IsArray;

    public bool IsSecret { get; internal init; }

    public bool Listed { get; internal init; } = true;

    public bool IsBuiltIn { get; internal init; }

    public char Separator { get; internal init; }

    /// <summary>Where the value may come from.</summary>
    public ParameterSources Sources { get; internal init; } = ParameterSources.Default;

    /// <summary>Shown in the run header even when it is the default.</summary>
    public bool InHeader { get; internal init; }

    /// <summary>The prefixed environment variable: <c>LLMSTACK_IMAGE_MAP</c> for <c>ImageMap</c> with prefix LLMSTACK.</summary>
    public string VariableName { get; internal init; } = string.Empty;

    internal MemberInfo? Member { get; init; }

    internal Func<object?>? DefaultValue { get; init; }

    internal Func<IEnumerable<string>>? ValueProvider { get; init; }

    /// <summary>Where the value came from: "command line", "environment variable X", "parameters.json", or null (default).</summary>
    public string? Source { get; internal set; }

    private IReadOnlyList<string>? _valueSet;
    private string? _valueSetError;
    private bool _valueSetLoaded;

    /// <summary>Allowed values (enum names or the value provider's), or null when any value goes.</summary>
    public IReadOnlyList<string>? ValueSet
    {
        get
        {
            LoadValueSet();
            return _valueSet;
        }
    }

    /// <summary>Why the allowed values could not be computed (e.g. the schema does not parse).</summary>
    public string? ValueSetError
    {
        get
        {
            LoadValueSet();
            return _valueSetError;
        }
    }

    public string TypeText
    {
        get
        {
            if (IsFlag)
            {
                return string.Empty;
            }

            var element = ElementType.IsEnum
                ? string.Join('|', Enum.GetNames(ElementType).Select(n => n.ToLowerInvariant()))
                : ElementType == typeof(string) ? "string"
                : ElementType == typeof(int) || ElementType == typeof(long) ? "int"
                : ElementType == typeof(double) ? "number"
                : ElementType.Name.ToLowerInvariant();
            return IsArray ? $"<{element}...>" : $"<{element}>";
        }
    }

    /// <summary>The default as text for help, or null. Secrets never show one.</summary>
    public string? DefaultText => IsSecret ? null : CurrentText;

    /// <summary>The member's value now (the default before injection, the resolved value after), as text; null when empty or false.</summary>
    internal string? CurrentText
    {
        get
        {
            if (DefaultValue is null)
            {
                return null;
            }

            var value = DefaultValue();
            return value switch
            {
                null => null,
                bool b => b ? "true" : null,
                string s when s.Length == 0 => null,
                Array { Length: 0 } => null,
                Array a => string.Join(' ', a.Cast<object>()),
                Enum e => e.ToString().ToLowerInvariant(),
                IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
                _ => value.ToString(),
            };
        }
    }

    /// <summary>Forgets the computed value set (it may depend on other parameters that were injected since).</summary>
    internal void ResetValueSet()
    {
        _valueSetLoaded = false;
        _valueSet = null;
        _valueSetError = null;
    }

    private void LoadValueSet()
    {
        if (_valueSetLoaded)
        {
            return;
        }

        _valueSetLoaded = true;
        if (ElementType.IsEnum)
        {
            _valueSet = Enum.GetNames(ElementType).Select(n => n.ToLowerInvariant()).Order(StringComparer.Ordinal).ToList();
        }
        else if (ValueProvider is not null)
        {
            try
            {
                _valueSet = ValueProvider().Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // Reflection wraps the provider's own exception ("Exception has been thrown by the target of an invocation").
                var cause = e is TargetInvocationException { InnerException: { } inner } ? inner : e;
                _valueSetError = cause.Message;
            }
        }
    }

    public override string ToString() => DisplayName;
}

/// <summary>Discovers, resolves, converts, checks and injects parameters.</summary>
internal sealed class ParameterService
{
    private readonly CommandLine _commandLine;
    private readonly IReadOnlyDictionary<string, string> _environment;
    private readonly string _prefix;
    private readonly List<(string File, Dictionary<string, JsonElement> Values)> _files = [];
    private readonly Dictionary<(Type, string), object?> _componentValues = [];

    /// <param name="prefix">The build's environment variable prefix (<c>LLMSTACK</c>: <c>LLMSTACK_ENVIRONMENT</c>).</param>
    public ParameterService(CommandLine commandLine, IReadOnlyDictionary<string, string> environment, string prefix)
    {
        _commandLine = commandLine;
        _environment = environment;
        _prefix = prefix;
    }

    public List<string> Warnings { get; } = [];

    /// <summary>A parameter file that could not be read: ignored for --help, an error for a run.</summary>
    public PipelineException? FileError { get; private set; }

    /// <summary><c>LLMSTACK_IMAGE_MAP</c> for <c>ImageMap</c>.</summary>
    public static string VariableNameFor(string prefix, string name) =>
        prefix + "_" + Naming.ToKebabCase(name).Replace('-', '_').ToUpperInvariant();

    /// <summary>Loads parameters.json and the profile files (later profiles win over earlier, all over parameters.json).</summary>
    public void LoadFiles(string nukeDirectory, IReadOnlyList<string> profiles)
    {
        var files = new List<string> { Path.Combine(nukeDirectory, "parameters.json") };
        foreach (var profile in profiles)
        {
            var file = Path.Combine(nukeDirectory, $"parameters.{profile}.json");
            if (!File.Exists(file))
            {
                var available = Directory.Exists(nukeDirectory)
                    ? Directory.GetFiles(nukeDirectory, "parameters.*.json").Select(f => Path.GetFileName(f)["parameters.".Length..^".json".Length])
                    : [];
                throw new PipelineException(
                    $"Profile '{profile}' not found: create .nuke/parameters.{profile}.json (available: {string.Join(", ", available.DefaultIfEmpty("none"))}).");
            }

            files.Add(file);
        }

        foreach (var file in files.Where(File.Exists))
        {
            Dictionary<string, JsonElement> values;
            try
            {
                // A document, not the serializer: the reflection-based serializer costs a run's start-up more than the rest.
                using var stream = File.OpenRead(file);
                using var document = JsonDocument.Parse(stream);
                if (document.RootElement.ValueKind != JsonValueKind.Object)
                {
                    throw new JsonException("the parameter file must be one JSON object", null, 0, 0);
                }

                values = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
                foreach (var property in document.RootElement.EnumerateObject())
                {
                    values[property.Name] = property.Value.Clone();
                }
            }
            catch (JsonException e)
            {
                // Kept for later: --help must still work with a broken file, a run must not.
                var where = e.LineNumber is { } line ? $":{line + 1}:{(e.BytePositionInLine ?? 0) + 1}" : string.Empty;
                FileError ??= new PipelineException($"{file}{where}: invalid JSON in parameter file: {e.Message.Split('\n')[0]}");
                continue;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                FileError ??= new PipelineException($"{file}: cannot read parameter file: {e.Message}");
                continue;
            }

            values.Remove("$schema");
            _files.Insert(0, (file, values)); // highest precedence first
        }
    }

    public static IReadOnlyList<ParameterDescriptor> Discover(object build, string prefix)
    {
        var buildType = build.GetType();
        var result = new List<ParameterDescriptor>();
        const BindingFlags flags = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic;

        foreach (var member in buildType.GetMembers(flags))
        {
            if (member is not (FieldInfo or PropertyInfo) || member.GetCustomAttribute<ParameterAttribute>() is not { } attribute)
            {
                continue;
            }

            if (member is PropertyInfo { CanWrite: false } readOnly)
            {
                throw new PipelineException($"Parameter '{readOnly.Name}' of {buildType.Name} needs a setter (or make it a readonly field).");
            }

            result.Add(Create(build, member, attribute, isComponent: false, prefix));
        }

        foreach (var component in TargetDiscovery.Components(buildType))
        {
            foreach (var property in component.GetProperties(flags | BindingFlags.DeclaredOnly))
            {
                if (property.GetCustomAttribute<ParameterAttribute>() is { } attribute
                    && !result.Any(p => string.Equals(p.Name, attribute.Name ?? property.Name, StringComparison.OrdinalIgnoreCase)))
                {
                    result.Add(Create(build, property, attribute, isComponent: true, prefix));
                }
            }
        }

        var duplicate = result.GroupBy(p => Naming.Normalize(p.Name)).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new PipelineException($"Parameter '{duplicate.First().DisplayName}' is declared more than once.");
        }

        return result.OrderBy(p => p.Name, StringComparer.Ordinal).ToList();
    }

    private static ParameterDescriptor Create(object build, MemberInfo member, ParameterAttribute attribute, bool isComponent, string prefix)
    {
        var type = member is FieldInfo field ? field.FieldType : ((PropertyInfo)member).PropertyType;
        Func<IEnumerable<string>>? provider = null;
        if (attribute.ValueProviderMember is { } providerName)
        {
            var providerMember = member.DeclaringType!.GetMember(
                    providerName,
                    BindingFlags.Instance | BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic)
                .FirstOrDefault()
                ?? throw new PipelineException($"Value provider '{providerName}' of parameter '{member.Name}' does not exist.");
            provider = () => (IEnumerable<string>)(providerMember switch
            {
                PropertyInfo p => p.GetValue(p.GetMethod!.IsStatic ? null : build),
                FieldInfo f => f.GetValue(f.IsStatic ? null : build),
                MethodInfo m => m.Invoke(m.IsStatic ? null : build, null),
                _ => null,
            } ?? Array.Empty<string>());
        }

        return new ParameterDescriptor(attribute.Name ?? member.Name, type, attribute.Description)
        {
            Member = member,
            IsSecret = member.GetCustomAttribute<SecretAttribute>() is not null,
            Listed = attribute.List,
            Separator = attribute.Separator,
            Sources = attribute.Sources,
            InHeader = attribute.Header,
            VariableName = VariableNameFor(prefix, attribute.Name ?? member.Name),
            ValueProvider = provider,
            DefaultValue = isComponent
                ? () => ((PropertyInfo)member).GetValue(build)
                : () => member is FieldInfo f ? f.GetValue(build) : ((PropertyInfo)member).GetValue(build),
        };
    }

    /// <summary>Finds the raw value: command line, then environment variable, then parameter files.</summary>
    public IReadOnlyList<string>? Raw(ParameterDescriptor parameter)
    {
        var values = Find(parameter);
        return values is { Count: 1 } && parameter.IsArray && parameter.Separator != default
            ? values[0].Split(parameter.Separator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            : values;
    }

    private IReadOnlyList<string>? Find(ParameterDescriptor parameter)
    {
        var normalized = Naming.Normalize(parameter.Name);
        if (_commandLine.Values(normalized) is { } cli)
        {
            parameter.Source = "command line";
            return cli.Count == 0 && parameter.IsFlag ? ["true"] : cli;
        }

        if (FromEnvironment(parameter, normalized) is { } env)
        {
            return env;
        }

        foreach (var (file, values) in _files)
        {
            var entry = values.FirstOrDefault(kv => Naming.Normalize(kv.Key) == normalized);
            if (entry.Key is null)
            {
                continue;
            }

            if (parameter.IsSecret)
            {
                throw new PipelineException(
                    $"{file}: secret parameter '{parameter.Name}' must not be stored in a parameter file; pass it as environment variable {parameter.VariableName}.");
            }

            if (!parameter.Sources.HasFlag(ParameterSources.ParameterFile))
            {
                Ignored(parameter, $"'{entry.Key}' in {Path.GetFileName(file)}");
                continue;
            }

            parameter.Source = Path.GetFileName(file);
            return entry.Value.ValueKind switch
            {
                JsonValueKind.Array => entry.Value.EnumerateArray().Select(JsonText).ToList(),
                JsonValueKind.Null => null,
                _ => [JsonText(entry.Value)],
            };
        }

        return null;
    }

    private void Ignored(ParameterDescriptor parameter, string where)
    {
        var allowed = new List<string>();
        if (parameter.Sources.HasFlag(ParameterSources.CommandLine))
        {
            allowed.Add($"the command line ({parameter.DisplayName})");
        }

        if (parameter.Sources.HasFlag(ParameterSources.PrefixedVariable))
        {
            allowed.Add(parameter.VariableName);
        }

        if (parameter.Sources.HasFlag(ParameterSources.ParameterFile))
        {
            allowed.Add("parameter files");
        }

        Warnings.Add($"{where} is ignored: {parameter.DisplayName} is only taken from {string.Join(", ", allowed)}.");
    }

    private IReadOnlyList<string>? FromEnvironment(ParameterDescriptor parameter, string normalized)
    {
        // LLMSTACK_<NAME> (any case and separators), then, where a parameter opts in, the bare name. Built-ins never take
        // a bare name: a CI variable like TARGET must never pick targets.
        var prefixed = Naming.Normalize(_prefix) + normalized;
        var tiers = new List<(ParameterSources Source, Func<string, bool> Matches)>
        {
            (ParameterSources.PrefixedVariable, key => Naming.Normalize(key) == prefixed),
        };
        if (!parameter.IsBuiltIn)
        {
            tiers.Add((ParameterSources.BareVariable, key => Naming.Normalize(key) == normalized));
        }

        foreach (var (source, matches) in tiers)
        {
            var found = _environment.Where(kv => matches(kv.Key)).ToList();
            if (found.Count == 0 || (source == ParameterSources.BareVariable && !parameter.Sources.HasFlag(source)))
            {
                continue; // an ambient bare variable is not a parameter unless the parameter says so: no warning either
            }

            if (!parameter.Sources.HasFlag(source))
            {
                Ignored(parameter, $"environment variable {found[0].Key}");
                continue;
            }

            if (found.Count > 1)
            {
                Warnings.Add(
                    $"Environment variables {string.Join(", ", found.Select(m => m.Key))} all match parameter {parameter.DisplayName}: ignored, set only one.");
                continue;
            }

            var (key, value) = found[0];
            if (string.IsNullOrWhiteSpace(value))
            {
                // An empty variable (a CI template passing an empty input) means "not given", never "an empty list".
                if (parameter.IsFlag)
                {
                    parameter.Source = $"environment variable {key}";
                    return ["false"];
                }

                continue;
            }

            parameter.Source = $"environment variable {key}";
            return parameter.IsArray
                ? value.Split([' ', '\t', '\n'], StringSplitOptions.RemoveEmptyEntries)
                : [value];
        }

        return null;
    }

    /// <summary>Converts raw values to the parameter's type; the message names the parameter and the fix.</summary>
    public static object? Convert(ParameterDescriptor parameter, IReadOnlyList<string> raw)
    {
        var values = raw;
        if (!parameter.IsArray)
        {
            if (values.Count == 0)
            {
                throw new PipelineException($"Parameter {parameter.DisplayName} needs a value{Hint(parameter)}.");
            }

            if (values.Count > 1)
            {
                throw new PipelineException(
                    $"Parameter {parameter.DisplayName} takes one value but got {values.Count} ({string.Join(' ', parameter.IsSecret ? ["***"] : values)}): quote it if it contains spaces.");
            }
        }

        var converted = values.Select(v => ConvertOne(parameter, v)).ToList();
        if (!parameter.IsArray)
        {
            return converted[0];
        }

        var array = Array.CreateInstance(parameter.ElementType, converted.Count);
        for (var i = 0; i < converted.Count; i++)
        {
            array.SetValue(converted[i], i);
        }

        return array;
    }

    /// <summary>
    /// Checks values against a value provider's set (run after every parameter is injected, since the set may
    /// depend on another parameter such as --schema) and returns them in the set's spelling.
    /// When the set cannot be computed the check is left to the target that reads the source.
    /// </summary>
    public static IReadOnlyList<string> CheckValueSet(ParameterDescriptor parameter, IReadOnlyList<string> values)
    {
        if (parameter.ElementType.IsEnum || parameter.ValueSet is not { } allowed)
        {
            return values;
        }

        return values.Select(value =>
                allowed.FirstOrDefault(a => string.Equals(a, value, StringComparison.OrdinalIgnoreCase))
                ?? throw new PipelineException(
                    $"Invalid value '{value}' for {parameter.DisplayName}: allowed values are {string.Join(", ", allowed)}."))
            .ToList();
    }

    private static object? ConvertOne(ParameterDescriptor parameter, string value)
    {
        if (parameter.ElementType == typeof(string))
        {
            return value;
        }

        // Parsed directly (TypeDescriptor's converters cost a large part of a cold start).
        var type = parameter.ElementType;
        var invariant = System.Globalization.CultureInfo.InvariantCulture;
        object? parsed = type == typeof(bool) ? bool.TryParse(value, out var b) ? b : null
            : type == typeof(int) ? int.TryParse(value, System.Globalization.NumberStyles.Integer, invariant, out var i) ? i : null
            : type == typeof(long) ? long.TryParse(value, System.Globalization.NumberStyles.Integer, invariant, out var l) ? l : null
            : type == typeof(double) ? double.TryParse(value, System.Globalization.NumberStyles.Float, invariant, out var d) ? d : null
            : type.IsEnum ? Enum.TryParse(type, value, ignoreCase: true, out var e) && Enum.IsDefined(type, e!) ? e : null
            : throw new InvalidOperationException($"parameter {parameter.DisplayName}: type {type.Name} is not supported");
        if (parsed is null)
        {
            var shown = parameter.IsSecret ? "***" : value;
            throw new PipelineException($"Invalid value '{shown}' for {parameter.DisplayName}: expected {Expected(parameter)}.");
        }

        return parsed;
    }

    private static string Expected(ParameterDescriptor parameter) =>
        parameter.ElementType.IsEnum ? "one of " + string.Join(", ", parameter.ValueSet!)
        : parameter.ElementType == typeof(bool) ? "true or false"
        : parameter.ElementType == typeof(int) || parameter.ElementType == typeof(long) ? "an integer"
        : "a " + parameter.ElementType.Name.ToLowerInvariant();

    private static string Hint(ParameterDescriptor parameter) =>
        parameter.ValueSet is { Count: > 0 } set ? $" (one of {string.Join(", ", set)})" : string.Empty;

    public void Inject(object build, ParameterDescriptor parameter, object? value)
    {
        switch (parameter.Member)
        {
            case PropertyInfo property when property.DeclaringType!.IsInterface:
                _componentValues[(property.DeclaringType, property.Name)] = value;
                break;
            case PropertyInfo property:
                property.SetValue(build, value);
                break;
            case FieldInfo field:
                field.SetValue(build, value);
                break;
        }
    }

    /// <summary>The resolved value of a component parameter, or null when none was given.</summary>
    public object? ComponentValue(MemberInfo member) =>
        _componentValues.TryGetValue((member.DeclaringType!, member.Name), out var value) ? value : null;

    private static string JsonText(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.String => element.GetString()!,
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        _ => element.GetRawText(),
    };
}
