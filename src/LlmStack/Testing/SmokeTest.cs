using System.Diagnostics;
using System.Globalization;
using System.Text;
using LlmStack.Compose;
using LlmStack.Engine;
using LlmStack.Pipeline;
using LlmStack.Reporting;
using LlmStack.Schema;
using LlmStack.Security;
using LlmStack.Sessions;
using Serilog;

namespace LlmStack.Testing;

/// <summary>One SmokeTest result: a service's check (<c>running</c>, <c>ready</c>, or a <c>smoke:</c> check), passed or failed with why.</summary>
public sealed record SmokeResult(string Service, string Check, bool Passed, string Detail, double Seconds);

/// <summary>The table, the JUnit cases and the failure of a SmokeTest (pure).</summary>
public static class SmokeTestReport
{
    public static Report Report(string environment, IReadOnlyList<SmokeResult> results, string junitDisplay)
    {
        var table = new TextTable("Service", "Check", "Result", "Detail");
        foreach (var result in results)
        {
            table.Add(result.Service, result.Check, result.Passed ? "passed" : "FAILED", result.Detail);
        }

        var failed = results.Where(r => !r.Passed).Select(r => $"{r.Service} {r.Check}: {r.Detail}").ToList();
        return new Report { Document = new { environment, junit = junitDisplay, results } }
            .Line($"Smoke test of environment {environment}: {results.Count(r => r.Passed)} of {results.Count} check(s) passed; JUnit in {junitDisplay}")
            .Table(table)
            .FailWhen(failed, f => $"smoke test of {environment}: {f.Count} check(s) failed: {string.Join(" | ", f)}");
    }

    public static IReadOnlyList<JUnitCase> Cases(string environment, IReadOnlyList<SmokeResult> results) =>
        results.Select(r => new JUnitCase($"SmokeTest.{environment}.{r.Service}", r.Check, r.Seconds, r.Passed ? null : r.Detail, r.Detail)).ToList();

    /// <summary>The status code of a raw HTTP response (<c>HTTP/1.1 404 Not Found</c>), or null.</summary>
    public static int? Status(string response)
    {
        var line = response.Split('\n', 2)[0].Trim();
        var parts = line.Split(' ', 3);
        return parts.Length >= 2 && parts[0].StartsWith("HTTP/", StringComparison.Ordinal) && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var code) ? code : null;
    }

    /// <summary>The path of a redirect's <c>Location</c> when it stays on the service (a path, or a URL naming it), else null.</summary>
    public static string? SameServiceLocation(string response, string service)
    {
        foreach (var line in response.Split('\n').Skip(1).Select(l => l.TrimEnd('\r')).TakeWhile(l => l.Length > 0))
        {
            if (line.StartsWith("Location:", StringComparison.OrdinalIgnoreCase))
            {
                var location = line["Location:".Length..].Trim();
                if (location.StartsWith('/'))
                {
                    return location;
                }

                return Uri.TryCreate(location, UriKind.Absolute, out var uri) && uri.Host == service ? uri.PathAndQuery : null;
            }
        }

        return null;
    }

    /// <summary>The request a check sends (HTTP/1.0: the server closes the connection after answering).</summary>
    public static string Request(string host, SmokeCheck check, string? bearer)
    {
        var request = new StringBuilder()
            .Append(CultureInfo.InvariantCulture, $"{check.Method.ToString().ToUpperInvariant()} {check.Path} HTTP/1.0\r\n")
            .Append(CultureInfo.InvariantCulture, $"Host: {host}:{check.Port}\r\n")
            .Append("User-Agent: llmstack-smoke-test\r\nConnection: close\r\n");
        if (bearer is not null)
        {
            request.Append(CultureInfo.InvariantCulture, $"Authorization: Bearer {bearer}\r\n");
        }

        return request.Append("\r\n").ToString();
    }
}

/// <summary>
/// SmokeTest: every service of the environment's running stacks (a stack with any container counts as running; it
/// starts nothing) — running, ready (Docker's health verdict) and the schema's <c>smoke:</c> checks, each an HTTP request
/// sent from a helper container on the service's own stack network to the service by its name (so from inside the
/// environment's networks). The request goes to the helper's <c>nc</c> on standard input: a bearer secret is never on a
/// command line, in an environment variable or in the output.
/// </summary>
public sealed class SmokeTestOperations(EnvironmentSession session, string helperImage, ILogger log)
{
    public async Task<string> RunAsync(CancellationToken cancellationToken)
    {
        var environment = session.Environment;
        var engine = await session.EngineAsync(cancellationToken);
        var containers = await engine.ServiceContainersAsync(Scope.Of(environment), cancellationToken);
        var running = containers.Select(c => c.Labels.Value(Names.Stack)).OfType<string>().ToHashSet(StringComparer.Ordinal);
        if (running.Count == 0)
        {
            throw new PipelineException($"nothing of environment {environment.Name} runs: start it first (Start, or Start<Stack>); SmokeTest starts nothing");
        }

        var services = environment.Services.Where(s => running.Contains(s.Stack)).ToList();
        IReadOnlyDictionary<string, string>? secrets = null;
        if (services.Any(s => s.Smoke.Any(c => c.BearerSecret is not null)))
        {
            secrets = SecretStore.Read(session.SecretsPath);
            foreach (var value in secrets.Values)
            {
                session.Options.Masker.Register(value);
            }
        }

        var helpers = await session.HelpersAsync(cancellationToken);
        var results = new List<SmokeResult>();
        var started = DateTimeOffset.UtcNow;
        foreach (var service in services)
        {
            var container = containers.Where(c => c.Labels.Value(Names.Service) == service.Name).OrderBy(c => c.Names[0], StringComparer.Ordinal).FirstOrDefault();
            if (container is null || container.RunState() != ContainerRunState.Running)
            {
                var state = container is null ? "no container" : container.State;
                results.Add(new SmokeResult(service.Name, "running", false, $"not running ({state}): Start{Health.Capitalize(service.Stack)} brings it back", 0));
                continue;
            }

            results.Add(new SmokeResult(service.Name, "running", true, container.Status, 0));
            results.Add(await ReadyAsync(engine, container.ID, service, cancellationToken));
            foreach (var check in service.Smoke)
            {
                results.Add(await CheckAsync(helpers, service, check, secrets, cancellationToken));
            }
        }

        var path = Path.Combine(session.Options.State.SmokeTestResults, $"{environment.Name}.xml");
        JUnitXml.Write(path, $"SmokeTest {environment.Name}", SmokeTestReport.Cases(environment.Name, results), started);
        var display = Path.GetRelativePath(session.Options.Schema.RootDirectory, path);
        session.Options.Reports.Write(SmokeTestReport.Report(environment.Name, results, display));
        return $"{results.Count(r => r.Passed)}/{results.Count} passed";
    }

