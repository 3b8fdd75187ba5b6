using LlmStack.Pipeline;
using Serilog;

namespace LlmStack.ChangeControl;

/// <summary>What a planned change is about. The table and the audit log show it as words (<see cref="ChangeText"/>).</summary>
public enum ChangeKind
{
    Container,
    Volume,
    Network,
    Secrets,
    Secret,
    Role,
    Stack,
    Services,
    Service,
    Check,
    Backup,
    BackupSet,
    TapeExport,
    OrphanedMembers,
    Repository,
    Postgres,
    Redis,
    Config,
    Table,
    Rows,
    Keys,
    Files,
    Model,
    Models,
    Image,
    Node,
    Swarm,
}

/// <summary>What a planned change does to its resource.</summary>
public enum ChangeAction
{
    Remove,
    Forget,
    Prune,
    Delete,
    ArchiveAndDelete,
    Expire,
    BackUp,
    Restore,
    Extract,
    SetPassword,
    Rotate,
    Recreate,
    Restart,
    Verify,
    Create,
    Start,
    Unpause,
    Repair,
    Pull,
    Build,
    Label,
    Leave,
    Update,
}

/// <summary>The words of kinds and actions, mapped once: <c>BackupSet</c> → "backup set", <c>BackUp</c> → "back up".</summary>
public static class ChangeText
{
    public static string Of(ChangeKind kind) => Words(kind.ToString());

    public static string Of(ChangeAction action) => Words(action.ToString());

    private static string Words(string pascal) =>
        string.Concat(pascal.Select((c, i) => char.IsUpper(c) && i > 0 ? " " + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()));
}

/// <summary>
/// One change a destructive operation plans: the kind of resource, which one, what happens to it and why.
/// <see cref="Apply"/> does it (re-checking what it must) and returns a detail for the audit log.
/// </summary>
public sealed record PlannedChange(ChangeKind Kind, string Resource, ChangeAction Action, string Why, Func<CancellationToken, Task<string?>> Apply)
{
    /// <summary>Shown in the table (a subnet, a size).</summary>
    public string? Detail { get; init; }

    /// <summary>A failure is audited and the next changes still run; the run fails at the end naming every failure.</summary>
    public bool ContinueOnFailure { get; init; }

    /// <summary>The environment the change belongs to when one gate spans several (the audit line names it).</summary>
    public string? Environment { get; init; }
}

/// <summary>
/// Thrown by <see cref="PlannedChange.Apply"/> when, looking again just before acting, the change no longer applies
/// (the resource went, or something not ours started using it): audited as skipped, and the other changes go on.
/// </summary>
public sealed class ChangeSkippedException(string reason) : Exception(reason);

/// <summary>A resource the plan looked at and leaves alone: shown in the table so the user sees why.</summary>
public sealed record KeptResource(ChangeKind Kind, string Resource, string Why)
{
    public string? Detail { get; init; }
}

/// <summary>What an operation would do. <paramref name="Summary"/> completes "… will &lt;summary&gt; in environment X".</summary>
public sealed record ChangePlan(string Summary, IReadOnlyList<PlannedChange> Changes, IReadOnlyList<KeptResource> Kept)
{
    /// <summary>Lines printed under the table, before the confirmation (e.g. how old the newest backup is when none is taken first).</summary>
    public IReadOnlyList<string> Notices { get; init; } = [];

    public static ChangePlan Of(string summary, IReadOnlyList<PlannedChange> changes) => new(summary, changes, []);

    /// <summary>How many planned changes are of one of these kinds (each change counts once, by its kind).</summary>
    public int Count(params ChangeKind[] kinds) => Changes.Count(c => kinds.Contains(c.Kind));
}

public enum GateOutcome
{
    NothingToDo,
    DryRun,
    Applied,
}

/// <summary>
/// How this run answers the gate. <see cref="DryRun"/> and <see cref="Confirm"/> come from the command line only (the
/// build declares them so); <see cref="Interactive"/> is whether a person can be asked.
/// </summary>
public sealed record GateOptions(bool DryRun, string? Confirm, TextReader Input, bool Interactive, AuditLog Audit);

/// <summary>
/// The one way a destructive operation changes anything: plan → table → <c>--dry-run</c> (change nothing, exit 0) or
/// confirmation (typed environment name, or <c>--confirm &lt;environment&gt;</c> when nobody can be asked; a gate over
/// several environments asks for a phrase instead) → apply → an audit entry per change. Outside a dry run the
/// environment lock (every one concerned) is taken before planning, so what is shown, what is confirmed and what is
/// applied all see the same state.
/// </summary>
public sealed class ChangeGate(GateOptions options, TextWriter output, ILogger log)
{
    public GateOptions Options => options;

