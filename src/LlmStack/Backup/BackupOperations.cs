using LlmStack.ChangeControl;
using LlmStack.Engine;
using LlmStack.Pipeline;
using LlmStack.Sessions;

namespace LlmStack.Backup;

/// <summary>
/// The backup targets of one environment (BackupFull, BackupService, BackupCopy, BackupVerify, RestoreTest,
/// BackupList, BackupStatus, BackupSchedule, Restore, RestoreSet): each loads the configuration and the context, asks
/// a planner (<see cref="BackupStatusPlanner"/>, <see cref="BackupList"/>, <see cref="BackupSelection"/>,
/// <see cref="RestorePlanner"/>), applies (<see cref="BackupRunner"/>, <see cref="BackupTiers"/>,
/// <see cref="BackupVerifier"/>, <see cref="RestoreTester"/>, <see cref="RestoreApply"/> through the change gate) and
/// writes the report (<see cref="BackupReports"/>) with <c>session.Options.Reports</c>, which also makes the exit decision.
/// </summary>
public sealed class BackupOperations(EnvironmentSession session, BackupOptions options)
{
    private BackupConfig? _config;
    private BackupContext? _context;
    private readonly Dictionary<string, BackupOperations> _others = new(StringComparer.Ordinal);

    private string Root => session.Options.Schema.RootDirectory;

    private StatePaths State => session.Options.State;

    private Serilog.ILogger Log => session.Options.Log;

    public BackupConfig Config => _config ??= BackupConfigLoader.LoadValid(
        Path.GetFullPath(options.ConfigFile, Root), options.ConfigFile, session.Options.Schema.Load());

    /// <summary>
    /// The backups of <paramref name="other"/> (another environment's session, <see cref="EnvironmentSession.For"/>), or
    /// these for this environment's: each environment with its own key file. A key given for this run
    /// (<c>--backup-key</c>, <c>--backup-key-file</c>) is this environment's, so with one another environment is refused
    /// in one line naming <paramref name="target"/>.
    /// </summary>
    public BackupOperations For(EnvironmentSession other, string? target)
    {
        if (other == session)
        {
            return this;
        }

        var name = other.Environment.Name;
        if (!_others.TryGetValue(name, out var backups))
        {
            if (options.KeyValue is not null || options.KeyFile is not null)
            {
                throw new PipelineException($"{target} also backs up {name}, which has its own key (<secrets dir>/{name}.backup-key): drop --backup-key/--backup-key-file");
            }

            _others[name] = backups = new BackupOperations(other, options with { KeyFile = null, KeyValue = null });
        }

        return backups;
    }

    /// <summary>Whether the environment's backup settings ask for a BackupFull before every wipe of data.</summary>
    public bool BackupBeforeWipe => Config.Environments.GetValueOrDefault(session.Environment.Name)?.BackupBeforeWipe == true;

    public EnvironmentBackupPlan Plan => BackupPlanner.Plan(Config, session.Environment, State);

    private BackupMetrics Metrics => options.MetricsFile is { Length: > 0 } file
        ? new BackupMetrics(State.Resolve(file), System.Environment.GetEnvironmentVariable("GITHUB_STEP_SUMMARY"))
        : BackupMetrics.For(Config, State);

    /// <summary>Records a RetentionCleanup run in the metrics file (RetentionOperations calls it).</summary>
    public void RecordRetention(int removed, bool ok) => Metrics.Retention(session.Environment.Name, removed, ok);

