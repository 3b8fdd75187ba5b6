using System.Diagnostics;
using System.Globalization;

namespace LlmStack.Pipeline;

/// <summary>
/// Runs a plan sequentially: --skip and static conditions (with NUKE's cascade), requirements (all checked
/// before anything runs), then each target with its dynamic conditions. A failure stops the run unless the
/// target proceeds after failure; assured targets still run after a failure or Ctrl-C. A target that fails after
/// Ctrl-C (whatever it throws) is aborted, not failed: the run exits 130.
/// </summary>
internal static class BuildExecutor
{
    /// <summary>
    /// <c>--skip</c> without names skips every target not invoked; with names, those (unless invoked). A name that is
    /// no target at all is an error (a typo); a target that is not in this plan is ignored (as in NUKE), so one CI
    /// template can pass the same --skip to different runs. Returns the names that were ignored.
    /// </summary>
    public static IReadOnlyList<string> ApplySkips(IReadOnlyList<ExecutableTarget> targets, IReadOnlyList<ExecutableTarget> plan, IReadOnlyList<string>? skip)
    {
        if (skip is null)
        {
            return [];
        }

        var ignored = new List<string>();
        var skipped = new List<ExecutableTarget>();
        if (skip.Count == 0)
        {
            skipped.AddRange(plan.Where(t => !t.Invoked));
        }
        else
        {
            foreach (var target in skip.Select(name => ExecutionPlanner.Find(targets, name)))
            {
                if (plan.Contains(target))
                {
                    skipped.Add(target);
                }
                else
                {
                    ignored.Add(target.Name);
                }
            }
        }

        foreach (var target in skipped.Where(t => !t.Invoked))
        {
            MarkSkipped(plan, target, "via --skip", byParameter: true);
        }

        return ignored;
    }

    public static async Task<int> RunAsync(PipelineBuild build, IReadOnlyList<ExecutableTarget> plan, CancellationToken token, CancellationToken assuredToken)
    {
        foreach (var target in plan.Where(t => t.Status == ExecutionStatus.Scheduled))
        {
            var violated = target.Definition.StaticConditions.Where(c => !c.Evaluate()).ToList();
            if (violated.Count > 0)
            {
                MarkSkipped(plan, target, Condition.SkipReason(violated), includeInvoked: true);
            }
        }

        CheckRequirements(build, plan);

        var stopped = false;
        var cancelled = false;
        foreach (var target in plan)
        {
            if (token.IsCancellationRequested)
            {
                cancelled = true;
                break;
            }

            var outcome = await RunTargetAsync(build, plan, target, token);
            if (outcome == ExecutionStatus.Aborted)
            {
                cancelled = true;
                break;
            }

            if (outcome == ExecutionStatus.Failed && !target.Definition.IsProceedAfterFailure)
            {
                stopped = true;
                break;
            }
        }

        if (stopped || cancelled)
        {
            foreach (var target in plan.Where(t => t.Status == ExecutionStatus.Scheduled && t.Definition.IsAssuredAfterFailure))
            {
                await RunTargetAsync(build, plan, target, assuredToken);
            }
        }

        foreach (var target in plan.Where(t => t.Status == ExecutionStatus.Scheduled))
        {
            target.Status = ExecutionStatus.NotRun;
        }

        SummaryWriter.Write(build.Out, plan, build.IsSucceeding && !cancelled);
        build.GitHubActions?.AppendSummary(GitHubActionsLog.SummaryMarkdown(plan, build.IsSucceeding && !cancelled));
        return cancelled ? PipelineRunner.Cancelled : build.IsSucceeding ? build.ExitCode ?? 0 : PipelineRunner.Failure;
    }