    public async Task<GateOutcome> RunAsync(
        string target,
        string environment,
        Func<CancellationToken, Task> holdLock,
        Func<CancellationToken, Task<ChangePlan>> plan,
        CancellationToken cancellationToken,
        string? phrase = null)
    {
        Confirmation.CheckTarget(target, environment, options.Confirm, phrase);
        if (!options.DryRun)
        {
            await holdLock(cancellationToken);
        }

        var planned = await plan(cancellationToken);
        Write(planned);
        if (planned.Changes.Count == 0)
        {
            log.Information("{Target}: nothing to change in {Environment}", target, environment);
            return GateOutcome.NothingToDo;
        }

        if (options.DryRun)
        {
            log.Information("Dry run: {Target} would make {Count} change(s) in {Environment}; nothing changed", target, planned.Changes.Count, environment);
            return GateOutcome.DryRun;
        }

        await Confirmation.RequireAsync(target, environment, planned.Summary, options.Confirm, options.Input, output, options.Interactive, cancellationToken, phrase);

        var applied = 0;
        var failures = new List<string>();
        for (var index = 0; index < planned.Changes.Count; index++)
        {
            var change = planned.Changes[index];
            string? detail;
            try
            {
                detail = await change.Apply(cancellationToken);
            }
            catch (ChangeSkippedException skipped)
            {
                options.Audit.Record(target, change.Environment ?? environment, ChangeText.Of(change.Kind), change.Resource, ChangeText.Of(change.Action), "skipped", skipped.Message);
                log.Warning("Skipped: {Action} {Kind} {Resource}: {Reason}", ChangeText.Of(change.Action), ChangeText.Of(change.Kind), change.Resource, skipped.Message);
                continue;
            }
            catch (Exception e) when (cancellationToken.IsCancellationRequested)
            {
                // After Ctrl-C, whatever the change throws (a tool killed by the same signal, a rollback's outcome) is a cancel.
                options.Audit.Record(target, change.Environment ?? environment, ChangeText.Of(change.Kind), change.Resource, ChangeText.Of(change.Action), "cancelled",
                    e is OperationCanceledException ? null : e.Message.Split('\n')[0]);
                log.Warning("{Target} cancelled: {Applied} of {Count} change(s) applied", target, applied, planned.Changes.Count);
                throw;
            }
            catch (Exception e) when (change.ContinueOnFailure && e is not OperationCanceledException)
            {
                var message = e.Message.Split('\n')[0];
                options.Audit.Record(target, change.Environment ?? environment, ChangeText.Of(change.Kind), change.Resource, ChangeText.Of(change.Action), "failed", message);
                log.Error("Failed: {Action} {Kind} {Resource}: {Error}", ChangeText.Of(change.Action), ChangeText.Of(change.Kind), change.Resource, message);
                failures.Add($"{ChangeText.Of(change.Action)} {ChangeText.Of(change.Kind)} {change.Resource}: {message}");
                continue;
            }
            catch (Exception e)
            {
                var message = e.Message.Split('\n')[0];
                options.Audit.Record(target, change.Environment ?? environment, ChangeText.Of(change.Kind), change.Resource, ChangeText.Of(change.Action), "failed", message);
                throw new PipelineException(
                    $"{target} could not {ChangeText.Of(change.Action)} {ChangeText.Of(change.Kind)} {change.Resource}: {message}; {applied} of {planned.Changes.Count} change(s) were applied before it; not done: {Remaining(planned.Changes.Skip(index))} (audit log: {options.Audit.Path})",
                    e);
            }

            options.Audit.Record(target, change.Environment ?? environment, ChangeText.Of(change.Kind), change.Resource, ChangeText.Of(change.Action), "done", detail);
            applied++;
        }

        if (failures.Count > 0)
        {
            throw new PipelineException(
                $"{target}: {failures.Count} of {planned.Changes.Count} change(s) failed ({string.Join("; ", failures)}); {applied} applied (audit log: {options.Audit.Path})");
        }

        log.Information("{Target}: {Count} change(s) applied in {Environment}", target, applied, environment);
        return GateOutcome.Applied;
    }

    /// <summary>What a stopped run left undone, by name (the first ten, then a count).</summary>
    private static string Remaining(IEnumerable<PlannedChange> changes)
    {
        var left = changes.Select(c => $"{ChangeText.Of(c.Kind)} {c.Resource}").ToList();
        return left.Count <= 10 ? string.Join(", ", left) : $"{string.Join(", ", left.Take(10))} and {left.Count - 10} more";
    }

    private void Write(ChangePlan plan)
    {
        if (plan.Changes.Count == 0 && plan.Kept.Count == 0 && plan.Notices.Count == 0)
        {
            return;
        }

        var table = new TextTable("KIND", "RESOURCE", "DETAIL", "ACTION", "WHY");
        foreach (var change in plan.Changes)
        {
            table.Add(ChangeText.Of(change.Kind), change.Resource, change.Detail ?? "-", (options.DryRun ? "would " : string.Empty) + ChangeText.Of(change.Action), change.Why);
        }

        foreach (var kept in plan.Kept)
        {
            table.Add(ChangeText.Of(kept.Kind), kept.Resource, kept.Detail ?? "-", "keep", kept.Why);
        }

        table.Write(output);
        foreach (var notice in plan.Notices)
        {
            output.WriteLine("! " + notice);
        }

        output.Flush();
    }
}
