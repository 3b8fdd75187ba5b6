using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;

namespace LlmStack.Schema;

/// <summary>
/// Turns the schema and one environment name into a <see cref="ResolvedEnvironment"/>: merges the environment's
/// overrides, substitutes variables, parses ports, mounts, durations and sizes, computes networks and names.
/// Every problem is a diagnostic at its source position.
/// </summary>
public static partial class EnvironmentResolver
{
    public const string LabelPrefix = "io.llmstack.";

    private static readonly string[] RestartPolicies = ["no", "always", "on-failure", "unless-stopped"];

    [GeneratedRegex("^[a-z0-9][a-z0-9_-]*$")]
    internal static partial Regex ProjectName();

    /// <summary>Resolves a schema that was validated; throws <see cref="SchemaException"/> on any error.</summary>
    public static ResolvedEnvironment Resolve(ComposeSchema schema, string environment, string rootDirectory)
    {
        if (!schema.Environments.ContainsKey(environment))
        {
            throw new SchemaException(
                $"environment '{environment}' is not defined in {schema.File} (defined: {string.Join(", ", schema.Environments.Keys)})");
        }

        var diagnostics = new DiagnosticBag();
        var resolved = Resolve(schema, environment, rootDirectory, diagnostics);
        var first = diagnostics.Items.FirstOrDefault(d => d.IsError);
        if (first is not null || resolved is null)
        {
            throw new SchemaException(first?.ToString() ?? $"environment '{environment}' cannot be resolved");
        }

        return resolved;
    }

    internal static ResolvedEnvironment? Resolve(ComposeSchema schema, string name, string rootDirectory, DiagnosticBag diagnostics)
    {
        if (!schema.Environments.TryGetValue(name, out var environment) || schema.Project?.Name is not { } projectName)
        {
            return null;
        }

        var project = environment.Project ?? $"{projectName}-{name}";
        if (!ProjectName().IsMatch(project))
        {
            diagnostics.Error(environment.Has("project") ? environment.Locate("project") : environment.Location,
                $"compose project name '{project}' of environment '{name}' must be lowercase letters, digits, '-' and '_'");
        }

        var stacks = EnabledStacks(schema, name, environment, diagnostics);
        var variables = Variables(schema, environment, diagnostics);
        var secrets = new HashSet<string>(schema.Secrets.Keys, StringComparer.Ordinal);
        var gpu = environment.Gpu ?? true;

        var services = new List<ResolvedService>();
        var definitions = new Dictionary<string, ServiceDefinition>(StringComparer.Ordinal);
        foreach (var stack in stacks)
        {
            foreach (var serviceName in schema.Stacks[stack].Services)
            {
                if (!schema.Services.TryGetValue(serviceName, out var definition) || !InEnvironment(definition, name))
                {
                    continue;
                }

                var merged = environment.Services.TryGetValue(serviceName, out var overrides) ? Merge(definition, overrides) : definition;
                definitions[serviceName] = merged;
                services.Add(ResolveService(schema, name, serviceName, stack, merged, variables, secrets, gpu, rootDirectory, diagnostics));
            }
        }

        foreach (var serviceName in environment.Services.Keys)
        {
            if (!schema.Services.ContainsKey(serviceName))
            {
                diagnostics.Error(environment.Locate($"services.{serviceName}"), $"environment '{name}' overrides undefined service '{serviceName}'");
            }
            else if (services.All(s => s.Name != serviceName))
            {
                diagnostics.Warning(environment.Locate($"services.{serviceName}"),
                    $"environment '{name}' overrides service '{serviceName}', which is not part of it (its stack is not enabled)");
            }
        }

        CheckDependencies(schema, name, services, definitions, diagnostics);
        var ordered = OrderServices(services, stacks);
        var networks = Networks(schema, name, project, environment, stacks, diagnostics);
        var volumes = Volumes(schema, project, ordered);
        CheckHostPorts(name, ordered, definitions, diagnostics);

        return new ResolvedEnvironment
        {
            Name = name,
            Project = project,
            Gpu = gpu,
            Stacks = stacks.Select(s => new ResolvedStack
            {
                Name = s,
                Description = schema.Stacks[s].Description,
                DependsOn = schema.Stacks[s].DependsOn.Where(stacks.Contains).ToList(),
                AllDependencies = StackClosure(schema, s),
                Services = ordered.Where(o => o.Stack == s).Select(o => o.Name).ToList(),
            }).ToList(),
            Services = ordered,
            Networks = networks,
            Volumes = volumes,
            Secrets = schema.Secrets
                .Where(kv => ordered.Any(s => s.SecretReferences.Contains(kv.Key)))
                .ToDictionary(kv => kv.Key, kv => kv.Value),
        };
    }

