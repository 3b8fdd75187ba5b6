namespace LlmStack.Pipeline;

/// <summary><c>--help</c>: targets with their direct dependencies and descriptions, then parameters.</summary>
internal static class HelpWriter
{
    private const int Width = 100;

    public static void Write(TextWriter output, IReadOnlyList<ExecutableTarget> targets, IReadOnlyList<ParameterDescriptor> parameters, BuiltInParameters builtIns, string command, string prefix)
    {
        output.WriteLine($"Usage: {command} <target> [<target> ...] [--parameter value ...]");
        output.WriteLine();
        output.WriteLine("Targets (with their direct dependencies):");
        output.WriteLine();
        foreach (var target in targets.Where(t => t.Listed))
        {
            var dependencies = target.ExecutionDependencies.Count > 0
                ? " -> " + string.Join(", ", target.ExecutionDependencies.Select(d => d.Name))
                : string.Empty;
            output.WriteLine($"  {target.Name}{dependencies}");
            foreach (var line in Wrap(target.Description ?? string.Empty, Width - 6))
            {
                output.WriteLine("      " + line);
            }
        }

        output.WriteLine();
        output.WriteLine("Parameters:");
        output.WriteLine();
        foreach (var parameter in parameters.Where(p => p.Listed))
        {
            WriteParameter(output, parameter);
        }

        output.WriteLine();
        foreach (var parameter in builtIns.All)
        {
            WriteParameter(output, parameter);
        }

        output.WriteLine();
        output.WriteLine("Names ignore case and dashes (--image-map = --imagemap). Values come from the command line,");
        output.WriteLine($"then environment variables ({prefix}_<NAME>), then .nuke/parameters.<profile>.json and .nuke/parameters.json,");
        output.WriteLine("else the default; a parameter marked 'command line only' takes no other source.");
    }

    private static void WriteParameter(TextWriter output, ParameterDescriptor parameter)
    {
        output.WriteLine($"  {parameter.DisplayName} {parameter.TypeText}".TrimEnd());
        var text = parameter.Description is null ? string.Empty : parameter.Description + ".";
        if (parameter.ValueSet is { Count: > 0 } set && !parameter.ElementType.IsEnum)
        {
            text += $" Allowed: {string.Join(", ", set)}.";
        }
        else if (parameter.ValueSetError is { } valueSetError)
        {
            text += $" (Allowed values unavailable: {valueSetError})";
        }

        if (parameter.Sources == ParameterSources.CommandLine)
        {
            text += " Command line only.";
        }
        else if (parameter.Sources.HasFlag(ParameterSources.BareVariable))
        {
            text += $" Also read from {Naming.ToKebabCase(parameter.Name).Replace('-', '_').ToUpperInvariant()}.";
        }

        if (parameter.IsSecret)
        {
            text += $" Secret: pass it as {parameter.VariableName}; never printed.";
        }
        else if (parameter.DefaultText is { } defaultText)
        {
            text += $" Default: {defaultText}.";
        }

        foreach (var line in Wrap(text.Trim(), Width - 6))
        {
            output.WriteLine("      " + line);
        }
    }

    internal static IEnumerable<string> Wrap(string text, int width)
    {
        var line = string.Empty;
        foreach (var word in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.Length > 0 && line.Length + 1 + word.Length > width)
            {
                yield return line;
                line = word;
            }
            else
            {
                line = line.Length == 0 ? word : line + " " + word;
            }
        }

        if (line.Length > 0)
        {
            yield return line;
        }
    }
}
