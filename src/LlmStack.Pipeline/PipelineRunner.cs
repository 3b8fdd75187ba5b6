using System.Collections;

namespace LlmStack.Pipeline;

/// <summary>How a run is hosted: tests pass their own writers, environment and root.</summary>
public sealed record RunOptions
{
    public IReadOnlyList<string> Arguments { get; init; } = [];

    /// <summary>Console output; null uses the process console (with colors).</summary>
    public TextWriter? Output { get; init; }

    /// <summary>Where the one-line error goes; null uses standard error.</summary>
    public TextWriter? Error { get; init; }

    /// <summary>Environment variables; null uses the process environment.</summary>
    public IReadOnlyDictionary<string, string>? EnvironmentVariables { get; init; }

    /// <summary>Where the root search starts; null uses the current directory.</summary>
    public string? WorkingDirectory { get; init; }

    /// <summary>Install a Ctrl-C (and SIGTERM, SIGHUP) handler: the first cancels the running target, the second the assured ones.</summary>
    public bool HandleCancelKey { get; init; }

    public CancellationToken CancellationToken { get; init; }

    /// <summary>Cancels the build's cleanup token, as a second Ctrl-C does (embedding and tests).</summary>
    public CancellationToken CleanupCancellationToken { get; init; }

    /// <summary>Called with the build instance right after it is created (tests inspect plans and statuses).</summary>
    public Action<PipelineBuild>? Created { get; init; }
}

/// <summary>Parses the command line, resolves parameters, discovers and plans targets, then runs them.</summary>
public static class PipelineRunner
{
    public const int Failure = 1;
    public const int Cancelled = 130;


    public static Task<int> RunAsync<T>(RunOptions options) where T : PipelineBuild, new() => RunAsync(new T(), options);

