using LlmStack.Schema;

namespace LlmStack.Orchestration;

/// <summary>What a Start did, for the run's summary: its unit (containers, services) and the counts.</summary>
public sealed record StartSummary(string Unit, string Text)
{
    public override string ToString() => Text;
}

/// <summary>
/// The one orchestrator seam: how a stack of the session's environment is started, stopped and shown. The session
/// chooses the implementation once (--orchestrator, else the environment's <c>orchestrator:</c>); the Start*, Stop* and
/// Status* targets only call this.
/// </summary>
public interface IStackOrchestrator
{
    Orchestrator Kind { get; }

    /// <summary>Start the stack (its images ready, networks and volumes created), health-gated, dependency level by level.</summary>
    Task<StartSummary> StartAsync(string stack, CancellationToken cancellationToken);

    /// <summary>Stop the stack: its containers or services removed; volumes stay. Returns how many were removed.</summary>
    Task<int> StopAsync(string stack, CancellationToken cancellationToken);

    /// <summary>The stack's status report (written by the report writer; non-zero unless all are up and healthy).</summary>
    Task StatusAsync(string stack, CancellationToken cancellationToken);
}
