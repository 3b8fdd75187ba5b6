using LlmStack.Pipeline;
using LlmStack.Reporting;
using LlmStack.Security.Scanning;

/// <summary>The repository's secret scan (docs/SECURITY.md#validatesecurity); the scanner is src/LlmStack/Security/Scanning.</summary>
partial class Build
{
    [Parameter("ValidateSecurity: scan this directory instead of the repository (git-aware when it is a work tree)", Name = "Path")]
    readonly string? ScanPath;

    [Parameter("ValidateSecurity: also scan every commit of every ref (secrets committed and deleted later)")]
    readonly bool History;

    [Parameter("ValidateSecurity: write the findings as SARIF 2.1.0 to this file (GitHub code scanning)")]
    readonly string? Sarif;

    Target ValidateSecurity => _ => _
        .Description("Scan the repository (tracked and untracked, not ignored files; --history: every commit; --path DIR: another directory) for secrets: the rule table, the environments' actual secret values, the schema and generated compose files; allowlist in configs/secret-scan-allowlist.yaml. Table, --json, --sarif FILE; non-zero exit on a finding.")
        .Executes(ct => SecretScanner.ValidateAsync(
            new SecretScanOptions { RepositoryRoot = RootDirectory, Path = ScanPath, History = History, SarifFile = Sarif, SecretsDirectory = SecretsDir, Schema = SchemaFile },
            Secrets, Log, Reports, ct));
}