    /// <summary>
    /// The run itself, not generic: precompiled (ReadyToRun) with the engine, where an async method generic over the
    /// build class would be compiled at start-up by the JIT.
    /// </summary>
    public static async Task<int> RunAsync(PipelineBuild build, RunOptions options)
    {
        options.Created?.Invoke(build);
        build.Out = new MaskingTextWriter(options.Output ?? Console.Out, build.Secrets);
        build.Document = build.Out;
        var error = new MaskingTextWriter(options.Error ?? Console.Error, build.Secrets);
        using var run = CancellationTokenSource.CreateLinkedTokenSource(options.CancellationToken);
        using var assured = CancellationTokenSource.CreateLinkedTokenSource(options.CleanupCancellationToken);
        build.CleanupToken = assured.Token;
        var presses = 0;

        // Ctrl-C, and SIGTERM or SIGHUP (a CI runner cancelling the job, a closed terminal) alike: the first stops the
        // running target and runs its cleanup, the second stops the cleanup too, a third ends the process at once.
        bool Press(string what)
        {
            var press = Interlocked.Increment(ref presses);
            if (press == 1)
            {
                error.WriteLine($"Cancelling ({what}): stopping the running target (again to stop its cleanup and the cleanup targets too).");
                run.Cancel();
            }
            else if (press == 2)
            {
                error.WriteLine("Cancelling the cleanup too: what it leaves undone is named below.");
                assured.Cancel();
            }

            return press <= 2;
        }

        ConsoleCancelEventHandler onCancel = (_, e) => e.Cancel = Press("Ctrl-C");
        var signals = new List<System.Runtime.InteropServices.PosixSignalRegistration>();
        if (options.HandleCancelKey)
        {
            Console.CancelKeyPress += onCancel;
            if (!OperatingSystem.IsWindows())
            {
                foreach (var (signal, name) in new[] { (System.Runtime.InteropServices.PosixSignal.SIGTERM, "SIGTERM"), (System.Runtime.InteropServices.PosixSignal.SIGHUP, "SIGHUP") })
                {
                    signals.Add(System.Runtime.InteropServices.PosixSignalRegistration.Create(signal, context => context.Cancel = Press(name)));
                }
            }
        }

        Serilog.Core.Logger? logger = null;
        try
        {
            var commandLine = CommandLine.Parse(options.Arguments);
            var variables = options.EnvironmentVariables ?? ProcessEnvironment();
            build.Variables = variables;
            build.GitHubActions = GitHubActionsLog.From(variables, build.Secrets);
            var prefix = build.EnvironmentPrefix;

            // A plain --help (or no target at all) with the root found as usual is served from the help cache before
            // anything else is made (parameter service, JSON, logging), when nothing it is made of changed.
            string? helpKey = null;
            if (commandLine.Positional.Count == 0 && commandLine.HasOnly(Naming.Normalize(BuiltInParameters.HelpName))
                && !HasVariable(variables, Naming.Normalize(prefix + BuiltInParameters.RootName)))
            {
                build.RootDirectory = FindRoot(options.WorkingDirectory ?? Directory.GetCurrentDirectory());
                helpKey = HelpCache.Key(build.GetType(), build.RootDirectory, options.Arguments, variables, prefix, build.HelpInputs);
                if (HelpCache.TryWrite(build.TemporaryDirectory, helpKey, build.Out))
                {
                    return 0;
                }
            }

            var service = new ParameterService(commandLine, variables, prefix);
            var builtIns = new BuiltInParameters(prefix);

            var root = service.Raw(builtIns.Root) is { } rootValue
                ? Path.GetFullPath((string)ParameterService.Convert(builtIns.Root, rootValue)!, options.WorkingDirectory ?? Directory.GetCurrentDirectory())
                : FindRoot(options.WorkingDirectory ?? Directory.GetCurrentDirectory());
            if (!Directory.Exists(root))
            {
                throw new PipelineException($"Root directory '{root}' does not exist: pass an existing --root.");
            }

            build.RootDirectory = root;
            var verbosity = service.Raw(builtIns.Verbosity) is { } v ? (Verbosity)ParameterService.Convert(builtIns.Verbosity, v)! : Verbosity.Normal;
            var profiles = service.Raw(builtIns.Profile) is { } p ? (string[])ParameterService.Convert(builtIns.Profile, p)! : [];
            service.LoadFiles(Path.Combine(root, ".nuke"), profiles);

            var parameters = ParameterService.Discover(build, prefix);
            build.Parameters = parameters;
            CheckUnknownNames(commandLine, parameters.Concat(builtIns.All).ToList());
            build.Attach(service);

            // Targets are discovered and the committed build.schema.json refreshed before any value is injected,
            // so value sets in it come from the defaults, not from this run's --schema or similar.
            var targets = TargetDiscovery.Discover(build);
            build.Targets = targets;
            BuildSchemaWriter.WriteIfChanged(Path.Combine(root, ".nuke", "build.schema.json"), build.TemporaryDirectory, targets, parameters, builtIns);

            var given = new List<(ParameterDescriptor Parameter, IReadOnlyList<string> Raw)>();
            foreach (var parameter in parameters)
            {
                if (service.Raw(parameter) is { } raw)
                {
                    var value = ParameterService.Convert(parameter, raw);
                    service.Inject(build, parameter, value);
                    given.Add((parameter, raw));
                    if (parameter.IsSecret)
                    {
                        foreach (var item in raw)
                        {
                            build.Secrets.Register(item);
                        }
                    }
                }
            }

            foreach (var parameter in parameters)
            {
                parameter.ResetValueSet();
            }

            var help = service.Raw(builtIns.Help) is { } h && (bool)ParameterService.Convert(builtIns.Help, h)!;
            var invoked = commandLine.Positional
                .Concat(service.Raw(builtIns.Target) ?? [])
                .ToList();
            if (help || invoked.Count == 0)
            {
                // Help never depends on a parameter file being well-formed: the broken file is named, then help follows.
                if (service.FileError is { } fileError)
                {
                    error.WriteLine($"warning: {fileError.Message} (ignored for --help; a run fails on it)");
                }

                var text = new StringWriter();
                HelpWriter.Write(text, targets, parameters, builtIns, build.CommandName, prefix);
                build.Out.Write(text.ToString());
                if (helpKey is not null && service.FileError is null)
                {
                    HelpCache.Save(build.TemporaryDirectory, helpKey, text.ToString());
                }

                return 0;
            }

            if (service.FileError is { } brokenFile)
            {
                throw brokenFile;
            }

            // The logger (console, build.log, build.json) is only needed once something runs: help stays fast.
            // <PREFIX>_LOG_DIRECTORY moves build.log/build.json (a nested run, e.g. from a test, keeps its parent's logs intact).
            var logDirectory = variables.TryGetValue(prefix + "_LOG_DIRECTORY", out var directory) && directory.Length > 0 ? directory : build.TemporaryDirectory;
            // A run whose standard output is a document (--json) gives it nothing else: banners, tables, the summary and
            // every log line go to standard error, so `./build.sh X --json | jq .` works.
            var documentRun = build.WritesDocument;
            if (documentRun)
            {
                build.Out = error;
            }

            logger = Logging.Create(
                logDirectory, verbosity, options.Output is null ? null : documentRun ? error : options.Output, options.Output is null ? null : error, build.Secrets, () => build.CurrentTarget?.Name,
                allToStandardError: documentRun && options.Output is null);
            build.Log = logger;
            foreach (var warning in service.Warnings)
            {
                build.Log.Warning("{Warning}", warning);
            }

            foreach (var (parameter, raw) in given.Where(g => g.Parameter.ValueProvider is not null))
            {
                var canonical = ParameterService.CheckValueSet(parameter, raw);
                service.Inject(build, parameter, ParameterService.Convert(parameter, canonical));
            }

            var plan = ExecutionPlanner.Plan(targets, invoked);
            build.ExecutionPlan = plan;
            foreach (var name in BuildExecutor.ApplySkips(targets, plan, service.Raw(builtIns.Skip)))
            {
                build.Log.Debug("--skip {Target}: not in this run's plan, ignored", name);
            }

            if (service.Raw(builtIns.Plan) is { } planRaw && (bool)ParameterService.Convert(builtIns.Plan, planRaw)!)
            {
                PlanWriter.Write(build.Out, targets, plan, Path.Combine(build.TemporaryDirectory, "plan.mmd"), root);
                return 0;
            }

            ParameterHeader.Write(build.Log, parameters, build.Secrets);
            try
            {
                build.OnBuildInitialized();
                return await BuildExecutor.RunAsync(build, plan, run.Token, assured.Token);
            }
            finally
            {
                build.OnBuildFinished();
            }
        }
        catch (PipelineException e)
        {
            // Once the logger exists it prints the error (console and files); before that, standard error does. Never both.
            if (logger is not null)
            {
                logger.Error("{Message}", e.Message);
            }
            else
            {
                error.WriteLine($"error: {e.Message}");
            }

            return Failure;
        }
        finally
        {
            if (options.HandleCancelKey)
            {
                Console.CancelKeyPress -= onCancel;
                signals.ForEach(registration => registration.Dispose());
            }

            logger?.Dispose();
            build.Out.Flush();
            build.Document.Flush();
            error.Flush();
        }
    }