    private static async Task<ExecutionStatus> RunTargetAsync(PipelineBuild build, IReadOnlyList<ExecutableTarget> plan, ExecutableTarget target, CancellationToken token)
    {
        if (target.Status != ExecutionStatus.Scheduled)
        {
            return target.Status;
        }

        var violated = target.Definition.DynamicConditions.Where(c => !c.Evaluate()).ToList();
        if (violated.Count > 0)
        {
            MarkSkipped(plan, target, Condition.SkipReason(violated), includeInvoked: true);
            build.Log.Debug("Skipped {TargetName}: {Reason}", target.Name, target.SummaryInfo);
            return target.Status;
        }

        if (target.Definition.Actions.Count == 0)
        {
            target.Status = ExecutionStatus.Collective;
            return target.Status;
        }

        WriteHeader(build.Out, target.Name);
        build.GitHubActions?.Group(build.Out, target.Name);
        target.Status = ExecutionStatus.Running;
        build.CurrentTarget = target;
        var stopwatch = Stopwatch.StartNew();
        try
        {
            foreach (var action in target.Definition.Actions)
            {
                token.ThrowIfCancellationRequested();
                await action(token);
            }

            target.Status = ExecutionStatus.Succeeded;
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            target.Status = ExecutionStatus.Aborted;
            target.SummaryInfo ??= "cancelled";
            build.Log.Warning("Target {TargetName} was cancelled", target.Name);
        }
        catch (Exception e) when (token.IsCancellationRequested)
        {
            // Ctrl-C reaches the whole process group: a tool the target runs dies of the signal and its failure may surface
            // before the token is observed. A target that fails once the run is cancelled was cancelled (exit 130); what it
            // said on the way out (a cleanup's outcome, say) is still shown.
            target.Status = ExecutionStatus.Aborted;
            target.SummaryInfo ??= "cancelled";
            var message = e is PipelineException ? e.Message : build.DescribeFailure(e);
            if (message is null)
            {
                build.Log.Warning("Target {TargetName} was cancelled", target.Name);
            }
            else
            {
                build.Log.Warning("Target {TargetName} was cancelled: {Message}", target.Name, message);
            }

            build.Log.Debug(e, "Target {TargetName} failed after the run was cancelled", target.Name);
        }
        catch (Exception e)
        {
            target.Status = ExecutionStatus.Failed;
            if (e is PipelineException)
            {
                target.SummaryInfo ??= FirstLine(e.Message);
                build.Log.Error("{Message}", e.Message);
                build.Log.Debug(e, "Target {TargetName} failed", target.Name);
            }
            else if (build.DescribeFailure(e) is { } described)
            {
                target.SummaryInfo ??= FirstLine(described);
                build.Log.Error("{Message}", described);
                build.Log.Debug(e, "Target {TargetName} failed", target.Name);
            }
            else
            {
                target.SummaryInfo ??= $"{e.GetType().Name}: {FirstLine(e.Message)}";
                build.Log.Error(e, "Target {TargetName} has thrown an exception", target.Name);
            }
        }
        finally
        {
            target.Duration = stopwatch.Elapsed;
            build.CurrentTarget = null;
            build.GitHubActions?.EndGroup(build.Out);
            if (target.Status == ExecutionStatus.Failed)
            {
                build.GitHubActions?.Error(build.Out, target.Name, target.SummaryInfo ?? "failed");
            }

            build.Log.Debug("Target {TargetName} {Status} after {Duration}", target.Name, target.Status, target.Duration);
        }

        return target.Status;
    }

    /// <summary>
    /// Skips a target (invoked targets only when <paramref name="includeInvoked"/>), then, unless it executes
    /// its dependencies when skipped, the execution dependencies and triggers no other scheduled target needs.
    /// </summary>
    internal static void MarkSkipped(IReadOnlyList<ExecutableTarget> plan, ExecutableTarget target, string reason, bool includeInvoked = false, bool byParameter = false)
    {
        if (target.Status == ExecutionStatus.Skipped || (target.Invoked && !includeInvoked))
        {
            return;
        }

        target.Status = ExecutionStatus.Skipped;
        target.SummaryInfo = reason;
        target.SkippedByParameter = byParameter;
        if (target.Definition.SkipBehavior == DependencyBehavior.Execute)
        {
            return;
        }

        foreach (var dependency in target.ExecutionDependencies.Concat(target.Triggers).Distinct().ToList())
        {
            if (dependency.Status != ExecutionStatus.Scheduled || dependency.Invoked)
            {
                continue;
            }

            // A skipped target that executes its dependencies anyway still needs them, whatever the order of marking.
            var neededElsewhere = plan.Any(other =>
                other != target
                && (other.Status is ExecutionStatus.Scheduled
                    || (other.Status is ExecutionStatus.Skipped && other.Definition.SkipBehavior == DependencyBehavior.Execute))
                && (other.ExecutionDependencies.Contains(dependency) || other.Triggers.Contains(dependency)));
            if (!neededElsewhere)
            {
                MarkSkipped(plan, dependency, $"because of {target.Name}", byParameter: byParameter);
            }
        }
    }

