using System.Text.Json;
using Serilog;
using LlmStack.Reporting;

namespace LlmStack.ChangeControl;

/// <summary>One change applied (or attempted) by a destructive operation: who, when, which target, what, and how it went.</summary>
public sealed record AuditEntry(
    DateTimeOffset Time,
    string Target,
    string Environment,
    string Kind,
    string Resource,
    string Action,
    string Result,
    string? Detail,
    string User,
    string Host,
    int Pid);

/// <summary>
/// Append-only JSON lines (<c>audit/audit.jsonl</c> under the state directory, git-ignored in a checkout, or
/// LLMSTACK_AUDIT_LOG): every change the change gate applies, who ran it, where and when, and its result. Each entry is
/// also logged.
/// </summary>
public sealed class AuditLog(string path, ILogger log)
{
    public const string PathVariable = "LLMSTACK_AUDIT_LOG";

    private readonly Lock _lock = new();

    public string Path { get; } = path;

    /// <param name="path">Where the state directory keeps the audit log (the Sessions' <c>StatePaths.AuditLog</c>), unless LLMSTACK_AUDIT_LOG names another file.</param>
    public static AuditLog For(string path, ILogger log) =>
        new(Environment.GetEnvironmentVariable(PathVariable) is { Length: > 0 } custom ? custom : path, log);

    public AuditEntry Record(string target, string environment, string kind, string resource, string action, string result, string? detail = null)
    {
        var entry = new AuditEntry(
            DateTimeOffset.UtcNow, target, environment, kind, resource, action, result, detail, Environment.UserName, Environment.MachineName, Environment.ProcessId);
        lock (_lock)
        {
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
            File.AppendAllText(Path, JsonSerializer.Serialize(entry, JsonDefaults.Line) + "\n");
        }

        if (detail is null)
        {
            log.Information("Audit: {Target} {Action} {Kind} {Resource} in {Environment}: {Result}", target, action, kind, resource, environment, result);
        }
        else
        {
            log.Information("Audit: {Target} {Action} {Kind} {Resource} in {Environment}: {Result} ({Detail})", target, action, kind, resource, environment, result, detail);
        }
        return entry;
    }

    public IReadOnlyList<AuditEntry> Read() =>
        File.Exists(Path)
            ? File.ReadAllLines(Path).Where(l => l.Length > 0).Select(l => JsonSerializer.Deserialize<AuditEntry>(l, JsonDefaults.Line)!).ToList()
            : [];
}
