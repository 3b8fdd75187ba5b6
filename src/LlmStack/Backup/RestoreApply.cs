using LlmStack.ChangeControl;
using LlmStack.Pipeline;

namespace LlmStack.Backup;

/// <summary>
/// The apply side of <c>Restore</c> and <c>RestoreSet</c>: a <see cref="RestorePlan"/> becomes the gate's
/// <see cref="ChangePlan"/> — the safety backup (<see cref="BackupRunner"/>, trigger <c>pre-restore</c>), then each
/// member through <see cref="RestoreRunner"/>. Any failure after the safety backup, and Ctrl-C, puts the safety backup
/// back for every member touched, with the run's cleanup token (<paramref name="cleanup"/>: a first Ctrl-C does not stop
/// it, a second does).
/// </summary>
public sealed class RestoreApply(BackupContext context, string target, string restoreDirectory, CancellationToken cleanup)
{
    private Serilog.ILogger Log => context.Log;

    public ChangePlan Changes(RestorePlan plan)
    {
        var runner = new RestoreRunner(context, restoreDirectory);
        BackupSetManifest? safety = null;
        var restored = new List<RestoreTarget>();
        var changes = new List<PlannedChange>();
        if (plan.Safety.Count > 0)
        {
            changes.Add(new PlannedChange(ChangeKind.Backup, string.Join(", ", plan.Safety.Select(m => m.Key)), ChangeAction.BackUp, RestorePlan.SafetyWhy,
                async ct =>
                {
                    safety = (await new BackupRunner(context).RunAsync(BackupTrigger.PreRestore, plan.Safety, ct)).Manifest;
                    return safety.IsComplete
                        ? $"safety set {safety.Set}"
                        : throw new PipelineException($"the safety backup failed ({string.Join("; ", safety.Members.Where(m => !m.Succeeded).Select(m => $"{m.Key}: {m.Error}"))}): nothing was restored");
                }));
        }

        foreach (var step in plan.Steps)
        {
            var item = step.Target;
            changes.Add(new PlannedChange(step.Kind, item.Member.Key, step.Action, step.Why, async ct =>
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
                    await RollBackAsync(runner, safety, restored, e, ct);
                    throw;
                }
            })
            { Detail = step.Detail });
        }

        return new ChangePlan(plan.Summary, changes, []) { Notices = plan.Notices };
    }

    /// <summary>
    /// Puts the safety backup back for every member touched so far, then throws saying what happened: the safety set,
    /// and if it could not be put back whole, the exact command that does. When nothing was touched yet, the original
    /// exception goes on.
    /// </summary>
    private async Task RollBackAsync(RestoreRunner runner, BackupSetManifest safety, IReadOnlyList<RestoreTarget> touched, Exception failure, CancellationToken cancellationToken)
    {
        var replaced = touched.Where(t => t.Member.Method != BackupMethod.Config).ToList();
        var what = failure is OperationCanceledException || cancellationToken.IsCancellationRequested ? "was cancelled" : $"failed ({failure.Message.Split('\n')[0]})";
        if (replaced.Count == 0)
        {
            Log.Warning("{Target} {What} before anything was restored: nothing changed (safety set {Set} kept)", target, what, safety.Set);
            return;
        }

        Log.Warning("{Target} {What}: putting the data from before the restore back (safety set {Set})", target, what, safety.Set);
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
                $"{target} {what} and putting the safety backup {safety.Set} back did not finish ({string.Join("; ", problems)}): put it back with {PutBackCommand(context.Environment.Name, safety)}");
        }

        throw new PipelineException($"{target} {what}; the data from before the restore was put back (safety set {safety.Set})", failure);
    }

    /// <summary>The exact command that restores a safety set: Restore of its one member, or RestoreSet of all of them.</summary>
    public static string PutBackCommand(string environment, BackupSetManifest safety)
    {
        var members = safety.Members.Where(m => m.Succeeded).ToList();
        return members.Count == 1
            ? $"./build.sh Restore --environment {environment} --service {members[0].Service} --backup {safety.Set} --confirm {environment}"
            : $"./build.sh RestoreSet --environment {environment} --backup-set {safety.Set} --confirm {environment}";
    }
}
