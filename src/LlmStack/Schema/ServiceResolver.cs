using System.Globalization;

namespace LlmStack.Schema;

/// <summary>
/// One service of one environment: variables substituted (secrets kept as references), ports, mounts, healthcheck, GPU,
/// resources, replicas, labels and networks parsed and checked, every problem a diagnostic at its position.
/// </summary>
internal static class ServiceResolver
{
    /// <summary>The <c>smoke:</c> checks; a wrong method, a missing path or port, an unknown secret are diagnostics at the key.</summary>
    private static IReadOnlyList<SmokeCheck> ResolveSmoke(string service, ServiceDefinition definition, DiagnosticBag diagnostics)
    {
        var checks = new List<SmokeCheck>();
        foreach (var (check, index) in (definition.Smoke ?? []).Select((c, i) => (c, i)))
        {
            var method = SmokeMethod.Get;
            if (check.Method is { } text && !Enum.TryParse(text, ignoreCase: true, out method))
            {
                diagnostics.Error(check.Locate("method"), $"service '{service}': smoke[{index}] method '{text}' is not one of {string.Join(", ", Enum.GetNames<SmokeMethod>().Select(m => m.ToUpperInvariant()))}");
                continue;
            }

            if (check.Path is not { Length: > 0 } path || !path.StartsWith('/'))
            {
                diagnostics.Error(check.Location, $"service '{service}': smoke[{index}] needs a path starting with '/'");
                continue;
            }

            if (check.Port is not (> 0 and < 65536) || check.Status is (< 100 or > 599))
            {
                diagnostics.Error(check.Location, $"service '{service}': smoke[{index}] needs a container port (1-65535) and a status from 100 to 599");
                continue;
            }

            var methodText = method.ToString().ToUpperInvariant();
            checks.Add(new SmokeCheck(check.Name ?? $"{methodText} {path}{(check.BearerSecret is null ? string.Empty : " (bearer)")}", method, path, check.Port.Value, check.Status ?? 200, check.BearerSecret));
        }

        return checks;
    }

    private static readonly string[] RestartPolicies = ["no", "always", "on-failure", "unless-stopped"];

    internal static ResolvedService Resolve(
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
                diagnostics.Error(definition.Locate(path), $"service '{name}' mounts undefined volume '{mount.Source}'{References.DidYouMean(mount.Source, schema.Volumes.Keys)}: declare it under volumes");
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

        var build = ResolveBuild(name, definition, Sub, secrets, rootDirectory, diagnostics);
        var healthcheck = ResolveHealthcheck(schema, name, definition, Sub, diagnostics);
        var ready = ReadyResolver.Resolve(name, definition, Sub, diagnostics);

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
        foreach (var label in labels.Where(l => l.Key.StartsWith("com.docker.compose.", StringComparison.Ordinal) || l.Key.StartsWith(EnvironmentResolver.LabelPrefix, StringComparison.Ordinal)))
        {
            diagnostics.Error(definition.Locate($"labels.{label.Key}"), $"service '{name}': label '{label.Key}' is reserved (com.docker.compose.* and {EnvironmentResolver.LabelPrefix}* are set by LlmStack)");
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
            Build = build,
            Description = definition.Description,
            Command = SubList(definition.Command, "command"),
            Entrypoint = SubList(definition.Entrypoint, "entrypoint"),
            Environment = environmentValues,
            Ports = ports,
            Volumes = mounts,
            Healthcheck = healthcheck,
            Ready = ready,
            Smoke = ResolveSmoke(name, definition, diagnostics),
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
            Placement = SwarmResolver.Placement(definition),
            Update = SwarmResolver.Update(name, definition, healthcheck, diagnostics),
            SecretFiles = SwarmResolver.SecretFiles(name, definition, diagnostics),
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
                $"service '{name}' uses undefined healthcheck template '{templateName}'{References.Hint(templateName, schema.HealthcheckTemplates.Keys)}");
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

    /// <summary>
    /// <c>build:</c>: a context (a missing directory is a warning here, an error for a target that needs the image), a
    /// Dockerfile inside it, arguments without secrets (an argument stays in the image's history), a target stage.
    /// </summary>
    private static ResolvedBuild? ResolveBuild(string name, ServiceDefinition definition, Func<string?, string, string> sub, HashSet<string> secrets, string rootDirectory, DiagnosticBag diagnostics)
    {
        if (definition.Build is not { } build)
        {
            return null;
        }

        string Value(string? text, string key)
        {
            foreach (var secret in Interpolation.References(text ?? string.Empty).Where(secrets.Contains).Distinct())
            {
                diagnostics.Error(build.Locate(key),
                    $"service '{name}': build {key.Replace(".", " ", StringComparison.Ordinal)} uses secret ${{{secret}}}: build arguments stay in the image (docker history shows them); pass the secret at run time through environment");
            }

            return sub(text, $"build.{key}");
        }

        static string Plain(string composeForm) => Interpolation.Materialize(composeForm, _ => null);

        if (string.IsNullOrWhiteSpace(build.Context))
        {
            diagnostics.Error(build.Location, $"service '{name}': build needs a context (the directory of the service's sources, e.g. ./services/{name})");
            return null;
        }

        var context = Value(build.Context, "context");
        var contextPath = Path.GetFullPath(Plain(context), rootDirectory);
        var dockerfile = Plain(build.Dockerfile is null ? ResolvedBuild.DefaultDockerfile : Value(build.Dockerfile, "dockerfile")).Replace('\\', '/');
        var inside = Path.GetFullPath(dockerfile, contextPath);
        if (Path.IsPathRooted(dockerfile) || Path.GetRelativePath(contextPath, inside).Replace('\\', '/') is var relative && (relative == ".." || relative.StartsWith("../", StringComparison.Ordinal)))
        {
            diagnostics.Error(build.Locate("dockerfile"), $"service '{name}': dockerfile '{dockerfile}' is outside the build context '{context}': put it inside the context and name it relative to it");
        }
        else if (File.Exists(contextPath))
        {
            diagnostics.Error(build.Locate("context"), $"service '{name}': build context '{context}' is a file: name the directory of the service's sources");
        }
        else if (!Directory.Exists(contextPath))
        {
            diagnostics.Warning(build.Locate("context"), $"service '{name}': build context '{context}' does not exist: the targets that need image {definition.Image} (Start, BuildImages) fail until the service's sources are there");
        }
        else if (!File.Exists(inside))
        {
            diagnostics.Warning(build.Locate("dockerfile"), $"service '{name}': dockerfile '{dockerfile}' does not exist in build context '{context}'");
        }

        if (build.Target is { } target && string.IsNullOrWhiteSpace(target))
        {
            diagnostics.Error(build.Locate("target"), $"service '{name}': build target is empty: name a stage of the Dockerfile, or leave target out");
        }

        return new ResolvedBuild
        {
            Context = context,
            ContextPath = contextPath,
            Dockerfile = Path.GetRelativePath(contextPath, inside).Replace('\\', '/'),
            Args = (build.Args ?? new Dictionary<string, string>()).Select(kv => new KeyValuePair<string, string>(kv.Key, Value(kv.Value, $"args.{kv.Key}"))).ToList(),
            Target = build.Target is null ? null : Plain(Value(build.Target, "target")),
            Location = build.Has("context") ? build.Locate("context") : build.Location,
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
}