    private static void CheckRequirements(PipelineBuild build, IReadOnlyList<ExecutableTarget> plan)
    {
        var failures = new List<string>();
        foreach (var target in plan.Where(t => t.Status == ExecutionStatus.Scheduled))
        {
            foreach (var requirement in target.Definition.Requirements.Where(r => !r.IsMet()))
            {
                if (requirement.IsParameter && requirement.Member is { } member)
                {
                    var descriptor = build.Parameters.FirstOrDefault(p =>
                        p.Member is { } m && m.Name == member.Name && m.DeclaringType == member.DeclaringType);
                    var flag = descriptor?.DisplayName ?? requirement.Text;
                    var env = descriptor is null ? string.Empty : $" or set {descriptor.VariableName}";
                    failures.Add($"Target '{target.Name}' requires parameter {flag}: pass {flag} <value>{env}.");
                }
                else
                {
                    failures.Add($"Target '{target.Name}' requires '{requirement.Text}'.");
                }
            }
        }

        if (failures.Count > 0)
        {
            throw new PipelineException(string.Join(Environment.NewLine, failures));
        }
    }

    private static void WriteHeader(TextWriter output, string name)
    {
        output.WriteLine();
        output.WriteLine("╬" + new string('═', name.Length + 5));
        output.WriteLine("║ " + name);
        output.WriteLine("╬" + new string('═', Math.Max(name.Length - 4, 2)));
        output.WriteLine();
    }

    private static string FirstLine(string text) => TerminalText.Clean(text.Split('\n')[0]);
}

/// <summary>The table printed at the end: target, status, duration and what the target reported.</summary>
internal static class SummaryWriter
{
    public static void Write(TextWriter output, IReadOnlyList<ExecutableTarget> plan, bool succeeded)
    {
        var rows = plan.Where(t => t.Status != ExecutionStatus.Collective).ToList();
        var nameWidth = Math.Max(rows.Select(t => t.Name.Length + 4).DefaultIfEmpty(0).Max(), 19);
        var width = nameWidth + 10 + 10;
        output.WriteLine();
        output.WriteLine(new string('═', width));
        output.WriteLine($"{"Target".PadRight(nameWidth)}{"Status",-10}{"Duration",10}");
        output.WriteLine(new string('─', width));
        var total = TimeSpan.Zero;
        foreach (var target in rows)
        {
            var timed = target.Status is ExecutionStatus.Succeeded or ExecutionStatus.Failed or ExecutionStatus.Aborted;
            var duration = timed ? Format(target.Duration) : string.Empty;
            total += timed ? target.Duration : TimeSpan.Zero;
            var info = target.SummaryInfo is null ? string.Empty : "   // " + target.SummaryInfo;
            output.WriteLine($"{target.Name.PadRight(nameWidth)}{target.Status,-10}{duration,10}{info}");
        }

        output.WriteLine(new string('─', width));
        output.WriteLine($"{"Total".PadRight(nameWidth)}{string.Empty,-10}{Format(total),10}");
        output.WriteLine(new string('═', width));
        output.WriteLine();
        var now = DateTime.Now.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
        output.WriteLine(succeeded ? $"Run succeeded on {now}." : $"Run failed on {now}.");
    }

    internal static string Format(TimeSpan duration) =>
        duration < TimeSpan.FromSeconds(1) ? "< 1sec" : $"{(int)duration.TotalMinutes}:{duration.Seconds:00}";
}
