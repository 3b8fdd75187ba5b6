using System.Globalization;
using LlmStack.ChangeControl;
using LlmStack.Engine;
using LlmStack.Pipeline;
using LlmStack.Reporting;
using LlmStack.Schema;
using LlmStack.Security;

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

/// <summary>One backup of a service, for BackupList: its set, and the tiers that hold the set.</summary>
public sealed record BackupRow(string Service, string Type, string Set, DateTimeOffset Time, string SetStatus, long Bytes, long Added, string Trigger, IReadOnlyList<string> Tiers,
    IReadOnlyDictionary<string, string> Verified);

/// <summary>The backup targets of one environment: BackupFull, BackupService, BackupList, BackupStatus, BackupSchedule, Restore, RestoreSet.</summary>
public sealed class BackupOperations(EnvironmentSession session, BackupOptions options)
{
    private BackupConfig? _config;
    private BackupContext? _context;

    private string Root => session.Options.Schema.RootDirectory;

    private TextWriter Out => session.Options.Out;

    private Serilog.ILogger Log => session.Options.Log;

    public BackupConfig Config => _config ??= BackupConfigLoader.LoadValid(
        Path.GetFullPath(options.ConfigFile, Root), options.ConfigFile, session.Options.Schema.Load());

    /// <summary>Whether the environment's backup settings ask for a BackupFull before every wipe of data.</summary>
    public bool BackupBeforeWipe => Config.Environments.GetValueOrDefault(session.Environment.Name)?.BackupBeforeWipe == true;

    public EnvironmentBackupPlan Plan => BackupPlanner.Plan(Config, session.Environment, Root, session.Options.SecretsDirectory);

    private BackupMetrics Metrics => options.MetricsFile is { Length: > 0 } file
        ? new BackupMetrics(Path.GetFullPath(file, Root), System.Environment.GetEnvironmentVariable("GITHUB_STEP_SUMMARY"))
        : BackupMetrics.For(Config, Root);

    /// <summary>
    /// One line on the environment's newest complete backup set and its age, for a wipe whose backup was skipped on
    /// purpose. Never creates a key or a repository: without a key there is no backup to speak of.
    /// </summary>
    public async Task<string> NewestSetAsync(CancellationToken cancellationToken)
    {
        var environment = session.Environment.Name;
        if (string.IsNullOrEmpty(options.KeyValue) && string.IsNullOrWhiteSpace(options.KeyFile ?? Config.Key?.File)
            && !File.Exists(BackupKeys.DefaultFile(Root, session.Options.SecretsDirectory, environment)))
        {
            return $"no backup of {environment} exists (it has no backup key yet): what is wiped cannot be restored";
        }

        try
        {
            var context = await ContextAsync(cancellationToken);
            var sets = await context.Catalog.SetsAsync(cancellationToken);
            var newest = sets.Where(s => s.IsComplete).MaxBy(s => s.Started);
            return newest is null
                ? $"no complete backup set of {environment} exists on tier {context.Repository.Tier.Name}: what is wiped cannot be restored"
                : $"the newest backup set of {environment} is {newest.Set}, {StatusReport.Uptime(DateTimeOffset.UtcNow - newest.Started)} old (trigger {newest.Trigger}, tier {context.Repository.Tier.Name})";
        }
        catch (PipelineException e)
        {
            return $"the newest backup of {environment} is unknown ({e.Message})";
        }
    }

    /// <summary>Every service that holds data, as one set; fails naming the members that failed (the others are kept).</summary>
    public async Task<BackupSetManifest> FullAsync(string trigger, CancellationToken cancellationToken)
    {
        await session.LockAsync(cancellationToken);
        var context = await ContextAsync(cancellationToken);
        await BackupOrphans.SweepAsync(context.Repository, session.Environment.Name, Log, cancellationToken);
        return await FinishAsync(context, await new BackupRunner(context).RunAsync(trigger, context.Plan.Members, cancellationToken), cancellationToken);
    }

    /// <summary>One service (every type of member it has, or one type).</summary>
    public async Task<BackupSetManifest> ServiceAsync(string service, string? type, string trigger, CancellationToken cancellationToken)
    {
        var members = Plan.For(service, type);
        await session.LockAsync(cancellationToken);
        var context = await ContextAsync(cancellationToken);
        await BackupOrphans.SweepAsync(context.Repository, session.Environment.Name, Log, cancellationToken);
        return await FinishAsync(context, await new BackupRunner(context).RunAsync(trigger, members, cancellationToken), cancellationToken);
    }

