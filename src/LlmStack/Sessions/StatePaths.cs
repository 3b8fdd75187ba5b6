using LlmStack.Pipeline;
using LlmStack.Security;

namespace LlmStack.Sessions;

/// <summary>
/// Where a run keeps what must outlive it: the one place that computes those paths. The state directory is
/// <c>--state-dir</c> (<c>LLMSTACK_STATE_DIR</c>), by default the repository root, so a developer's checkout keeps its
/// files where they always were; a CI runner points it outside the checkout, which <c>actions/checkout</c> cleans
/// (<c>git clean -ffdx</c>) before every job. Every relative path of persistent state — a tier's path, the tape catalog,
/// the secrets directory, a key file, the metrics file — resolves against it, and the files LlmStack itself keeps live
/// under it at the same relative places as in a checkout (<see cref="AuditLog"/>, <see cref="RetentionRecord"/>,
/// <see cref="BackupCatalogCache"/>, <see cref="RestoreTestReports"/>, <see cref="RestoredFiles"/>). Inputs that belong to the
/// repository (the schema, the configurations, the image map, a tier's <c>ca_file</c>) stay relative to
/// <see cref="Repository"/>, and caches that can be rebuilt (<see cref="Cache"/>) stay in the checkout's <c>.nuke/temp</c>.
/// </summary>
public sealed record StatePaths
{
    /// <summary>The environment variable of <c>--state-dir</c> (the build's prefix and the parameter's name).</summary>
    public const string Variable = "LLMSTACK_STATE_DIR";

    /// <summary>The repository variable the generated workflows read the state directory from.</summary>
    public const string WorkflowVariable = "vars." + Variable;

    /// <summary>The state directory a runner host is set up with (docs/GITOPS.md).</summary>
    public const string RunnerDefault = "/var/lib/llmstack";

    /// <summary>A tape tier's catalog when the configuration names none (relative to the state directory).</summary>
    public const string DefaultTapeCatalog = "backups/tape-catalog";

    /// <summary>The repository root (absolute): where the inputs are.</summary>
    public required string Repository { get; init; }

    /// <summary>The state directory (absolute).</summary>
    public required string Directory { get; init; }

    /// <summary>The secrets directory (absolute): <c>--secrets-dir</c> under the state directory, by default its <c>secrets/</c>.</summary>
    public required string Secrets { get; init; }

    /// <param name="repository">The repository root.</param>
    /// <param name="stateDirectory"><c>--state-dir</c>; null or empty: the repository root. Relative to the repository root.</param>
    /// <param name="secretsDirectory"><c>--secrets-dir</c>; null or empty: <c>secrets</c>. Relative to the state directory.</param>
    public static StatePaths Of(string repository, string? stateDirectory = null, string? secretsDirectory = null)
    {
        var root = Path.GetFullPath(repository);
        var state = stateDirectory is { Length: > 0 } given ? Path.GetFullPath(given, root) : root;
        return new StatePaths
        {
            Repository = root,
            Directory = state,
            Secrets = Path.GetFullPath(secretsDirectory is { Length: > 0 } secrets ? secrets : SecretStore.DefaultDirectory, state),
        };
    }

    /// <summary>A path of persistent state as it was given (configuration, command line): absolute kept, relative under the state directory.</summary>
    public string Resolve(string path) => Path.GetFullPath(path, Directory);

    /// <summary>An input of the repository (a tier's <c>ca_file</c>): absolute kept, relative under the repository root.</summary>
    public string Input(string path) => Path.GetFullPath(path, Repository);

    /// <summary>A file of the secrets directory (an environment's backup key, a tier's credentials file).</summary>
    public string SecretsFile(string name) => Path.Combine(Secrets, name);

    /// <summary>The change gate's audit log (LLMSTACK_AUDIT_LOG aside: <see cref="ChangeControl.AuditLog.For"/>).</summary>
    public string AuditLog => Path.Combine(Directory, "audit", "audit.jsonl");

