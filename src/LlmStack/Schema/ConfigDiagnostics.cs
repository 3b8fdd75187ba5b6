namespace LlmStack.Schema;

/// <summary>How a configuration file's diagnostics reach the user: all of them for ValidateSchema, the first error for the targets that only use it.</summary>
public static class ConfigDiagnostics
{
    /// <summary>Parses a configuration file bound like the schema, then validates it: every problem with file:line:col.</summary>
    public static (T? Config, IReadOnlyList<Diagnostic> Diagnostics) Load<T>(string path, string displayPath, string what, string notFound, Action<T, DiagnosticBag> validate)
        where T : SchemaNode, new()
    {
        var diagnostics = new DiagnosticBag();
        var config = SchemaLoader.ParseDocument<T>(path, displayPath, diagnostics, what, notFound);
        if (config is not null)
        {
            validate(config, diagnostics);
        }

        return (config, diagnostics.Items);
    }

    /// <summary>The configuration when it has no error; else the first error (for the targets that only use it).</summary>
    public static T Valid<T>((T? Config, IReadOnlyList<Diagnostic> Diagnostics) loaded)
        where T : SchemaNode
    {
        ThrowFirstError(loaded.Diagnostics);
        return loaded.Config!;
    }

    /// <summary>Prints every diagnostic (file:line:col) and throws when there is an error.</summary>
    public static void Report(IReadOnlyList<Diagnostic> diagnostics, string displayPath, TextWriter output)
    {
        foreach (var diagnostic in diagnostics)
        {
            output.WriteLine(diagnostic.ToString());
        }

        var errors = diagnostics.Count(d => d.IsError);
        if (errors > 0)
        {
            throw new SchemaException($"{displayPath}: {errors} error(s), {diagnostics.Count - errors} warning(s): fix the errors above and run ValidateSchema again");
        }
    }

    /// <summary>Throws the first error, saying how many more there are.</summary>
    public static void ThrowFirstError(IReadOnlyList<Diagnostic> diagnostics)
    {
        var errors = diagnostics.Where(d => d.IsError).ToList();
        if (errors.Count > 0)
        {
            var more = errors.Count > 1 ? $" (and {errors.Count - 1} more: run ValidateSchema)" : string.Empty;
            throw new SchemaException($"{errors[0]}{more}");
        }
    }
}