    /// <summary>Copies whatever the first tier has and another tier lacks (<c>BackupCopy</c>); fails naming the tiers that failed.</summary>
    public async Task CopyAsync(CancellationToken cancellationToken)
    {
        await session.LockAsync(cancellationToken);
        var context = await ContextAsync(cancellationToken);
        var entries = await context.Catalog.EntriesAsync(cancellationToken);
        var results = await context.Tiers.CopyAsync(entries, cancellationToken);
        Metrics.Copy(entries.LastOrDefault(e => !e.Manifest.IsSafetyCopy)?.Manifest, session.Environment.Name, results);
        var table = new TextTable("TIER", "KIND", "RESULT");
        foreach (var result in results)
        {
            table.Add(result.Tier, result.Kind, result.Ok ? result.Outcome : "FAILED: " + result.Outcome);
        }

        table.Write(Out);
        if (results.Count == 0)
        {
            Log.Information("{Environment} has one tier ({Tier}): nothing to copy", session.Environment.Name, context.Repository.Tier.Name);
        }

        if (BackupTiers.Failures(results) is { } failures)
        {
            throw new PipelineException(failures);
        }
    }

    /// <summary>
    /// BackupVerify: every tier checked, and the content of the newest backup of every member (or of one set) on each;
    /// fails naming tier, set and service.
    /// </summary>
    public async Task VerifyAsync(string? set, string readDataSubset, CancellationToken cancellationToken)
    {
        var subset = BackupVerifier.CheckReadDataSubset(readDataSubset);
        await session.LockAsync(cancellationToken);
        var context = await ContextAsync(cancellationToken);
        var chosen = Choose(await context.Catalog.EntriesAsync(cancellationToken), set, "verify");
        Log.Information("Verifying {Chosen}", BackupSelection.Describe(chosen));
        var results = await new BackupVerifier(context, session.MapImage).VerifyAsync(chosen, subset, cancellationToken);
        Metrics.Verify(session.Environment.Name, results);
        var table = new TextTable("TIER", "SET", "CHECK", "RESULT");
        foreach (var r in results)
        {
            table.Add(r.Tier, r.Set ?? "-", r.Check, (r.Ok ? "ok: " : "FAILED: ") + r.Detail);
        }

        table.Write(Out);
        var failed = results.Where(r => !r.Ok).ToList();
        if (failed.Count > 0)
        {
            throw new PipelineException(
                $"{failed.Count} check(s) failed: {string.Join("; ", failed.Take(5).Select(f => $"tier {f.Tier}{(f.Set is null ? string.Empty : $", set {f.Set}")}, {f.Check}: {f.Detail}"))}");
        }
    }

    /// <summary>
    /// RestoreTest: the newest backup of every member (or one set's members) restored into throwaway containers and
    /// proven equal; the table names the set of each member.
    /// </summary>
    public async Task<RestoreTestReport> RestoreTestAsync(string? set, CancellationToken cancellationToken)
    {
        await session.LockAsync(cancellationToken);
        var context = await ContextAsync(cancellationToken);
        var chosen = Choose(await context.Catalog.EntriesAsync(cancellationToken), set, "test");
        var testEnvironment = Config.RestoreTest?.TestEnvironment is { } name && name != session.Environment.Name
            ? session.Options.Schema.Resolve(name)
            : session.Environment;
        Log.Information("Restore test of {Chosen}", BackupSelection.Describe(chosen));
        var report = await new RestoreTester(context, testEnvironment, session.MapImage, Root, Log).RunAsync(chosen, cancellationToken);
        Metrics.RestoreTest(report);
        var table = new TextTable("MEMBER", "SET", "CHECK", "RESULT");
        foreach (var check in report.Checks)
        {
            table.Add(check.Member, check.Set, check.Check, (check.Ok ? "ok: " : "FAILED: ") + check.Detail);
        }

        table.Write(Out);
        var failed = report.Checks.Where(c => !c.Ok).ToList();
        return failed.Count == 0
            ? report
            : throw new PipelineException($"restore test of {(report.Sets.Count == 1 ? "set" : "sets")} {string.Join(", ", report.Sets)} failed: {string.Join("; ", failed.Select(f => $"{f.Member} (set {f.Set}): {f.Check}: {f.Detail}"))} (report: artifacts/restore-test/{report.Environment}/{report.Set}.md)");
    }