    /// <summary>The nearest directory upwards holding <c>.nuke/</c>.</summary>
    internal static string FindRoot(string start)
    {
        for (var directory = new DirectoryInfo(start); directory is not null; directory = directory.Parent)
        {
            if (Directory.Exists(Path.Combine(directory.FullName, ".nuke")))
            {
                return directory.FullName;
            }
        }

        throw new PipelineException($"No .nuke directory in '{start}' or above: run from the repository, or pass --root.");
    }

    private static void CheckUnknownNames(CommandLine commandLine, IReadOnlyList<ParameterDescriptor> parameters)
    {
        foreach (var (normalized, token) in commandLine.Names)
        {
            if (parameters.Any(p => Naming.Normalize(p.Name) == normalized))
            {
                continue;
            }

            var closest = Naming.Closest(token, parameters.Where(p => p.Listed).Select(p => p.DisplayName), 2);
            var hint = closest.Count > 0 ? $"did you mean {string.Join(" or ", closest)}?" : "run --help for the parameters.";
            throw new PipelineException($"Unknown parameter '{token}': {hint}");
        }
    }

    /// <summary>Whether a variable's normalized name is <paramref name="normalized"/> (a plain loop: no LINQ on the help path).</summary>
    private static bool HasVariable(IReadOnlyDictionary<string, string> variables, string normalized)
    {
        foreach (var name in variables.Keys)
        {
            if (Naming.Normalize(name) == normalized)
            {
                return true;
            }
        }

        return false;
    }

    private static Dictionary<string, string> ProcessEnvironment()
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            result[(string)entry.Key] = (string?)entry.Value ?? string.Empty;
        }

        return result;
    }
}

/// <summary>The engine's own parameters.</summary>
internal sealed class BuiltInParameters(string prefix)
{
    public const string HelpName = "Help";
    public const string RootName = "Root";

    public ParameterDescriptor Target { get; } = Create(prefix, "Target", typeof(string[]), "Targets to run (also positional; separate with spaces or '+')", '+');

    public ParameterDescriptor Skip { get; } = Create(prefix, "Skip", typeof(string[]), "Targets to skip with the dependencies only they need; without names, every target not invoked", '+');

    public ParameterDescriptor Help { get; } = Create(prefix, HelpName, typeof(bool), "Show targets and parameters");

    public ParameterDescriptor Plan { get; } = Create(prefix, "Plan", typeof(bool), "Show the execution plan and write a Mermaid graph to .nuke/temp/plan.mmd, run nothing");

    public ParameterDescriptor Root { get; } = Create(prefix, RootName, typeof(string), "Repository root (default: nearest directory with .nuke/)");

    public ParameterDescriptor Verbosity { get; } = Create(prefix, "Verbosity", typeof(Verbosity), "Console verbosity; files always log everything");

    public ParameterDescriptor Profile { get; } = Create(prefix, "Profile", typeof(string[]), "Also load .nuke/parameters.<profile>.json (later profiles win)");

    public IReadOnlyList<ParameterDescriptor> All => [Target, Skip, Help, Plan, Root, Verbosity, Profile];

    private static ParameterDescriptor Create(string prefix, string name, Type type, string description, char separator = default) =>
        new(name, type, description) { IsBuiltIn = true, Separator = separator, VariableName = ParameterService.VariableNameFor(prefix, name) };
}
