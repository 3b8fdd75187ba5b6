using LlmStack.ChangeControl;
using LlmStack.Pipeline;

namespace LlmStack.Backup;

/// <summary>One member of one set, chosen for a restore.</summary>
public sealed record RestoreTarget(BackupSetManifest Set, MemberResult Member)
{
    public override string ToString() => $"{Member.Key} ({Member.Type.Word()}) from set {Set.Set} of {Set.Started.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z";
}

/// <summary>One step of a restore: a member put back (or, for the configuration, extracted) from its set.</summary>
public sealed record RestoreStep(RestoreTarget Target, ChangeKind Kind, ChangeAction Action, string Why)
{
    /// <summary>The table's detail: the size of what is restored.</summary>
    public string Detail => BackupProgress.Size(Target.Member.Bytes);
}

/// <summary>
/// What a <c>Restore</c> or <c>RestoreSet</c> will do, before the gate: a safety backup of the current data of the
/// members it replaces (none when it only extracts the configuration), then a step per chosen member, and the lines
/// under the table (a newer safety copy the user may have meant).
/// </summary>
public sealed record RestorePlan(string Summary, IReadOnlyList<BackupMember> Safety, IReadOnlyList<RestoreStep> Steps)
{
    public IReadOnlyList<string> Notices { get; init; } = [];

    /// <summary>Why the safety backup is taken.</summary>
    public static string SafetyWhy => $"a safety copy of the current data (trigger {BackupTrigger.PreRestore}), put back if the restore fails or is cancelled";
}

/// <summary>
/// Chooses what a restore takes and shapes its plan (pure: manifests and the backup plan in, a <see cref="RestorePlan"/>
/// out). <c>latest</c> is the newest backup that is not a safety copy — after a restore, the newest set is the
/// pre-restore copy of what the user just replaced — and <c>latest-safety</c> the newest safety copy.
/// </summary>
public static class RestorePlanner
{
    /// <summary><c>--backup latest</c>: the newest backup of the member that is not a safety copy.</summary>
    public const string Latest = "latest";

    /// <summary><c>--backup latest-safety</c>: the newest safety copy of the member (pre-restore, pre-wipe).</summary>
    public const string LatestSafety = "latest-safety";

    /// <summary>
    /// What <c>--backup</c> can name, as an anchored extended regular expression (.NET and bash's <c>=~</c> read it alike):
    /// <see cref="Latest"/>, <see cref="LatestSafety"/>, a set id, or a snapshot id (a prefix of 8 to 64 hex digits).
    /// restore.yml checks its input with it before the approval-gated job.
    /// </summary>
    public const string BackupPattern = "^(" + Latest + "|" + LatestSafety + "|" + BackupSetManifest.SetIdPattern + "|[0-9a-f]{8,64})$";

    /// <summary>A whole set (<c>RestoreSet --backup-set</c>, restore.yml's service <c>all</c>): a set id only.</summary>
    public const string SetPattern = "^" + BackupSetManifest.SetIdPattern + "$";

    /// <summary><c>Restore --service X [--backup B] [--backup-type T]</c>: the chosen member, a notice when a newer safety copy exists, and the plan's shape.</summary>
    public static RestorePlan Restore(IReadOnlyList<BackupSetManifest> sets, EnvironmentBackupPlan plan, string service, string backup, BackupType? type)
    {
        var chosen = Find(sets, plan.Environment, service, backup, type);
        var shaped = Shape([chosen], plan);
        return NewerSafetyCopy(sets, chosen, service, type) is { } newer
            ? shaped with
            {
                Notices =
                [
                    $"set {newer.Set.Set} ({newer.Set.Started.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z, trigger {newer.Set.Trigger}) is newer than the chosen set {chosen.Set.Set}: it is a safety copy"
                    + $" of {newer.Member.Key} taken before a {(newer.Set.Trigger.Kind == BackupTriggerKind.PreWipe ? "wipe" : "restore")}; to put that back instead, use --backup {LatestSafety} (or --backup {newer.Set.Set})",
                ],
            }
            : shaped;
    }

    /// <summary><c>RestoreSet --backup-set ID</c>: every member of a complete set in <paramref name="order"/> (the services, dependencies first), with one safety backup.</summary>
    public static RestorePlan RestoreSet(IReadOnlyList<BackupSetManifest> sets, EnvironmentBackupPlan plan, string setId, IReadOnlyList<string> order) =>
        Shape(FindSet(sets, plan.Environment, setId, order), plan);

