using LlmStack.Pipeline;
using Serilog;

namespace LlmStack.DevTools;

/// <summary>
/// The validators the compose tests use: Debian's docker-compose (v1) and the compose-spec JSON schema that
/// npm's dclint ships. dclint is installed into .nuke/temp/tools, pinned.
/// </summary>
public static class ComposeTools
{
    public const string DclintVersion = "3.1.0";

    public static string ToolsDirectory(string root) => Path.Combine(root, ".nuke", "temp", "tools");

    public static string JsonSchemaPath(string root) =>
        Path.Combine(ToolsDirectory(root), "node_modules", "dclint", "schemas", "compose.schema.json");

    /// <summary>Fails with the install hint when Debian's docker-compose (v1) is not on PATH.</summary>
    public static async Task RequireDockerComposeAsync(string root, CancellationToken cancellationToken)
    {
        var compose = await ProcessRunner.RunAsync("sh", ["-c", "command -v docker-compose"], root, null, cancellationToken);
        if (compose.ExitCode != 0)
        {
            throw new PipelineException("docker-compose (v1) is not installed: apt-get install docker-compose (bash .ci/run does it)");
        }
    }

    public static async Task EnsureAsync(string root, ILogger log, CancellationToken cancellationToken)
    {
        await RequireDockerComposeAsync(root, cancellationToken);
        var schema = JsonSchemaPath(root);
        var package = Path.Combine(ToolsDirectory(root), "node_modules", "dclint", "package.json");
        if (File.Exists(schema) && File.ReadAllText(package).Contains($"\"version\": \"{DclintVersion}\"", StringComparison.Ordinal))
        {
            log.Information("dclint {Version} present: {Schema}", DclintVersion, Path.GetRelativePath(root, schema));
            return;
        }

        Directory.CreateDirectory(ToolsDirectory(root));
        log.Information("Installing dclint {Version} into {Directory}", DclintVersion, Path.GetRelativePath(root, ToolsDirectory(root)));
        var npm = await ProcessRunner.RunAsync(
            "npm",
            ["install", "--prefix", ToolsDirectory(root), "--no-audit", "--no-fund", "--no-save", $"dclint@{DclintVersion}"],
            root,
            line => log.Debug("{Line}", line),
            cancellationToken);
        if (npm.ExitCode != 0 || !File.Exists(schema))
        {
            throw new PipelineException($"npm install dclint@{DclintVersion} failed (exit {npm.ExitCode}): is npm installed and the npm registry reachable?");
        }
    }
}
