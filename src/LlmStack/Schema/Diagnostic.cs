namespace LlmStack.Schema;

public enum Severity
{
    Warning,
    Error,
}

/// <summary>One problem, printed as <c>file:line:col: error: message</c>.</summary>
public sealed record Diagnostic(Severity Severity, SourceLocation Location, string Message)
{
    public bool IsError => Severity == Severity.Error;

    public override string ToString() =>
        $"{Location}: {(IsError ? "error" : "warning")}: {Message}";
}

/// <summary>Collects diagnostics in source order.</summary>
public sealed class DiagnosticBag
{
    private readonly List<Diagnostic> _items = [];

    public IReadOnlyList<Diagnostic> Items => _items
        .OrderBy(d => d.Location.File, StringComparer.Ordinal)
        .ThenBy(d => d.Location.Line)
        .ThenBy(d => d.Location.Column)
        .ThenBy(d => d.Message, StringComparer.Ordinal)
        .ToList();

    public bool HasErrors => _items.Any(d => d.IsError);

    public void Error(SourceLocation location, string message) => Add(new Diagnostic(Severity.Error, location, message));

    public void Warning(SourceLocation location, string message) => Add(new Diagnostic(Severity.Warning, location, message));

    public void Add(Diagnostic diagnostic)
    {
        if (!_items.Contains(diagnostic))
        {
            _items.Add(diagnostic);
        }
    }
}
