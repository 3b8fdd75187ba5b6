using LlmStack.Engine;
using LlmStack.Schema;

namespace LlmStack.Orchestration;

/// <summary>What a Start did, for the run's summary: its unit (containers, services) and the counts.</summary>
public sealed record StartSummary(string Unit, string Text)
{
    public override string ToString() => Text;
}

/// <summary>
/// The one orchestrator seam: how a stack of the session's environment is started, stopped, restarted, rebuilt, shown
/// and its logs read. The session chooses the implementation once (--orchestrator, else the environment's
/// <c>orchestrator:</c>); the Start*, Stop*, Restart*, Rebuild*, Status* and Logs* targets only call this (Plan and Deploy
/// choose their planner by its <see cref="Kind"/>; wipes, backups and restores select by labels, which both share).
/// </summary>
public interface IStackOrchestrator
{
    Orchestrator Kind { get; }

    /// <summary>Start the stack (its images ready, networks and volumes created), health-gated, dependency level by level.</summary>
    Task<StartSummary> StartAsync(string stack, CancellationToken cancellationToken);

    /// <summary>Stop the stack: its containers or services removed; volumes stay. Returns how many were removed.</summary>
    Task<int> StopAsync(string stack, CancellationToken cancellationToken);

    /// <summary>
    /// Restart the stack in place, dependency level by level, each health-gated; what of it is down or missing is then
    /// brought up as Start would. A stack with nothing running fails when <paramref name="required"/>, else is left alone.
    /// Returns the summary line ("3 restarted…").
    /// </summary>
    Task<string> RestartAsync(string stack, bool required, CancellationToken cancellationToken);

    /// <summary>Rebuild the stack: its images built again without the cache first (a failing build changes nothing), then its services on the new images, health-gated. Returns the summary line.</summary>
    Task<string> RebuildAsync(string stack, CancellationToken cancellationToken);

    /// <summary>The stack's logs, prefixed by service and replica, with --tail, --since, --follow and --service.</summary>
    Task LogsAsync(string stack, LogOptions options, CancellationToken cancellationToken);

    /// <summary>The stack's status report (written by the report writer; non-zero unless all are up and healthy).</summary>
    Task StatusAsync(string stack, CancellationToken cancellationToken);
}
