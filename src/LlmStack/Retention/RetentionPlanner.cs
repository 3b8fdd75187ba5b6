using System.Globalization;

namespace LlmStack.Retention;

/// <summary>
/// A keep policy with restic's rules. Counts: 0 = rule off, -1 = unlimited. Durations: null = rule off.
/// <see cref="Tags"/>: a backup is kept when it has every tag of any one list.
/// </summary>
public sealed record RetentionPolicy
{
    public int Last { get; init; }

    public int Hourly { get; init; }

    public int Daily { get; init; }

    public int Weekly { get; init; }

    public int Monthly { get; init; }

    public int Yearly { get; init; }

    public RetentionDuration? Within { get; init; }

    public RetentionDuration? WithinHourly { get; init; }

    public RetentionDuration? WithinDaily { get; init; }

    public RetentionDuration? WithinWeekly { get; init; }

    public RetentionDuration? WithinMonthly { get; init; }

    public RetentionDuration? WithinYearly { get; init; }

    public IReadOnlyList<IReadOnlyList<string>> Tags { get; init; } = [];

    /// <summary>No rule at all: restic would remove nothing; LlmStack refuses such a policy outright.</summary>
    public bool IsEmpty =>
        Last == 0 && Hourly == 0 && Daily == 0 && Weekly == 0 && Monthly == 0 && Yearly == 0 && Within is null && WithinHourly is null && WithinDaily is null
        && WithinWeekly is null && WithinMonthly is null && WithinYearly is null && Tags.Count == 0;

    public override string ToString()
    {
        var parts = new List<string>();
        foreach (var (name, count) in new[] { ("last", Last), ("hourly", Hourly), ("daily", Daily), ("weekly", Weekly), ("monthly", Monthly), ("yearly", Yearly) })
        {
            if (count != 0)
            {
                parts.Add($"keep-{name} {(count < 0 ? "unlimited" : count.ToString(CultureInfo.InvariantCulture))}");
            }
        }

        foreach (var (name, duration) in new[] { ("within", Within), ("within-hourly", WithinHourly), ("within-daily", WithinDaily), ("within-weekly", WithinWeekly), ("within-monthly", WithinMonthly), ("within-yearly", WithinYearly) })
        {
            if (duration is not null)
            {
                parts.Add($"keep-{name} {duration}");
            }
        }

        parts.AddRange(Tags.Select(t => $"keep-tag {string.Join(',', t)}"));
        return parts.Count == 0 ? "(no rule)" : string.Join(", ", parts);
    }
}

/// <summary>One backup as the planner sees it: the time as recorded (with the backup host's offset), tags, whether verified.</summary>
public sealed record RetentionBackup(string Id, DateTimeOffset Time, IReadOnlyList<string> Tags, bool Verified = false);

/// <summary>What happens to one backup, and every rule that keeps it.</summary>
public sealed record RetentionDecision(RetentionBackup Backup, bool Keep, IReadOnlyList<string> Reasons);

/// <summary>The decisions for one group of backups, newest first.</summary>
public sealed record RetentionPlan(IReadOnlyList<RetentionDecision> Decisions)
{
    public IReadOnlyList<RetentionBackup> Kept => Decisions.Where(d => d.Keep).Select(d => d.Backup).ToList();

    public IReadOnlyList<RetentionBackup> Removed => Decisions.Where(d => !d.Keep).Select(d => d.Backup).ToList();
}

/// <summary>LlmStack's rules on top of restic's, for policies from the configuration.</summary>
public sealed record RetentionSafety(int MinKeep = 1, bool KeepNewestVerified = true);