    /// <summary>The record of an environment's last retention cleanup (RetentionStatus, <c>prune.schedule</c>).</summary>
    public string RetentionRecord(string environment) => Path.Combine(Directory, ".nuke", "temp", $"retention-{environment}.json");

    /// <summary>The backup sets' manifests as read from the repositories once (each read costs a key derivation).</summary>
    public string BackupCatalogCache => Path.Combine(Directory, ".nuke", "temp", "backup-manifests");

    /// <summary>RestoreTest's reports (<c>&lt;environment&gt;/&lt;set&gt;.md|json</c>).</summary>
    public string RestoreTestReports => Path.Combine(Directory, "artifacts", "restore-test");

    /// <summary>Where Restore puts a restored configuration for the operator to compare (the checkout is never overwritten).</summary>
    public string RestoredFiles => Path.Combine(Directory, "artifacts", "restore");

    /// <summary>LoadTest's runs, a fresh directory each (<c>&lt;plan&gt;-&lt;time&gt;-&lt;id&gt;</c>: results.jtl, jmeter.log, summary.json, junit.xml).</summary>
    public string LoadTestRuns => Path.Combine(Directory, "artifacts", "load-tests");

    /// <summary>SmokeTest's results (<c>&lt;environment&gt;.xml</c>, JUnit).</summary>
    public string SmokeTestResults => Path.Combine(Directory, "artifacts", "smoke-tests");

    /// <summary>A tape tier's catalog of one environment.</summary>
    public string TapeCatalog(string? configured, string environment) => Path.Combine(Resolve(configured ?? DefaultTapeCatalog), environment);

    /// <summary>A cache that can be rebuilt (restic's): in the checkout's <c>.nuke/temp</c>, not the state directory.</summary>
    public string Cache(string name) => Path.Combine(Repository, ".nuke", "temp", name);

    /// <summary>
    /// Under GitHub Actions on a self-hosted runner (<c>GITHUB_ACTIONS=true</c>, <c>RUNNER_ENVIRONMENT</c> not
    /// <c>github-hosted</c>): a state or secrets directory inside the checkout (<c>GITHUB_WORKSPACE</c>) is refused in one line
    /// before anything runs, because <c>actions/checkout</c> deletes it before the next job. A GitHub-hosted runner is a
    /// fresh machine for every job whatever the directory, and keeps no state to lose. Returns the refusal, or null.
    /// </summary>
    public string? Refusal(Func<string, string?> variable)
    {
        if (variable("GITHUB_ACTIONS") != "true" || variable("RUNNER_ENVIRONMENT") == "github-hosted" || variable("GITHUB_WORKSPACE") is not { Length: > 0 } workspace)
        {
            return null;
        }

        if (Inside(Directory, workspace))
        {
            return $"the state directory {Directory} is inside the checkout ({workspace}), which actions/checkout cleans before every job: "
                   + $"set {WorkflowVariable} to an absolute directory outside it, e.g. {RunnerDefault} (docs/GITOPS.md)";
        }

        return Inside(Secrets, workspace)
            ? $"the secrets directory {Secrets} is inside the checkout ({workspace}), which actions/checkout cleans before every job: "
              + $"set vars.LLMSTACK_SECRETS_DIR to an absolute directory outside it, or leave it empty for {Path.Combine(Directory, SecretStore.DefaultDirectory)} (docs/GITOPS.md)"
            : null;
    }

    /// <summary><see cref="Refusal"/> as the run's error.</summary>
    public StatePaths Check(Func<string, string?> variable) => Refusal(variable) is { } refusal ? throw new PipelineException(refusal) : this;

    private static bool Inside(string path, string directory)
    {
        var relative = Path.GetRelativePath(Path.GetFullPath(directory), path);
        return relative == "." || !(relative == ".." || relative.StartsWith(".." + Path.DirectorySeparatorChar, StringComparison.Ordinal) || Path.IsPathRooted(relative));
    }
}