    /// <summary>What a check takes: one set's members (<c>--backup-set</c>), or the newest backup of every member of the plan.</summary>
    private IReadOnlyList<ChosenMember> Choose(IReadOnlyList<CatalogEntry> entries, string? set, string what)
    {
        if (set is not null)
        {
            var entry = entries.FirstOrDefault(e => e.Manifest.Set == set) ?? throw new PipelineException($"no backup set '{set}' in {session.Environment.Name}: BackupList shows the sets");
            return BackupSelection.OfSet(entry);
        }

        var chosen = BackupSelection.NewestOfEach(entries, Plan.Members.Select(m => m.Key));
        return chosen.Count > 0 ? chosen : throw new PipelineException($"no backup of {session.Environment.Name} to {what}: run BackupFull first");
    }

    /// <summary>After a set is written to the first tier: the copies, then the verdict (incomplete set, failed tiers).</summary>
    private async Task<BackupSetManifest> FinishAsync(BackupContext context, BackupSetManifest manifest, CancellationToken cancellationToken)
    {
        var metrics = Metrics;
        metrics.Backup(manifest);
        var entries = (await context.Catalog.EntriesAsync(cancellationToken)).Where(e => e.Manifest.Set == manifest.Set).ToList();
        var results = await context.Tiers.CopyAsync(entries, cancellationToken);
        metrics.Copy(manifest, session.Environment.Name, results);
        var tierFailures = BackupTiers.Failures(results);
        if (!manifest.IsComplete)
        {
            throw new PipelineException(
                $"backup set {manifest.Set} is incomplete: {string.Join("; ", manifest.Members.Where(m => m.Status == MemberResult.Failed).Select(m => $"{m.Key}: {m.Error}"))} (the {manifest.Members.Count(m => m.Succeeded)} other member(s) were kept)"
                + (tierFailures is null ? string.Empty : "; " + tierFailures));
        }

        return tierFailures is null ? manifest : throw new PipelineException($"backup set {manifest.Set} is complete on {context.Repository.Tier.Name}, but {tierFailures}");
    }

    /// <summary>Per service and type, every listed backup (newest first): time, set, type, size, added bytes.</summary>
    public async Task ListAsync(CancellationToken cancellationToken)
    {
        var context = await ContextAsync(cancellationToken);
        var inventory = await context.Tiers.InventoryAsync(await context.Catalog.EntriesAsync(cancellationToken), cancellationToken);
        foreach (var unreadable in inventory.Where(i => i.Entries is null))
        {
            Log.Warning("Tier {Tier} cannot be read: {Error}", unreadable.Tier.Name, unreadable.Error);
        }

        var rows = Rows(inventory).OrderBy(r => r.Service, StringComparer.Ordinal).ThenByDescending(r => r.Time).ToList();
        var table = new TextTable("SERVICE", "TYPE", "TIME (UTC)", "SET", "SET STATUS", "SIZE", "ADDED", "TRIGGER", "TIERS", "VERIFIED");
        foreach (var r in rows)
        {
            table.Add(r.Service, r.Type, r.Time.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture), r.Set, r.SetStatus,
                BackupProgress.Size(r.Bytes), BackupProgress.Size(r.Added), r.Trigger, string.Join(",", r.Tiers),
                r.Verified.Count == 0 ? "-" : $"{r.Verified.Values.Max(StringComparer.Ordinal)} ({string.Join(",", r.Verified.Keys)})");
        }

        if (rows.Count == 0)
        {
            Log.Information("No backups of {Environment} yet: run BackupFull", session.Environment.Name);
        }

