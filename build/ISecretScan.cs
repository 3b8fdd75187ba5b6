using LlmStack.Pipeline;
using LlmStack.Security.Scanning;

/// <summary>The repository's secret scan (docs/SECURITY.md#validatesecurity); the scanner is src/LlmStack/Security/Scanning.</summary>
interface ISecretScan : IHazEnvironment
{
    // Not named Path: that would hide System.IO.Path in the components.
    [Parameter("ValidateSecurity: scan this directory instead of the repository (git-aware when it is a work tree)", Name = "Path")]
    string? ScanPath => TryGetValue(() => ScanPath);

    [Parameter("ValidateSecurity: also scan every commit of every ref (secrets committed and deleted later)")]
    bool History => TryGetValue<bool?>(() => History) ?? false;

    [Parameter("ValidateSecurity: write the findings as SARIF 2.1.0 to this file (GitHub code scanning)")]
    string? Sarif => TryGetValue(() => Sarif);

    Target ValidateSecurity => _ => _
        .Description("Scan the repository (tracked and untracked, not ignored files; --history: every commit; --path DIR: another directory) for secrets: the rule table, the environments' actual secret values, the schema and generated compose files; allowlist in configs/secret-scan-allowlist.yaml. Table, --json, --sarif FILE; non-zero exit on a finding.")
        .Executes(ct => SecretScanner.ValidateAsync(
            new SecretScanOptions { RepositoryRoot = RootDirectory, Path = ScanPath, History = History, SarifFile = Sarif, SecretsDirectory = State.Secrets, Schema = SchemaFile },
            Secrets, Log, Reports, ct));
}
