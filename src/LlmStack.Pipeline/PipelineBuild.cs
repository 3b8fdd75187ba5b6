using System.Linq.Expressions;

namespace LlmStack.Pipeline;

/// <summary>What every build and every component (interface with default target members) can use.</summary>
public interface IPipelineBuild
{
    /// <summary>The repository root: the directory holding <c>.nuke/</c> (or <c>--root</c>).</summary>
    string RootDirectory { get; }

    /// <summary><c>.nuke/temp</c>: logs, plan graphs; git-ignored.</summary>
    string TemporaryDirectory { get; }

    /// <summary>The run's environment variables (the process's, or those a test or an embedding passed in <c>RunOptions</c>).</summary>
    IReadOnlyDictionary<string, string> Variables { get; }

    Serilog.ILogger Log { get; }

    /// <summary>Secrets known to this run; everything logged or printed is masked with it.</summary>
    SecretMasker Secrets { get; }

    /// <summary>The console (masked).</summary>
    TextWriter Out { get; }

    /// <summary>Groups, error annotations and the job summary when the run is a GitHub Actions step; null otherwise.</summary>
    GitHubActionsLog? GitHubActions { get; }

    /// <summary>Standard output for a machine-readable document (masked); see <see cref="PipelineBuild.Document"/>.</summary>
    TextWriter Document { get; }

    /// <summary>The targets this run executes, in order.</summary>
    IReadOnlyList<ExecutableTarget> ExecutionPlan { get; }

    /// <summary>The targets named on the command line.</summary>
    IEnumerable<ExecutableTarget> InvokedTargets { get; }

    IEnumerable<ExecutableTarget> FailedTargets { get; }

    /// <summary>The target running now, if any.</summary>
    ExecutableTarget? CurrentTarget { get; }

    /// <summary>Cancelled only by a second Ctrl-C; see <see cref="PipelineBuild.CleanupToken"/>.</summary>
    CancellationToken CleanupToken { get; }

    /// <summary>Adds <c>key: value</c> to the running target's row in the summary table.</summary>
    void ReportSummary(string key, string value);

    /// <summary>The exit code of a run that succeeded; see <see cref="PipelineBuild.ExitCode"/>.</summary>
    int? ExitCode { get; set; }

    /// <summary>The value resolved for a component parameter (<c>[Parameter] string X =&gt; TryGetValue(() =&gt; X) ?? "default"</c>), or default.</summary>
    T? TryGetValue<T>(Expression<Func<T>> parameter);
}

/// <summary>
/// Base class of a build: targets are properties of type <see cref="Target"/> on the class and on the component
/// interfaces it implements; parameters are members marked <see cref="ParameterAttribute"/>.
/// <c>public static Task&lt;int&gt; Main(string[] args) =&gt; Execute&lt;Build&gt;(args);</c>
/// </summary>
public abstract class PipelineBuild : IPipelineBuild
{
    private ParameterService? _parameters;

    public string RootDirectory { get; internal set; } = Directory.GetCurrentDirectory();

    public string TemporaryDirectory => Path.Combine(RootDirectory, ".nuke", "temp");

    public IReadOnlyDictionary<string, string> Variables { get; internal set; } = new Dictionary<string, string>();

    private Serilog.ILogger? _log;

    // Serilog is loaded when a run first logs, not when the build is made (a cached --help never loads it).
    public Serilog.ILogger Log
    {
        get => _log ??= Serilog.Core.Logger.None;
        internal set => _log = value;
    }

    public SecretMasker Secrets { get; } = new();

    public TextWriter Out { get; internal set; } = TextWriter.Null;

    public GitHubActionsLog? GitHubActions { get; internal set; }

    /// <summary>
    /// Standard output for a machine-readable document (masked). In a run whose <see cref="WritesDocument"/> is true it is
    /// the only thing on standard output: <see cref="Out"/>, the banners, the summary and the log go to standard error.
    /// </summary>
    public TextWriter Document { get; internal set; } = TextWriter.Null;

    /// <summary>
    /// Whether this run writes a document on standard output (read after parameters are injected; LlmStack: <c>--json</c>).
    /// </summary>
    protected internal virtual bool WritesDocument => false;

    /// <summary>
    /// Prefix of the environment variables that set parameters: with <c>LLMSTACK</c>, <c>LLMSTACK_ENVIRONMENT</c> sets
    /// <c>--environment</c>. The build names it; the engine knows no product.
    /// </summary>
    protected internal virtual string EnvironmentPrefix => "BUILD";

    /// <summary>
    /// Files whose content the help depends on beyond the build program and the parameter files (the sources of value
    /// sets, e.g. the file environment names come from): a change to one invalidates the cached <c>--help</c>.
    /// </summary>
    protected internal virtual IReadOnlyList<string> HelpInputs => [];

