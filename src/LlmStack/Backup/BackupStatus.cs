using System.Globalization;
using LlmStack.Engine;
using LlmStack.Pipeline;
using LlmStack.Reporting;
using LlmStack.Schema;

namespace LlmStack.Backup;

/// <summary>Where a service stands against the schedule.</summary>
public enum ServiceBackupState
{
    Ok,

    /// <summary>Every attempt skipped it (its volume does not exist yet): not a problem.</summary>
    NoDataYet,
    NeverBackedUp,

    /// <summary>Its newest attempt failed (and nothing newer succeeded).</summary>
    Failed,

    /// <summary>Its newest backup is older than the last scheduled run, give or take an hour.</summary>
    Overdue,
}

/// <summary>The last backup of one service (not a safety copy) and its state.</summary>
public sealed record ServiceBackupStatus(string Service, BackupSetManifest? Last, ServiceBackupState State)
{
    /// <summary><see cref="ServiceBackupState.Failed"/>: the set and the member's error.</summary>
    public string? FailedSet { get; init; }

    public string? Error { get; init; }

    /// <summary><see cref="ServiceBackupState.Overdue"/>: the scheduled run it missed.</summary>
    public DateTimeOffset? Due { get; init; }

    /// <summary>The bytes the service's last good backups added, oldest first (at most ten; the glance chart).</summary>
    public IReadOnlyList<long> RecentAdded { get; init; } = [];

    public bool IsProblem => State is not (ServiceBackupState.Ok or ServiceBackupState.NoDataYet);

    /// <summary>The state in words (the table's STATE, the document's <c>state</c>, the failure line).</summary>
    public string Text => State switch
    {
        ServiceBackupState.Ok => "ok",
        ServiceBackupState.NoDataYet => "no data yet",
        ServiceBackupState.NeverBackedUp => "never backed up",
        ServiceBackupState.Failed => $"failed in {FailedSet}: {Error}",
        _ => $"overdue (a run was due {Due!.Value.UtcDateTime:yyyy-MM-dd HH:mm}Z)",
    };
}

public enum TierBackupState
{
    Ok,

    /// <summary>Its sets or its size cannot be read (<see cref="TierBackupStatus.Detail"/>: why).</summary>
    Unreadable,

    /// <summary>It lacks the newest set that is not a safety copy (<see cref="TierBackupStatus.Detail"/>: that set).</summary>
    Behind,
}

/// <summary>One tier: how many sets it holds, the newest, its size (repositories), and its state.</summary>
public sealed record TierBackupStatus(ResolvedTier Tier, int? Sets, string? Newest, long? Size, TierBackupState State, string? Detail = null)
{
    public string Text => State switch
    {
        TierBackupState.Ok => "ok",
        TierBackupState.Unreadable => Detail!,
        _ => $"behind: lacks set {Detail} (BackupCopy)",
    };
}

/// <summary>What BackupStatus found: every service of the plan and every tier, as of <see cref="Now"/>.</summary>
public sealed record BackupStatusPlan(string Environment, string Schedule, DateTimeOffset Now, IReadOnlyList<ServiceBackupStatus> Services, IReadOnlyList<TierBackupStatus> Tiers)
{
    /// <summary>Every state that makes the run fail, in table order.</summary>
    public IReadOnlyList<string> Problems =>
        Services.Where(s => s.IsProblem).Select(s => $"{s.Service}: {s.Text}")
            .Concat(Tiers.Where(t => t.State != TierBackupState.Ok).Select(t => $"tier {t.Tier.Name}: {t.Text}"))
            .ToList();
}

/// <summary>
/// <c>BackupStatus</c>'s planner (no side effects: it only reads through <see cref="IBackupCatalog"/> and
/// <see cref="ITierInventory"/>): the last backup of each service against the schedule — overdue when older than the
/// last scheduled run before now, give or take an hour — and each tier's sets, size and whether it is behind the first.
/// Safety copies never count.
/// </summary>
public static class BackupStatusPlanner
{
    /// <summary>How late a backup may be after its scheduled run before it is overdue.</summary>
    public static readonly TimeSpan Grace = TimeSpan.FromHours(1);

