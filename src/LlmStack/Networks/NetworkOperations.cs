using System.Globalization;
using Docker.DotNet.Models;
using LlmStack.ChangeControl;
using LlmStack.Compose;
using LlmStack.Engine;
using LlmStack.Images;
using LlmStack.Pipeline;
using LlmStack.Schema;

namespace LlmStack.Networks;

/// <summary>A live network compared with the schema.</summary>
public sealed record NetworkState(string Name, string Stack, string State, string Expected, string Actual, IReadOnlyList<string> Containers);

/// <summary>One dependency probe: from a running service to a dependency's name and port (or health URL).</summary>
public sealed record ProbeResult(string From, string To, string Check, bool Passed, string Detail);

/// <summary>Network checks and cleanup for one environment on a live engine.</summary>
public sealed class NetworkOperations(
    DockerEngine engine, ResolvedEnvironment environment, IReadOnlyList<(string Environment, ResolvedNetwork Network)> schemaNetworks, HelperContainers helpers, ImageOperations images)
{
    private readonly Scope _scope = Scope.Of(environment);

    public async Task<IReadOnlyList<NetworkConflict>> ConflictsAsync(IReadOnlyList<ResolvedNetwork> wanted, HostNetworkState host, CancellationToken cancellationToken) =>
        NetworkConflicts.Find(environment, wanted, schemaNetworks, await DockerNetwork.ListAsync(engine, cancellationToken), host);

    public async Task<IReadOnlyList<(string Stack, System.Net.IPNetwork Subnet, System.Net.IPAddress Gateway, bool Changed)>> SuggestAsync(HostNetworkState host, CancellationToken cancellationToken) =>
        NetworkConflicts.Suggest(environment, schemaNetworks, await DockerNetwork.ListAsync(engine, cancellationToken), host);

    /// <summary>Live networks against the schema: existence, driver, subnet, gateway, labels, attachments.</summary>
    public async Task<(IReadOnlyList<NetworkState> Networks, IReadOnlyList<string> Drift)> ValidateAsync(CancellationToken cancellationToken)
    {
        var drift = new List<string>();
        var states = new List<NetworkState>();
        var all = await DockerNetwork.ListAsync(engine, cancellationToken);
        var containers = await ContainerDetailsAsync(cancellationToken);
        foreach (var network in environment.Networks)
        {
            var expected = $"{network.Driver} {network.Subnet} gw {network.Gateway}";
            var live = all.FirstOrDefault(n => n.Name == network.Name);
            var stackRunning = containers.Any(c => c.Config!.Labels.Value(Names.Stack) == network.Stack && c.State!.Running);
            if (live is null)
            {
                states.Add(new NetworkState(network.Name, network.Stack, stackRunning ? "missing" : "absent", expected, "-", []));
                if (stackRunning)
                {
                    drift.Add($"{network.Name}: missing while stack {network.Stack} runs");
                }

                continue;
            }

            var detail = await engine.CallAsync(ct => engine.Client.Networks.InspectNetworkAsync(live.Id, ct), cancellationToken);
            var config = detail.IPAM?.Config ?? [];
            var actual = $"{detail.Driver} {string.Join(",", config.Select(c => c.Subnet))} gw {string.Join(",", config.Select(c => c.Gateway))}";
            var problems = new List<string>();
            if (!_scope.Owns(detail.Labels))
            {
                problems.Add("exists without LlmStack's labels for this environment (not ours)");
            }
            else if (detail.Labels.Value(Names.Stack) != network.Stack || detail.Labels.Value(Names.ComposeNetwork) != network.Stack)
            {
                problems.Add($"labelled for stack {detail.Labels.Value(Names.Stack)}, expected {network.Stack}");
            }

            if (detail.Driver != network.Driver)
            {
                problems.Add($"driver {detail.Driver}, expected {network.Driver}");
            }

            if (config.Count != 1 || config[0].Subnet != network.Subnet.ToString())
            {
                problems.Add($"subnet {string.Join(",", config.Select(c => c.Subnet))}, expected {network.Subnet}");
            }
            else if (config[0].Gateway != network.Gateway.ToString())
            {
                problems.Add($"gateway {config[0].Gateway}, expected {network.Gateway}");
            }

            drift.AddRange(problems.Select(p => $"{network.Name}: {p}"));
            states.Add(new NetworkState(network.Name, network.Stack, problems.Count == 0 ? "ok" : "drift", expected, actual,
                detail.Containers?.Values.Select(c => c.Name).Order(StringComparer.Ordinal).ToList() ?? []));
        }

        foreach (var orphan in all.Where(n => _scope.Owns(n.Labels) && environment.Networks.All(w => w.Name != n.Name)))
        {
            states.Add(new NetworkState(orphan.Name, orphan.Labels.Value(Names.Stack) ?? "?", "orphan", "-", string.Join(",", orphan.Subnets), []));
            drift.Add($"{orphan.Name}: labelled for {environment.Name} but not in the schema's networks for it (CleanupNetworks removes it when unused)");
        }

        foreach (var container in containers.Where(c => c.State!.Running))
        {
            var name = container.Name.TrimStart('/');
            var service = environment.Services.FirstOrDefault(s => s.Name == container.Config!.Labels.Value(Names.Service));
            if (service is null)
            {
                drift.Add($"{name}: runs in {environment.Name} but its service is not in the schema");
                continue;
            }

            var want = service.Networks.Select(s => environment.NetworkOf(s).Name).ToHashSet(StringComparer.Ordinal);
            var have = container.NetworkSettings?.Networks?.Keys.ToHashSet(StringComparer.Ordinal) ?? [];
            foreach (var missing in want.Except(have).Order(StringComparer.Ordinal))
            {
                drift.Add($"{name}: not attached to {missing}");
            }

            foreach (var extra in have.Except(want).Order(StringComparer.Ordinal))
            {
                drift.Add($"{name}: also attached to {extra}, which the schema does not give it");
            }
        }

        return (states, drift);
    }

    /// <summary>
    /// From inside each running service (a probe container sharing its network namespace), resolves every
    /// dependency by service name, connects to its ports, and fetches its HTTP health endpoint.
    /// </summary>
    public async Task<IReadOnlyList<ProbeResult>> HealthAsync(string probeImage, CancellationToken cancellationToken)
    {
        var containers = (await ContainerDetailsAsync(cancellationToken)).Where(c => c.State!.Running).ToList();
        var results = new List<ProbeResult>();
        await images.EnsurePresentAsync(probeImage, "the network probe", cancellationToken);
        foreach (var service in environment.Services)
        {
            var container = containers.FirstOrDefault(c => c.Config!.Labels.Value(Names.Service) == service.Name);
            if (container is null || service.DependsOn.Count == 0)
            {
                continue;
            }

            var checks = service.DependsOn.SelectMany(d => Checks(environment.Service(d))).ToList();
            var script = string.Join('\n', checks.Select(c => c.Script));
            var output = await RunProbeAsync(container.ID, probeImage, script, cancellationToken);
            foreach (var (to, check, _) in checks)
            {
                var line = output.FirstOrDefault(l => l.StartsWith($"{to}|{check}|", StringComparison.Ordinal));
                var parts = line?.Split('|', 4);
                var passed = parts is { Length: >= 3 } && parts[2] == "ok";
                var detail = parts is { Length: 4 } ? parts[3].Trim() : line is null ? "no answer from the probe" : string.Empty;
                results.Add(new ProbeResult(service.Name, to, check, passed, passed ? string.Empty : System.Text.RegularExpressions.Regex.Replace(detail, @"\s+", " ")));
            }
        }

        return results;
    }

    /// <summary>DNS, TCP per container port, and the HTTP health endpoint of a dependency, as probe shell lines.</summary>
    internal static IEnumerable<(string To, string Check, string Script)> Checks(ResolvedService dependency)
    {
        var name = dependency.Name;
        yield return Probe(name, "dns", $"nslookup {name}");
        var ports = dependency.Ports.Where(p => p.Protocol == "tcp").Select(p => p.ContainerPort).ToList();
        var url = HealthUrl(dependency);
        if (url is not null && ports.Count == 0)
        {
            ports.Add(url.Value.Port);
        }

        foreach (var port in ports.Distinct())
        {
            yield return Probe($"{name}:{port.ToString(CultureInfo.InvariantCulture)}", "tcp", $"nc -w 3 {name} {port} </dev/null");
        }

        if (url is { } health)
        {
            var target = $"http://{name}:{health.Port}{health.Path}";
            yield return Probe(target, "http", $"timeout 5 wget -q -O /dev/null '{target}'");
        }
    }

    /// <summary>One probe line: <c>to|check|ok</c>, or <c>to|check|fail|last 200 characters of its output</c>.</summary>
    private static (string To, string Check, string Script) Probe(string to, string check, string command) =>
        (to, check, $"if out=$({command} 2>&1); then echo '{to}|{check}|ok'; else echo \"{to}|{check}|fail|$(echo \"$out\" | tr '\\n' ' ' | tail -c 200)\"; fi");

    /// <summary>The port and path of an HTTP healthcheck against 127.0.0.1/localhost, if the service has one.</summary>
    internal static (int Port, string Path)? HealthUrl(ResolvedService service)
    {
        if (service.Healthcheck is not { Disabled: false } check)
        {
            return null;
        }

        foreach (var part in check.Test.SelectMany(t => t.Split(' ')))
        {
            if (Uri.TryCreate(part.Trim('"', '\''), UriKind.Absolute, out var uri) && uri.Scheme == "http" && (uri.Host == "127.0.0.1" || uri.Host == "localhost"))
            {
                return (uri.Port, uri.PathAndQuery);
            }
        }

        return null;
    }

    private async Task<IReadOnlyList<string>> RunProbeAsync(string containerId, string image, string script, CancellationToken cancellationToken)
    {
        var result = await helpers.RunAsync(
            new HelperSpec
            {
                Purpose = "network-probe",
                Image = image,
                Entrypoint = ["/bin/sh", "-c"],
                Command = [script],
                NetworkOfContainer = containerId,
                Timeout = TimeSpan.FromMinutes(2),
            },
            cancellationToken);
        return [.. result.Lines, .. result.Errors];
    }

    /// <summary>
    /// The cleanup plan: networks this environment owns (labels) that are absent from its schema networks, or unused
    /// while their stack is stopped. Never one without our labels, never one a container uses; each is looked at again
    /// just before it is removed.
    /// </summary>
    public async Task<ChangePlan> CleanupPlanAsync(CancellationToken cancellationToken)
    {
        var containers = await ContainerDetailsAsync(cancellationToken);
        var remove = new List<PlannedChange>();
        var keep = new List<KeptResource>();
        foreach (var network in (await DockerNetwork.ListAsync(engine, cancellationToken)).Where(n => _scope.Owns(n.Labels)))
        {
            var stack = network.Labels.Value(Names.Stack);
            var inSchema = environment.Networks.Any(n => n.Name == network.Name);
            var stackStopped = containers.All(c => c.Config!.Labels.Value(Names.Stack) != stack);
            var subnets = string.Join(",", network.Subnets);
            if (network.Containers > 0)
            {
                keep.Add(new KeptResource(ChangeKind.Network, network.Name, $"in use by {network.Containers} container(s)") { Detail = subnets });
            }
            else if (!inSchema || stackStopped)
            {
                var why = !inSchema ? $"not in the schema's networks for {environment.Name}" : $"unused while stack {stack} is stopped";
                remove.Add(new PlannedChange(ChangeKind.Network, network.Name, ChangeAction.Remove, why, ct => RemoveAsync(network, ct)) { Detail = subnets });
            }
            else
            {
                keep.Add(new KeptResource(ChangeKind.Network, network.Name, $"stack {stack} has containers") { Detail = subnets });
            }
        }

        return new ChangePlan($"remove {remove.Count} network(s)", remove, keep);
    }

    private async Task<string?> RemoveAsync(DockerNetwork network, CancellationToken cancellationToken)
    {
        NetworkResponse detail;
        try
        {
            detail = await engine.CallAsync(ct => engine.Client.Networks.InspectNetworkAsync(network.Id, ct), cancellationToken);
        }
        catch (Docker.DotNet.DockerNetworkNotFoundException)
        {
            throw new ChangeSkippedException("it is gone already");
        }

        if (!_scope.Owns(detail.Labels))
        {
            throw new ChangeSkippedException("its labels changed: not ours any more");
        }

        if (detail.Containers is { Count: > 0 } users)
        {
            throw new ChangeSkippedException($"now in use by {string.Join(", ", users.Values.Select(u => u.Name))}");
        }

        await engine.CallAsync(ct => engine.Client.Networks.DeleteNetworkAsync(network.Id, ct), cancellationToken);
        return string.Join(",", network.Subnets);
    }

    private async Task<List<ContainerInspectResponse>> ContainerDetailsAsync(CancellationToken cancellationToken)
    {
        var list = await engine.ServiceContainersAsync(_scope, cancellationToken);
        var result = new List<ContainerInspectResponse>();
        foreach (var container in list)
        {
            result.Add(await engine.CallAsync(ct => engine.Client.Containers.InspectContainerAsync(container.ID, ct), cancellationToken));
        }

        return result;
    }
}
