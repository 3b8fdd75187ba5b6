namespace LlmStack.GitHub.Workflows;

/// <summary>
/// A GitHub Actions workflow declared in C# (build/IWorkflows.cs), in the spirit of NUKE's <c>[GitHubActions]</c>
/// but with several jobs, typed inputs and runner labels: <c>Workflow.Define("pr.yml", "Pull request").OnPullRequest()…</c>.
/// <see cref="WorkflowWriter"/> turns it into YAML; the order of every collection is the declaration order.
/// </summary>
public sealed class Workflow(string fileName, string name)
{
    public string FileName { get; } = fileName;

    public string Name { get; } = name;

    /// <summary>The title of each run (<c>run-name</c>, may use <c>${{ inputs.* }}</c> and <c>${{ github.* }}</c>); GitHub's API lists it as <c>display_title</c>.</summary>
    public string? RunName { get; private set; }

    public bool PullRequest { get; private set; }

    public List<string> PushBranches { get; } = [];

    /// <summary>With <see cref="PushBranches"/>: only a push that changes one of these paths (GitHub's <c>paths</c> filter).</summary>
    public List<string> PushPaths { get; } = [];

    /// <summary>Five-field crons, UTC (GitHub's schedules are UTC, as the configurations' are).</summary>
    public List<string> Schedules { get; } = [];

    public bool Dispatch { get; private set; }

    public List<WorkflowInput> Inputs { get; } = [];

    public List<(string Scope, string Access)> Permissions { get; } = [];

    public WorkflowConcurrency? Concurrency { get; private set; }

    public List<WorkflowJob> Jobs { get; } = [];

    public static Workflow Define(string fileName, string name) => new(fileName, name);

    /// <summary>Titles each run (<c>run-name</c>); without it GitHub titles runs by event (the commit message, "Restore", …).</summary>
    public Workflow NameRuns(string runName)
    {
        RunName = runName;
        return this;
    }

    public Workflow OnPullRequest()
    {
        PullRequest = true;
        return this;
    }

    public Workflow OnPush(params string[] branches)
    {
        PushBranches.AddRange(branches);
        return this;
    }

    /// <summary>A push to <paramref name="branch"/> that changes one of <paramref name="paths"/> (glob patterns).</summary>
    public Workflow OnPushTo(string branch, params string[] paths)
    {
        PushBranches.Add(branch);
        PushPaths.AddRange(paths);
        return this;
    }

    /// <summary>A schedule (five-field cron, UTC) plus a manual start.</summary>
    public Workflow OnSchedule(params string[] crons)
    {
        Schedules.AddRange(crons);
        return this;
    }

    public Workflow OnDispatch(params WorkflowInput[] inputs)
    {
        Dispatch = true;
        Inputs.AddRange(inputs);
        return this;
    }

    public Workflow Permission(string scope, string access)
    {
        Permissions.Add((scope, access));
        return this;
    }

    public Workflow Concurrent(string group, bool cancelInProgress)
    {
        Concurrency = new WorkflowConcurrency(group, cancelInProgress);
        return this;
    }

    public Workflow Job(string id, string name, Action<WorkflowJob> configure)
    {
        var job = new WorkflowJob(id, name);
        configure(job);
        Jobs.Add(job);
        return this;
    }
}

public sealed record WorkflowConcurrency(string Group, bool CancelInProgress);

/// <summary>A <c>workflow_dispatch</c> input: <c>choice</c> (with options), <c>string</c>, <c>boolean</c>, <c>number</c> or <c>environment</c>.</summary>
public sealed record WorkflowInput(string Name, string Description, string Type, bool Required, string? Default = null, IReadOnlyList<string>? Options = null)
{
    public static WorkflowInput Choice(string name, string description, IReadOnlyList<string> options, string? defaultValue = null) =>
        new(name, description, "choice", true, defaultValue, options);

    public static WorkflowInput Text(string name, string description, string? defaultValue = null) =>
        new(name, description, "string", defaultValue is null, defaultValue);
}

public sealed class WorkflowJob(string id, string name)
{
    public string Id { get; } = id;

    public string Name { get; } = name;

    /// <summary>Runner labels (each may be an expression such as <c>${{ inputs.environment }}</c>).</summary>
    public List<string> RunsOn { get; } = [];

    /// <summary>The GitHub environment (its secrets, required reviewers).</summary>
    public string? Environment { get; private set; }

    public List<string> Needs { get; } = [];

    /// <summary>The job's condition (<c>if:</c>), e.g. <c>always()</c> for a job that reports whatever the jobs it needs did.</summary>
    public string? If { get; private set; }

    public List<(string Scope, string Access)> Permissions { get; } = [];

    public WorkflowConcurrency? Concurrency { get; private set; }

    public int? TimeoutMinutes { get; private set; }

    /// <summary>What later jobs read as <c>needs.&lt;id&gt;.outputs.&lt;name&gt;</c>.</summary>
    public List<(string Name, string Value)> Outputs { get; } = [];

    public List<(string Name, string Value)> Env { get; } = [];

    public List<WorkflowStep> Steps { get; } = [];

    public WorkflowJob On(params string[] labels)
    {
        RunsOn.AddRange(labels);
        return this;
    }

    public WorkflowJob InEnvironment(string environment)
    {
        Environment = environment;
        return this;
    }

    public WorkflowJob After(params string[] jobs)
    {
        Needs.AddRange(jobs);
        return this;
    }

    public WorkflowJob When(string condition)
    {
        If = condition;
        return this;
    }

    public WorkflowJob Permission(string scope, string access)
    {
        Permissions.Add((scope, access));
        return this;
    }

    public WorkflowJob Output(string name, string value)
    {
        Outputs.Add((name, value));
        return this;
    }

    public WorkflowJob Concurrent(string group, bool cancelInProgress)
    {
        Concurrency = new WorkflowConcurrency(group, cancelInProgress);
        return this;
    }

    public WorkflowJob Timeout(int minutes)
    {
        TimeoutMinutes = minutes;
        return this;
    }

    public WorkflowJob Variable(string name, string value)
    {
        Env.Add((name, value));
        return this;
    }

    public WorkflowJob Step(WorkflowStep step)
    {
        Steps.Add(step);
        return this;
    }
}

public sealed record WorkflowStep(string Name)
{
    public string? Id { get; init; }

    public string? If { get; init; }

    /// <summary>A failure of this step does not fail the job (an upload or download of logs, never the work itself).</summary>
    public bool ContinueOnError { get; init; }

    /// <summary><c>owner/repo[/path]</c>; pinned by <see cref="ActionPins"/> when written.</summary>
    public string? Uses { get; init; }

    public IReadOnlyList<(string Name, string Value)> With { get; init; } = [];

    public IReadOnlyList<(string Name, string Value)> Env { get; init; } = [];

    public string? Run { get; init; }
}
