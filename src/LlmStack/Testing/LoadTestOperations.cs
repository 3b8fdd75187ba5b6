using System.Formats.Tar;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using LlmStack.Engine;
using LlmStack.Pipeline;
using LlmStack.Reporting;
using LlmStack.Sessions;
using Serilog;

namespace LlmStack.Testing;

/// <summary>What a LoadTest run may change from the command line over the plan's configuration.</summary>
public sealed record LoadTestOptions(string Plan, string ConfigPath, int? Threads = null, int? Loops = null, int? Duration = null, int? RampUp = null);

/// <summary>
/// LoadTest: a plan of <c>configs/jmeter/</c> run by JMeter in the environment's running jmeter service (the testing
/// stack; it starts nothing), addressed to its target by the service's DNS name through -J properties; the results
/// (JTL, jmeter.log, JMeter's HTML dashboard when the version has one) copied out into a fresh directory under the state
/// directory's <c>artifacts/load-tests/</c>, parsed here (<see cref="Jtl"/>), judged against configs/load-tests.yaml,
/// written as <c>summary.json</c>, <c>junit.xml</c> and the report.
/// </summary>
public sealed partial class LoadTestOperations(EnvironmentSession session, ILogger log)
{
    /// <summary>The schema's service that runs JMeter.</summary>
    public const string JmeterService = "jmeter";

    /// <summary>Where the plans are inside the jmeter service (configs/jmeter mounted read-only).</summary>
    public const string PlansInContainer = "/tests";

    private string Root => session.Options.Schema.RootDirectory;

    /// <summary>Runs the plan and writes its report; returns the run directory (for the summary line).</summary>
    public async Task<string> RunAsync(LoadTestOptions options, CancellationToken cancellationToken)
    {
        var config = LoadTestConfigLoader.LoadValid(Path.GetFullPath(options.ConfigPath, Root), options.ConfigPath, session.Options.Schema.Load(), Path.Combine(Root, LoadTestConfigLoader.PlanDirectory));
        if (!config.Plans.TryGetValue(options.Plan, out var plan))
        {
            throw new PipelineException($"no load test plan '{options.Plan}' in {options.ConfigPath}{Schema.References.Hint(options.Plan, config.Plans.Keys)}: pass --load-plan NAME");
        }

        var environment = session.Environment;
        if (!environment.Services.Any(s => s.Name == plan.Target))
        {
            throw new PipelineException($"load test '{options.Plan}': its target '{plan.Target}' is not a service of environment {environment.Name}");
        }

        if (!environment.Services.Any(s => s.Name == JmeterService))
        {
            throw new PipelineException($"environment {environment.Name} has no {JmeterService} service (its testing stack is not enabled): LoadTest runs JMeter there; enable the testing stack or run against an environment that has it");
        }

        var engine = await session.EngineAsync(cancellationToken);
        var (jmeterId, jmeterName) = await engine.RunningContainerAsync(environment, JmeterService, "to run load tests", cancellationToken);
        await engine.RunningContainerAsync(environment, plan.Target!, "to load it", cancellationToken);

        var started = DateTimeOffset.UtcNow;
        var runName = $"{options.Plan}-{started.UtcDateTime:yyyyMMdd-HHmmss}-{Guid.NewGuid().ToString("N")[..6]}";
        var runDirectory = Path.Combine(session.Options.State.LoadTestRuns, runName);
        Directory.CreateDirectory(runDirectory);
        var display = Path.GetRelativePath(Root, runDirectory);
        var inContainer = $"/tmp/llmstack-load-{runName}";

        var version = await JmeterVersionAsync(engine, jmeterId, cancellationToken);
        var dashboard = version.Major >= 3;
        string[] command =
        [
            "sh", "-c", "mkdir -p \"$0\" && echo $$ > \"$0/pid\" && exec jmeter \"$@\"", inContainer,
            "-n", "-t", $"{PlansInContainer}/{plan.File}", "-l", $"{inContainer}/results.jtl", "-j", $"{inContainer}/jmeter.log",
            "-Jjmeter.save.saveservice.output_format=csv", "-Jjmeter.save.saveservice.print_field_names=true", "-Jjmeter.save.saveservice.timestamp_format=ms",
            .. Properties(plan, options).Select(p => $"-J{p.Key}={p.Value}"),
            .. dashboard ? new[] { "-e", "-o", $"{inContainer}/dashboard" } : [],
        ];
        log.Information("LoadTest {Plan}: JMeter {Version} in {Container} against {Target}:{Port} ({Load}); results in {Directory}",
            options.Plan, version.Text, jmeterName, plan.Target, plan.Port ?? 80, Load(plan, options), display);
        Exec.Result result;
        var joined = await JoinTargetNetworkAsync(engine, jmeterId, environment.Service(JmeterService), environment.Service(plan.Target!), cancellationToken);
        try
        {
            result = await Exec.StreamAsync(engine, jmeterId, command, cancellationToken, stdout: new LineLogStream(line => log.Information("jmeter | {Line}", line)));
        }
        catch (OperationCanceledException)
        {
            await StopAsync(engine, jmeterId, inContainer);
            throw;
        }
        finally
        {
            await LeaveAsync(engine, jmeterId, joined);
        }

        try
        {
            await CopyOutAsync(engine, jmeterId, inContainer, runDirectory, cancellationToken);
        }
        finally
        {
            await Exec.RunAsync(engine, jmeterId, ["rm", "-rf", inContainer], session.Options.Cleanup);
        }

        var jtl = Path.Combine(runDirectory, "results.jtl");
        if (result.ExitCode != 0 || !File.Exists(jtl))
        {
            var why = result.ErrorLines.Concat(result.Output.Split('\n')).FirstOrDefault(l => l.Contains("Error", StringComparison.OrdinalIgnoreCase)) ?? $"exit code {result.ExitCode}";
            throw new PipelineException($"JMeter did not run plan '{options.Plan}' ({plan.File}): {why.Trim()}; see {display}/jmeter.log");
        }

        var samples = Jtl.Read(jtl);
        var verdicts = LoadTestReport.Judge(plan, LabelStatistics.Of(samples));
        var summary = LoadTestReport.Summary(options.Plan, environment.Name, $"{plan.Target}:{plan.Port ?? 80}", display, version.Text, verdicts, LabelStatistics.Total(samples));
        await File.WriteAllTextAsync(Path.Combine(runDirectory, "summary.json"), JsonSerializer.Serialize(summary, JsonDefaults.Document), cancellationToken);
        JUnitXml.Write(Path.Combine(runDirectory, "junit.xml"), $"LoadTest {options.Plan}", LoadTestReport.Cases(options.Plan, verdicts), started);
        session.Options.Reports.Write(LoadTestReport.Report(summary, display));
        return display;
    }

