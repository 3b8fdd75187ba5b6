using System.Globalization;
using LlmStack.Schema;

namespace LlmStack.Testing;

/// <summary><c>configs/load-tests.yaml</c>, bound like the schema (unknown keys and wrong shapes are diagnostics with file:line:col).</summary>
public sealed class LoadTestConfig : SchemaNode
{
    public Dictionary<string, LoadPlanDefinition> Plans { get; set; } = new();
}

/// <summary>One plan: a JMeter file of <c>configs/jmeter/</c>, what it targets, its load and its thresholds.</summary>
public sealed class LoadPlanDefinition : SchemaNode
{
    /// <summary>The .jmx file, relative to <c>configs/jmeter/</c> (mounted at <c>/tests</c> in the jmeter service).</summary>
    public string? File { get; set; }

    /// <summary>The service the plan addresses by its DNS name on the environment's networks (JMeter property <c>host</c>).</summary>
    public string? Target { get; set; }

    /// <summary>The target's container port (property <c>port</c>).</summary>
    public int? Port { get; set; }

    /// <summary>Concurrent users (property <c>threads</c>).</summary>
    public int? Threads { get; set; }

    /// <summary>Seconds to start them all (property <c>rampup</c>).</summary>
    public int? RampUp { get; set; }

    /// <summary>Iterations per user (property <c>loops</c>); or <see cref="Duration"/>.</summary>
    public int? Loops { get; set; }

    /// <summary>Seconds to run instead of a number of loops (property <c>duration</c>; loops then -1).</summary>
    public int? Duration { get; set; }

    /// <summary>Further JMeter properties of the plan (passed as -J; the plan reads them with <c>${__P(name,default)}</c>).</summary>
    public Dictionary<string, string> Properties { get; set; } = new();

    /// <summary>Per label (a sampler's name; <c>"*"</c>: every label without its own entry), the limits.</summary>
    public Dictionary<string, LoadThreshold> Thresholds { get; set; } = new();
}

/// <summary>The limits of one label: a breach fails LoadTest naming the plan, the label and the figure.</summary>
public sealed class LoadThreshold : SchemaNode
{
    /// <summary>The largest acceptable share of failed samples, 0 to 1.</summary>
    public double? MaxErrorRate { get; set; }

    /// <summary>The largest acceptable 95th percentile of the elapsed time, in milliseconds.</summary>
    public double? MaxP95Ms { get; set; }
}

/// <summary>Loads and checks <c>configs/load-tests.yaml</c>.</summary>
public static class LoadTestConfigLoader
{
    public const string DefaultPath = "configs/load-tests.yaml";

    /// <summary>Where the plans are on the host (and, mounted, at <c>/tests</c> in the jmeter service).</summary>
    public const string PlanDirectory = "configs/jmeter";

    public static (LoadTestConfig? Config, IReadOnlyList<Diagnostic> Diagnostics) Load(string path, string displayPath, ComposeSchema schema, string planDirectory) =>
        ConfigDiagnostics.Load<LoadTestConfig>(path, displayPath, "the load test configuration", $"load test configuration not found: create {displayPath} (docs/OPERATIONS.md#testing-a-running-environment) or pass --load-config PATH", (config, diagnostics) => Validate(config, schema, planDirectory, diagnostics));

    /// <summary>ValidateSchema's part: prints every diagnostic (file:line:col) and throws when there is an error.</summary>
    public static void Validate(SchemaFile schema, string configFile, TextWriter output, Serilog.ILogger log)
    {
        var (config, diagnostics) = Load(Path.GetFullPath(configFile, schema.RootDirectory), configFile, schema.Load(), Path.Combine(schema.RootDirectory, PlanDirectory));
        ConfigDiagnostics.Report(diagnostics, configFile, output);
        log.Information("{File} is valid: {Plans} load test plan(s)", configFile, config!.Plans.Count);
    }

    public static LoadTestConfig LoadValid(string path, string displayPath, ComposeSchema schema, string planDirectory) =>
        ConfigDiagnostics.Valid(Load(path, displayPath, schema, planDirectory));

    internal static void Validate(LoadTestConfig config, ComposeSchema schema, string planDirectory, DiagnosticBag diagnostics)
    {
        if (config.Plans.Count == 0)
        {
            diagnostics.Error(config.Location, "no plans: add one under plans: (docs/OPERATIONS.md#testing-a-running-environment)");
        }

        foreach (var (name, plan) in config.Plans)
        {
            if (plan.File is not { Length: > 0 } file)
            {
                diagnostics.Error(plan.Location, $"plan '{name}' has no file: name a .jmx of {PlanDirectory}/");
            }
            else if (!System.IO.File.Exists(Path.Combine(planDirectory, file)))
            {
                diagnostics.Error(plan.Locate("file"), $"plan '{name}': {PlanDirectory}/{file} does not exist");
            }

            if (plan.Target is not { Length: > 0 } target)
            {
                diagnostics.Error(plan.Location, $"plan '{name}' has no target: name the service it loads");
            }
            else if (!schema.Services.ContainsKey(target))
            {
                diagnostics.Error(plan.Locate("target"), $"plan '{name}': target '{target}' is not a service of the schema{References.DidYouMean(target, schema.Services.Keys)}");
            }

            if (plan.Loops is not null && plan.Duration is not null)
            {
                diagnostics.Error(plan.Locate("duration"), $"plan '{name}': loops and duration exclude each other: keep one");
            }

            foreach (var (key, value) in new (string, int?)[] { ("port", plan.Port), ("threads", plan.Threads), ("loops", plan.Loops), ("duration", plan.Duration) })
            {
                if (value is <= 0)
                {
                    diagnostics.Error(plan.Locate(key), $"plan '{name}': {key} must be positive");
                }
            }

            foreach (var (label, threshold) in plan.Thresholds)
            {
                if (threshold.MaxErrorRate is < 0 or > 1)
                {
                    diagnostics.Error(threshold.Locate("max_error_rate"), $"plan '{name}', label '{label}': max_error_rate is a share from 0 to 1 (0.01 is 1 %)");
                }

                if (threshold.MaxP95Ms is < 0)
                {
                    diagnostics.Error(threshold.Locate("max_p95_ms"), $"plan '{name}', label '{label}': max_p95_ms must not be negative");
                }
            }
        }
    }

    /// <summary>The threshold of a label: its own entry, else <c>"*"</c>, else none.</summary>
    public static LoadThreshold? ThresholdOf(LoadPlanDefinition plan, string label) =>
        plan.Thresholds.TryGetValue(label, out var own) ? own : plan.Thresholds.GetValueOrDefault("*");

    internal static string Text(double value) => value.ToString("0.###", CultureInfo.InvariantCulture);
}