    internal static bool InEnvironment(ServiceDefinition definition, string environment) =>
        definition.Environments is null || definition.Environments.Contains(environment);

    /// <summary>The stacks a stack depends on, transitively (not including itself).</summary>
    internal static IReadOnlySet<string> StackClosure(ComposeSchema schema, string stack)
    {
        var result = new HashSet<string>(StringComparer.Ordinal);
        var queue = new Queue<string>([stack]);
        while (queue.Count > 0)
        {
            if (!schema.Stacks.TryGetValue(queue.Dequeue(), out var definition))
            {
                continue;
            }

            foreach (var dependency in definition.DependsOn)
            {
                if (dependency != stack && result.Add(dependency))
                {
                    queue.Enqueue(dependency);
                }
            }
        }

        return result;
    }

    private static List<string> EnabledStacks(ComposeSchema schema, string name, EnvironmentDefinition environment, DiagnosticBag diagnostics)
    {
        var wanted = environment.Stacks ?? [.. schema.Stacks.Keys];
        for (var i = 0; i < wanted.Count; i++)
        {
            if (!schema.Stacks.ContainsKey(wanted[i]))
            {
                diagnostics.Error(environment.Locate($"stacks[{i}]"),
                    $"environment '{name}' enables undefined stack '{wanted[i]}' (defined: {string.Join(", ", schema.Stacks.Keys)})");
            }
        }

        var enabled = wanted.Where(schema.Stacks.ContainsKey).Distinct().ToList();
        foreach (var stack in enabled)
        {
            foreach (var dependency in schema.Stacks[stack].DependsOn.Where(d => schema.Stacks.ContainsKey(d) && !enabled.Contains(d)))
            {
                diagnostics.Error(environment.Has("stacks") ? environment.Locate("stacks") : environment.Location,
                    $"environment '{name}' enables stack '{stack}' but not '{dependency}', which it depends on");
            }
        }

        // Dependencies first; ties in schema order.
        var order = new List<string>();
        var visiting = new HashSet<string>();
        void Visit(string stack)
        {
            if (order.Contains(stack) || !visiting.Add(stack))
            {
                return;
            }

            foreach (var dependency in schema.Stacks[stack].DependsOn.Where(enabled.Contains))
            {
                Visit(dependency);
            }

            order.Add(stack);
        }

        foreach (var stack in schema.Stacks.Keys.Where(enabled.Contains))
        {
            Visit(stack);
        }

        return order;
    }

    private static Dictionary<string, string> Variables(ComposeSchema schema, EnvironmentDefinition environment, DiagnosticBag diagnostics)
    {
        var variables = new Dictionary<string, string>(schema.Variables, StringComparer.Ordinal);
        foreach (var (key, value) in environment.Variables)
        {
            if (!schema.Variables.ContainsKey(key))
            {
                diagnostics.Error(environment.Locate($"variables.{key}"),
                    schema.Secrets.ContainsKey(key)
                        ? $"'{key}' is a secret: its value lives in secrets/<environment>.env, never in the schema"
                        : $"environment overrides undeclared variable '{key}': declare it under the top-level variables");
                continue;
            }

            variables[key] = value;
        }

        return variables;
    }