        session.Options.Reports.Write(new Report { Document = rows }.Table(table));
    }

    /// <summary>
    /// The last backup of each service against the schedule (overdue when older than the last scheduled run before
    /// now, give or take an hour), and the repository size. Fails when a service is overdue or its last backup failed.
    /// </summary>
    public async Task StatusAsync(CancellationToken cancellationToken)
    {
        var context = await ContextAsync(cancellationToken);
        var sets = await context.Catalog.SetsAsync(cancellationToken);
        var size = await context.Repository.SizeAsync(cancellationToken);
        var now = DateTimeOffset.UtcNow;
        var due = CronSchedule.LastOccurrence(context.Plan.Cron, now);
        var status = new List<object>();
        var problems = new List<string>();
        var table = new TextTable("SERVICE", "LAST BACKUP (UTC)", "AGE", "SET", "STATE");
        foreach (var service in context.Plan.Members.Select(m => m.Service).Distinct())
        {
            var attempts = sets.SelectMany(s => s.Members.Where(m => m.Service == service).Select(m => (Set: s, Member: m)))
                .Where(x => !x.Set.IsSafetyCopy).ToList();
            var last = attempts.LastOrDefault(a => a.Member.Succeeded);
            var lastAttempt = attempts.LastOrDefault(a => a.Member.Status != MemberResult.Skipped);
            string state;
            if (last.Set is null && lastAttempt.Set is null && attempts.Count > 0)
            {
                state = "no data yet";
            }
            else if (last.Set is null && lastAttempt.Set is null)
            {
                state = "never backed up";
            }
            else if (last.Set is null)
            {
                state = $"failed in {lastAttempt.Set!.Set}: {lastAttempt.Member.Error}";
            }
            else if (lastAttempt.Set is not null && !lastAttempt.Member.Succeeded && lastAttempt.Set.Started > last.Set.Started)
            {
                state = $"failed in {lastAttempt.Set.Set}: {lastAttempt.Member.Error}";
            }
            else if (due is { } dueAt && last.Set.Started < dueAt - TimeSpan.FromHours(1))
            {
                state = $"overdue (a run was due {dueAt.UtcDateTime:yyyy-MM-dd HH:mm}Z)";
            }
            else
            {
                state = "ok";
            }

            if (state is not ("ok" or "no data yet"))
            {
                problems.Add($"{service}: {state}");
            }

            var age = last.Set is null ? (TimeSpan?)null : now - last.Set.Started;
            table.Add(service, last.Set?.Started.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) ?? "-",
                age is { } a ? StatusReport.Uptime(a) : "-", last.Set?.Set ?? "-", state);
            status.Add(new { service, last = last.Set?.Started, set = last.Set?.Set, state });
        }

        var tiers = new List<object>();
        var tierTable = new TextTable("TIER", "KIND", "SETS", "NEWEST SET", "SIZE", "STATE");
        foreach (var inventory in await context.Tiers.InventoryAsync(await context.Catalog.EntriesAsync(cancellationToken), cancellationToken))
        {
            long? tierSize = null;
            var state = inventory.Error ?? "ok";
            if (inventory.Entries is not null && inventory.Tier.IsRepository)
            {
                try
                {
                    tierSize = inventory.Tier.Name == context.Repository.Tier.Name ? size : await context.Tiers.Open(inventory.Tier).SizeAsync(cancellationToken);
                }
                catch (PipelineException e)
                {
                    state = e.Message;
                }
            }

            var newest = inventory.Entries?.LastOrDefault()?.Manifest.Set;
            var entriesOnTier = inventory.Entries?.Select(e => e.Manifest.Set).ToHashSet(StringComparer.Ordinal);
            if (entriesOnTier is not null && sets.LastOrDefault(s => !s.IsSafetyCopy) is { } last && !entriesOnTier.Contains(last.Set) && state == "ok")
            {
                state = $"behind: lacks set {last.Set} (BackupCopy)";
            }

            if (state != "ok")
            {
                problems.Add($"tier {inventory.Tier.Name}: {state}");
            }

            tierTable.Add(inventory.Tier.Name, inventory.Tier.Kind, inventory.Entries?.Count.ToString(CultureInfo.InvariantCulture) ?? "-", newest ?? "-",
                tierSize is { } s ? BackupProgress.Size(s) : "-", state);
            tiers.Add(new { tier = inventory.Tier.Name, kind = inventory.Tier.Kind, repository = inventory.Tier.Repository, sets = inventory.Entries?.Count, newest, size = tierSize, state });
        }

        var workflow = await ScheduledWorkflowRunAsync(cancellationToken);
        var report = new Report { Document = new { environment = session.Environment.Name, schedule = context.Plan.Schedule, services = status, tiers, workflow } }
            .Table(table)
            .Line()
            .Table(tierTable)
            .Line()
            .Line($"Schedule {context.Plan.Schedule} (UTC)");
        if (workflow is not null)
        {
            report.Line($"GitHub {workflow}");
        }

        session.Options.Reports.Write(report.FailWhen(problems, p => $"{p.Count} service(s) of {session.Environment.Name} without a current backup: {string.Join("; ", p)}"));
    }

    /// <summary>The last run of backup-&lt;environment&gt;.yml on GitHub, when asked for; a GitHub failure is the line, never BackupStatus's.</summary>
    private async Task<string?> ScheduledWorkflowRunAsync(CancellationToken cancellationToken)
    {
        if (options.ScheduledWorkflowRun is not { } lastRun)
        {
            return null;
        }

        try
        {
            return await lastRun($"backup-{session.Environment.Name}.yml", cancellationToken);
        }
        catch (PipelineException e)
        {
            return $"backup-{session.Environment.Name}.yml: {e.Message}";
        }
    }

    /// <summary>The configured schedules and their next runs (UTC).</summary>
    public void Schedule(int count)
    {
        var table = new TextTable("ENVIRONMENT", "SCHEDULE (UTC)", "TIERS", "NEXT RUNS");
        foreach (var (name, settings) in Config.Environments)
        {
            table.Add(name, settings.Schedule!, string.Join(", ", settings.Tiers!), string.Join("; ", BackupConfigLoader.NextRuns(settings.Schedule, count)));
        }

        table.Write(Out);
    }

    /// <summary>
    /// Restore through the change gate: the table says what will be replaced and by which set (and its trigger); after
    /// confirmation, a safety backup of the current data (pre-restore), then the restore and its check. Any failure, and
    /// Ctrl-C, puts the safety backup back. <paramref name="service"/> and <paramref name="type"/> are checked against
    /// the backup plan before anything runs.
    /// </summary>
    public Task<GateOutcome> RestoreAsync(string target, string service, string backup, string? type, CancellationToken cancellationToken)
    {
        _ = Plan.For(service, type);
        return session.ChangeAsync(target, async ct =>
        {
            var context = await ContextAsync(ct);
            var sets = await context.Catalog.SetsAsync(ct);
            var chosen = RestoreRunner.Find(sets, session.Environment.Name, service, backup, type);
            var plan = RestorePlan(target, context, [chosen]);
            return RestoreRunner.NewerSafetyCopy(sets, chosen, service, type) is { } newer
                ? plan with
                {
                    Notices =
                    [
                        $"set {newer.Set.Set} ({newer.Set.Started.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z, trigger {newer.Set.Trigger}) is newer than the chosen set {chosen.Set.Set}: it is a safety copy"
                        + $" of {newer.Member.Key} taken before a {(newer.Set.Trigger == BackupTriggers.PreWipe ? "wipe" : "restore")}; to put that back instead, use --backup {RestoreRunner.LatestSafety} (or --backup {newer.Set.Set})",
                    ],
                }
                : plan;
        }, cancellationToken);
    }

    /// <summary>Every member of a complete set, in dependency order, with one safety backup first.</summary>
    public Task<GateOutcome> RestoreSetAsync(string target, string set, CancellationToken cancellationToken) =>
        session.ChangeAsync(target, async ct =>
        {
            var context = await ContextAsync(ct);
            var order = session.Environment.Services.Select(s => s.Name).Append(BackupPlanner.ConfigService).ToList();
            var chosen = RestoreRunner.FindSet(await context.Catalog.SetsAsync(ct), session.Environment.Name, set, order);
            return RestorePlan(target, context, chosen);
        }, cancellationToken);

    private ChangePlan RestorePlan(string target, BackupContext context, IReadOnlyList<RestoreTarget> chosen)
    {
        var runner = new RestoreRunner(context, Path.Combine(Root, "artifacts", "restore"));
        var replaced = chosen.Where(c => c.Member.Method != BackupMethods.Config).ToList();
        BackupSetManifest? safety = null;
        var restored = new List<RestoreTarget>();
        var changes = new List<PlannedChange>();
        if (replaced.Count > 0)
        {
            var current = replaced.SelectMany(c => context.Plan.For(c.Member.Service, c.Member.Type).Where(m => m.Key == c.Member.Key)).ToList();
            changes.Add(new PlannedChange(ChangeKind.Backup, string.Join(", ", current.Select(m => m.Key)), ChangeAction.BackUp,
                $"a safety copy of the current data (trigger {BackupTriggers.PreRestore}), put back if the restore fails or is cancelled",
                async ct =>
                {
                    safety = await new BackupRunner(context).RunAsync(BackupTriggers.PreRestore, current, ct);
                    return safety.IsComplete
                        ? $"safety set {safety.Set}"
                        : throw new PipelineException($"the safety backup failed ({string.Join("; ", safety.Members.Where(m => !m.Succeeded).Select(m => $"{m.Key}: {m.Error}"))}): nothing was restored");
                }));
        }

        foreach (var item in chosen)
        {
            var member = item.Member;
            var action = member.Method == BackupMethods.Config ? ChangeAction.Extract : ChangeAction.Restore;
            var trigger = item.Set.IsSafetyCopy ? $"trigger {item.Set.Trigger}: a safety copy" : $"trigger {item.Set.Trigger}";
            var why = member.Method == BackupMethods.Config
                ? $"into artifacts/restore/{item.Set.Set}/ (the checkout is not touched; set {trigger})"
                : $"replace the current data with set {item.Set.Set} ({item.Set.Started.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z, {member.Type}, {trigger})";
            changes.Add(new PlannedChange(member.Method switch
            {
                BackupMethods.Postgres => ChangeKind.Postgres,
                BackupMethods.Redis => ChangeKind.Redis,
                BackupMethods.Config => ChangeKind.Config,
                _ => ChangeKind.Volume,
            }, member.Key, action, why, async ct =>
            {
                try
                {
                    ct.ThrowIfCancellationRequested();
                    restored.Add(item);
                    await runner.RestoreAsync(item, ct);
                    return $"from set {item.Set.Set}";
                }
                catch (Exception e) when (safety is not null)
                {
                    // A cancelled restore is a failed restore: whatever was touched gets its data from before back.
                    await RollBackAsync(target, runner, safety, restored, e, ct);
                    throw;
                }
            })
            { Detail = BackupProgress.Size(member.Bytes) });
        }

        return new ChangePlan($"replace the data of {string.Join(", ", chosen.Select(c => c.Member.Key))}", changes, []);
    }

    /// <summary>
    /// Puts the safety backup back for every member touched so far, with the run's cleanup token (a first Ctrl-C does not
    /// stop it, a second does), then throws saying what happened: the safety set, and if it could not be put back whole,
    /// the exact command that does. When nothing was touched yet, the original exception goes on.
    /// </summary>
    private async Task RollBackAsync(string target, RestoreRunner runner, BackupSetManifest safety, IReadOnlyList<RestoreTarget> touched, Exception failure, CancellationToken cancellationToken)
    {
        var replaced = touched.Where(t => t.Member.Method != BackupMethods.Config).ToList();
        var what = failure is OperationCanceledException || cancellationToken.IsCancellationRequested ? "was cancelled" : $"failed ({failure.Message.Split('\n')[0]})";
        if (replaced.Count == 0)
        {
            Log.Warning("{Target} {What} before anything was restored: nothing changed (safety set {Set} kept)", target, what, safety.Set);
            return;
        }

        Log.Warning("{Target} {What}: putting the data from before the restore back (safety set {Set})", target, what, safety.Set);
        var cleanup = session.Options.Cleanup;
        var problems = new List<string>();
        foreach (var item in replaced)
        {
            var previous = safety.Members.FirstOrDefault(m => m.Key == item.Member.Key && m.Succeeded);
            if (previous is null)
            {
                continue;
            }

            try
            {
                await runner.RestoreAsync(new RestoreTarget(safety, previous), cleanup);
            }
            catch (OperationCanceledException) when (cleanup.IsCancellationRequested)
            {
                problems.Add($"{item.Member.Key}: stopped by a second Ctrl-C");
                break;
            }
            catch (Exception e) when (e is PipelineException or Docker.DotNet.DockerApiException or IOException)
            {
                problems.Add($"{item.Member.Key}: {e.Message.Split('\n')[0]}");
            }
        }

        // The outcome is decided now: a Ctrl-C during the restore may have surfaced as a tool's failure before the token was cancelled.
        what = failure is OperationCanceledException || cancellationToken.IsCancellationRequested ? "was cancelled" : what;
        if (problems.Count > 0)
        {
            throw new PipelineException(
                $"{target} {what} and putting the safety backup {safety.Set} back did not finish ({string.Join("; ", problems)}): put it back with {PutBackCommand(safety)}");
        }

        throw new PipelineException($"{target} {what}; the data from before the restore was put back (safety set {safety.Set})", failure);
    }

    /// <summary>The exact command that restores a safety set: Restore of its one member, or RestoreSet of all of them.</summary>
    private string PutBackCommand(BackupSetManifest safety)
    {
        var environment = session.Environment.Name;
        var members = safety.Members.Where(m => m.Succeeded).ToList();
        return members.Count == 1
            ? $"./build.sh Restore --environment {environment} --service {members[0].Service} --backup {safety.Set} --confirm {environment}"
            : $"./build.sh RestoreSet --environment {environment} --backup-set {safety.Set} --confirm {environment}";
    }

    private static IEnumerable<BackupRow> Rows(IReadOnlyList<TierInventory> inventory)
    {
        var tiersOf = inventory.Where(i => i.Entries is not null)
            .SelectMany(i => i.Entries!.Select(e => (e.Manifest.Set, Tier: i.Tier.Name)))
            .GroupBy(x => x.Set)
            .ToDictionary(g => g.Key, g => (IReadOnlyList<string>)g.Select(x => x.Tier).ToList());
        var verifiedOf = inventory.Where(i => i.Entries is not null)
            .SelectMany(i => i.Entries!.Where(e => e.Verified is not null).Select(e => (e.Manifest.Set, Tier: i.Tier.Name, Date: e.Verified!)))
            .GroupBy(x => x.Set)
            .ToDictionary(g => g.Key, g => (IReadOnlyDictionary<string, string>)g.ToDictionary(x => x.Tier, x => x.Date));
        return inventory[0].Entries!.SelectMany(e => e.Manifest.Members.Where(m => m.Succeeded).Select(m =>
            new BackupRow(m.Volume is null ? m.Service : $"{m.Service} ({m.Volume})", m.Type, e.Manifest.Set, e.Manifest.Started, e.Manifest.Status, m.Bytes, m.Added, e.Manifest.Trigger,
                tiersOf[e.Manifest.Set], verifiedOf.GetValueOrDefault(e.Manifest.Set) ?? new Dictionary<string, string>())));
    }

    /// <summary>The environment's backup context (repository of the first tier opened, tiers, lifecycle under the lock when held).</summary>
    public async Task<BackupContext> ContextAsync(CancellationToken cancellationToken)
    {
        if (_context is not null)
        {
            // The lifecycle journals suspensions only once the lock is held: take a fresh one each time.
            return _context = _context with { Lifecycle = await session.LifecycleAsync(cancellationToken) };
        }

        await ResticRepository.RequireAsync(cancellationToken);
        var plan = Plan;
        var exists = File.Exists(Path.Combine(plan.Primary.Repository, "config"));
        var key = BackupKeys.Resolve(
            options.KeyValue, options.KeyFile, Config.Key?.File, Root, session.Options.SecretsDirectory, session.Environment.Name, exists, session.Options.Masker, Log);
        var temp = Path.Combine(Root, ".nuke", "temp");
        ResticRepository Open(ResolvedTier tier) => new(
            tier, session.Environment.Name, key, Path.Combine(temp, "restic-cache"), Log, BackupKeys.TierCredentials(tier, session.Options.Masker));
        var repository = Open(plan.Primary);
        await repository.OpenAsync(cancellationToken);
        var manifests = Path.Combine(temp, "backup-manifests");
        var engine = await session.EngineAsync(cancellationToken);
        var secrets = await session.SecretsAsync(cancellationToken);
        _context = new BackupContext(
            engine,
            session.Environment,
            plan,
            repository,
            new BackupTiers(repository, plan.Tiers.Skip(1).ToList(), Open, manifests, Log),
            await session.LifecycleAsync(cancellationToken),
            await session.HelpersAsync(cancellationToken),
            session.MapImage(options.HelperImage),
            secrets.Get,
            [session.Options.Schema.FullPath, Path.Combine(Root, "configs"), secrets.Path],
            manifests,
            BackupProgress.ForConsole(Log),
            Log);
        return _context;
    }
}