/// <summary>
/// The retention planner: a pure function from a group of backups and a policy to keep/remove decisions, with
/// <b>restic's semantics</b> (restic 0.17 <c>forget</c>):
/// <list type="bullet">
/// <item>Backups are taken newest first. "Latest" is the newest backup not dated in the future; durations count back
/// from it, not from now.</item>
/// <item>Every rule is evaluated on its own and the results are ORed: one backup can use up a daily, a weekly and a
/// monthly slot at once.</item>
/// <item>A count rule (<c>keep-hourly N</c> …) keeps the newest backup of each period (hour, day, ISO week Monday to
/// Sunday, month, year — calendar periods in the backup host's local time as recorded) until N periods are kept;
/// periods without a backup do not count. <c>keep-last N</c> keeps the N newest.</item>
/// <item>When a count rule still has room at the oldest backup, that backup is kept too ("oldest …"); so is the oldest
/// backup when it is inside a <c>keep-within-*</c> window (those rules have no count).</item>
/// <item><c>keep-within D</c> keeps every backup newer than latest − D; <c>keep-within-daily D</c> (and the others)
/// keep the newest backup of each period among those newer than latest − D.</item>
/// <item><c>keep-tag</c> keeps a backup that has every tag of one of the lists.</item>
/// </list>
/// <see cref="PlanSafe"/> adds LlmStack's rules: an empty policy is an error; the newest verified backup is kept; at
/// least <c>min_keep</c> newest backups are kept (so never all of them).
/// </summary>
public static class RetentionPlanner
{
    /// <summary>restic's rules only. <paramref name="now"/> decides which backups are "in the future".</summary>
    public static RetentionPlan Plan(IReadOnlyList<RetentionBackup> backups, RetentionPolicy policy, DateTimeOffset now)
    {
        var list = backups.OrderByDescending(b => b.Time).ThenBy(b => b.Id, StringComparer.Ordinal).ToList();
        if (policy.IsEmpty)
        {
            // restic removes nothing with an empty policy.
            return new RetentionPlan(list.Select(b => new RetentionDecision(b, true, ["no policy"])).ToList());
        }

        var past = list.Where(b => b.Time <= now).ToList();
        var latest = past.Count > 0 ? past.Max(b => b.Time) : DateTimeOffset.MinValue;
        var counted = new List<Bucket>
        {
            new("last", policy.Last, (_, index) => index),
            new("hourly", policy.Hourly, (t, _) => Hour(t)),
            new("daily", policy.Daily, (t, _) => Day(t)),
            new("weekly", policy.Weekly, (t, _) => Week(t)),
            new("monthly", policy.Monthly, (t, _) => Month(t)),
            new("yearly", policy.Yearly, (t, _) => t.Year),
        };
        var within = new List<WithinBucket>
        {
            new("hourly", policy.WithinHourly, Hour),
            new("daily", policy.WithinDaily, Day),
            new("weekly", policy.WithinWeekly, Week),
            new("monthly", policy.WithinMonthly, Month),
            new("yearly", policy.WithinYearly, t => t.Year),
        };

        var decisions = new List<RetentionDecision>(list.Count);
        for (var index = 0; index < list.Count; index++)
        {
            var backup = list[index];
            var oldest = index == list.Count - 1;
            var reasons = new List<string>();
            foreach (var tags in policy.Tags)
            {
                if (tags.All(backup.Tags.Contains))
                {
                    reasons.Add($"tag {string.Join(',', tags)}");
                    break;
                }
            }

            if (policy.Within is { } duration && backup.Time > duration.Before(latest))
            {
                reasons.Add($"within {duration}");
            }

            foreach (var bucket in counted.Where(b => b.Remaining != 0))
            {
                var period = bucket.Period(backup.Time, index);
                if (period != bucket.LastPeriod || oldest)
                {
                    reasons.Add(period == bucket.LastPeriod ? $"oldest {bucket.Name}" : bucket.Name);
                    bucket.LastPeriod = period;
                    if (bucket.Remaining > 0)
                    {
                        bucket.Remaining--;
                    }
                }
            }

            foreach (var bucket in within.Where(b => b.Duration is not null))
            {
                if (backup.Time > bucket.Duration!.Before(latest))
                {
                    var period = bucket.Period(backup.Time);
                    if (period != bucket.LastPeriod || oldest)
                    {
                        reasons.Add($"{(period == bucket.LastPeriod ? "oldest " : string.Empty)}within-{bucket.Name} {bucket.Duration}");
                        bucket.LastPeriod = period;
                    }
                }
            }

            decisions.Add(new RetentionDecision(backup, reasons.Count > 0, reasons));
        }

        return new RetentionPlan(decisions);
    }

    /// <summary>restic's rules, then LlmStack's safety rules. An empty policy throws.</summary>
    public static RetentionPlan PlanSafe(IReadOnlyList<RetentionBackup> backups, RetentionPolicy policy, RetentionSafety safety, DateTimeOffset now)
    {
        if (policy.IsEmpty)
        {
            throw new ArgumentException("the policy has no rule: an empty policy would keep or remove everything; give at least one keep rule");
        }

        var decisions = Plan(backups, policy, now).Decisions.ToList();
        var newestVerified = safety.KeepNewestVerified ? decisions.FindIndex(d => d.Backup.Verified) : -1;
        var minKeep = Math.Max(1, safety.MinKeep);
        for (var i = 0; i < decisions.Count; i++)
        {
            var extra = new List<string>();
            if (i == newestVerified)
            {
                extra.Add("newest verified");
            }

            if (i < minKeep)
            {
                extra.Add($"min_keep {minKeep}");
            }

            if (extra.Count > 0)
            {
                decisions[i] = decisions[i] with { Keep = true, Reasons = [.. decisions[i].Reasons, .. extra] };
            }
        }

        return new RetentionPlan(decisions);
    }

    private static long Hour(DateTimeOffset t) => (Day(t) * 100L) + t.Hour;

    private static long Day(DateTimeOffset t) => (t.Year * 10000L) + (t.Month * 100L) + t.Day;

    private static long Week(DateTimeOffset t) => (ISOWeek.GetYear(t.DateTime) * 100L) + ISOWeek.GetWeekOfYear(t.DateTime);

    private static long Month(DateTimeOffset t) => (t.Year * 100L) + t.Month;

    private sealed class Bucket(string name, int count, Func<DateTimeOffset, int, long> period)
    {
        public string Name => name;

        public int Remaining { get; set; } = count;

        public long? LastPeriod { get; set; }

        public long Period(DateTimeOffset time, int index) => period(time, index);
    }

    private sealed class WithinBucket(string name, RetentionDuration? duration, Func<DateTimeOffset, long> period)
    {
        public string Name => name;

        public RetentionDuration? Duration => duration;

        public long? LastPeriod { get; set; }

        public long Period(DateTimeOffset time) => period(time);
    }
}
