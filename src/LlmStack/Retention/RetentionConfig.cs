using LlmStack.Backup;
using LlmStack.Schema;

namespace LlmStack.Retention;

/// <summary><c>configs/retention-policies.yaml</c>, bound like the schema (unknown keys and wrong shapes are diagnostics).</summary>
public sealed class RetentionConfig : SchemaNode
{
    /// <summary>Named backup retention policies: restic's keep rules.</summary>
    public Dictionary<string, KeepPolicyDefinition> Policies { get; set; } = new();

    /// <summary>Which policy each backup tier uses (tier name → policy name); an environment may override it.</summary>
    public Dictionary<string, string> Tiers { get; set; } = new();

    public PruneDefinition? Prune { get; set; }

    public Dictionary<string, EnvironmentRetentionDefinition> Environments { get; set; } = new();

    /// <summary>Data retention inside the services, each through its own mechanism.</summary>
    public Dictionary<string, ServiceRetentionDefinition> Services { get; set; } = new();

    /// <summary>The settings of an environment (empty ones when the file has none for it).</summary>
    public EnvironmentRetentionDefinition For(string environment) => Environments.GetValueOrDefault(environment) ?? new EnvironmentRetentionDefinition();

    /// <summary>The policy of a tier in an environment: the environment's own tier map over the global one; null when none.</summary>
    public string? PolicyOf(string tier, string environment) => For(environment).Tiers?.GetValueOrDefault(tier) ?? Tiers.GetValueOrDefault(tier);
}

/// <summary>A service's data retention. <c>tables</c>: PostgreSQL (rows older than N days).</summary>
public sealed class ServiceRetentionDefinition : SchemaNode
{
    /// <summary>The database (default: the service's POSTGRES_DB, else postgres).</summary>
    public string? Database { get; set; }

    public List<TableRetentionDefinition>? Tables { get; set; }

    /// <summary>redis <c>expire_keys</c>: key patterns whose TTL is capped (never deleted).</summary>
    public List<KeyRetentionDefinition>? ExpireKeys { get; set; }

    /// <summary>Files by age under paths of the service's volumes.</summary>
    public List<FileRetentionDefinition>? Files { get; set; }

    /// <summary>vLLM (or any model server): whole model directories by last use, never the model in use.</summary>
    public ModelRetentionDefinition? Models { get; set; }

    /// <summary>Prometheus: its own TSDB retention, carried into the generated compose and the container command.</summary>
    public TsdbRetentionDefinition? Tsdb { get; set; }
}

/// <summary>redis <c>expire_keys</c>: keys matching <c>pattern</c> in <c>databases</c> get a TTL of at most <c>days</c>.</summary>
public sealed class KeyRetentionDefinition : SchemaNode
{
    /// <summary>A SCAN MATCH pattern (<c>embedding:*</c>).</summary>
    public string? Pattern { get; set; }

    /// <summary>The logical databases (default: 0).</summary>
    public List<int>? Databases { get; set; }

    /// <summary>The longest TTL a matching key may have, in days (default: the environment's data_retention_days).</summary>
    public int? Days { get; set; }
}

/// <summary>Files under <c>path</c> of one of the service's volumes whose modification time is older than <c>days</c>.</summary>
public sealed class FileRetentionDefinition : SchemaNode
{
    /// <summary>A named volume the service mounts (the schema's key, e.g. <c>allure_results</c>).</summary>
    public string? Volume { get; set; }

    /// <summary>A directory relative to the volume's root (default: the whole volume).</summary>
    public string? Path { get; set; }

    public int? Days { get; set; }
}

/// <summary>Whole model directories (the Hugging Face cache's <c>models--org--name</c>) not used for <c>days</c>.</summary>
public sealed class ModelRetentionDefinition : SchemaNode
{
    public string? Volume { get; set; }

    /// <summary>The directory holding one directory per model, relative to the volume's root (e.g. <c>huggingface/hub</c>).</summary>
    public string? Path { get; set; }

    public int? Days { get; set; }
}

