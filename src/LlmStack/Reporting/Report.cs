using System.Text.Json;
using System.Text.Json.Serialization;
using LlmStack.Pipeline;

namespace LlmStack.Reporting;

/// <summary>
/// The JSON options of everything LlmStack writes as JSON (documents for <c>--json</c>, manifests, reports, journals,
/// audit lines) and reads back: camelCase names, enums as camelCase strings, nulls left out. One place, so every document
/// looks alike.
/// </summary>
public static class JsonDefaults
{
    /// <summary>Indented: what people and <c>jq</c> read (<c>--json</c> documents, manifests, reports).</summary>
    public static JsonSerializerOptions Document { get; } = Create(indented: true);

    /// <summary>One line per value: audit log entries, journals, lock holders.</summary>
    public static JsonSerializerOptions Line { get; } = Create(indented: false);

    /// <summary>JSON other programs write (restic): names as they spell them, any case.</summary>
    public static JsonSerializerOptions Foreign { get; } = new() { PropertyNameCaseInsensitive = true };

    private static JsonSerializerOptions Create(bool indented)
    {
        var options = new JsonSerializerOptions
        {
            WriteIndented = indented,
            PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping, // readable '…' and '→'; never embedded in HTML
        };
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase));
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }
}

/// <summary>
/// What a reporting target shows, one shape for all of them: tables and lines for people, one JSON document for
/// machines (<c>--json</c>), and the one line that fails the run when something is wrong (<see cref="Failure"/>; null:
/// it passes). <see cref="ReportWriter"/> writes it either way; no area decides between table and JSON itself.
/// </summary>
public sealed class Report
{
    private readonly List<Action<TextWriter>> _parts = [];

    /// <summary>The <c>--json</c> document (serialised with <see cref="JsonDefaults.Document"/>).</summary>
    public object? Document { get; set; }

    /// <summary>Why the run fails, in one line (the table or document is written first); null when it passes.</summary>
    public string? Failure { get; set; }

    public bool IsEmpty => _parts.Count == 0;

    public Report Table(TextTable table)
    {
        _parts.Add(table.Write);
        return this;
    }

    /// <summary>A table shown only when it has rows.</summary>
    public Report TableIfAny(TextTable table) => table.Count == 0 ? this : Table(table);

    public Report Line(string line = "")
    {
        _parts.Add(output => output.WriteLine(line));
        return this;
    }

    /// <summary>Fails the report with <paramref name="message"/> when <paramref name="problems"/> is not empty.</summary>
    public Report FailWhen(IReadOnlyCollection<string> problems, Func<IReadOnlyCollection<string>, string> message)
    {
        if (problems.Count > 0)
        {
            Failure = message(problems);
        }

        return this;
    }

    internal void WriteText(TextWriter output)
    {
        foreach (var part in _parts)
        {
            part(output);
        }
    }
}

/// <summary>
/// Writes reports: for people, the tables and lines on the console; with <c>--json</c>, only the document on standard
/// output (the engine sends every log line, banner and table of such a run to standard error, so the output pipes into
/// <c>jq</c>). Then the exit decision: a report with a <see cref="Report.Failure"/> fails the target in one line.
/// </summary>
/// <param name="summary">Also given each report's text (GitHub Actions' job summary); null: nowhere else.</param>
public sealed class ReportWriter(TextWriter console, TextWriter document, bool json, Action<string>? summary = null)
{
    public bool Json => json;

    public void Write(Report report)
    {
        if (json && report.Document is not null)
        {
            document.WriteLine(JsonSerializer.Serialize(report.Document, report.Document.GetType(), JsonDefaults.Document));
            document.Flush();
        }
        else
        {
            report.WriteText(console);
            console.Flush();
        }

        if (summary is not null && !report.IsEmpty)
        {
            using var text = new StringWriter();
            report.WriteText(text);
            summary(text.ToString());
        }

        if (report.Failure is { } failure)
        {
            throw new PipelineException(failure);
        }
    }

    /// <summary>A writer for code that has no --json (tests, tools): tables to <paramref name="console"/>.</summary>
    public static ReportWriter Text(TextWriter console) => new(console, console, json: false);
}