    public static async Task<BackupStatusPlan> PlanAsync(EnvironmentBackupPlan plan, IBackupCatalog catalog, ITierInventory tiers, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var entries = await catalog.EntriesAsync(cancellationToken);
        var sets = entries.Select(e => e.Manifest).ToList();
        var size = await tiers.SizeAsync(plan.Primary, cancellationToken);
        var due = CronSchedule.LastOccurrence(plan.Cron, now);
        var services = plan.Members.Select(m => m.Service).Distinct().Select(service => Service(service, sets, due)).ToList();

        var newest = sets.LastOrDefault(s => !s.IsSafetyCopy);
        var tierStates = new List<TierBackupStatus>();
        foreach (var inventory in await tiers.InventoryAsync(entries, cancellationToken))
        {
            long? tierSize = null;
            string? unreadable = inventory.Error;
            if (inventory.Entries is not null && inventory.Tier.IsRepository)
            {
                try
                {
                    tierSize = inventory.Tier.Name == plan.Primary.Name ? size : await tiers.SizeAsync(inventory.Tier, cancellationToken);
                }
                catch (PipelineException e)
                {
                    unreadable = e.Message;
                }
            }

            var onTier = inventory.Entries?.Select(e => e.Manifest.Set).ToHashSet(StringComparer.Ordinal);
            var (state, detail) = unreadable is not null
                ? (TierBackupState.Unreadable, unreadable)
                : onTier is not null && newest is not null && !onTier.Contains(newest.Set)
                    ? (TierBackupState.Behind, newest.Set)
                    : (TierBackupState.Ok, (string?)null);
            tierStates.Add(new TierBackupStatus(inventory.Tier, inventory.Entries?.Count, inventory.Entries?.LastOrDefault()?.Manifest.Set, tierSize, state, detail));
        }

        return new BackupStatusPlan(plan.Environment, plan.Schedule, now, services, tierStates);
    }

    /// <summary>One service's state: its attempts in the sets that are no safety copies, oldest first, against the scheduled run due last.</summary>
    public static ServiceBackupStatus Service(string service, IReadOnlyList<BackupSetManifest> sets, DateTimeOffset? due)
    {
        var attempts = sets.SelectMany(s => s.Members.Where(m => m.Service == service).Select(m => (Set: s, Member: m)))
            .Where(x => !x.Set.IsSafetyCopy).ToList();
        var last = attempts.LastOrDefault(a => a.Member.Succeeded);
        var added = attempts.Where(a => a.Member.Succeeded).GroupBy(a => a.Set.Set).Select(g => g.Sum(a => a.Member.Added)).TakeLast(10).ToList();
        var lastAttempt = attempts.LastOrDefault(a => a.Member.Status != MemberStatus.Skipped);
        if (last.Set is null && lastAttempt.Set is null)
        {
            return new ServiceBackupStatus(service, null, attempts.Count > 0 ? ServiceBackupState.NoDataYet : ServiceBackupState.NeverBackedUp);
        }

        if (last.Set is null || (!lastAttempt.Member.Succeeded && lastAttempt.Set.Started > last.Set.Started))
        {
            return new ServiceBackupStatus(service, last.Set, ServiceBackupState.Failed) { FailedSet = lastAttempt.Set!.Set, Error = lastAttempt.Member.Error, RecentAdded = added };
        }

        return due is { } dueAt && last.Set.Started < dueAt - Grace
            ? new ServiceBackupStatus(service, last.Set, ServiceBackupState.Overdue) { Due = dueAt, RecentAdded = added }
            : new ServiceBackupStatus(service, last.Set, ServiceBackupState.Ok) { RecentAdded = added };
    }

    /// <summary>The tables, the schedule, the GitHub line when there is one, the <c>--json</c> document, and the failure naming every problem.</summary>
    public static Report Report(BackupStatusPlan plan, string? workflow, bool interactive = false)
    {
        var table = new TextTable("SERVICE", "LAST BACKUP (UTC)", "AGE", "SET", "STATE");
        foreach (var s in plan.Services)
        {
            table.Add(s.Service, s.Last?.Started.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) ?? "-",
                s.Last is { } last ? StatusReport.Uptime(plan.Now - last.Started) : "-", s.Last?.Set ?? "-", s.Text);
        }

        var tierTable = new TextTable("TIER", "KIND", "SETS", "NEWEST SET", "SIZE", "STATE");
        foreach (var t in plan.Tiers)
        {
            tierTable.Add(t.Tier.Name, t.Tier.Kind.Word(), t.Sets?.ToString(CultureInfo.InvariantCulture) ?? "-", t.Newest ?? "-", t.Size is { } size ? BackupProgress.Size(size) : "-", t.Text);
        }

        var document = new
        {
            environment = plan.Environment,
            schedule = plan.Schedule,
            services = plan.Services.Select(s => new { service = s.Service, last = s.Last?.Started, set = s.Last?.Set, state = s.Text }).ToList(),
            tiers = plan.Tiers.Select(t => new { tier = t.Tier.Name, kind = t.Tier.Kind, repository = t.Tier.Repository, sets = t.Sets, newest = t.Newest, size = t.Size, state = t.Text }).ToList(),
            workflow,
        };
        var report = new Report { Document = document }
            .Table(table)
            .Line()
            .Table(tierTable)
            .Line()
            .Line($"Schedule {plan.Schedule} (UTC)")
            .Line();
        foreach (var line in BackupStatusGlance.Lines(plan, interactive))
        {
            report.Line(line);
        }

        if (workflow is not null)
        {
            report.Line($"GitHub {workflow}");
        }

        return report.FailWhen(plan.Problems, p => $"{p.Count} service(s) of {plan.Environment} without a current backup: {string.Join("; ", p)}");
    }
}
