using System.Globalization;
using System.Text.Json;
using LlmStack.Backup;
using LlmStack.Engine;
using LlmStack.Pipeline;
using LlmStack.Security;
using Serilog;

namespace LlmStack.Retention;

/// <summary>The retention plan of one tier: its policy, and every set kept or removed (null when the tier cannot be read).</summary>
public sealed record TierRetentionPlan(ResolvedTier Tier, string? PolicyName, RetentionPolicy? Policy, IReadOnlyList<SetRetention>? Sets, string? Error);

/// <summary>
/// The bodies of RetentionStatus, RetentionCleanup and RetentionTest for backups: per tier of the environment, the
/// tier's policy (configs/retention-policies.yaml) with the environment's safety rules, applied through the change gate
/// — <c>restic forget</c> of exactly the planned sets' snapshots, then <c>restic prune</c> when worth it; tape exports
/// rotated on a directory tier (reported only on a device).
/// </summary>
public sealed class RetentionOperations(EnvironmentSession session, BackupOperations backups, string configFile, string root, ILogger log)
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };
    private RetentionConfig? _config;

    public RetentionConfig Config => _config ??= RetentionConfigLoader.LoadValid(Path.GetFullPath(configFile, root), configFile, session.Options.Schema.Load());

    private EnvironmentRetentionDefinition Settings => Config.Environments.GetValueOrDefault(session.Environment.Name) ?? new EnvironmentRetentionDefinition();

    private RetentionSafety Safety => new(Settings.MinKeep ?? 1);

    private TextWriter Out => session.Options.Out;

    /// <summary>Whether the environment asks for a backup before a cleanup.</summary>
    public bool BackupBeforeCleanup => Settings.BackupBeforeCleanup == true;

    /// <summary>Every tier's plan as of now.</summary>
    public async Task<IReadOnlyList<TierRetentionPlan>> PlanAsync(CancellationToken cancellationToken)
    {
        var context = await backups.ContextAsync(cancellationToken);
        var primary = await context.Catalog.EntriesAsync(cancellationToken);
        var plans = new List<TierRetentionPlan>();
        foreach (var inventory in await context.Tiers.InventoryAsync(primary, cancellationToken))
        {
            var tier = inventory.Tier;
            var policyName = Settings.Tiers?.GetValueOrDefault(tier.Name) ?? Config.Tiers.GetValueOrDefault(tier.Name);
            if (policyName is null)
            {
                plans.Add(new TierRetentionPlan(tier, null, null, inventory.Entries?.Select(e => new SetRetention(e, true, new Dictionary<string, IReadOnlyList<string>>())).ToList(),
                    inventory.Error));
                continue;
            }

            var policy = Config.Policies[policyName].ToPolicy();
            var sets = inventory.Entries is { } entries ? BackupRetention.Plan(entries, policy, Safety, DateTimeOffset.Now, TimeZoneInfo.Local) : null;
            plans.Add(new TierRetentionPlan(tier, policyName, policy, sets, inventory.Error));
        }

        return plans;
    }

    /// <summary>RetentionStatus: the policies, what a cleanup would remove now per tier and service, and the last run.</summary>
    public async Task StatusAsync(bool json, CancellationToken cancellationToken)
    {
        var plans = await PlanAsync(cancellationToken);
        var last = LastRun();
        if (json)
        {
            Out.WriteLine(JsonSerializer.Serialize(new
            {
                environment = session.Environment.Name,
                minKeep = Safety.MinKeep,
                lastRun = last,
                tiers = plans.Select(p => new
                {
                    tier = p.Tier.Name,
                    policy = p.PolicyName,
                    rules = p.Policy?.ToString(),
                    error = p.Error,
                    keep = p.Sets?.Where(s => s.Keep).Select(s => s.Set),
                    remove = p.Sets?.Where(s => !s.Keep).Select(s => s.Set),
                }),
                services = DataServices().Select(s => new { service = s, data = DataRetention(s) }),
            }, Json));
            return;
        }

        var table = new TextTable("TIER", "POLICY", "SETS", "KEEP", "REMOVE NOW", "STATE");
        foreach (var plan in plans)
        {
            table.Add(plan.Tier.Name, plan.Policy is null ? "none: everything kept" : $"{plan.PolicyName}: {plan.Policy}", Count(plan.Sets?.Count),
                Count(plan.Sets?.Count(s => s.Keep)), Count(plan.Sets?.Count(s => !s.Keep)), plan.Error ?? "ok");
        }

        table.Write(Out);
        Out.WriteLine();
        var services = new TextTable("SERVICE", "BACKUPS TO REMOVE NOW (TIER: SETS)", "DATA INSIDE THE SERVICE");
        foreach (var member in plans.SelectMany(p => p.Sets ?? []).SelectMany(s => s.Entry.Manifest.Members.Where(m => m.Succeeded)).Select(m => m.Key).Distinct().Order(StringComparer.Ordinal))
        {
            var removals = plans.Where(p => p.Sets is not null)
                .Select(p => (p.Tier.Name, Count: p.Sets!.Count(s => !s.Keep && s.Entry.Manifest.Members.Any(m => m.Succeeded && m.Key == member))))
                .Where(x => x.Count > 0)
                .Select(x => $"{x.Name}: {x.Count}");
            var service = member.Split('/')[0];
            services.Add(member, string.Join(", ", removals.DefaultIfEmpty("-")), DataRetention(service));
        }

        services.Write(Out);
        Out.WriteLine();
        Out.WriteLine($"min_keep {Safety.MinKeep}, newest verified set kept; last cleanup: {(last is null ? "never" : $"{last.Finished:yyyy-MM-dd HH:mm:ss}Z, {last.Removed} set(s) removed, {last.Outcome}")}");
    }

    /// <summary>
    /// RetentionCleanup (and, with <paramref name="dryRun"/>, RetentionTest): through the change gate, forget exactly the
    /// planned sets on each tier, then prune the tiers where it is worth it. A tier that cannot be read is named at the end.
    /// </summary>
    public async Task CleanupAsync(string target, bool dryRun, CancellationToken cancellationToken, string? service = null)
    {
        IReadOnlyList<TierRetentionPlan> plans = [];
        var problems = new List<string>();
        var removed = 0;
        var outcome = await session.ChangeAsync(target, async ct =>
        {
            var context = await backups.ContextAsync(ct);
            var changes = new List<PlannedChange>();
            var kept = new List<KeptResource>();
            var data = await DataPlanAsync(service, context, ct);
            changes.AddRange(data.Changes);
            kept.AddRange(data.Kept);
            problems.AddRange(data.Problems);
            plans = service is null ? await PlanAsync(ct) : [];
            foreach (var plan in plans.Where(p => p.Sets is not null && p.Policy is not null))
            {
                var tape = plan.Tier.IsRepository ? null : new TapeTier(plan.Tier, context.Repository, log);
                foreach (var set in plan.Sets!.Where(s => s.Keep))
                {
                    kept.Add(new KeptResource("backup set", $"{plan.Tier.Name}/{set.Set}", KeptBy(set))
                    {
                        Detail = Time(set),
                    });
                }

                foreach (var set in plan.Sets!.Where(s => !s.Keep))
                {
                    var why = $"no rule of policy {plan.PolicyName} ({plan.Policy}) keeps it";
                    if (tape is not null && tape.OnDevice)
                    {
                        kept.Add(new KeptResource("tape export", $"{plan.Tier.Name}/{set.Set}", $"due for rotation ({why}): on a device, change the cassette by hand") { Detail = Time(set) });
                        continue;
                    }

                    changes.Add(new PlannedChange(tape is null ? "backup set" : "tape export", $"{plan.Tier.Name}/{set.Set}", tape is null ? "forget" : "remove", why, async c =>
                    {
                        if (tape is not null)
                        {
                            tape.Remove(set.Set);
                            removed++;
                            return "export removed";
                        }

                        // Selected by tags on this tier: a copy's snapshots have ids of their own there.
                        var repository = context.Tiers.Open(plan.Tier);
                        var snapshots = await repository.SnapshotsAsync(BackupTags.OfSet(session.Environment.Name, set.Set), c);
                        await repository.ForgetAsync(snapshots.Select(s => s.Id).ToList(), c);
                        removed++;
                        return $"{snapshots.Count} snapshot(s)";
                    })
                    {
                        Detail = $"{Time(set)}, {BackupProgress.Size(set.Added)} added",
                    });
                }

                if (tape is null && plan.Sets!.Any(s => !s.Keep))
                {
                    var (prune, notYet) = await PruneAsync(plan, context, ct);
                    if (prune is not null)
                    {
                        changes.Add(prune);
                    }
                    else
                    {
                        kept.Add(notYet!);
                    }
                }
            }

            return new ChangePlan(
                $"remove {changes.Count(c => c.Action is "forget" or "remove")} backup set(s) and old rows of {changes.Count(c => c.Kind == "rows")} table(s) by the retention policies", changes, kept);
        }, cancellationToken, forceDryRun: dryRun);

        if (!dryRun && outcome is GateOutcome.Applied or GateOutcome.NothingToDo)
        {
            Record(new RetentionRun(DateTimeOffset.UtcNow, removed, problems.Count > 0 || plans.Any(p => p.Error is not null) ? "failed" : "ok"));
        }

        problems.AddRange(plans.Where(p => p.Error is not null).Select(p => $"tier {p.Tier.Name} could not be read and was left alone: {p.Error}"));
        if (problems.Count > 0)
        {
            throw new PipelineException($"retention of {session.Environment.Name}: {string.Join("; ", problems)}");
        }
    }

    /// <summary>
    /// A prune of the tier when the data the forgotten sets added is at least <c>prune.when_unused_above</c> of the
    /// repository (an upper estimate of what becomes unused); otherwise why not yet.
    /// </summary>
    private async Task<(PlannedChange? Prune, KeptResource? NotYet)> PruneAsync(TierRetentionPlan plan, BackupContext context, CancellationToken cancellationToken)
    {
        var repository = context.Tiers.Open(plan.Tier);
        var size = await repository.SizeAsync(cancellationToken);
        var freed = plan.Sets!.Where(s => !s.Keep).Sum(s => s.Added);
        Percent.TryParse(Config.Prune?.WhenUnusedAbove ?? "0%", out var threshold);
        var share = size == 0 ? 0 : 100.0 * freed / size;
        if (share < threshold)
        {
            return (null, new KeptResource("repository", plan.Tier.Name,
                string.Create(CultureInfo.InvariantCulture, $"no prune yet: the forgotten sets added at most {share:0.##}% of it (prune.when_unused_above {threshold:0.#}%)")) { Detail = BackupProgress.Size(size) });
        }

        var maxUnused = Config.Prune?.MaxUnused ?? "5%";
        return (new PlannedChange("repository", plan.Tier.Name, "prune",
            string.Create(CultureInfo.InvariantCulture, $"the forgotten sets added up to {share:0.#}% of it (≥ {threshold:0.#}%): restic prune --max-unused {maxUnused}"),
            async c =>
            {
                await repository.PruneAsync(maxUnused, c);
                return $"{BackupProgress.Size(await repository.SizeAsync(c))} after the prune";
            })
        {
            Detail = BackupProgress.Size(size),
        }, null);
    }

    /// <summary>The rules that keep a set, members with the same rules together.</summary>
    private static string KeptBy(SetRetention set) => string.Join("; ", set.Reasons
        .GroupBy(r => string.Join(", ", r.Value))
        .Select(g => g.Count() > 2 ? $"{g.Count()} members ({g.First().Key}, …): {g.Key}" : $"{string.Join(", ", g.Select(r => r.Key))}: {g.Key}"));

    /// <summary>
    /// Data retention inside the services (all, or <paramref name="only"/>): per configured table the rows due now,
    /// counted for the plan (the dry run stops there); a missing table or a service that is not running is reported.
    /// </summary>
    private async Task<(List<PlannedChange> Changes, List<KeptResource> Kept, List<string> Problems)> DataPlanAsync(string? only, BackupContext context, CancellationToken cancellationToken)
    {
        var changes = new List<PlannedChange>();
        var kept = new List<KeptResource>();
        var problems = new List<string>();
        if (only is not null && !Config.Services.ContainsKey(only))
        {
            throw new PipelineException($"service '{only}' has no data retention in {configFile}: add it under services (docs/RETENTION.md)");
        }

        var now = DateTimeOffset.UtcNow;
        foreach (var (service, definition) in Config.Services.Where(s => only is null || s.Key == only))
        {
            if (definition.Tables is not { Count: > 0 } tables)
            {
                continue;
            }

            PostgresRetention postgres;
            try
            {
                var (id, name) = await context.RunningContainerAsync(service, cancellationToken);
                postgres = new PostgresRetention(context.Engine, id, name, context.ServiceVariable(service, "POSTGRES_USER") ?? "postgres",
                    definition.Database ?? context.ServiceVariable(service, "POSTGRES_DB") ?? "postgres");
            }
            catch (PipelineException e)
            {
                problems.Add($"{service}: {e.Message.Split('\n')[0]}");
                continue;
            }

            foreach (var table in tables.Select(t => new TableRetention(service, t.Table!, t.DateColumn!, t.Days ?? Settings.DataRetentionDays ?? 30, t.Strategy ?? TableRetention.DeleteOldRows, t.BatchSize ?? 5000)))
            {
                var resource = $"{service}/{postgres.Database}.{table.Table}";
                var cutoff = table.Cutoff(now);
                long? due;
                try
                {
                    due = await postgres.CountAsync(table, cutoff, cancellationToken);
                }
                catch (PipelineException e)
                {
                    problems.Add($"{resource}: {e.Message}");
                    continue;
                }

                var rule = $"{table.DateColumn} older than {table.Days} d (before {cutoff.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z)";
                if (due is null)
                {
                    kept.Add(new KeptResource("table", resource, "does not exist: nothing to do"));
                }
                else if (due == 0)
                {
                    kept.Add(new KeptResource("table", resource, $"no row with {rule}"));
                }
                else
                {
                    var archive = table.Strategy == TableRetention.ArchiveThenDelete;
                    changes.Add(new PlannedChange("rows", resource, archive ? "archive and delete" : "delete", archive ? $"{rule}; archived to the backup repository first" : rule, async ct =>
                    {
                        if (archive)
                        {
                            var (snapshot, rows) = await postgres.ArchiveThenDeleteAsync(table, cutoff, context.Repository, session.Environment.Name, context.Host, ct);
                            return $"{rows} row(s) archived (snapshot {snapshot[..8]}) and deleted";
                        }

                        return $"{await postgres.DeleteAsync(table, cutoff, ct)} row(s) deleted";
                    })
                    {
                        Detail = $"{due} row(s)",
                        ContinueOnFailure = true,
                    });
                }
            }
        }

        return (changes, kept, problems);
    }

    /// <summary>How a service's data is retained: its configured tables, or "not managed by LlmStack".</summary>
    private string DataRetention(string service) => Config.Services.GetValueOrDefault(service)?.Tables is { Count: > 0 } tables
        ? "rows: " + string.Join(", ", tables.Select(t => $"{t.Table} > {t.Days ?? Settings.DataRetentionDays ?? 30} d{(t.Strategy == TableRetention.ArchiveThenDelete ? " (archived)" : string.Empty)}"))
        : "not managed by LlmStack";

    /// <summary>The services that hold data (named volumes), for the data-retention column.</summary>
    private IEnumerable<string> DataServices() => backups.Plan.Members.Where(m => m.Method != BackupMethods.Config).Select(m => m.Service).Distinct();

    private static string Count(int? count) => count?.ToString(CultureInfo.InvariantCulture) ?? "-";

    private static string Time(SetRetention set) => set.Entry.Manifest.Started.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private string StateFile => Path.Combine(root, ".nuke", "temp", $"retention-{session.Environment.Name}.json");

    private RetentionRun? LastRun()
    {
        try
        {
            return File.Exists(StateFile) ? JsonSerializer.Deserialize<RetentionRun>(File.ReadAllText(StateFile), Json) : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private void Record(RetentionRun run)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(StateFile)!);
        File.WriteAllText(StateFile, JsonSerializer.Serialize(run, Json));
    }
}

/// <summary>The last cleanup of an environment.</summary>
public sealed record RetentionRun(DateTimeOffset Finished, int Removed, string Outcome);