    /// <summary>The base service with an environment's partial definition on top.</summary>
    internal static ServiceDefinition Merge(ServiceDefinition baseline, ServiceDefinition overrides)
    {
        var merged = new ServiceDefinition { Location = baseline.Location };
        foreach (var property in typeof(ServiceDefinition).GetProperties().Where(p => p.CanWrite && p.SetMethod!.IsPublic && p.DeclaringType == typeof(ServiceDefinition)))
        {
            property.SetValue(merged, property.GetValue(baseline));
        }

        merged.Keys.AddRange(baseline.Keys);
        foreach (var (path, location) in baseline.Locations)
        {
            merged.Locations[path] = location;
        }

        foreach (var key in overrides.Keys)
        {
            var property = typeof(ServiceDefinition).GetProperties()
                .Single(p => YamlDotNet.Serialization.NamingConventions.UnderscoredNamingConvention.Instance.Apply(p.Name) == key);
            var value = property.GetValue(overrides);
            if (value is Dictionary<string, string> map && property.GetValue(baseline) is Dictionary<string, string> baseMap)
            {
                var combined = new Dictionary<string, string>(baseMap, StringComparer.Ordinal);
                foreach (var (k, v) in map)
                {
                    combined[k] = v;
                }

                value = combined;
            }
            else
            {
                foreach (var stale in merged.Locations.Keys.Where(p => p.StartsWith(key + "[", StringComparison.Ordinal)).ToList())
                {
                    merged.Locations.Remove(stale);
                }
            }

            property.SetValue(merged, value);
            if (!merged.Keys.Contains(key))
            {
                merged.Keys.Add(key);
            }
        }

        foreach (var (path, location) in overrides.Locations)
        {
            merged.Locations[path] = location;
        }

        return merged;
    }

