using LlmStack.ChangeControl;
using LlmStack.Pipeline;
using LlmStack.Reporting;
using LlmStack.Schema;
using LlmStack.Sessions;

namespace LlmStack.Tests.Sessions;

/// <summary>A session of an environment of the repository's schema that never reaches an engine (dry-run gate, no output).</summary>
internal static class TestSession
{
    public static EnvironmentSession Of(string environment) => new(new SessionOptions
    {
        Schema = new SchemaFile(Repository.Root, "schemas/compose-schema.yaml"),
        Environment = environment,
        State = StatePaths.Of(Repository.Root),
        Gate = new GateOptions(DryRun: true, Confirm: null, TextReader.Null, Interactive: false, new AuditLog(Path.Combine(Path.GetTempPath(), "llmstack-unused-audit.log"), Serilog.Core.Logger.None)),
        Masker = new SecretMasker(),
        Log = Serilog.Core.Logger.None,
        Out = TextWriter.Null,
        Reports = new ReportWriter(TextWriter.Null, TextWriter.Null, json: false),
    });
}
