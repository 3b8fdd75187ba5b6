using LlmStack.Pipeline;
using LlmStack.Reporting;
using LlmStack.Schema;
using LlmStack.Security;
using Serilog;

namespace LlmStack.Security.Scanning;

/// <summary>What ValidateSecurity scans and where it reports.</summary>
public sealed record SecretScanOptions
{
    /// <summary>The repository root: the secrets directory, the allowlist and the schema are relative to it.</summary>
    public required string RepositoryRoot { get; init; }

    /// <summary><c>--path</c>: another directory to scan (relative to the repository root unless absolute).</summary>
    public string? Path { get; init; }

    public bool History { get; init; }

    /// <summary><c>--sarif FILE</c> (relative to the repository root unless absolute).</summary>
    public string? SarifFile { get; init; }


    /// <summary><c>--secrets-dir</c>: the secrets files whose values must appear nowhere; never scanned itself.</summary>
    public string SecretsDirectory { get; init; } = SecretStore.DefaultDirectory;

    /// <summary>The unified schema (its declared secrets) for the structural checks; null skips them.</summary>
    public SchemaFile? Schema { get; init; }

    public string Allowlist { get; init; } = SecretScanAllowlist.DefaultPath;

    /// <summary>The generated compose files (GenerateCompose's output), checked like the schema.</summary>
    public string ComposeDirectory { get; init; } = "artifacts/compose";
}

/// <summary>
/// ValidateSecurity: the rule table, the environment's actual secret values and the structural checks over the
/// repository (or <c>--path</c>), optionally its whole history; findings the allowlist does not take fail the run.
/// </summary>
public static class SecretScanner
{
    public static async Task<SecretScanResult> ScanAsync(SecretScanOptions options, SecretMasker masker, ILogger log, CancellationToken cancellationToken)
    {
        var repository = System.IO.Path.GetFullPath(options.RepositoryRoot);
        var root = System.IO.Path.GetFullPath(options.Path ?? ".", repository);
        if (!Directory.Exists(root))
        {
            throw new PipelineException($"--path {options.Path}: no such directory");
        }

        var secretsDirectory = System.IO.Path.GetFullPath(options.SecretsDirectory, repository);
        var known = KnownSecrets(repository, secretsDirectory, masker);
        var scanner = new ContentScanner(SecretRules.All, known);
        bool Excluded(string relative) => IsUnder(System.IO.Path.GetFullPath(relative, root), secretsDirectory);

        var (files, git) = await ScanSources.ListFilesAsync(root, Excluded, cancellationToken);
        var (findings, statistics) = await ScanSources.ScanFilesAsync(root, files, git, scanner, cancellationToken);
        int? commits = null;
        if (options.History)
        {
            commits = await ScanSources.ScanHistoryAsync(root, scanner, Excluded, findings, cancellationToken);
        }

        if (root == repository && options.Schema is not null)
        {
            findings.AddRange(await StructuralAsync(repository, options, secretsDirectory, scanner, cancellationToken));
        }

        var allowlist = SecretScanAllowlist.Load(System.IO.Path.GetFullPath(options.Allowlist, repository), options.Allowlist);
        var kept = new List<Finding>();
        var allowed = new List<(Finding, AllowlistEntry)>();
        foreach (var finding in findings.DistinctBy(f => (f.RuleId, f.Path, f.Line, f.Column, f.Commit)).OrderBy(f => f.Commit is not null).ThenBy(f => f.Path, StringComparer.Ordinal).ThenBy(f => f.Commit, StringComparer.Ordinal).ThenBy(f => f.Line).ThenBy(f => f.Column))
        {
            if (allowlist.Match(finding) is { } entry)
            {
                allowed.Add((finding, entry));
            }
            else
            {
                kept.Add(finding);
            }
        }

        log.Information(
            "Scanned {Files} file(s) of {Root} ({How}; skipped {Binary} binary, {Large} above {Cap} MiB){History}; {Secrets} secret value(s) from {SecretsDir}; {Findings} finding(s), {Allowed} allowlisted",
            statistics.Scanned, root, git ? "git: tracked and untracked, not ignored" : "every file", statistics.Binary, statistics.TooLarge, ScanSources.MaxFileBytes / (1024 * 1024),
            commits is null ? string.Empty : $", history: {commits} commit(s)", known.Count, System.IO.Path.GetRelativePath(repository, secretsDirectory), kept.Count, allowed.Count);
        return new SecretScanResult(root, kept, allowed, statistics, commits);
    }

    /// <summary>The target: scans, writes --sarif, reports (table or --json), and fails with one line when anything is found.</summary>
    public static async Task ValidateAsync(SecretScanOptions options, SecretMasker masker, ILogger log, ReportWriter reports, CancellationToken cancellationToken)
    {
        var result = await ScanAsync(options, masker, log, cancellationToken);
        if (options.SarifFile is { } sarif)
        {
            var path = System.IO.Path.GetFullPath(sarif, options.RepositoryRoot);
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
            await File.WriteAllTextAsync(path, ScanReport.ToSarif(result), cancellationToken);
            log.Information("SARIF written to {File}", sarif);
        }

        reports.Write(ScanReport.For(result, options.Allowlist));
    }

    /// <summary>Every value of every <c>&lt;secrets dir&gt;/*.env</c> file, read (never generated) and registered with the masker.</summary>
    public static IReadOnlyList<KnownSecret> KnownSecrets(string repositoryRoot, string secretsDirectory, SecretMasker masker)
    {
        if (!Directory.Exists(secretsDirectory))
        {
            return [];
        }

        var known = new List<KnownSecret>();
        foreach (var file in Directory.EnumerateFiles(secretsDirectory, "*.env").Order(StringComparer.Ordinal))
        {
            var source = System.IO.Path.GetRelativePath(repositoryRoot, file);
            foreach (var (name, value) in SecretStore.Read(file))
            {
                masker.Register(value);
                known.Add(new KnownSecret(name, source, value));
            }
        }

        return known;
    }

    private static async Task<List<Finding>> StructuralAsync(string repository, SecretScanOptions options, string secretsDirectory, ContentScanner scanner, CancellationToken cancellationToken)
    {
        var findings = await StructuralChecks.CheckSecretsDirectoryAsync(repository, secretsDirectory, cancellationToken);
        var schema = options.Schema!;
        var secrets = schema.Load().Secrets.Keys.ToHashSet(StringComparer.Ordinal);
        findings.AddRange(StructuralChecks.CheckComposeYaml(schema.FullPath, Display(repository, schema.FullPath), secrets));
        var compose = System.IO.Path.GetFullPath(options.ComposeDirectory, repository);
        if (Directory.Exists(compose))
        {
            foreach (var file in Directory.EnumerateFiles(compose, "*.yml", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                var display = Display(repository, file);
                findings.AddRange(StructuralChecks.CheckComposeYaml(file, display, secrets));

                // Git-ignored, so the file scan never saw them: the rules and the secret values too.
                findings.AddRange(scanner.Scan(await File.ReadAllTextAsync(file, cancellationToken), display));
            }
        }

        return findings;
    }

    private static string Display(string root, string path) => System.IO.Path.GetRelativePath(root, path).Replace(System.IO.Path.DirectorySeparatorChar, '/');

    private static bool IsUnder(string path, string directory) =>
        path.StartsWith(directory.TrimEnd(System.IO.Path.DirectorySeparatorChar) + System.IO.Path.DirectorySeparatorChar, StringComparison.Ordinal);
}
