using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using LlmStack.Pipeline;
using LlmStack.Reporting;

namespace LlmStack.Security.Scanning;

/// <summary>A rule as the reports describe it (content rules, the environment's secret values, the structural checks).</summary>
public sealed record RuleDescriptor(string Id, string Name, string Description);

/// <summary>The outcome of a scan: what remains after the allowlist, what the allowlist took and what was covered.</summary>
public sealed record SecretScanResult(string Root, IReadOnlyList<Finding> Findings, IReadOnlyList<(Finding Finding, AllowlistEntry Entry)> Allowed, FileScanStatistics Files, int? Commits);

/// <summary>The three outputs of a scan — a table, JSON and SARIF 2.1.0 — none of which holds a match, only its redaction and fingerprint.</summary>
public static class ScanReport
{
    public static readonly IReadOnlyList<RuleDescriptor> Rules =
    [
        .. SecretRules.All.Select(r => new RuleDescriptor(r.Id, r.Name, r.Description)),
        new(SecretRules.EnvironmentSecretId, "Environment secret value", "An exact occurrence of a value from a secrets file (<secrets dir>/<environment>.env) outside the secrets directory."),
        new(StructuralChecks.SecretLiteralId, "Literal value of a declared secret", "The unified schema or a generated compose file gives a declared secret a value instead of the reference ${NAME}."),
        new(SecretRules.SecretFallbackId, "Default for a declared secret", "${NAME:-default} (or -, =, :=) for a declared secret in the unified schema or a generated compose file: a missing secrets file would start services with a known value."),
        new(SecretRules.SecretsNotIgnoredId, "Secrets directory not git-ignored", "The secrets directory inside the repository is not ignored by .gitignore."),
        new(SecretRules.SecretsTrackedId, "File of the secrets directory tracked", "A file under the secrets directory is tracked by git."),
        new("scan-timeout", "Rule timed out", "A rule's regular expression exceeded its time limit on a file, which was therefore not fully checked."),
    ];

    /// <summary>ValidateSecurity's report: the findings (table or --json); fails in one line when there is one.</summary>
    public static Report For(SecretScanResult result, string allowlist)
    {
        var table = new TextTable("Location", "Rule", "Match", "Fingerprint");
        foreach (var finding in result.Findings)
        {
            table.Add(finding.Location, finding.RuleId, finding.Redacted, finding.Fingerprint);
        }

        return new Report { Document = Document(result) }
            .TableIfAny(table)
            .FailWhen(result.Findings.Select(f => f.RuleId).Distinct().ToList(), rules =>
                $"ValidateSecurity: {result.Findings.Count} finding(s) ({string.Join(", ", rules)}): remove each secret and rotate it, or allowlist it with a reason in {allowlist} (docs/SECURITY.md)");
    }

    public static string ToJson(SecretScanResult result) => JsonSerializer.Serialize(Document(result), JsonDefaults.Document);

    private static object Document(SecretScanResult result) => new
    {
        root = result.Root,
        files = new { scanned = result.Files.Scanned, skippedBinary = result.Files.Binary, skippedTooLarge = result.Files.TooLarge, gitAware = result.Files.GitAware },
        commits = result.Commits,
        findings = result.Findings.Select(Describe).ToList(),
        allowlisted = result.Allowed.Select(a => new { finding = Describe(a.Finding), reason = a.Entry.Reason }).ToList(),
    };

    private static object Describe(Finding f) => new
    {
        rule = f.RuleId,
        path = f.Path,
        line = f.Line,
        column = f.Column,
        commit = f.Commit,
        match = f.Redacted,
        message = f.Message,
        fingerprint = f.Fingerprint,
    };

    /// <summary>SARIF 2.1.0 for GitHub code scanning: URIs relative to the scanned root (%SRCROOT%), fingerprints as partialFingerprints.</summary>
    public static string ToSarif(SecretScanResult result)
    {
        var version = typeof(ScanReport).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "1.0.0";
        var index = Rules.Select((rule, i) => (rule.Id, i)).ToDictionary(p => p.Id, p => p.i);
        var rules = new JsonArray(Rules.Select(rule => (JsonNode)new JsonObject
        {
            ["id"] = rule.Id,
            ["name"] = Pascal(rule.Id),
            ["shortDescription"] = new JsonObject { ["text"] = rule.Name },
            ["fullDescription"] = new JsonObject { ["text"] = rule.Description },
            ["defaultConfiguration"] = new JsonObject { ["level"] = "error" },
            ["help"] = new JsonObject { ["text"] = "Remove the secret and rotate it (it stays in git history), or allowlist the finding with a reason in configs/secret-scan-allowlist.yaml (docs/SECURITY.md)." },
            ["properties"] = new JsonObject { ["tags"] = new JsonArray("security", "secret") },
        }).ToArray());
        var results = new JsonArray(result.Findings.Select(f =>
        {
            var message = $"{f.Message}: {f.Redacted}" + (f.Commit is null ? string.Empty : $" (added in commit {f.Commit})");
            var entry = new JsonObject
            {
                ["ruleId"] = f.RuleId,
                ["ruleIndex"] = index[f.RuleId],
                ["level"] = "error",
                ["message"] = new JsonObject { ["text"] = message },
                ["locations"] = new JsonArray(new JsonObject
                {
                    ["physicalLocation"] = new JsonObject
                    {
                        ["artifactLocation"] = new JsonObject { ["uri"] = RelativeUri(f.Path), ["uriBaseId"] = "%SRCROOT%" },
                        ["region"] = new JsonObject { ["startLine"] = f.Line, ["startColumn"] = f.Column },
                    },
                }),
                ["partialFingerprints"] = new JsonObject { ["secretFingerprint/v1"] = f.Fingerprint },
            };
            if (f.Commit is not null)
            {
                entry["properties"] = new JsonObject { ["commit"] = f.Commit };
            }

            return (JsonNode)entry;
        }).ToArray());
        var sarif = new JsonObject
        {
            ["$schema"] = "https://json.schemastore.org/sarif-2.1.0.json",
            ["version"] = "2.1.0",
            ["runs"] = new JsonArray(new JsonObject
            {
                ["tool"] = new JsonObject
                {
                    ["driver"] = new JsonObject
                    {
                        ["name"] = "LlmStack ValidateSecurity",
                        ["semanticVersion"] = version,
                        ["rules"] = rules,
                    },
                },
                ["originalUriBaseIds"] = new JsonObject { ["%SRCROOT%"] = new JsonObject { ["uri"] = new Uri(result.Root.TrimEnd('/') + "/").AbsoluteUri } },
                ["results"] = results,
            }),
        };
        return sarif.ToJsonString(JsonDefaults.Document);
    }

    private static string RelativeUri(string path) => string.Join('/', path.Split('/').Select(Uri.EscapeDataString));

    private static string Pascal(string id) => string.Concat(id.Split('-').Select(part => char.ToUpperInvariant(part[0]) + part[1..]));
}