    /// <summary>The -J properties: host and port of the target (its DNS name on the environment's networks), the load, the plan's own.</summary>
    internal static IReadOnlyList<KeyValuePair<string, string>> Properties(LoadPlanDefinition plan, LoadTestOptions options)
    {
        var properties = new List<KeyValuePair<string, string>>
        {
            new("host", plan.Target!),
            new("port", (plan.Port ?? 80).ToString(CultureInfo.InvariantCulture)),
            new("threads", (options.Threads ?? plan.Threads ?? 1).ToString(CultureInfo.InvariantCulture)),
            new("rampup", (options.RampUp ?? plan.RampUp ?? 1).ToString(CultureInfo.InvariantCulture)),
        };
        var duration = options.Duration ?? (options.Loops is null ? plan.Duration : null);
        properties.Add(new("loops", duration is null ? (options.Loops ?? plan.Loops ?? 1).ToString(CultureInfo.InvariantCulture) : "-1"));
        if (duration is not null)
        {
            properties.Add(new("scheduler", "true"));
            properties.Add(new("duration", duration.Value.ToString(CultureInfo.InvariantCulture)));
        }

        properties.AddRange(plan.Properties.Where(p => properties.All(q => q.Key != p.Key)));
        return properties;
    }

    private static string Load(LoadPlanDefinition plan, LoadTestOptions options)
    {
        var properties = Properties(plan, options).ToDictionary(p => p.Key, p => p.Value);
        return properties.TryGetValue("duration", out var seconds)
            ? $"{properties["threads"]} thread(s) for {seconds} s"
            : $"{properties["threads"]} thread(s) × {properties["loops"]} loop(s)";
    }