    /// <summary>
    /// One line on the environment's newest complete backup set and its age, for a wipe whose backup was skipped on
    /// purpose. Never creates a key or a repository: without a key there is no backup to speak of.
    /// </summary>
    public async Task<string> NewestSetAsync(CancellationToken cancellationToken)
    {
        var environment = session.Environment.Name;
        if (string.IsNullOrEmpty(options.KeyValue) && string.IsNullOrWhiteSpace(options.KeyFile ?? Config.Key?.File)
            && !File.Exists(BackupKeys.DefaultFile(State, environment)))
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
    public async Task<BackupSetManifest> FullAsync(BackupTrigger trigger, CancellationToken cancellationToken)
    {
        await session.LockAsync(cancellationToken);
        var context = await ContextAsync(cancellationToken);
        return await BackUpAsync(context, trigger, context.Plan.Members, cancellationToken);
    }

    /// <summary>One service (every type of member it has, or one type).</summary>
    public async Task<BackupSetManifest> ServiceAsync(string service, string? type, BackupTrigger trigger, CancellationToken cancellationToken)
    {
        var members = Plan.For(service, type);
        await session.LockAsync(cancellationToken);
        var context = await ContextAsync(cancellationToken);
        return await BackUpAsync(context, trigger, members, cancellationToken);
    }

    /// <summary>
    /// A set: one listing of the repository first (where a wrong key stops the run before anything is read from a
    /// service, the orphaned members it removes are found, and each volume's parent snapshot), the members, the
    /// manifest, then the copies to the other tiers and the verdict (incomplete set, failed tiers).
    /// </summary>
    private async Task<BackupSetManifest> BackUpAsync(BackupContext context, BackupTrigger trigger, IReadOnlyList<BackupMember> members, CancellationToken cancellationToken)
    {
        var listing = await context.Repository.SnapshotsAsync([BackupTags.Marker, $"env={session.Environment.Name}"], cancellationToken);
        await BackupOrphans.SweepAsync(context.Repository, listing, session.Environment.Name, Log, cancellationToken);
        var entry = await new BackupRunner(context).RunAsync(trigger, members, cancellationToken, listing);
        var manifest = entry.Manifest;
        var metrics = Metrics;
        metrics.Backup(manifest);
        var results = await context.Tiers.CopyAsync([entry], cancellationToken);
        metrics.Copy(manifest, session.Environment.Name, results);
        return BackupReports.SetFailure(manifest, context.Repository.Tier.Name, results) is { } failure ? throw new PipelineException(failure) : manifest;
    }

    /// <summary>Copies whatever the first tier has and another tier lacks (<c>BackupCopy</c>); fails naming the tiers that failed.</summary>
    public async Task CopyAsync(CancellationToken cancellationToken)
    {
        await session.LockAsync(cancellationToken);
        var context = await ContextAsync(cancellationToken);
        var entries = await context.Catalog.EntriesAsync(cancellationToken);
        var results = await context.Tiers.CopyAsync(entries, cancellationToken);
        Metrics.Copy(entries.LastOrDefault(e => !e.Manifest.IsSafetyCopy)?.Manifest, session.Environment.Name, results);
        session.Options.Reports.Write(BackupReports.Copy(results));
        if (results.Count == 0)
        {
            Log.Information("{Environment} has one tier ({Tier}): nothing to copy", session.Environment.Name, context.Repository.Tier.Name);
        }
    }

    /// <summary>
    /// BackupVerify: every tier checked, and the content of the newest backup of every member (or of one set) on each;
    /// fails naming tier, set and service.
    /// </summary>
    /// <param name="readAll">--read-data: all of each repository's data, whatever <paramref name="readDataSubset"/> says.</param>
    public async Task VerifyAsync(string? set, bool readAll, string readDataSubset, CancellationToken cancellationToken)
    {
        var subset = BackupVerifier.CheckReadDataSubset(readAll ? "100%" : readDataSubset);
        await session.LockAsync(cancellationToken);
        var context = await ContextAsync(cancellationToken);
        var chosen = BackupSelection.Choose(await context.Catalog.EntriesAsync(cancellationToken), context.Plan, set, "verify");
        Log.Information("Verifying {Chosen}", BackupSelection.Describe(chosen));
        var results = await new BackupVerifier(context, session.MapImage).VerifyAsync(chosen, subset, cancellationToken);
        Metrics.Verify(session.Environment.Name, results);
        session.Options.Reports.Write(BackupReports.Verify(results));
    }

    /// <summary>
    /// RestoreTest: the newest backup of every member (or one set's members) restored into throwaway containers and
    /// proven equal; the table names the set of each member.
    /// </summary>
    public async Task<RestoreTestReport> RestoreTestAsync(string? set, CancellationToken cancellationToken)
    {
        await session.LockAsync(cancellationToken);
        var context = await ContextAsync(cancellationToken);
        var chosen = BackupSelection.Choose(await context.Catalog.EntriesAsync(cancellationToken), context.Plan, set, "test");
        var testEnvironment = Config.RestoreTest?.TestEnvironment is { } name && name != session.Environment.Name
            ? session.Options.Schema.Resolve(name)
            : session.Environment;
        Log.Information("Restore test of {Chosen}", BackupSelection.Describe(chosen));
        var report = await new RestoreTester(context, testEnvironment, session.MapImage, Root, State.RestoreTestReports, Log).RunAsync(chosen, cancellationToken);
        Metrics.RestoreTest(report);
        session.Options.Reports.Write(BackupReports.RestoreTest(report));
        return report;
    }

    /// <summary>Per service and type, every listed backup (newest first): time, set, type, size, added bytes.</summary>
    public async Task ListAsync(CancellationToken cancellationToken)
    {
        var context = await ContextAsync(cancellationToken);
        var inventory = await BackupList.InventoryAsync(context.Catalog, context.Tiers, cancellationToken);
        foreach (var unreadable in inventory.Where(i => i.Entries is null))
        {
            Log.Warning("Tier {Tier} cannot be read: {Error}", unreadable.Tier.Name, unreadable.Error);
        }

        var rows = BackupList.Rows(inventory);
        if (rows.Count == 0)
        {
            Log.Information("No backups of {Environment} yet: run BackupFull", session.Environment.Name);
        }

        session.Options.Reports.Write(BackupList.Report(rows));
    }

    /// <summary>
    /// The last backup of each service against the schedule, and each tier (<see cref="BackupStatusPlanner"/>); with a
    /// GitHub token, the last run of the scheduled workflow. Fails when a service is overdue, its last backup failed or a
    /// tier is behind or unreadable.
    /// </summary>
    public async Task StatusAsync(CancellationToken cancellationToken)
    {
        var context = await ContextAsync(cancellationToken);
        var plan = await BackupStatusPlanner.PlanAsync(context.Plan, context.Catalog, context.Tiers, DateTimeOffset.UtcNow, cancellationToken);
        session.Options.Reports.Write(BackupStatusPlanner.Report(plan, await ScheduledWorkflowRunAsync(cancellationToken), !session.Options.Reports.Json && BackupStatusGlance.Interactive));
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
    public void Schedule(int count) => session.Options.Reports.Write(BackupReports.Schedule(Config, count));

    /// <summary>
    /// Restore through the change gate: the table says what will be replaced and by which set (and its trigger); after
    /// confirmation, a safety backup of the current data (pre-restore), then the restore and its check. Any failure, and
    /// Ctrl-C, puts the safety backup back. <paramref name="service"/> and <paramref name="type"/> are checked against
    /// the backup plan before anything runs.
    /// </summary>
    public Task<GateOutcome> RestoreAsync(string target, string service, string backup, string? type, CancellationToken cancellationToken)
    {
        var backupType = Plan.TypeOf(service, type);
        return session.ChangeAsync(target, async ct =>
        {
            var context = await ContextAsync(ct);
            var plan = RestorePlanner.Restore(await context.Catalog.SetsAsync(ct), context.Plan, service, backup, backupType);
            return Apply(target, context).Changes(plan);
        }, cancellationToken);
    }

    /// <summary>Every member of a complete set, in dependency order, with one safety backup first.</summary>
    public Task<GateOutcome> RestoreSetAsync(string target, string set, CancellationToken cancellationToken) =>
        session.ChangeAsync(target, async ct =>
        {
            var context = await ContextAsync(ct);
            var order = session.Environment.Services.Select(s => s.Name).Append(BackupPlanner.ConfigService).ToList();
            return Apply(target, context).Changes(RestorePlanner.RestoreSet(await context.Catalog.SetsAsync(ct), context.Plan, set, order));
        }, cancellationToken);

    private RestoreApply Apply(string target, BackupContext context) => new(context, target, State.RestoredFiles, session.Options.Cleanup);

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
            options.KeyValue, options.KeyFile, Config.Key?.File, State, session.Environment.Name, exists, session.Options.Masker, Log);
        ResticRepository Open(ResolvedTier tier) => new(
            tier, session.Environment.Name, key, State.Cache("restic-cache"), Log, BackupKeys.TierCredentials(tier, session.Options.Masker));
        var repository = Open(plan.Primary);
        await repository.OpenAsync(cancellationToken);
        var manifests = State.BackupCatalogCache;
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
            Log)
        {
            ResticImage = session.MapImage(BackupConfigLoader.ResticImage(Config)),
            VolumeReader = BackupConfigLoader.VolumeReader(Config),
            ScratchDirectory = State.Cache("streams"),
        };
        return _context;
    }
}