    private static ResolvedService ResolveService(
        ComposeSchema schema,
        string environment,
        string name,
        string stack,
        ServiceDefinition definition,
        Dictionary<string, string> variables,
        HashSet<string> secrets,
        bool gpu,
        string rootDirectory,
        DiagnosticBag diagnostics)
    {
        var referenced = new HashSet<string>(StringComparer.Ordinal);
        string Sub(string? text, string path)
        {
            if (text is null)
            {
                return string.Empty;
            }

            foreach (var reference in Interpolation.References(text).Where(secrets.Contains))
            {
                referenced.Add(reference);
            }

            return Interpolation.Substitute(text, v => variables.GetValueOrDefault(v), secrets,
                message => diagnostics.Error(definition.Locate(path), $"service '{name}': {message}"));
        }

        List<string>? SubList(List<string>? list, string key) =>
            list?.Select((item, i) => Sub(item, $"{key}[{i}]")).ToList();

        var image = Sub(definition.Image, "image");
        if (string.IsNullOrWhiteSpace(definition.Image))
        {
            diagnostics.Error(definition.Location, $"service '{name}' has no image");
        }
        else if (image.EndsWith(":latest", StringComparison.Ordinal) || !image.Split('/')[^1].Contains(':', StringComparison.Ordinal))
        {
            diagnostics.Warning(definition.Locate("image"), $"service '{name}' uses a floating image tag ('{image}'): pin a version");
        }

        var environmentValues = (definition.Environment ?? new Dictionary<string, string>())
            .Select(kv => new KeyValuePair<string, string>(kv.Key, Sub(kv.Value, $"environment.{kv.Key}")))
            .ToList();

        var ports = new List<PortMapping>();
        for (var i = 0; i < (definition.Ports?.Count ?? 0); i++)
        {
            var text = Sub(definition.Ports![i], $"ports[{i}]");
            if (PortMapping.TryParse(text, out var mapping, out var problem))
            {
                ports.Add(mapping);
            }
            else
            {
                diagnostics.Error(definition.Locate($"ports[{i}]"), $"service '{name}': port '{text}': {problem}");
            }
        }

        var mounts = new List<VolumeMount>();
        for (var i = 0; i < (definition.Volumes?.Count ?? 0); i++)
        {
            var path = $"volumes[{i}]";
            var text = Sub(definition.Volumes![i], path);
            if (!VolumeMount.TryParse(text, out var mount, out var problem))
            {
                diagnostics.Error(definition.Locate(path), $"service '{name}': volume '{text}': {problem}");
                continue;
            }

            if (mount.Kind == MountKind.Volume && !schema.Volumes.ContainsKey(mount.Source))
            {
                diagnostics.Error(definition.Locate(path), $"service '{name}' mounts undefined volume '{mount.Source}': declare it under volumes");
            }
            else if (mount.Kind == MountKind.Bind && !mount.Source.StartsWith('~'))
            {
                var full = Path.GetFullPath(mount.Source, rootDirectory);
                if (!File.Exists(full) && !Directory.Exists(full))
                {
                    diagnostics.Warning(definition.Locate(path), $"service '{name}': bind-mount source '{mount.Source}' does not exist");
                }
            }

            mounts.Add(mount);
        }

        var healthcheck = ResolveHealthcheck(schema, name, definition, Sub, diagnostics);

        var restart = definition.Restart ?? schema.Project?.Restart ?? "unless-stopped";
        if (!RestartPolicies.Contains(restart))
        {
            diagnostics.Error(definition.Has("restart") ? definition.Locate("restart") : schema.Project!.Locate("restart"),
                $"restart policy '{restart}' is not one of {string.Join(", ", RestartPolicies)}");
        }

        long? shm = null;
        if (definition.ShmSize is { } shmText)
        {
            if (ByteSize.TryParse(shmText, out var bytes))
            {
                shm = bytes;
            }
            else
            {
                diagnostics.Error(definition.Locate("shm_size"), $"service '{name}': shm_size '{shmText}' is not a size like 1g or 512m");
            }
        }

        TimeSpan? grace = null;
        if (definition.StopGracePeriod is { } graceText)
        {
            if (Duration.TryParse(graceText, out var parsed))
            {
                grace = parsed;
            }
            else
            {
                diagnostics.Error(definition.Locate("stop_grace_period"), $"service '{name}': stop_grace_period '{graceText}' is not a duration like 30s");
            }
        }

        var replicas = definition.Replicas ?? 1;
        if (replicas < 1)
        {
            diagnostics.Error(definition.Locate("replicas"), $"service '{name}': replicas must be at least 1 (disable the service by leaving its stack out of the environment)");
        }
        else if (replicas > 1)
        {
            foreach (var (port, i) in ports.Select((p, i) => (p, i)).Where(x => x.p.HostPort is not null))
            {
                diagnostics.Error(definition.Locate($"ports[{i}]"),
                    $"service '{name}' has {replicas} replicas but publishes fixed host port {port.HostPort}: the replicas would collide (drop the host port, e.g. ports: [] in this environment)");
            }

            if (definition.ContainerName is not null)
            {
                diagnostics.Error(definition.Locate("container_name"), $"service '{name}' has {replicas} replicas and a fixed container_name: remove container_name");
            }
        }

        var labels = (definition.Labels ?? new Dictionary<string, string>())
            .Select(kv => new KeyValuePair<string, string>(kv.Key, Sub(kv.Value, $"labels.{kv.Key}")))
            .ToList();
        foreach (var label in labels.Where(l => l.Key.StartsWith("com.docker.compose.", StringComparison.Ordinal) || l.Key.StartsWith(LabelPrefix, StringComparison.Ordinal)))
        {
            diagnostics.Error(definition.Locate($"labels.{label.Key}"), $"service '{name}': label '{label.Key}' is reserved (com.docker.compose.* and {LabelPrefix}* are set by LlmStack)");
        }

        var networks = new List<string> { stack };
        foreach (var dependency in definition.DependsOn ?? [])
        {
            if (schema.StackOf(dependency) is { } dependencyStack && !networks.Contains(dependencyStack))
            {
                networks.Add(dependencyStack);
            }
        }

        return new ResolvedService
        {
            Name = name,
            Stack = stack,
            Image = image,
            Description = definition.Description,
            Command = SubList(definition.Command, "command"),
            Entrypoint = SubList(definition.Entrypoint, "entrypoint"),
            Environment = environmentValues,
            Ports = ports,
            Volumes = mounts,
            Healthcheck = healthcheck,
            DependsOn = definition.DependsOn?.ToList() ?? [],
            Networks = networks,
            Restart = restart,
            User = definition.User is null ? null : Sub(definition.User, "user"),
            WorkingDir = definition.WorkingDir is null ? null : Sub(definition.WorkingDir, "working_dir"),
            ShmSize = shm,
            ShmSizeText = definition.ShmSize,
            StopGracePeriod = grace,
            Gpu = gpu ? ResolveGpu(name, definition, diagnostics) : null,
            Resources = ResolveResources(name, definition, diagnostics),
            Replicas = Math.Max(replicas, 1),
            Labels = labels,
            ContainerName = definition.ContainerName is null ? null : Sub(definition.ContainerName, "container_name"),
            SecretReferences = referenced,
        };
    }

