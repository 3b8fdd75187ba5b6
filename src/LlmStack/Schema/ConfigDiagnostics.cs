namespace LlmStack.Schema;

/// <summary>How a configuration file's diagnostics reach the user: all of them for ValidateSchema, the first error for the targets that only use it.</summary>
public static class ConfigDiagnostics
{
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