    /// <summary>
    /// Ready: the service's healthcheck run now in its container (<see cref="Health.ProbeAsync"/>, as Start's readiness
    /// runs it; Docker's own verdict says <c>starting</c> for a whole interval after a start), else Docker's verdict.
    /// </summary>
    private static async Task<SmokeResult> ReadyAsync(DockerEngine engine, string containerId, ResolvedService service, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        if (service.Healthcheck is { Disabled: false } check)
        {
            var (passed, output) = await Health.ProbeAsync(engine, containerId, check, cancellationToken);
            return new SmokeResult(service.Name, "ready", passed, passed ? "healthcheck passes" : $"healthcheck fails: {(output.Length > 200 ? output[..200] + "…" : output)}", clock.Elapsed.TotalSeconds);
        }

        var inspect = await engine.CallAsync(ct => engine.Client.Containers.InspectContainerAsync(containerId, ct), cancellationToken);
        var health = inspect.State is { } inspected ? inspected.Health() : HealthState.None;
        return health == HealthState.Unhealthy
            ? new SmokeResult(service.Name, "ready", false, "Docker says unhealthy", clock.Elapsed.TotalSeconds)
            : new SmokeResult(service.Name, "ready", true, "running (no healthcheck)", clock.Elapsed.TotalSeconds);
    }

    private async Task<SmokeResult> CheckAsync(HelperContainers helpers, ResolvedService service, SmokeCheck check, IReadOnlyDictionary<string, string>? secrets, CancellationToken cancellationToken)
    {
        string? bearer = null;
        if (check.BearerSecret is { } name && (secrets is null || !secrets.TryGetValue(name, out bearer)))
        {
            return new SmokeResult(service.Name, check.Name, false, $"secret {name} is not in {session.SecretsPath}: SetupSecrets creates it", 0);
        }

        var clock = Stopwatch.StartNew();
        HelperResult result;
        var path = check.Path;
        var redirects = 0;
        while (true)
        {
            var request = Encoding.ASCII.GetBytes(SmokeTestReport.Request(service.Name, check with { Path = path }, bearer));
            try
            {
                result = await helpers.RunAsync(
                    new HelperSpec
                    {
                        Purpose = "smoke-test",
                        Image = session.MapImage(helperImage),
                        Entrypoint = ["nc"],
                        Command = ["-w", "10", service.Name, check.Port.ToString(CultureInfo.InvariantCulture)],
                        Network = session.Environment.NetworkOf(service.Stack).Name,
                        Stdin = async (stdin, ct) => await stdin.WriteAsync(request, ct),
                        Timeout = TimeSpan.FromSeconds(20),
                    },
                    cancellationToken);
            }
            catch (PipelineException e)
            {
                return new SmokeResult(service.Name, check.Name, false, e.Message, clock.Elapsed.TotalSeconds);
            }

            // A redirect on the same service is followed (at most 3), as HTTP clients do, unless the check expects it.
            if (SmokeTestReport.Status(result.Output) is 301 or 302 or 303 or 307 or 308 && check.Status is < 300 or > 399 && redirects < 3
                && SmokeTestReport.SameServiceLocation(result.Output, service.Name) is { } next)
            {
                path = next;
                redirects++;
                continue;
            }

            break;
        }

        var status = SmokeTestReport.Status(result.Output);
        log.Debug("Smoke {Service} {Check}: {Status}", service.Name, check.Name, status);
        return status == check.Status
            ? new SmokeResult(service.Name, check.Name, true, $"{status}", clock.Elapsed.TotalSeconds)
            : new SmokeResult(service.Name, check.Name, false, status is null
                ? $"no HTTP answer from {service.Name}:{check.Port} (nc exit {result.ExitCode}{(result.Errors.Count > 0 ? ": " + result.Errors[^1] : string.Empty)})"
                : $"answered {status}, expected {check.Status}", clock.Elapsed.TotalSeconds);
    }
}