    private static ResolvedHealthcheck? ResolveHealthcheck(ComposeSchema schema, string name, ServiceDefinition definition, Func<string?, string, string> sub, DiagnosticBag diagnostics)
    {
        if (definition.Healthcheck is not { } check)
        {
            return null;
        }

        HealthcheckDefinition? template = null;
        if (check.Template is { } templateName && !schema.HealthcheckTemplates.TryGetValue(templateName, out template))
        {
            diagnostics.Error(check.Locate("template"),
                $"service '{name}' uses undefined healthcheck template '{templateName}' (defined: {string.Join(", ", schema.HealthcheckTemplates.Keys)})");
        }

        if (check.Disable == true)
        {
            return new ResolvedHealthcheck { Test = ["NONE"] };
        }

        var test = check.Test ?? template?.Test;
        if (test is null || test.Count == 0)
        {
            diagnostics.Error(check.Location, $"service '{name}': healthcheck has no test (or write disable: true)");
            return null;
        }

        if (test[0] is not ("CMD" or "CMD-SHELL" or "NONE") || (test[0] == "CMD-SHELL" && test.Count != 2) || (test[0] == "CMD" && test.Count < 2))
        {
            diagnostics.Error(check.Locate("test"), $"service '{name}': healthcheck test must be [CMD, program, args...] or [CMD-SHELL, \"command\"]");
        }

        TimeSpan Time(string? own, string? inherited, string key, TimeSpan fallback)
        {
            var text = own ?? inherited;
            if (text is null)
            {
                return fallback;
            }

            if (Duration.TryParse(text, out var value))
            {
                return value;
            }

            diagnostics.Error(own is not null ? check.Locate(key) : template!.Locate(key), $"'{text}' is not a duration like 10s or 1m30s");
            return fallback;
        }

        return new ResolvedHealthcheck
        {
            Test = test.Select((t, i) => sub(t, $"healthcheck.test[{i}]")).ToList(),
            Interval = Time(check.Interval, template?.Interval, "interval", TimeSpan.FromSeconds(30)),
            Timeout = Time(check.Timeout, template?.Timeout, "timeout", TimeSpan.FromSeconds(30)),
            Retries = check.Retries ?? template?.Retries ?? 3,
            StartPeriod = Time(check.StartPeriod, template?.StartPeriod, "start_period", TimeSpan.Zero),
        };
    }

    private static ResolvedGpu? ResolveGpu(string name, ServiceDefinition definition, DiagnosticBag diagnostics)
    {
        if (definition.Gpu is not { } gpu)
        {
            return null;
        }

        if (gpu.Count is not null && gpu.DeviceIds is not null)
        {
            diagnostics.Error(gpu.Location, $"service '{name}': gpu takes count or device_ids, not both");
        }

        var count = -1;
        if (gpu.Count is { } countText && countText != "all" && (!int.TryParse(countText, NumberStyles.None, CultureInfo.InvariantCulture, out count) || count < 1))
        {
            diagnostics.Error(gpu.Locate("count"), $"service '{name}': gpu count must be 'all' or a positive number, not '{countText}'");
        }

        return new ResolvedGpu { Count = gpu.DeviceIds is null ? count : 0, DeviceIds = gpu.DeviceIds ?? [] };
    }

