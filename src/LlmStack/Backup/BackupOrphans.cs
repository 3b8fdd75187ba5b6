using System.Globalization;
using LlmStack.Engine;
using Serilog;

namespace LlmStack.Backup;

/// <summary>
/// The member snapshots of a set that has no manifest (its run stopped before the end: Ctrl-C, a kill, a lost
/// machine), with the run that wrote them and when the newest was made.
/// </summary>
public sealed record OrphanSet(string Set, IReadOnlyList<ResticSnapshot> Snapshots, DateTimeOffset Newest, string? Run, bool Removable, string Why);

/// <summary>
/// Orphaned members: a backup exists only once its manifest does, so member snapshots of a set that never got one are
/// never listed, restored or removed by retention — they only take space. They are found by their tags
/// (<c>kind=member</c>, <c>set=X</c>, and no <c>kind=set</c> snapshot of X) and forgotten by the next backup (under the
/// environment lock, never the set being written) and by <c>RetentionCleanup</c>.
/// <para>
/// Another host may write into the same repository (a shared remote tier): its set in progress has members and no
/// manifest yet, and the environment lock is this host's only. So a set is removed at once only when its members carry
/// the <c>run=</c> tag of a run on this host whose process is gone; any other set (another host's, or written before
/// members carried the tag) only once its newest member is older than <see cref="Grace"/>, far longer than a backup takes.
/// </para>
/// </summary>
public static class BackupOrphans
{
    /// <summary>How long a set without a manifest may be another run's backup in progress.</summary>
    public static readonly TimeSpan Grace = TimeSpan.FromDays(2);

    /// <summary>Pure: the sets among <paramref name="snapshots"/> whose members have no manifest, and whether each may go now.</summary>
    public static IReadOnlyList<OrphanSet> Find(
        IReadOnlyList<ResticSnapshot> snapshots, string environment, DateTimeOffset now, Func<string, bool> runIsAlive, string? writing = null)
    {
        bool Has(ResticSnapshot s, string tag) => s.Tags?.Contains(tag, StringComparer.Ordinal) == true;
        var manifests = snapshots.Where(s => Has(s, "kind=set")).Select(s => s.Tag("set")).OfType<string>().ToHashSet(StringComparer.Ordinal);
        return snapshots
            .Where(s => Has(s, BackupTags.Marker) && Has(s, "kind=member") && Has(s, $"env={environment}"))
            .Select(s => (Snapshot: s, Set: s.Tag("set")))
            .Where(x => x.Set is not null && x.Set != writing && !manifests.Contains(x.Set))
            .GroupBy(x => x.Set!, StringComparer.Ordinal)
            .Select(g =>
            {
                var members = g.Select(x => x.Snapshot).OrderBy(s => s.Time).ToList();
                var newest = members[^1].Time;
                var run = members.Select(s => s.Tag("run")).FirstOrDefault(r => r is not null);
                var old = now - newest > Grace;
                var (removable, why) = run is not null && !runIsAlive(run)
                    ? (true, $"its run ({run}) has ended")
                    : old
                        ? (true, $"its newest member is older than {Grace.TotalDays:0} days")
                        : (false, run is null
                            ? $"written {Age(now - newest)} ago by a run that cannot be identified: kept until it is {Grace.TotalDays:0} days old"
                            : $"its run ({run}) may still be writing it: kept until it ends or the set is {Grace.TotalDays:0} days old");
                return new OrphanSet(g.Key, members, newest, run, removable, why);
            })
            .OrderBy(o => o.Newest)
            .ToList();
    }

    /// <summary>The orphaned sets of the environment in a repository, as of now (runs judged as helper containers are).</summary>
    public static async Task<IReadOnlyList<OrphanSet>> FindAsync(ResticRepository repository, string environment, CancellationToken cancellationToken, string? writing = null) =>
        Find(await repository.SnapshotsAsync([BackupTags.Marker, $"env={environment}"], cancellationToken), environment, DateTimeOffset.UtcNow, HelperContainers.IsAlive, writing);

    /// <summary>
    /// Before a backup: forgets the removable orphaned members among the repository's snapshots (<paramref name="listing"/>,
    /// read by the backup once) and says how many and of which sets. Never fails the backup: a repository another restic
    /// holds locked is left for the next run.
    /// </summary>
    public static async Task SweepAsync(ResticRepository repository, IReadOnlyList<ResticSnapshot> listing, string environment, ILogger log, CancellationToken cancellationToken)
    {
        IReadOnlyList<OrphanSet> orphans;
        try
        {
            orphans = Find(listing, environment, DateTimeOffset.UtcNow, HelperContainers.IsAlive);
            foreach (var kept in orphans.Where(o => !o.Removable))
            {
                log.Debug("Set {Set} has {Count} member snapshot(s) and no manifest; kept: {Why}", kept.Set, kept.Snapshots.Count, kept.Why);
            }

            var removable = orphans.Where(o => o.Removable).ToList();
            if (removable.Count == 0)
            {
                return;
            }

            await ForgetAsync(repository, removable, log, cancellationToken);
        }
        catch (Pipeline.PipelineException e) when (!cancellationToken.IsCancellationRequested)
        {
            log.Warning("Orphaned member snapshots of tier {Tier} were not removed ({Error}): the next backup or RetentionCleanup tries again", repository.Tier.Name, e.Message.Split('\n')[0]);
        }
    }

    /// <summary>Forgets the member snapshots of these orphaned sets in one <c>restic forget</c>, and says how many and of which sets.</summary>
    public static async Task ForgetAsync(ResticRepository repository, IReadOnlyList<OrphanSet> orphans, ILogger log, CancellationToken cancellationToken)
    {
        await repository.ForgetAsync(orphans.SelectMany(o => o.Snapshots.Select(s => s.Id)).ToList(), cancellationToken);
        log.Information("Removed {Count} orphaned member snapshot(s) of {Sets} set(s) that never got a manifest (their run stopped before the end) from tier {Tier}: {Names}",
            orphans.Sum(o => o.Snapshots.Count), orphans.Count, repository.Tier.Name, Describe(orphans));
    }

    /// <summary><c>set (n: member, member)</c> for each set.</summary>
    public static string Describe(IEnumerable<OrphanSet> orphans) => string.Join("; ", orphans.Select(o =>
        $"{o.Set} ({o.Snapshots.Count}: {string.Join(", ", o.Snapshots.Select(s => $"{s.Tag("service")}/{s.Tag("type")} {s.Tag("part")}").Distinct(StringComparer.Ordinal))})"));

    private static string Age(TimeSpan age) => age.TotalHours >= 1
        ? string.Create(CultureInfo.InvariantCulture, $"{age.TotalHours:0} h")
        : string.Create(CultureInfo.InvariantCulture, $"{Math.Max(age.TotalMinutes, 0):0} min");
}