    /// <summary>How users start the build (for help text), e.g. <c>./build.sh</c>.</summary>
    protected internal virtual string CommandName => "build";

    /// <summary>
    /// Turns an exception a target did not expect into one line for the user (a refused request of a service the build
    /// talks to, say), or null to log it with its stack trace. The stack trace still goes to the log files.
    /// </summary>
    protected internal virtual string? DescribeFailure(Exception exception) => null;

    /// <summary>
    /// Called once before the first target of a run executes (parameters injected, plan made, logger ready; never for
    /// <c>--help</c> or <c>--plan</c>), as NUKE's <c>OnBuildInitialized</c>. An exception fails the run before anything ran.
    /// </summary>
    protected internal virtual void OnBuildInitialized()
    {
    }

    /// <summary>Called once when a run that executed targets ends (success, failure or Ctrl-C): release what the run held.</summary>
    protected internal virtual void OnBuildFinished()
    {
    }

    /// <summary>Every parameter of the build (built-ins excluded), once discovered.</summary>
    public IReadOnlyList<ParameterDescriptor> Parameters { get; internal set; } = [];

    /// <summary>Every target, in declaration order.</summary>
    public IReadOnlyList<ExecutableTarget> Targets { get; internal set; } = [];

    public IReadOnlyList<ExecutableTarget> ExecutionPlan { get; internal set; } = [];

    public IEnumerable<ExecutableTarget> InvokedTargets => ExecutionPlan.Where(t => t.Invoked);

    public IEnumerable<ExecutableTarget> SucceededTargets => ExecutionPlan.Where(t => t.Status == ExecutionStatus.Succeeded);

    public IEnumerable<ExecutableTarget> FailedTargets => ExecutionPlan.Where(t => t.Status == ExecutionStatus.Failed);

    public IEnumerable<ExecutableTarget> SkippedTargets => ExecutionPlan.Where(t => t.Status == ExecutionStatus.Skipped);

    public bool IsSucceeding => ExecutionPlan.All(t => t.Status is not (ExecutionStatus.Failed or ExecutionStatus.Aborted or ExecutionStatus.NotRun));

    /// <summary>
    /// Cancelled only by a second Ctrl-C (the token assured targets run with after the first): for work that must finish
    /// even though the run was cancelled, such as putting back data a cancelled step half replaced. Code that uses it
    /// must name what is left undone when it is cancelled too.
    /// </summary>
    public CancellationToken CleanupToken { get; internal set; }

    /// <summary>The target running now, if any.</summary>
    public ExecutableTarget? CurrentTarget { get; internal set; }

    /// <summary>
    /// The exit code of a run in which every planned target succeeded or was skipped (null: 0), for a target whose success
    /// has more than one answer (a plan: 0 no changes, 2 changes, as <c>terraform plan -detailed-exitcode</c>). A failure (1)
    /// or a cancel (130) always wins over it, so a later failing target is never reported as a success.
    /// </summary>
    public int? ExitCode { get; set; }

    /// <summary>Adds <c>key: value</c> to the running target's row in the summary table.</summary>
    public void ReportSummary(string key, string value)
    {
        if (CurrentTarget is { } target)
        {
            var pair = Secrets.Mask($"{key}: {value}");
            target.SummaryInfo = target.SummaryInfo is null ? pair : $"{target.SummaryInfo}, {pair}";
        }
    }

    public T? TryGetValue<T>(Expression<Func<T>> parameter)
    {
        var body = parameter.Body is UnaryExpression { NodeType: ExpressionType.Convert } convert ? convert.Operand : parameter.Body;
        if (body is not MemberExpression member)
        {
            throw new ArgumentException("TryGetValue expects a member access: () => Member", nameof(parameter));
        }

        var value = _parameters?.ComponentValue(member.Member);
        return value is null ? default : (T)value;
    }

    internal void Attach(ParameterService parameters) => _parameters = parameters;

    /// <summary>The targets of a build with their resolved edges, without running anything (for tests and tools).</summary>
    public static IReadOnlyList<ExecutableTarget> DescribeTargets(PipelineBuild build) => TargetDiscovery.Discover(build);

    /// <summary>
    /// As <see cref="DescribeTargets(PipelineBuild)"/>, for a build whose declarations read files of its repository
    /// (<paramref name="rootDirectory"/>, as <c>--root</c> gives it to a run).
    /// </summary>
    public static IReadOnlyList<ExecutableTarget> DescribeTargets(PipelineBuild build, string rootDirectory)
    {
        build.RootDirectory = rootDirectory;
        return TargetDiscovery.Discover(build);
    }

    /// <summary>Runs the build with the process's console, environment and Ctrl-C handling.</summary>
    protected static Task<int> Execute<T>(string[] args) where T : PipelineBuild, new() =>
        PipelineRunner.RunAsync<T>(new RunOptions { Arguments = args, HandleCancelKey = true });
}