    private static async Task<(int Major, string Text)> JmeterVersionAsync(DockerEngine engine, string container, CancellationToken cancellationToken)
    {
        var result = await Exec.RunAsync(engine, container, ["jmeter", "--version"], cancellationToken);
        var text = result.Output + "\n" + result.Error;
        var match = VersionLine().Match(text) is { Success: true } line ? line : BannerVersion().Match(text);
        return match.Success
            ? (int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture), $"{match.Groups[1].Value}.{match.Groups[2].Value}")
            : throw new PipelineException($"the jmeter service's 'jmeter --version' says no version (exit {result.ExitCode}): is its image a JMeter image?");
    }

    /// <summary>
    /// JMeter reaches its target by DNS name on a network both are on. The jmeter service joins only the testing stack's
    /// network, so for a target on no common network the jmeter container joins the target's own stack network for the
    /// run, under the environment lock (a change to what runs), and leaves it afterwards, also after Ctrl-C (cleanup
    /// token). Returns the network joined, or null.
    /// </summary>
    private async Task<string?> JoinTargetNetworkAsync(DockerEngine engine, string jmeterId, Schema.ResolvedService jmeter, Schema.ResolvedService target, CancellationToken cancellationToken)
    {
        if (jmeter.Networks.Intersect(target.Networks).Any())
        {
            return null;
        }

        await session.LockAsync(cancellationToken);
        var network = session.Environment.NetworkOf(target.Networks[0]).Name;
        log.Information("The jmeter service joins {Network} for this run, to reach {Target} by its name (it leaves it afterwards)", network, target.Name);
        await engine.CallAsync(ct => engine.Client.Networks.ConnectNetworkAsync(network, new Docker.DotNet.Models.NetworkConnectParameters { Container = jmeterId }, ct), cancellationToken);
        return network;
    }

    private async Task LeaveAsync(DockerEngine engine, string jmeterId, string? network)
    {
        if (network is null)
        {
            return;
        }

        try
        {
            await engine.CallAsync(ct => engine.Client.Networks.DisconnectNetworkAsync(network, new Docker.DotNet.Models.NetworkDisconnectParameters { Container = jmeterId, Force = true }, ct), session.Options.Cleanup);
        }
        catch (Exception e) when (e is OperationCanceledException or Docker.DotNet.DockerApiException)
        {
            log.Warning("The jmeter service is still on {Network}: StartTesting takes it off again ({Message})", network, e.Message);
        }
    }

    /// <summary>The run's directory in the container, unpacked into <paramref name="target"/> (archive API: nothing runs for it).</summary>
    private static async Task CopyOutAsync(DockerEngine engine, string container, string path, string target, CancellationToken cancellationToken)
    {
        var archive = await engine.Client.Containers.GetArchiveFromContainerAsync(container, new Docker.DotNet.Models.ContainerPathStatParameters { Path = path + "/." }, false, cancellationToken);
        // Read whole first (a run's results are small): the engine's chunked stream is not for a tar reader's skips.
        using var buffer = new MemoryStream();
        await using (var stream = archive.Stream ?? throw new PipelineException($"the engine sent no archive of {path}"))
        {
            await stream.CopyToAsync(buffer, cancellationToken);
        }

        buffer.Position = 0;
        await using var reader = new TarReader(buffer);
        while (await reader.GetNextEntryAsync(copyData: false, cancellationToken) is { } entry)
        {
            var name = entry.Name.StartsWith("./", StringComparison.Ordinal) ? entry.Name[2..] : entry.Name;
            if (name.Length == 0 || name == "." || name == "pid")
            {
                continue;
            }

            var destination = Path.GetFullPath(Path.Combine(target, name));
            if (!destination.StartsWith(Path.GetFullPath(target) + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            {
                continue; // never outside the run's directory
            }

            if (entry.EntryType == TarEntryType.Directory)
            {
                Directory.CreateDirectory(destination);
            }
            else if (entry.EntryType is TarEntryType.RegularFile or TarEntryType.V7RegularFile && entry.DataStream is { } data)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
                await using var file = File.Create(destination);
                await data.CopyToAsync(file, cancellationToken);
            }
        }
    }

    /// <summary>After Ctrl-C: JMeter in the container is stopped (its pid), with the cleanup token, and its directory removed.</summary>
    private async Task StopAsync(DockerEngine engine, string container, string path)
    {
        try
        {
            await Exec.RunAsync(engine, container, ["sh", "-c", "kill $(cat \"$0/pid\") 2>/dev/null; rm -rf \"$0\"", path], session.Options.Cleanup);
        }
        catch (Exception e) when (e is OperationCanceledException or Docker.DotNet.DockerApiException)
        {
            log.Warning("JMeter may still run in the jmeter service ({Path}): {Message}", path, e.Message);
        }
    }

    /// <summary>JMeter 2.x: <c>Version 2.13.19691222</c>.</summary>
    [GeneratedRegex(@"^Version (\d+)\.(\d+)", RegexOptions.Multiline)]
    private static partial Regex VersionLine();

    /// <summary>JMeter 3 and later: the version alone on a line under the banner (<c> 5.5</c>).</summary>
    [GeneratedRegex(@"^[\s|]*(\d+)\.(\d+)(\.\d+)?[\s|]*$", RegexOptions.Multiline)]
    private static partial Regex BannerVersion();
}

/// <summary>A write-only stream that hands each complete line to a callback (JMeter's console as log lines).</summary>
internal sealed class LineLogStream(Action<string> line) : WriteOnlyStream
{
    private readonly System.Text.StringBuilder _pending = new();

    public override void Write(byte[] buffer, int offset, int count)
    {
        _pending.Append(System.Text.Encoding.UTF8.GetString(buffer, offset, count));
        int newline;
        while ((newline = _pending.ToString().IndexOf('\n')) >= 0)
        {
            var text = _pending.ToString(0, newline).TrimEnd('\r');
            _pending.Remove(0, newline + 1);
            if (text.Length > 0)
            {
                line(text);
            }
        }
    }
}
