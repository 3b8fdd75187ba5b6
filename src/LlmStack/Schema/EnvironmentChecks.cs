namespace LlmStack.Schema;

/// <summary>Checks across the services of a resolved environment: dependencies that exist and are reachable, host ports published once.</summary>
internal static class EnvironmentChecks
{
    internal static void Dependencies(ComposeSchema schema, string environment, List<ResolvedService> services, Dictionary<string, ServiceDefinition> definitions, DiagnosticBag diagnostics)
    {
        foreach (var service in services)
        {
            var merged = definitions[service.Name];
            for (var i = 0; i < service.DependsOn.Count; i++)
            {
                var dependency = service.DependsOn[i];
                var location = merged.Locate($"depends_on[{i}]");
                if (!schema.Services.ContainsKey(dependency))
                {
                    diagnostics.Error(location, $"service '{service.Name}' depends on undefined service '{dependency}'{References.Hint(dependency, schema.Services.Keys)}");
                    continue;
                }

                var dependencyStack = schema.StackOf(dependency);
                if (dependencyStack is not null && dependencyStack != service.Stack && !StackResolver.Closure(schema, service.Stack).Contains(dependencyStack))
                {
                    diagnostics.Error(location,
                        $"service '{service.Name}' (stack '{service.Stack}') depends on '{dependency}' in stack '{dependencyStack}', which is not a dependency of stack '{service.Stack}': add it to stacks.{service.Stack}.depends_on");
                }
                else if (dependencyStack is not null && services.All(s => s.Name != dependency))
                {
                    diagnostics.Error(location, $"service '{service.Name}' depends on '{dependency}', which is not part of environment '{environment}'");
                }
            }
        }
    }

    internal static void HostPorts(string environment, List<ResolvedService> services, Dictionary<string, ServiceDefinition> definitions, DiagnosticBag diagnostics)
    {
        var seen = new List<(string Service, PortMapping Port)>();
        foreach (var service in services)
        {
            var definition = definitions[service.Name];
            for (var i = 0; i < service.Ports.Count; i++)
            {
                var port = service.Ports[i];
                var clash = seen.FirstOrDefault(s => s.Port.Collides(port));
                if (clash.Service is not null)
                {
                    diagnostics.Error(definition.Locate($"ports[{i}]"),
                        $"host port {port.HostPort}/{port.Protocol} of service '{service.Name}' is already published by '{clash.Service}' in environment '{environment}'");
                }

                seen.Add((service.Name, port));
            }
        }
    }
}
