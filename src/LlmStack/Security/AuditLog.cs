using System.Text.Json;
using Serilog;

namespace LlmStack.Security;

/// <summary>One change made by a destructive operation.</summary>
public sealed record AuditEntry(DateTimeOffset Time, string Operation, string Environment, string Action, string Target, string? Detail, string User, string Host);

/// <summary>
/// Append-only JSON lines (<c>audit/audit.jsonl</c> under the repository, git-ignored, or LLMSTACK_AUDIT_LOG):
/// every removal, wipe or restore, who ran it, where and when. Each entry is also logged.
/// </summary>
public sealed class AuditLog(string path, ILogger log)
{
    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase };
    private readonly Lock _lock = new();

    public string Path { get; } = path;

    public static AuditLog For(string rootDirectory, ILogger log) =>
        new(Environment.GetEnvironmentVariable("LLMSTACK_AUDIT_LOG") is { Length: > 0 } custom
            ? custom
            : System.IO.Path.Combine(rootDirectory, "audit", "audit.jsonl"), log);

    public void Record(string operation, string environment, string action, string target, string? detail = null)
    {
        var entry = new AuditEntry(DateTimeOffset.UtcNow, operation, environment, action, target, detail, Environment.UserName, Environment.MachineName);
        lock (_lock)
        {
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
            File.AppendAllText(Path, JsonSerializer.Serialize(entry, Json) + "\n");
        }

        log.Information("Audit: {Operation} {Action} {Target} ({Environment})", operation, action, target, environment);
    }

    public IReadOnlyList<AuditEntry> Read() =>
        File.Exists(Path)
            ? File.ReadAllLines(Path).Where(l => l.Length > 0).Select(l => JsonSerializer.Deserialize<AuditEntry>(l, Json)!).ToList()
            : [];
}