/// <summary>Prometheus' own TSDB retention: <c>--storage.tsdb.retention.time</c> in the generated compose and the container command.</summary>
public sealed class TsdbRetentionDefinition : SchemaNode
{
    /// <summary>Days of samples Prometheus keeps (default: the environment's data_retention_days).</summary>
    public int? Days { get; set; }
}

public sealed class TableRetentionDefinition : SchemaNode
{
    /// <summary>A table name, optionally schema-qualified (<c>public.logs</c>).</summary>
    public string? Table { get; set; }

    /// <summary>The column holding each row's time (timestamp, timestamptz or date).</summary>
    public string? DateColumn { get; set; }

    /// <summary>Rows older than this many days go (default: the environment's data_retention_days).</summary>
    public int? Days { get; set; }

    /// <summary><c>delete_old_rows</c> (default) or <c>archive_then_delete</c>.</summary>
    public string? Strategy { get; set; }

    /// <summary>Rows per delete transaction for delete_old_rows (default 5000).</summary>
    public int? BatchSize { get; set; }
}

/// <summary>restic's keep rules. Counts: -1 = unlimited. Durations: <c>1y2m3d3h</c>. <c>keep_tag</c>: comma-separated tag lists.</summary>
public sealed class KeepPolicyDefinition : SchemaNode
{
    public int? KeepLast { get; set; }

    public int? KeepHourly { get; set; }

    public int? KeepDaily { get; set; }

    public int? KeepWeekly { get; set; }

    public int? KeepMonthly { get; set; }

    public int? KeepYearly { get; set; }

    public string? KeepWithin { get; set; }

    public string? KeepWithinHourly { get; set; }

    public string? KeepWithinDaily { get; set; }

    public string? KeepWithinWeekly { get; set; }

    public string? KeepWithinMonthly { get; set; }

    public string? KeepWithinYearly { get; set; }

    public List<string>? KeepTag { get; set; }

    /// <summary>The policy (the definition must have passed validation).</summary>
    public RetentionPolicy ToPolicy() => new PolicyArguments(
        KeepLast, KeepHourly, KeepDaily, KeepWeekly, KeepMonthly, KeepYearly,
        KeepWithin, KeepWithinHourly, KeepWithinDaily, KeepWithinWeekly, KeepWithinMonthly, KeepWithinYearly, KeepTag).ToPolicy();
}

/// <summary>When <c>restic prune</c> runs after a cleanup: only when worth it, since it is expensive.</summary>
public sealed class PruneDefinition : SchemaNode
{
    /// <summary>Prune when the repository's unused data is at least this share (e.g. <c>10%</c>).</summary>
    public string? WhenUnusedAbove { get; set; }

    /// <summary>restic prune's own <c>--max-unused</c> (how much unused data it may leave behind).</summary>
    public string? MaxUnused { get; set; }

    /// <summary>Five-field cron, UTC: a cleanup also prunes a tier when an occurrence has passed since its last prune.</summary>
    public string? Schedule { get; set; }
}

public sealed class EnvironmentRetentionDefinition : SchemaNode
{
    /// <summary>Five-field cron, UTC: when RetentionCleanup runs.</summary>
    public string? Schedule { get; set; }

    /// <summary>The default age (days) of data inside the services for this environment.</summary>
    public int? DataRetentionDays { get; set; }

    /// <summary>At least this many newest backups of each service are kept on every tier, whatever the policy says.</summary>
    public int? MinKeep { get; set; }

    /// <summary>RetentionCleanup takes a BackupFull first.</summary>
    public bool? BackupBeforeCleanup { get; set; }

    /// <summary>Tier → policy for this environment, over the global <c>tiers</c>.</summary>
    public Dictionary<string, string>? Tiers { get; set; }

    /// <summary>The safety rules of the environment's backups: its <c>min_keep</c> (default 1), the newest verified set.</summary>
    public RetentionSafety Safety() => new(MinKeep ?? 1);

    /// <summary>An age in days of data inside the services: the configured one, else <c>data_retention_days</c>, else 30.</summary>
    public int Days(int? days) => days ?? DataRetentionDays ?? 30;
}
