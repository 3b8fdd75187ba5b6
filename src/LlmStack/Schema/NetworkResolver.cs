using System.Net;

namespace LlmStack.Schema;

/// <summary>The networks (one private subnet per enabled stack, named as compose would) and named volumes of an environment.</summary>
internal static class NetworkResolver
{
    internal static List<ResolvedNetwork> Networks(ComposeSchema schema, string name, string project, EnvironmentDefinition environment, List<string> stacks, DiagnosticBag diagnostics)
    {
        var networks = new List<ResolvedNetwork>();
        foreach (var (stack, settings) in environment.Networks)
        {
            if (!schema.Stacks.ContainsKey(stack))
            {
                diagnostics.Error(environment.Locate($"networks.{stack}"), $"environment '{name}' has a network for undefined stack '{stack}'{References.Hint(stack, schema.Stacks.Keys)}");
            }
        }

        foreach (var stack in stacks)
        {
            if (!environment.Networks.TryGetValue(stack, out var settings))
            {
                diagnostics.Error(environment.Has("networks") ? environment.Locate("networks") : environment.Location,
                    $"environment '{name}' has no network for stack '{stack}': add networks: {{ {stack}: {{ subnet: 10.x.y.0/24 }} }}");
                continue;
            }

            if (settings.Subnet is not { } subnetText)
            {
                diagnostics.Error(settings.Location, $"network of stack '{stack}' in environment '{name}' has no subnet");
                continue;
            }

            if (!Subnets.TryParse(subnetText, out var subnet, out var problem))
            {
                diagnostics.Error(settings.Locate("subnet"), problem);
                continue;
            }

            if (!Subnets.IsPrivate(subnet))
            {
                diagnostics.Error(settings.Locate("subnet"),
                    $"subnet {subnetText} of stack '{stack}' in environment '{name}' is not private: use 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16 (fc00::/7 for IPv6)");
            }

            var gateway = Subnets.FirstHost(subnet);
            if (settings.Gateway is { } gatewayText)
            {
                if (!IPAddress.TryParse(gatewayText, out var parsed))
                {
                    diagnostics.Error(settings.Locate("gateway"), $"gateway '{gatewayText}' is not an IP address");
                }
                else if (!subnet.Contains(parsed) || parsed.Equals(subnet.BaseAddress))
                {
                    diagnostics.Error(settings.Locate("gateway"), $"gateway {gatewayText} is not a host address of subnet {subnetText}");
                }
                else
                {
                    gateway = parsed;
                }
            }

            networks.Add(new ResolvedNetwork
            {
                Name = $"{project}_{stack}",
                Stack = stack,
                Driver = schema.Stacks[stack].Network?.Driver ?? "bridge",
                Subnet = subnet,
                Gateway = gateway,
            });
        }

        return networks;
    }

    internal static List<ResolvedVolume> Volumes(ComposeSchema schema, string project, List<ResolvedService> services)
    {
        return services
            .SelectMany(s => s.Volumes.Where(v => v.Kind == MountKind.Volume).Select(v => (v.Source, s.Stack)))
            .Where(x => schema.Volumes.ContainsKey(x.Source))
            .GroupBy(x => x.Source)
            .Select(g => new ResolvedVolume
            {
                Key = g.Key,
                Name = $"{project}_{g.Key}",
                Driver = schema.Volumes[g.Key].Driver ?? "local",
                Holds = schema.Volumes[g.Key].Holds ?? DataTypes.AppData,
                Wipeable = schema.Volumes[g.Key].Wipe ?? true,
                Stacks = g.Select(x => x.Stack).Distinct().ToList(),
            })
            .ToList();
    }
}
