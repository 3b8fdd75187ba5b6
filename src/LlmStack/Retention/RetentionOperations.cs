using System.Globalization;
using System.Text.Json;
using LlmStack.Backup;
using LlmStack.ChangeControl;
using LlmStack.Engine;
using LlmStack.Pipeline;
using LlmStack.Reporting;
using LlmStack.Schema;
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
    private RetentionConfig? _config;

    public RetentionConfig Config => _config ??= RetentionConfigLoader.LoadValid(Path.GetFullPath(configFile, root), configFile, session.Options.Schema.Load(), backups.Config);

    private EnvironmentRetentionDefinition Settings => Config.Environments.GetValueOrDefault(session.Environment.Name) ?? new EnvironmentRetentionDefinition();

    private RetentionSafety Safety => new(Settings.MinKeep ?? 1);

    private TextWriter Out => session.Options.Out;

    /// <summary>Whether the environment asks for a backup before a cleanup.</summary>
    public bool BackupBeforeCleanup => Settings.BackupBeforeCleanup == true;

    /// <summary>Every tier's plan as of now.</summary>
    public async Task<IReadOnlyList<TierRetentionPlan>> PlanAsync(CancellationToken cancellationToken)
    {
        // The configuration first: an error in it (a mistyped tier) is one line before any repository is opened.
        var config = Config;
        var context = await backups.ContextAsync(cancellationToken);
        var primary = await context.Catalog.EntriesAsync(cancellationToken);
        var plans = new List<TierRetentionPlan>();
        foreach (var inventory in await context.Tiers.InventoryAsync(primary, cancellationToken))
        {
            var tier = inventory.Tier;
            var policyName = Settings.Tiers?.GetValueOrDefault(tier.Name) ?? config.Tiers.GetValueOrDefault(tier.Name);
            if (policyName is null)
            {
                plans.Add(new TierRetentionPlan(tier, null, null, inventory.Entries?.Select(e => new SetRetention(e, true, new Dictionary<string, IReadOnlyList<string>>())).ToList(),
                    inventory.Error));
                continue;
            }

            var policy = config.Policies[policyName].ToPolicy();
            var sets = inventory.Entries is { } entries ? BackupRetention.Plan(entries, policy, Safety, DateTimeOffset.Now, TimeZoneInfo.Local) : null;
            plans.Add(new TierRetentionPlan(tier, policyName, policy, sets, inventory.Error));
        }

        return plans;
    }

    /// <summary>RetentionStatus: the policies, what a cleanup would remove now per tier and service, and the last run.</summary>
    public async Task StatusAsync(CancellationToken cancellationToken)
    {
        var plans = await PlanAsync(cancellationToken);
        var last = LastRun();
        var rows = new List<(string Service, Dictionary<string, int> Removals, string Data)>();
        foreach (var service in session.Environment.Services.Select(s => s.Name).Concat(Config.Services.Keys).Distinct())
        {
            var removals = plans.Where(p => p.Sets is not null)
                .Select(p => (p.Tier.Name, Count: p.Sets!.Count(s => !s.Keep && s.Entry.Manifest.Members.Any(m => m.Succeeded && m.Service == service))))
                .Where(x => x.Count > 0)
                .ToDictionary(x => x.Name, x => x.Count);
            rows.Add((service, removals, DataRetention(service) + await RunningTsdbAsync(service, cancellationToken)));
        }

        var table = new TextTable("TIER", "POLICY", "SETS", "KEEP", "REMOVE NOW", "STATE");
        foreach (var plan in plans)
        {
            table.Add(plan.Tier.Name, plan.Policy is null ? "none: everything kept" : $"{plan.PolicyName}: {plan.Policy}", Count(plan.Sets?.Count),
                Count(plan.Sets?.Count(s => s.Keep)), Count(plan.Sets?.Count(s => !s.Keep)), plan.Error ?? "ok");
        }

        var services = new TextTable("SERVICE", "BACKUPS TO REMOVE NOW (TIER: SETS)", "DATA INSIDE THE SERVICE");
        foreach (var (service, removals, data) in rows)
        {
            services.Add(service, removals.Count == 0 ? "-" : string.Join(", ", removals.Select(r => $"{r.Key}: {r.Value}")), data);
        }

        session.Options.Reports.Write(new Report
            {
                Document = new
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
                    services = rows.Select(r => new { service = r.Service, backupsToRemove = r.Removals, data = r.Data }),
                },
            }
            .Table(table)
            .Line()
            .Table(services)
            .Line()
            .Line($"min_keep {Safety.MinKeep}, newest verified set kept; last cleanup: {(last is null ? "never" : $"{last.Finished:yyyy-MM-dd HH:mm:ss}Z, {last.Removed} set(s) removed, {last.Outcome}")}"));
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
        var pruned = new Dictionary<string, DateTimeOffset>(LastRun()?.Pruned ?? new Dictionary<string, DateTimeOffset>(), StringComparer.Ordinal);
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
            foreach (var plan in plans.Where(p => p.Sets is not null && p.Tier.IsRepository))
            {
                await OrphansAsync(plan.Tier, context, changes, kept, problems, ct);
            }

            foreach (var plan in plans.Where(p => p.Sets is not null && p.Policy is not null))
            {
                var tape = plan.Tier.IsRepository ? null : new TapeTier(plan.Tier, context.Repository, log);
                foreach (var set in plan.Sets!.Where(s => s.Keep))
                {
                    kept.Add(new KeptResource(ChangeKind.BackupSet, $"{plan.Tier.Name}/{set.Set}", KeptBy(set))
                    {
                        Detail = Time(set),
                    });
                }

                // The tier's forgets run as one restic forget (one lock, one index rewrite) when the first is applied:
                // per set, that would be two restic runs each. Every set is still its own row and audit entry.
                var forgetting = plan.Sets!.Where(s => !s.Keep).Select(s => s.Set).ToHashSet(StringComparer.Ordinal);
                Task<IReadOnlyDictionary<string, int>>? forgotten = null;
                foreach (var set in plan.Sets!.Where(s => !s.Keep))
                {
                    var why = $"no rule of policy {plan.PolicyName} ({plan.Policy}) keeps it";
                    if (tape is not null && tape.OnDevice)
                    {
                        kept.Add(new KeptResource(ChangeKind.TapeExport, $"{plan.Tier.Name}/{set.Set}", $"due for rotation ({why}): on a device, change the cassette by hand") { Detail = Time(set) });
                        continue;
                    }

                    changes.Add(new PlannedChange(tape is null ? ChangeKind.BackupSet : ChangeKind.TapeExport, $"{plan.Tier.Name}/{set.Set}", tape is null ? ChangeAction.Forget : ChangeAction.Remove, why, async c =>
                    {
                        if (tape is not null)
                        {
                            tape.Remove(set.Set);
                            removed++;
                            return "export removed";
                        }

                        var counts = await (forgotten ??= ForgetSetsAsync(context.Tiers.Open(plan.Tier), session.Environment.Name, forgetting, c));
                        removed++;
                        return $"{counts.GetValueOrDefault(set.Set)} snapshot(s)";
                    })
                    {
                        Detail = $"{Time(set)}, {BackupProgress.Size(set.Added)} added",
                    });
                }

                if (tape is null && plan.Sets!.Any(s => !s.Keep))
                {
                    var (prune, notYet) = await PruneAsync(plan, context, pruned, ct);
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

            return new ChangePlan(RetentionSummary.Of(changes), changes, kept);
        }, cancellationToken, forceDryRun: dryRun);

        if (!dryRun && outcome is GateOutcome.Applied or GateOutcome.NothingToDo)
        {
            Record(new RetentionRun(DateTimeOffset.UtcNow, removed, problems.Count > 0 || plans.Any(p => p.Error is not null) ? "failed" : "ok") { Pruned = pruned });
        }

        problems.AddRange(plans.Where(p => p.Error is not null).Select(p => $"tier {p.Tier.Name} could not be read and was left alone: {p.Error}"));
        if (problems.Count > 0)
        {
            throw new PipelineException($"retention of {session.Environment.Name}: {string.Join("; ", problems)}");
        }
    }

    /// <summary>
    /// The member snapshots of sets that never got a manifest (a run stopped before the end): never a backup, so no
    /// policy keeps them; forgotten in one <c>restic forget</c> per tier, unless their run may still be writing them
    /// (<see cref="BackupOrphans"/>), which the table says.
    /// </summary>
    private async Task OrphansAsync(ResolvedTier tier, BackupContext context, List<PlannedChange> changes, List<KeptResource> kept, List<string> problems, CancellationToken cancellationToken)
    {
        var repository = context.Tiers.Open(tier);
        IReadOnlyList<OrphanSet> orphans;
        try
        {
            orphans = await BackupOrphans.FindAsync(repository, session.Environment.Name, cancellationToken);
        }
        catch (PipelineException e) when (!cancellationToken.IsCancellationRequested)
        {
            problems.Add($"tier {tier.Name}: looking for orphaned member snapshots failed: {e.Message.Split('\n')[0]}");
            return;
        }

        var removable = orphans.Where(o => o.Removable).ToList();
        Task? forgetting = null;
        foreach (var orphan in orphans)
        {
            var resource = $"{tier.Name}/{orphan.Set}";
            var detail = $"{orphan.Newest.UtcDateTime:yyyy-MM-dd HH:mm}Z, {orphan.Snapshots.Count} snapshot(s)";
            if (!orphan.Removable)
            {
                kept.Add(new KeptResource(ChangeKind.OrphanedMembers, resource, orphan.Why) { Detail = detail });
                continue;
            }

            changes.Add(new PlannedChange(ChangeKind.OrphanedMembers, resource, ChangeAction.Forget, $"member snapshots of a set that never got its manifest: {orphan.Why}", async c =>
            {
                await (forgetting ??= BackupOrphans.ForgetAsync(repository, removable, log, c));
                return $"{orphan.Snapshots.Count} snapshot(s)";
            })
            {
                Detail = detail,
            });
        }
    }

    /// <summary>
    /// Forgets every snapshot of these sets in one <c>restic forget</c>; the number of snapshots per set. Selected by
    /// tags on this repository (a copy's snapshots have ids of their own on each tier); archives belong to no set.
    /// </summary>
    public static async Task<IReadOnlyDictionary<string, int>> ForgetSetsAsync(ResticRepository repository, string environment, IReadOnlySet<string> sets, CancellationToken cancellationToken)
    {
        var chosen = (await repository.SnapshotsAsync([BackupTags.Marker, $"env={environment}"], cancellationToken))
            .Select(s => (Snapshot: s, Set: s.Tag("set")))
            .Where(x => x.Set is not null && sets.Contains(x.Set))
            .ToList();
        await repository.ForgetAsync(chosen.Select(x => x.Snapshot.Id).ToList(), cancellationToken);
        return chosen.GroupBy(x => x.Set!).ToDictionary(g => g.Key, g => g.Count());
    }

    /// <summary>
    /// A prune of the tier when it is worth it: the data the forgotten sets added is at least
    /// <c>prune.when_unused_above</c> of the repository (an upper estimate of what becomes unused), or an occurrence of
    /// <c>prune.schedule</c> has passed since the tier's last prune (with neither set, every cleanup prunes); otherwise
    /// why not yet.
    /// </summary>
    private async Task<(PlannedChange? Prune, KeptResource? NotYet)> PruneAsync(TierRetentionPlan plan, BackupContext context, IDictionary<string, DateTimeOffset> pruned, CancellationToken cancellationToken)
    {
        var repository = context.Tiers.Open(plan.Tier);
        var size = await repository.SizeAsync(cancellationToken);
        var freed = plan.Sets!.Where(s => !s.Keep).Sum(s => s.Added);
        var share = size == 0 ? 0 : 100.0 * freed / size;
        var (worth, why) = PruneDecision(Config.Prune, share, pruned.TryGetValue(plan.Tier.Name, out var at) ? at : null, DateTimeOffset.UtcNow);
        if (!worth)
        {
            return (null, new KeptResource(ChangeKind.Repository, plan.Tier.Name, "no prune yet: " + why) { Detail = BackupProgress.Size(size) });
        }

        var maxUnused = Config.Prune?.MaxUnused ?? "5%";
        return (new PlannedChange(ChangeKind.Repository, plan.Tier.Name, ChangeAction.Prune,
            $"{why}: restic prune --max-unused {maxUnused}",
            async c =>
            {
                await repository.PruneAsync(maxUnused, c);
                pruned[plan.Tier.Name] = DateTimeOffset.UtcNow;
                return $"{BackupProgress.Size(await repository.SizeAsync(c))} after the prune";
            })
        {
            Detail = BackupProgress.Size(size),
        }, null);
    }

    /// <summary>
    /// Whether a tier is pruned now, and why (or why not yet): <c>when_unused_above</c> against the share the forgotten
    /// sets added, or an occurrence of <c>schedule</c> since the last prune; either suffices; with neither, always.
    /// </summary>
    internal static (bool Worth, string Why) PruneDecision(PruneDefinition? prune, double share, DateTimeOffset? lastPruned, DateTimeOffset now)
    {
        var reasons = new List<string>();
        var notYet = new List<string>();
        if (prune?.WhenUnusedAbove is { } above && Percent.TryParse(above, out var threshold))
        {
            (share >= threshold ? reasons : notYet).Add(string.Create(CultureInfo.InvariantCulture,
                $"the forgotten sets added {(share >= threshold ? "up to" : "at most")} {share:0.##}% of it (prune.when_unused_above {threshold:0.#}%)"));
        }

        if (prune?.Schedule is { } schedule && BackupConfigLoader.TryParseCron(schedule, out var cron, out _))
        {
            var due = lastPruned is null ? now : cron!.GetNextOccurrence(lastPruned.Value.UtcDateTime, TimeZoneInfo.Utc) is { } next ? new DateTimeOffset(next, TimeSpan.Zero) : DateTimeOffset.MaxValue;
            (due <= now ? reasons : notYet).Add(lastPruned is null
                ? $"never pruned by LlmStack (prune.schedule {schedule})"
                : due <= now
                    ? $"prune.schedule {schedule} came round since the last prune ({lastPruned.Value.UtcDateTime:yyyy-MM-dd HH:mm}Z)"
                    : $"last pruned {lastPruned.Value.UtcDateTime:yyyy-MM-dd HH:mm}Z, prune.schedule {schedule} next at {due.UtcDateTime:yyyy-MM-dd HH:mm}Z");
        }

        return reasons.Count > 0 ? (true, string.Join("; ", reasons))
            : notYet.Count > 0 ? (false, string.Join("; ", notYet))
            : (true, "every cleanup prunes (no prune rule)");
    }

    /// <summary>The rules that keep a set, members with the same rules together.</summary>
    private static string KeptBy(SetRetention set) => string.Join("; ", set.Reasons
        .GroupBy(r => string.Join(", ", r.Value))
        .Select(g => g.Count() > 2 ? $"{g.Count()} members ({g.First().Key}, …): {g.Key}" : $"{string.Join(", ", g.Select(r => r.Key))}: {g.Key}"));

    /// <summary>
    /// Data retention inside the services (all, or <paramref name="only"/>), each through its own mechanism: what is due
    /// now, counted for the plan (the dry run stops there). A missing table, path or volume is reported as nothing to
    /// do; a service that cannot be reached is a problem named at the end, and the others still go on.
    /// </summary>
    private async Task<DataPlan> DataPlanAsync(string? only, BackupContext context, CancellationToken cancellationToken)
    {
        var plan = new DataPlan();
        if (only is not null && !Config.Services.ContainsKey(only))
        {
            throw new PipelineException($"service '{only}' has no data retention in {configFile}: add it under services (docs/RETENTION.md)");
        }

        var now = DateTimeOffset.UtcNow;
        foreach (var (service, definition) in Config.Services.Where(s => only is null || s.Key == only))
        {
            if (session.Environment.Services.All(s => s.Name != service))
            {
                plan.Kept.Add(new KeptResource(ChangeKind.Service, service, $"not part of environment {session.Environment.Name}: nothing to do"));
                continue;
            }

            if (definition.Tables is { Count: > 0 } tables)
            {
                await TablesAsync(service, definition, tables, context, now, plan, cancellationToken);
            }

            if (definition.ExpireKeys is { Count: > 0 } keys)
            {
                await KeysAsync(service, keys, context, plan, cancellationToken);
            }

            foreach (var files in definition.Files ?? [])
            {
                await FilesAsync(new FileRetention(service, files.Volume!, files.Path ?? string.Empty, Days(files.Days)), context, plan, cancellationToken);
            }

            if (definition.Models is { } models)
            {
                await ModelsAsync(service, models, context, now, plan, cancellationToken);
            }
        }

        return plan;
    }

    private int Days(int? days) => days ?? Settings.DataRetentionDays ?? 30;

    private async Task TablesAsync(string service, ServiceRetentionDefinition definition, List<TableRetentionDefinition> tables, BackupContext context, DateTimeOffset now, DataPlan plan, CancellationToken cancellationToken)
    {
        PostgresRetention postgres;
        try
        {
            var (id, name) = await context.RunningContainerAsync(service, cancellationToken);
            postgres = new PostgresRetention(context.Engine, id, name, context.ServiceVariable(service, "POSTGRES_USER") ?? "postgres",
                definition.Database ?? context.ServiceVariable(service, "POSTGRES_DB") ?? "postgres");
        }
        catch (PipelineException e)
        {
            plan.Problems.Add($"{service}: {e.Message.Split('\n')[0]}");
            return;
        }

        foreach (var table in tables.Select(t => new TableRetention(service, t.Table!, t.DateColumn!, Days(t.Days), t.Strategy ?? TableRetention.DeleteOldRows, t.BatchSize ?? 5000)))
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
                plan.Problems.Add($"{resource}: {e.Message}");
                continue;
            }

            var rule = $"{table.DateColumn} older than {table.Days} d (before {cutoff.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z)";
            if (due is null)
            {
                plan.Kept.Add(new KeptResource(ChangeKind.Table, resource, "does not exist: nothing to do"));
            }
            else if (due == 0)
            {
                plan.Kept.Add(new KeptResource(ChangeKind.Table, resource, $"no row with {rule}"));
            }
            else
            {
                var archive = table.Strategy == TableRetention.ArchiveThenDelete;
                plan.Changes.Add(new PlannedChange(ChangeKind.Rows, resource, archive ? ChangeAction.ArchiveAndDelete : ChangeAction.Delete, archive ? $"{rule}; archived to the backup repository first" : rule, async ct =>
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

    private async Task KeysAsync(string service, List<KeyRetentionDefinition> definitions, BackupContext context, DataPlan plan, CancellationToken cancellationToken)
    {
        RedisRetention redis;
        int databases;
        try
        {
            var (id, name) = await context.RunningContainerAsync(service, cancellationToken);
            redis = new RedisRetention(new RedisCli(context.Engine, id, name));
            databases = await redis.DatabasesAsync(cancellationToken);
        }
        catch (PipelineException e)
        {
            plan.Problems.Add($"{service}: {e.Message.Split('\n')[0]}");
            return;
        }

        foreach (var definition in definitions)
        {
            var keys = new KeyRetention(service, definition.Pattern!, definition.Databases ?? [0], Days(definition.Days));
            foreach (var database in keys.Databases)
            {
                var resource = $"{service}/db{database}:{keys.Pattern}";
                if (database >= databases)
                {
                    plan.Problems.Add($"{resource}: redis has databases 0 to {databases - 1} only");
                    continue;
                }

                KeyPass pass;
                try
                {
                    pass = await redis.PassAsync(keys, database, apply: false, cancellationToken);
                }
                catch (PipelineException e)
                {
                    plan.Problems.Add($"{resource}: {e.Message}");
                    continue;
                }

                if (pass.Due == 0)
                {
                    plan.Kept.Add(new KeptResource(ChangeKind.Keys, resource, pass.Matched == 0 ? "no key matches" : $"every matching key has a TTL of {keys.Days} d or less") { Detail = $"{pass.Matched} key(s)" });
                    continue;
                }

                plan.Changes.Add(new PlannedChange(ChangeKind.Keys, resource, ChangeAction.Expire, $"no TTL or one longer than {keys.Days} d: TTL set to {keys.Days} d (never deleted)", async ct =>
                {
                    var done = await redis.PassAsync(keys, database, apply: true, ct);
                    return $"TTL set on {done.Due} key(s)";
                })
                {
                    Detail = $"{pass.Due} of {pass.Matched} key(s)",
                    ContinueOnFailure = true,
                });
            }
        }
    }

    private async Task FilesAsync(FileRetention files, BackupContext context, DataPlan plan, CancellationToken cancellationToken)
    {
        var volumes = new VolumeRetention(context);
        (long Files, long Bytes)? due;
        try
        {
            if (!await volumes.ExistsAsync(files.Volume, cancellationToken))
            {
                plan.Kept.Add(new KeptResource(ChangeKind.Files, files.Resource, "the volume does not exist (its stack has never run): nothing to do"));
                return;
            }

            due = await volumes.CountFilesAsync(files, cancellationToken);
        }
        catch (PipelineException e)
        {
            plan.Problems.Add($"{files.Resource}: {e.Message}");
            return;
        }

        var rule = $"files modified more than {files.Days} d ago";
        if (due is null)
        {
            plan.Kept.Add(new KeptResource(ChangeKind.Files, files.Resource, "the path does not exist: nothing to do"));
        }
        else if (due.Value.Files == 0)
        {
            plan.Kept.Add(new KeptResource(ChangeKind.Files, files.Resource, $"no {rule}"));
        }
        else
        {
            plan.Changes.Add(new PlannedChange(ChangeKind.Files, files.Resource, ChangeAction.Delete, rule, async ct =>
            {
                var (count, bytes) = await volumes.DeleteFilesAsync(files, ct);
                return $"{count} file(s), {BackupProgress.Size(bytes)} deleted";
            })
            {
                Detail = $"{due.Value.Files} file(s), {BackupProgress.Size(due.Value.Bytes)}",
                ContinueOnFailure = true,
            });
        }
    }

    private async Task ModelsAsync(string service, ModelRetentionDefinition definition, BackupContext context, DateTimeOffset now, DataPlan plan, CancellationToken cancellationToken)
    {
        var volumes = new VolumeRetention(context);
        var models = new ModelRetention(service, definition.Volume!, definition.Path ?? string.Empty, Days(definition.Days), await ModelsInUseAsync(service, context, cancellationToken));
        IReadOnlyList<ModelDirectory>? directories;
        try
        {
            directories = await volumes.ExistsAsync(models.Volume, cancellationToken) ? await volumes.ModelsAsync(models, cancellationToken) : null;
        }
        catch (PipelineException e)
        {
            plan.Problems.Add($"{models.Resource}: {e.Message}");
            return;
        }

        if (directories is null)
        {
            plan.Kept.Add(new KeptResource(ChangeKind.Models, models.Resource, "the volume or path does not exist: nothing to do"));
            return;
        }

        var cutoff = now.AddDays(-models.Days);
        foreach (var decision in ModelPlanner.Plan(directories, models.InUse, cutoff))
        {
            var resource = $"{models.Resource}/{decision.Directory.Name}";
            var size = BackupProgress.Size(decision.Directory.Kilobytes * 1024);
            if (decision.Keep)
            {
                plan.Kept.Add(new KeptResource(ChangeKind.Model, resource, decision.Reason) { Detail = size });
                continue;
            }

            plan.Changes.Add(new PlannedChange(ChangeKind.Model, resource, ChangeAction.Remove, $"{decision.Reason} (more than {models.Days} d)", async ct =>
                (await volumes.RemoveModelsAsync(models, [decision.Directory.Name], cutoff, ct)).Count == 1 ? "directory removed" : "used since the plan: kept")
            {
                Detail = size,
                ContinueOnFailure = true,
            });
        }
    }

    /// <summary>
    /// The models a service serves: the argument of <c>--model</c> in its configured command and in its running
    /// container's (which may still serve the previous one until restarted).
    /// </summary>
    private static async Task<IReadOnlyList<string>> ModelsInUseAsync(string service, BackupContext context, CancellationToken cancellationToken)
    {
        var commands = new List<IReadOnlyList<string>>();
        if (context.Environment.Service(service).Command is { } configured)
        {
            commands.Add(configured.Select(a => Interpolation.Materialize(a, context.Secrets)).ToList());
        }

        if (await RunningCommandAsync(service, context, cancellationToken) is { } running)
        {
            commands.Add(running);
        }

        return commands.SelectMany(ModelArguments).Distinct(StringComparer.Ordinal).ToList();
    }

    /// <summary>The command line (entrypoint and arguments) of the service's running container, or null when it is not running.</summary>
    private static async Task<IReadOnlyList<string>?> RunningCommandAsync(string service, BackupContext context, CancellationToken cancellationToken)
    {
        try
        {
            var (id, _) = await context.RunningContainerAsync(service, cancellationToken);
            var inspect = await context.Engine.CallAsync(ct => context.Engine.Client.Containers.InspectContainerAsync(id, ct), cancellationToken);
            return [.. inspect.Config?.Entrypoint ?? [], .. inspect.Config?.Cmd ?? []];
        }
        catch (PipelineException)
        {
            return null;
        }
    }

    /// <summary>The values of <c>--model X</c> and <c>--model=X</c> in a command line.</summary>
    internal static IEnumerable<string> ModelArguments(IReadOnlyList<string> command)
    {
        for (var i = 0; i < command.Count; i++)
        {
            if (command[i] == "--model" && i + 1 < command.Count)
            {
                yield return command[i + 1];
            }
            else if (command[i].StartsWith("--model=", StringComparison.Ordinal))
            {
                yield return command[i]["--model=".Length..];
            }
        }
    }

    /// <summary>What the data-retention part of a cleanup plans: changes, what stays and why, and problems named at the end.</summary>
    private sealed class DataPlan
    {
        public List<PlannedChange> Changes { get; } = [];

        public List<KeptResource> Kept { get; } = [];

        public List<string> Problems { get; } = [];
    }

    /// <summary>How a service's data is retained, each mechanism in a few words, or "not managed by LlmStack".</summary>
    private string DataRetention(string service)
    {
        var definition = Config.Services.GetValueOrDefault(service);
        var parts = new List<string>();
        if (definition?.Tables is { Count: > 0 } tables)
        {
            parts.Add("rows: " + string.Join(", ", tables.Select(t => $"{t.Table} > {Days(t.Days)} d{(t.Strategy == TableRetention.ArchiveThenDelete ? " (archived)" : string.Empty)}")));
        }

        if (definition?.ExpireKeys is { Count: > 0 } keys)
        {
            parts.Add("keys: " + string.Join(", ", keys.Select(k => $"{k.Pattern} (db {string.Join(',', k.Databases ?? [0])}) TTL ≤ {Days(k.Days)} d")));
        }

        if (definition?.Files is { Count: > 0 } files)
        {
            parts.Add("files: " + string.Join(", ", files.Select(f => $"{f.Volume}:/{(f.Path ?? string.Empty).Trim('/')} > {Days(f.Days)} d")));
        }

        if (definition?.Models is { } models)
        {
            parts.Add($"models: {models.Volume}:/{(models.Path ?? string.Empty).Trim('/')} unused > {Days(models.Days)} d, never the one in use");
        }

        if (definition?.Tsdb is { } tsdb)
        {
            parts.Add($"metrics: Prometheus keeps {Days(tsdb.Days)} d (--storage.tsdb.retention.time)");
        }

        return parts.Count == 0 ? "not managed by LlmStack" : string.Join("; ", parts);
    }

    /// <summary>
    /// For a service with a TSDB policy that is running: whether its container runs with it (the policy reaches the
    /// container when the stack is started again, which recreates containers whose configuration changed).
    /// </summary>
    private async Task<string> RunningTsdbAsync(string service, CancellationToken cancellationToken)
    {
        if (Config.Services.GetValueOrDefault(service)?.Tsdb is null || session.Environment.Services.All(s => s.Name != service))
        {
            return string.Empty;
        }

        const string flag = "--storage.tsdb.retention.time=";
        var wanted = session.Environment.Service(service).Command?.FirstOrDefault(a => a.StartsWith(flag, StringComparison.Ordinal))?[flag.Length..];
        if (await RunningCommandAsync(service, await backups.ContextAsync(cancellationToken), cancellationToken) is not { } command)
        {
            return ", not running";
        }

        var running = command.FirstOrDefault(a => a.StartsWith(flag, StringComparison.Ordinal))?[flag.Length..] ?? "Prometheus' default";
        var stack = Health.Capitalize(session.Environment.Service(service).Stack);
        return running == wanted ? $", running with {running}" : $"; the container runs with {running}: Start{stack} applies {wanted}";
    }

    private static string Count(int? count) => count?.ToString(CultureInfo.InvariantCulture) ?? "-";

    private static string Time(SetRetention set) => set.Entry.Manifest.Started.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private string StateFile => Path.Combine(root, ".nuke", "temp", $"retention-{session.Environment.Name}.json");

    private RetentionRun? LastRun()
    {
        try
        {
            return File.Exists(StateFile) ? JsonSerializer.Deserialize<RetentionRun>(File.ReadAllText(StateFile), JsonDefaults.Document) : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private void Record(RetentionRun run)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(StateFile)!);
        File.WriteAllText(StateFile, JsonSerializer.Serialize(run, JsonDefaults.Document));
    }
}

/// <summary>The last cleanup of an environment.</summary>
public sealed record RetentionRun(DateTimeOffset Finished, int Removed, string Outcome)
{
    /// <summary>When LlmStack last pruned each tier (for <c>prune.schedule</c>).</summary>
    public Dictionary<string, DateTimeOffset>? Pruned { get; init; }
}

/// <summary>The confirmation summary of a retention cleanup, from the typed kinds of its changes: each change counted once.</summary>
public static class RetentionSummary
{
    public static string Of(IReadOnlyList<PlannedChange> changes)
    {
        var plan = ChangePlan.Of(string.Empty, changes);
        return $"remove {plan.Count(ChangeKind.BackupSet, ChangeKind.TapeExport)} backup set(s), the orphaned members of {plan.Count(ChangeKind.OrphanedMembers)} set(s) and old rows of "
            + $"{plan.Count(ChangeKind.Rows)} table(s), {plan.Count(ChangeKind.Keys, ChangeKind.Files, ChangeKind.Model)} other data item(s) by the retention policies";
    }
}
