namespace LlmStack.Schema;

/// <summary>
/// What Swarm cannot honour in one environment of the schema, each at its <c>file:line:col</c>: errors for what would
/// change behaviour (a container name, GPU device ids, a port bound to one host address, a node-local data volume on a
/// service that is not pinned, a bad <c>swarm:</c>/<c>update:</c>/<c>secret_files:</c> value), warnings for what Swarm
/// does differently but LlmStack can live with (GPU counts as generic resources, images built on one node, bind-mount
/// sources that exist on this host only). ValidateSchema runs it for every environment whose <c>orchestrator:</c> is
/// swarm, and for the environments <c>--orchestrator swarm</c> names. docs/SWARM.md has the table.
/// </summary>
public static class SwarmCompatibility
{
    /// <summary>The diagnostics of <paramref name="environment"/> run on a swarm (none when it cannot be resolved: ValidateSchema reports why).</summary>
    public static IReadOnlyList<Diagnostic> Check(ComposeSchema schema, string environment, string? rootDirectory = null)
    {
        var diagnostics = new DiagnosticBag();
        if (!schema.Environments.TryGetValue(environment, out var definition))
        {
            return [];
        }

        var resolved = EnvironmentResolver.Resolve(schema, environment, rootDirectory ?? Directory.GetCurrentDirectory(), new DiagnosticBag());
        if (resolved is null)
        {
            return diagnostics.Items;
        }

        var swarm = SwarmEnvironment.Of(schema, resolved, diagnostics);
        var nodeLabels = (definition.Swarm?.Nodes ?? []).Values.SelectMany(n => n.Labels ?? []).ToHashSet();
        foreach (var service in resolved.Services)
        {
            CheckService(schema, swarm, SwarmEnvironment.Merged(schema, environment, service.Name), service, nodeLabels, definition.Swarm?.Nodes is not null, diagnostics);
        }

        foreach (var stack in resolved.Stacks)
        {
            var network = schema.Stacks[stack.Name].Network;
            if (network?.Driver is { } driver && driver is not ("bridge" or "overlay"))
            {
                diagnostics.Error(network.Locate("driver"), $"stack '{stack.Name}': network driver '{driver}' cannot span a swarm: use bridge (an overlay network on a swarm) or overlay");
            }
        }

        return diagnostics.Items;
    }

    private static void CheckService(ComposeSchema schema, SwarmEnvironment swarm, ServiceDefinition definition, ResolvedService service, HashSet<KeyValuePair<string, string>> nodeLabels, bool nodesDeclared, DiagnosticBag diagnostics)
    {
        var name = service.Name;
        if (service.Update.Order == UpdateOrder.StartFirst && definition.Update is { } update)
        {
            if (SwarmUpdatePolicy.HoldsHostPort(service))
            {
                diagnostics.Error(update.Locate("order"),
                    $"service '{name}': update order start-first cannot work: the service publishes host port {service.Ports.First(p => p.HostPort is not null).HostPort} in host mode, which the old task holds until it stops (use stop-first, or publish no fixed host port)");
            }
            else if (service.HasDataVolume)
            {
                diagnostics.Warning(update.Locate("order"),
                    $"service '{name}': update order start-first runs the old and the new task on the same named volume ({string.Join(", ", service.Volumes.Where(v => v.Kind == MountKind.Volume).Select(v => v.Source))}) at once");
            }
        }

        if (definition.ContainerName is not null)
        {
            diagnostics.Error(definition.Locate("container_name"),
                $"service '{name}': Swarm names its tasks itself and has no container_name: remove it (services reach each other by service name)");
        }

        if (service.Gpu is { } gpu && definition.Gpu is { } gpuDefinition)
        {
            if (gpu.DeviceIds.Count > 0)
            {
                diagnostics.Error(gpuDefinition.Locate("device_ids"),
                    $"service '{name}': Swarm has no device requests and cannot give a task GPUs by id ({string.Join(", ", gpu.DeviceIds)}): ask for a count (gpu: {{ count: {gpu.DeviceIds.Count} }}), reserved as generic resources, see docs/SWARM.md");
            }
            else
            {
                diagnostics.Warning(gpuDefinition.Locate("count"),
                    gpu.Count < 0
                        ? $"service '{name}': Swarm has no device requests: with count all the task reserves no GPU and sees every GPU of its node through the node's nvidia default runtime (docs/SWARM.md)"
                        : $"service '{name}': Swarm has no device requests: {gpu.Count} GPU(s) are reserved as generic resources '{SwarmServicePlan.GpuResourceKind}', which the node must advertise (docs/SWARM.md)");
            }
        }

        if (definition.Ports is { } ports && ports.Count == service.Ports.Count)
        {
            for (var i = 0; i < ports.Count; i++)
            {
                var port = service.Ports[i];
                if (!swarm.Publishable(port))
                {
                    diagnostics.Error(definition.Locate($"ports[{i}]"),
                        $"service '{name}': port {port} is bound to {port.HostIp}, but Swarm publishes on every interface of the node: drop the host address or the port, or acknowledge with swarm: {{ publish_all_interfaces: true }} in environment '{swarm.Environment.Name}'");
                }
            }
        }

        var pinned = swarm.Services.Single(s => s.Service.Name == name).Constraints.Count > 0;
        if (definition.Volumes is { } volumes && volumes.Count == service.Volumes.Count)
        {
            for (var i = 0; i < volumes.Count; i++)
            {
                var mount = service.Volumes[i];
                if (mount.Kind == MountKind.Volume && !pinned
                    && schema.Volumes.TryGetValue(mount.Source, out var volume) && (volume.Driver ?? "local") == "local")
                {
                    diagnostics.Error(definition.Locate($"volumes[{i}]"),
                        $"service '{name}': named volume '{mount.Source}' is local to the node a task runs on, and the service is not pinned: add placement: {{ labels: {{ ... }} }} naming the node that keeps the data (docs/SWARM.md, Data placement)");
                }
                else if (mount.Kind == MountKind.Bind && !Path.IsPathRooted(mount.Source))
                {
                    diagnostics.Warning(definition.Locate($"volumes[{i}]"),
                        $"service '{name}': bind-mount source '{mount.Source}' is in this checkout: a task on another node needs the same files at the same absolute path (or pin the service with placement:)");
                }
            }
        }

        if (service.Build is not null)
        {
            diagnostics.Warning(definition.Locate("build"),
                $"service '{name}': image {service.Image} is built on the node LlmStack talks to: a task on another node needs it from a registry (push it, or pin the service with placement:)");
        }

        if (nodesDeclared && definition.Placement?.Labels is { } labels)
        {
            foreach (var label in labels.Where(l => !nodeLabels.Contains(l)))
            {
                diagnostics.Warning(definition.Placement.Locate($"labels.{label.Key}"),
                    $"service '{name}': no node under swarm.nodes carries {label.Key}={label.Value}: SwarmLabelNodes labels none, and the tasks stay pending until a node is labelled by hand");
            }
        }
    }
}
