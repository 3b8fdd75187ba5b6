using System.Text.RegularExpressions;
using LlmStack.Schema;
using Microsoft.Extensions.FileSystemGlobbing;

namespace LlmStack.Security.Scanning;

/// <summary>
/// <c>configs/secret-scan-allowlist.yaml</c>, bound like the schema (malformed YAML, unknown keys and wrong shapes are
/// diagnostics at file:line:col):
/// <code>
/// allow:
///   - fingerprint: docs/SECURITY.md;jwt;&lt;sha256 of the match&gt;   # printed with each finding
///     reason: the example token of the JWT rule
///   - path: tests/fixtures/**/*.pem                                # a glob relative to the scanned root
///     reason: made-up keys for the parser tests
/// </code>
/// Every entry needs a <c>reason</c> and exactly one of <c>fingerprint</c> and <c>path</c>.
/// </summary>
public sealed partial class SecretScanAllowlist : SchemaNode
{
    public const string DefaultPath = "configs/secret-scan-allowlist.yaml";

    public List<AllowlistEntry> Allow { get; set; } = [];

    /// <summary>The entry that allows <paramref name="finding"/>, if any.</summary>
    public AllowlistEntry? Match(Finding finding) => Allow.FirstOrDefault(entry => entry.Matches(finding));

    /// <summary>The allowlist at <paramref name="path"/>; empty when the file does not exist; every problem at once when it is wrong.</summary>
    public static SecretScanAllowlist Load(string path, string displayPath)
    {
        if (!File.Exists(path))
        {
            return new SecretScanAllowlist();
        }

        var (allowlist, diagnostics) = ConfigDiagnostics.Load<SecretScanAllowlist>(path, displayPath, "the secret scan allowlist", $"{displayPath} not found", Validate);
        var errors = diagnostics.Where(d => d.IsError).ToList();
        if (errors.Count > 0)
        {
            var more = errors.Count > 1 ? $" (and {errors.Count - 1} more)" : string.Empty;
            throw new Pipeline.PipelineException($"{errors[0]}{more}: see docs/SECURITY.md#validatesecurity for the allowlist format");
        }

        return allowlist!;
    }

    internal static void Validate(SecretScanAllowlist allowlist, DiagnosticBag diagnostics)
    {
        for (var i = 0; i < allowlist.Allow.Count; i++)
        {
            var entry = allowlist.Allow[i];
            var where = entry.Location;
            if (string.IsNullOrWhiteSpace(entry.Reason))
            {
                diagnostics.Error(where, $"allow[{i}]: every entry needs a reason (why this is no secret, or why it may stay)");
            }

            if ((entry.Fingerprint is null) == (entry.Path is null))
            {
                diagnostics.Error(where, $"allow[{i}]: give exactly one of fingerprint (copied from a finding) and path (a glob)");
            }
            else if (entry.Fingerprint is { } fingerprint && !FingerprintFormat().IsMatch(fingerprint))
            {
                diagnostics.Error(entry.Locate("fingerprint"), $"allow[{i}]: a fingerprint is path;rule;sha256 (64 hex digits), as printed with each finding");
            }
            else if (entry.Path is { Length: 0 })
            {
                diagnostics.Error(entry.Locate("path"), $"allow[{i}]: path is an empty glob");
            }
        }
    }

    [GeneratedRegex("^.+;[a-z0-9-]+;[0-9a-f]{64}$")]
    private static partial Regex FingerprintFormat();
}

/// <summary>One allowlist entry: a finding's fingerprint, or a path glob (<c>**</c>, <c>*</c>), with the reason.</summary>
public sealed class AllowlistEntry : SchemaNode
{
    private Matcher? _matcher;

    public string? Fingerprint { get; set; }

    public string? Path { get; set; }

    public string? Reason { get; set; }

    public bool Matches(Finding finding)
    {
        if (Fingerprint is not null)
        {
            return string.Equals(Fingerprint, finding.Fingerprint, StringComparison.Ordinal);
        }

        if (Path is null)
        {
            return false;
        }

        _matcher ??= new Matcher(StringComparison.Ordinal).AddInclude(Path);
        return _matcher.Match(finding.Path).HasMatches;
    }
}