    private static ResolvedResources? ResolveResources(string name, ServiceDefinition definition, DiagnosticBag diagnostics)
    {
        if (definition.Resources is not { } resources)
        {
            return null;
        }

        double? Cpus(ResourceSet? set)
        {
            if (set?.Cpus is not { } text)
            {
                return null;
            }

            if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value > 0)
            {
                return value;
            }

            diagnostics.Error(set.Locate("cpus"), $"service '{name}': cpus '{text}' is not a positive number");
            return null;
        }

        long? Memory(ResourceSet? set)
        {
            if (set?.Memory is not { } text)
            {
                return null;
            }

            if (ByteSize.TryParse(text, out var value))
            {
                return value;
            }

            diagnostics.Error(set.Locate("memory"), $"service '{name}': memory '{text}' is not a size like 512m or 4g");
            return null;
        }

        var result = new ResolvedResources
        {
            CpuLimit = Cpus(resources.Limits),
            MemoryLimit = Memory(resources.Limits),
            CpuReservation = Cpus(resources.Reservations),
            MemoryReservation = Memory(resources.Reservations),
            CpuLimitText = resources.Limits?.Cpus,
            MemoryLimitText = resources.Limits?.Memory,
            CpuReservationText = resources.Reservations?.Cpus,
            MemoryReservationText = resources.Reservations?.Memory,
        };
        if (result.MemoryLimit < result.MemoryReservation)
        {
            diagnostics.Error(resources.Location, $"service '{name}': memory reservation is larger than the limit");
        }

        return result;
    }

    private static void CheckDependencies(ComposeSchema schema, string environment, List<ResolvedService> services, Dictionary<string, ServiceDefinition> definitions, DiagnosticBag diagnostics)
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
                    diagnostics.Error(location, $"service '{service.Name}' depends on undefined service '{dependency}'");
                    continue;
                }

                var dependencyStack = schema.StackOf(dependency);
                if (dependencyStack is not null && dependencyStack != service.Stack && !StackClosure(schema, service.Stack).Contains(dependencyStack))
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

    /// <summary>Dependencies first; otherwise stack order, then the order services are listed. Cycles are reported by the validator.</summary>
    private static List<ResolvedService> OrderServices(List<ResolvedService> services, List<string> stacks)
    {
        var byName = services.ToDictionary(s => s.Name);
        var order = new List<ResolvedService>();
        var visiting = new HashSet<string>();
        void Visit(ResolvedService service)
        {
            if (order.Contains(service) || !visiting.Add(service.Name))
            {
                return;
            }

            foreach (var dependency in service.DependsOn.Where(byName.ContainsKey))
            {
                Visit(byName[dependency]);
            }

            order.Add(service);
        }

        foreach (var service in services.OrderBy(s => stacks.IndexOf(s.Stack)))
        {
            Visit(service);
        }

        return order;
    }

    private static List<ResolvedNetwork> Networks(ComposeSchema schema, string name, string project, EnvironmentDefinition environment, List<string> stacks, DiagnosticBag diagnostics)
    {
        var networks = new List<ResolvedNetwork>();
        foreach (var (stack, settings) in environment.Networks)
        {
            if (!schema.Stacks.ContainsKey(stack))
            {
                diagnostics.Error(environment.Locate($"networks.{stack}"), $"environment '{name}' has a network for undefined stack '{stack}'");
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

    private static List<ResolvedVolume> Volumes(ComposeSchema schema, string project, List<ResolvedService> services)
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
                Stacks = g.Select(x => x.Stack).Distinct().ToList(),
            })
            .ToList();
    }

    private static void CheckHostPorts(string environment, List<ResolvedService> services, Dictionary<string, ServiceDefinition> definitions, DiagnosticBag diagnostics)
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
