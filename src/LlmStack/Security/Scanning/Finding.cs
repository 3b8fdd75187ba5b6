using System.Security.Cryptography;
using System.Text;

namespace LlmStack.Security.Scanning;

/// <summary>
/// One secret found: where (a path relative to the scanned root, 1-based line and column, and the commit for a history
/// finding), which rule, and the match itself — which stays in memory: every output goes through <see cref="Redacted"/>
/// and <see cref="Fingerprint"/>.
/// </summary>
public sealed record Finding(string RuleId, string Path, int Line, int Column, string Match, string Message, string? Commit = null)
{
    /// <summary>The first four characters, then an ellipsis: enough to recognise, never enough to use.</summary>
    public string Redacted => Redact(Match);

    /// <summary>
    /// <c>path;rule;sha256(match)</c>: what an allowlist entry copies; the same on every line and in every commit. The
    /// separator is ';' because no rule reads past it: with ':' the rule id and hash (<c>…-secret-assignment:&lt;hex&gt;</c>)
    /// would look like a secret assignment themselves.
    /// </summary>
    public string Fingerprint => $"{Path};{RuleId};{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Match)))}";

    /// <summary><c>path:line:col</c>, prefixed with the short commit id for a history finding.</summary>
    public string Location => (Commit is null ? string.Empty : $"{Commit[..Math.Min(12, Commit.Length)]}:") + $"{Path}:{Line}:{Column}";

    public static string Redact(string value) => value.Length <= 4 ? "…" : string.Concat(value.AsSpan(0, 4), "…");
}
