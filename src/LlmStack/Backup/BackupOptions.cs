namespace LlmStack.Backup;

/// <summary>What a run passes to the backup targets.</summary>
public sealed record BackupOptions
{
    /// <summary>configs/backup-strategies.yaml (relative to the root unless absolute).</summary>
    public string ConfigFile { get; init; } = BackupConfigLoader.DefaultPath;

    public string? KeyFile { get; init; }

    /// <summary>A key value (LLMSTACK_BACKUP_KEY); never from a file or the command line.</summary>
    public string? KeyValue { get; init; }

    /// <summary>Image of the helper containers that read and write volumes (needs sh, tar, find, stat).</summary>
    public string HelperImage { get; init; } = "busybox:1.36";

    /// <summary>The Prometheus textfile to write (overrides <c>metrics.file</c> of the configuration).</summary>
    public string? MetricsFile { get; init; }

    /// <summary>
    /// BackupStatus: one line on the last run of the environment's scheduled backup workflow (given the environment's
    /// workflow file name), when a GitHub token is set; null: no GitHub, no network.
    /// </summary>
    public Func<string, CancellationToken, Task<string>>? ScheduledWorkflowRun { get; init; }
}
