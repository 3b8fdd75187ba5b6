using Serilog;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting;
using Serilog.Formatting.Compact;
using Serilog.Formatting.Display;
using Serilog.Parsing;

namespace LlmStack.Pipeline;

/// <summary>
/// Serilog for a run: the console (at --verbosity), <c>.nuke/temp/build.log</c> (everything, with the executing
/// target) and <c>.nuke/temp/build.json</c> (compact JSON). Every event passes the secret masker first, and loses any
/// terminal control sequence.
/// </summary>
internal static class Logging
{
    public const string ConsoleTemplate = "{Timestamp:HH:mm:ss} [{Level:u3}] {Message:lj}{NewLine}{Exception}";
    public const string FileTemplate = "{Timestamp:HH:mm:ss.fff} | {Level:u1} | {Target,-20} | {Message:lj}{NewLine}{Exception}";

    /// <param name="output">Console output for tests and embedding (null: the process console).</param>
    /// <param name="error">With <paramref name="output"/>: where errors go, as the console sends them to standard error.</param>
    /// <param name="allToStandardError">The process console's sink writes every level to standard error (a run whose standard output is a document).</param>
    public static Logger Create(
        string temporaryDirectory, Verbosity verbosity, TextWriter? output, TextWriter? error, SecretMasker masker, Func<string?> currentTarget, bool allToStandardError = false)
    {
        Directory.CreateDirectory(temporaryDirectory);
        var logFile = Path.Combine(temporaryDirectory, "build.log");
        var jsonFile = Path.Combine(temporaryDirectory, "build.json");
        File.Delete(logFile);
        File.Delete(jsonFile);

        var consoleLevel = verbosity switch
        {
            Verbosity.Quiet => LogEventLevel.Error,
            Verbosity.Minimal => LogEventLevel.Warning,
            Verbosity.Verbose => LogEventLevel.Debug,
            _ => LogEventLevel.Information,
        };

        var sinks = new LoggerConfiguration()
            .MinimumLevel.Verbose()
            .WriteTo.File(logFile, outputTemplate: FileTemplate, formatProvider: System.Globalization.CultureInfo.InvariantCulture)
            .WriteTo.File(new CompactJsonFormatter(), jsonFile);
        sinks = output is null
            ? sinks.WriteTo.Console(
                consoleLevel, ConsoleTemplate, formatProvider: System.Globalization.CultureInfo.InvariantCulture,
                standardErrorFromLevel: allToStandardError ? LogEventLevel.Verbose : LogEventLevel.Error)
            : sinks.WriteTo.Sink(new WriterSink(output, error ?? output, new MessageTemplateTextFormatter(ConsoleTemplate, System.Globalization.CultureInfo.InvariantCulture)), consoleLevel);
        var inner = sinks.CreateLogger();

        return new LoggerConfiguration()
            .MinimumLevel.Verbose()
            .Enrich.With(new TargetEnricher(currentTarget))
            .WriteTo.Sink(new MaskingSink(inner, masker))
            .CreateLogger();
    }

    private sealed class TargetEnricher(Func<string?> currentTarget) : ILogEventEnricher
    {
        public void Enrich(LogEvent logEvent, ILogEventPropertyFactory propertyFactory) =>
            logEvent.AddPropertyIfAbsent(propertyFactory.CreateProperty("Target", currentTarget() ?? "-"));
    }

    /// <summary>
    /// Rewrites an event with every registered secret replaced and every terminal control sequence removed (the last line
    /// of defence: a tool's raw <c>ESC[2K</c> never lands in build.log, build.json or the console), then forwards it (and
    /// owns the inner logger).
    /// </summary>
    private sealed class MaskingSink(Logger inner, SecretMasker masker) : ILogEventSink, IDisposable
    {
        private static readonly MessageTemplateParser Parser = new();

        public void Emit(LogEvent logEvent)
        {
            if (masker.IsEmpty && !NeedsCleaning(logEvent))
            {
                inner.Write(logEvent);
                return;
            }

            var text = logEvent.MessageTemplate.Text;
            var template = masker.Contains(text) || TerminalText.NeedsCleaning(text)
                ? Parser.Parse(Clean(text))
                : logEvent.MessageTemplate;
            var exception = logEvent.Exception is { } e && (masker.Contains(e.ToString()) || TerminalText.NeedsCleaning(e.Message))
                ? new MaskedException(Clean($"{e.GetType().FullName}: {e.Message}"), masker.Mask(e.StackTrace ?? string.Empty))
                : logEvent.Exception;
            var properties = logEvent.Properties.Select(p => new LogEventProperty(p.Key, Mask(p.Value)));
            inner.Write(new LogEvent(logEvent.Timestamp, logEvent.Level, exception, template, properties));
        }

        private string Clean(string text) => TerminalText.Clean(masker.Mask(text));

        private static bool NeedsCleaning(LogEvent logEvent) =>
            TerminalText.NeedsCleaning(logEvent.MessageTemplate.Text)
            || (logEvent.Exception is { } e && TerminalText.NeedsCleaning(e.Message))
            || logEvent.Properties.Values.Any(NeedsCleaning);

        private static bool NeedsCleaning(LogEventPropertyValue value) => value switch
        {
            ScalarValue { Value: string s } => TerminalText.NeedsCleaning(s),
            SequenceValue sequence => sequence.Elements.Any(NeedsCleaning),
            StructureValue structure => structure.Properties.Any(p => NeedsCleaning(p.Value)),
            DictionaryValue dictionary => dictionary.Elements.Any(kv => NeedsCleaning(kv.Value)),
            _ => false,
        };

        private LogEventPropertyValue Mask(LogEventPropertyValue value) => value switch
        {
            ScalarValue { Value: string s } => new ScalarValue(Clean(s)),
            ScalarValue { Value: not null } scalar when masker.Contains(scalar.Value.ToString() ?? string.Empty) =>
                new ScalarValue(masker.Mask(scalar.Value.ToString()!)),
            SequenceValue sequence => new SequenceValue(sequence.Elements.Select(Mask)),
            StructureValue structure => new StructureValue(structure.Properties.Select(p => new LogEventProperty(p.Name, Mask(p.Value))), structure.TypeTag),
            DictionaryValue dictionary => new DictionaryValue(dictionary.Elements.Select(kv =>
                new KeyValuePair<ScalarValue, LogEventPropertyValue>(kv.Key, Mask(kv.Value)))),
            _ => value,
        };

        public void Dispose() => inner.Dispose();
    }

    /// <summary>Console output into given writers (tests, embedding): errors to the error writer, as on a console.</summary>
    private sealed class WriterSink(TextWriter output, TextWriter error, ITextFormatter formatter) : ILogEventSink
    {
        private readonly Lock _lock = new();

        public void Emit(LogEvent logEvent)
        {
            var writer = logEvent.Level >= LogEventLevel.Error ? error : output;
            lock (_lock)
            {
                formatter.Format(logEvent, writer);
                writer.Flush();
            }
        }
    }

    private sealed class MaskedException(string message, string stackTrace) : Exception(message)
    {
        public override string? StackTrace { get; } = stackTrace;

        public override string ToString() => Message + Environment.NewLine + StackTrace;
    }
}