    /// <summary>
    /// The plan for these members: the safety backup of the plan's members they replace (the configuration is only
    /// extracted, so it needs none), then each member restored, or extracted into <c>artifacts/restore/&lt;set&gt;/</c>.
    /// </summary>
    public static RestorePlan Shape(IReadOnlyList<RestoreTarget> chosen, EnvironmentBackupPlan plan)
    {
        var safety = chosen.Where(c => c.Member.Method != BackupMethod.Config)
            .SelectMany(c => plan.For(c.Member.Service, c.Member.Type).Where(m => m.Key == c.Member.Key))
            .ToList();
        var steps = chosen.Select(item =>
        {
            var member = item.Member;
            var trigger = item.Set.IsSafetyCopy ? $"trigger {item.Set.Trigger}: a safety copy" : $"trigger {item.Set.Trigger}";
            return member.Method == BackupMethod.Config
                ? new RestoreStep(item, ChangeKind.Config, ChangeAction.Extract, $"into artifacts/restore/{item.Set.Set}/ (the checkout is not touched; set {trigger})")
                : new RestoreStep(item, member.Method switch
                {
                    BackupMethod.Postgres => ChangeKind.Postgres,
                    BackupMethod.Redis => ChangeKind.Redis,
                    _ => ChangeKind.Volume,
                }, ChangeAction.Restore, $"replace the current data with set {item.Set.Set} ({item.Set.Started.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z, {member.Type.Word()}, {trigger})");
        }).ToList();
        return new RestorePlan($"replace the data of {string.Join(", ", chosen.Select(c => c.Member.Key))}", safety, steps);
    }

    /// <summary>
    /// Picks the member to restore: <c>latest</c> (the newest backup that is not a safety copy — after a restore, the
    /// newest set is the pre-restore copy of what the user just replaced), <c>latest-safety</c> (the newest safety
    /// copy), a set id, or a snapshot id of one of its parts (a prefix will do).
    /// </summary>
    public static RestoreTarget Find(IReadOnlyList<BackupSetManifest> sets, string environment, string service, string backup, BackupType? type)
    {
        var candidates = Candidates(sets, service, type);
        var typed = type is { } t ? $" --backup-type {t.Word()}" : string.Empty;
        if (candidates.Count == 0)
        {
            throw new PipelineException($"no backup of service '{service}'{(type is { } of ? $" of type {of.Word()}" : string.Empty)} in {environment}: run BackupService --service {service}{typed} first (BackupList shows what exists)");
        }

        if (backup == Latest)
        {
            return candidates.LastOrDefault(c => !c.Set.IsSafetyCopy)
                ?? throw new PipelineException(
                    $"service '{service}' has only safety copies in {environment} (the newest: set {candidates[^1].Set.Set}, trigger {candidates[^1].Set.Trigger}): restore it with --backup {LatestSafety} or --backup {candidates[^1].Set.Set}");
        }

        if (backup == LatestSafety)
        {
            return candidates.LastOrDefault(c => c.Set.IsSafetyCopy)
                ?? throw new PipelineException($"no safety copy ({string.Join(", ", BackupTrigger.SafetyCopies)}) of service '{service}' in {environment}: --backup {Latest} takes its newest backup");
        }

        var match = candidates.Where(c => c.Set.Set == backup || c.Member.Parts.Any(p => p.Snapshot.StartsWith(backup, StringComparison.Ordinal))).ToList();
        return match.Count switch
        {
            0 => throw new PipelineException($"no backup '{backup}' of service '{service}' in {environment}: --backup takes {Latest}, {LatestSafety}, a set id or a snapshot id (BackupList shows the sets and their services)"),
            > 1 => throw new PipelineException($"backup '{backup}' of service '{service}' is ambiguous (it matches {match.Count} members): add --backup-type"),
            _ => match[0],
        };
    }

    /// <summary>
    /// The newest safety copy of the member that is newer than <paramref name="chosen"/> (the user may mean to undo the
    /// restore they just made), or null; none when the chosen set is a safety copy itself.
    /// </summary>
    public static RestoreTarget? NewerSafetyCopy(IReadOnlyList<BackupSetManifest> sets, RestoreTarget chosen, string service, BackupType? type) =>
        chosen.Set.IsSafetyCopy
            ? null
            : Candidates(sets, service, type).LastOrDefault(c => c.Set.IsSafetyCopy && c.Set.Started > chosen.Set.Started);

    /// <summary>Every member of a set, in dependency order; the set must be complete.</summary>
    public static IReadOnlyList<RestoreTarget> FindSet(IReadOnlyList<BackupSetManifest> sets, string environment, string setId, IReadOnlyList<string> order)
    {
        var set = sets.FirstOrDefault(s => s.Set == setId)
            ?? throw new PipelineException($"no backup set '{setId}' in {environment}: BackupList shows the sets");
        if (!set.IsComplete)
        {
            var failed = set.Members.Where(m => !m.Succeeded).Select(m => m.Key);
            throw new PipelineException($"backup set {setId} is incomplete (failed: {string.Join(", ", failed)}): restore its members one by one with Restore --service X --backup {setId}");
        }

        return set.Members
            .Where(m => m.Succeeded) // skipped members (a volume that did not exist) have nothing to restore
            .OrderBy(m => order.ToList().IndexOf(m.Service) is var i && i < 0 ? int.MaxValue : i)
            .Select(m => new RestoreTarget(set, m))
            .ToList();
    }

    /// <summary>Every listed backup of the service (of the type, when given), oldest first.</summary>
    private static List<RestoreTarget> Candidates(IReadOnlyList<BackupSetManifest> sets, string service, BackupType? type) =>
        sets
            .SelectMany(set => set.Members.Where(m => m.Succeeded && m.Service == service && (type is null || m.Type == type)).Select(m => new RestoreTarget(set, m)))
            .OrderBy(c => c.Set.Started)
            .ToList();
}
