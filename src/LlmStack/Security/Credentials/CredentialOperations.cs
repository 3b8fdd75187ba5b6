using System.Text.Json;
using Docker.DotNet.Models;
using LlmStack.ChangeControl;
using LlmStack.Compose;
using LlmStack.Engine;
using LlmStack.Pipeline;
using LlmStack.Reporting;
using LlmStack.Schema;
using Serilog;

namespace LlmStack.Security.Credentials;

/// <summary>
/// ValidateCredentials, SetupSecrets and RotateSecret for one environment: the secrets file against the rules, the
/// file's safety, and whether the running services really use the file's values.
/// </summary>
public sealed class CredentialOperations(EnvironmentSession session, ILogger log)
{
    private ResolvedEnvironment Environment => session.Environment;

    private TextWriter Out => session.Options.Out;

    private IReadOnlyDictionary<string, SecretDefinition> Definitions => session.Options.Schema.Load().Secrets;

    /// <summary>
    /// Every rule on the environment's secrets file (errors in staging and production, warnings elsewhere unless
    /// <paramref name="strict"/>), the file's mode, owner and git status, and the running services against the file.
    /// Never creates or changes anything. Fails when a finding is an error.
    /// </summary>
    public async Task ValidateAsync(bool strict, CancellationToken cancellationToken)
    {
        var level = CredentialRules.LevelFor(Environment.Name, strict);
        var findings = new List<CredentialFinding>();
        var path = session.SecretsPath;
        var values = SecretStore.Read(path);
        foreach (var value in values.Values.Where(v => v.Length > 0))
        {
            session.Options.Masker.Register(value);
        }

        if (!File.Exists(path))
        {
            findings.Add(new CredentialFinding(Environment.Name, "-", "file", level, $"{path} does not exist: run SetupSecrets"));
        }
        else
        {
            var others = new Dictionary<string, IReadOnlyDictionary<string, string>>(StringComparer.Ordinal);
            foreach (var other in session.Options.Schema.EnvironmentNames().Where(e => e != Environment.Name))
            {
                var otherValues = SecretStore.Read(SecretStore.FileFor(session.Options.Schema.RootDirectory, session.Options.SecretsDirectory, other));
                if (otherValues.Count > 0)
                {
                    others[other] = otherValues;
                }
            }

            findings.AddRange(CredentialRules.Check(Environment.Name, Definitions, values, Environment.Variables, others, strict));
            findings.AddRange(await FileFindingsAsync(path, level, cancellationToken));
        }

        var checkedLive = new List<string>();
        try
        {
            findings.AddRange(await LiveFindingsAsync(values, level, checkedLive, cancellationToken));
        }
        catch (PipelineException e)
        {
            findings.Add(new CredentialFinding(Environment.Name, "-", "running", CredentialFinding.Warning, $"the running services were not checked: {e.Message}"));
        }

        log.Information(
            "{Environment}: {Count} secret(s) checked, {Errors} error(s), {Warnings} warning(s); running services checked: {Live}",
            Environment.Name, Definitions.Count, findings.Count(f => f.Level == CredentialFinding.Error), findings.Count(f => f.Level == CredentialFinding.Warning),
            checkedLive.Count == 0 ? "none running" : string.Join(", ", checkedLive));
        var table = new TextTable("SECRET", "RULE", "LEVEL", "DETAIL");
        foreach (var f in findings)
        {
            table.Add(f.Secret, f.Rule, f.Level, f.Detail);
        }

        session.Options.Reports.Write(new Report { Document = new { environment = Environment.Name, findings, running = checkedLive } }
            .TableIfAny(table)
            .FailWhen(findings.Where(f => f.Level == CredentialFinding.Error).Select(f => f.Secret).ToList(), errors =>
                $"ValidateCredentials: {errors.Count} error(s) in the secrets of {Environment.Name} (each named above; values are never shown)"));
    }

    /// <summary>SetupSecrets: generates the missing secrets (existing ones are never changed) under the environment lock.</summary>
    public async Task SetupAsync(CancellationToken cancellationToken)
    {
        await session.LockAsync(cancellationToken);
        session.ReloadSecrets();
        var store = await session.SecretsAsync(cancellationToken);
        Out.WriteLine(store.Created.Count == 0
            ? $"Nothing to create: all {store.Names.Count} secret(s) of {Environment.Name} exist in {store.Path}"
            : $"Created in {store.Path}: {string.Join(", ", store.Created)} (kept: {store.Names.Count - store.Created.Count})");
    }

    /// <summary>
    /// RotateSecret: through the change gate and under the lock — a new value; for a <c>login</c> secret the server's
    /// role first (ALTER ROLE); the file updated atomically with the previous value appended to the 0600 history file;
    /// every running service that reads the secret recreated (as Start does, health-gated) and the running services
    /// that depend on them restarted; then proof: the services run with the new value and, for a login, the new value
    /// is accepted and the old one refused. Any failure (or Ctrl-C) puts the previous value back everywhere.
    /// </summary>
    public async Task RotateAsync(string target, string name, CancellationToken cancellationToken)
    {
        if (!Definitions.TryGetValue(name, out var definition))
        {
            throw new PipelineException($"--secret {name} is not a secret of the schema (secrets: {string.Join(", ", Definitions.Keys)})");
        }

        if (definition.Stable)
        {
            throw new PipelineException(
                $"{name} must stay stable for the data it protects ({definition.Description}): RotateSecret refuses it, because the schema declares no way to re-encrypt that data");
        }

        var path = session.SecretsPath;
        var rotation = new Rotation(name, definition);
        try
        {
            await session.ChangeAsync(target, ct => PlanRotationAsync(rotation, path, ct), cancellationToken);
        }
        catch (Exception e) when (rotation.Started)
        {
            var undone = await RollbackAsync(rotation, path);
            throw new PipelineException($"RotateSecret {name} failed ({(e is OperationCanceledException ? "cancelled" : e.Message.Split('\n')[0])}); the previous value is back: {undone}", e);
        }
    }

    private sealed class Rotation(string name, SecretDefinition definition)
    {
        public string Name => name;

        public SecretDefinition Definition => definition;

        public string Previous { get; set; } = string.Empty;

        public string Next { get; set; } = string.Empty;

        public string? Account { get; set; }

        public bool RoleChanged { get; set; }

        public bool FileChanged { get; set; }

        public List<string> Recreated { get; } = [];

        public List<string> Dependents { get; } = [];

        public bool Started => RoleChanged || FileChanged || Recreated.Count > 0;
    }

    private async Task<ChangePlan> PlanRotationAsync(Rotation rotation, string path, CancellationToken cancellationToken)
    {
        var name = rotation.Name;
        var values = SecretStore.Read(path);
        if (!values.TryGetValue(name, out var previous) || previous.Length == 0)
        {
            throw new PipelineException($"{name} is not in {path}: run SetupSecrets (there is nothing to rotate)");
        }

        rotation.Previous = previous;
        rotation.Next = SecretStore.Generate(rotation.Definition);
        session.Options.Masker.Register(previous);
        session.Options.Masker.Register(rotation.Next);

        var engine = await session.EngineAsync(cancellationToken);
        var running = await engine.ServiceContainersAsync(Scope.Of(Environment), cancellationToken, all: false);
        var users = Environment.Services.Where(s => s.SecretReferences.Contains(name) && running.Any(c => c.Labels.Value(Names.Service) == s.Name)).ToList();
        var changes = new List<PlannedChange>();
        var kept = new List<KeptResource>();

        if (rotation.Definition is { Login: { } login, Account: { } accountVariable } && Environment.Variables.TryGetValue(accountVariable, out var account))
        {
            rotation.Account = account;
            if (running.Any(c => c.Labels.Value(Names.Service) == login))
            {
                changes.Add(new PlannedChange(ChangeKind.Role, $"{account} on {login}", ChangeAction.SetPassword, "ALTER ROLE over the server's local socket (the value through the exec environment)", async ct =>
                {
                    await PostgresLogin.SetPasswordAsync(engine, await RunningIdAsync(login, ct), account, rotation.Next, ct);
                    rotation.RoleChanged = true;
                    return null;
                }));
            }
            else if (await HasDataAsync(engine, login, cancellationToken) is { } volume)
            {
                throw new PipelineException($"{login} is not running but its data ({volume}) holds the current password of {account}: StartCore first, then RotateSecret --secret {name}");
            }
            else
            {
                kept.Add(new KeptResource(ChangeKind.Role, $"{account} on {login}", "no data yet: a new server is initialised with the new value"));
            }
        }

        var history = SecretStore.HistoryFor(path);
        changes.Add(new PlannedChange(ChangeKind.Secret, $"{name} ({Path.GetFileName(path)})", ChangeAction.Rotate, $"written atomically; the previous value is appended to {Path.GetFileName(history)} (0600)", _ =>
        {
            SecretStore.Update(path, name, rotation.Next);
            rotation.FileChanged = true;
            SecretStore.AppendHistory(path, name, previous, DateTimeOffset.UtcNow);
            session.ReloadSecrets();
            return Task.FromResult<string?>(null);
        }));

        foreach (var stack in Environment.Stacks.Where(s => users.Any(u => u.Stack == s.Name)))
        {
            changes.Add(new PlannedChange(ChangeKind.Stack, stack.Name, ChangeAction.Recreate, $"{string.Join(", ", users.Where(u => u.Stack == stack.Name).Select(u => u.Name))} read {name} at start (Start{StackTarget(stack.Name)}: only changed services, health-gated)", async ct =>
            {
                rotation.Recreated.Add(stack.Name);
                var report = await session.StartAsync(stack.Name, ct);
                return report.ToString();
            }));
        }

        var dependents = Environment.Graph.WithDependents(users.Select(u => u.Name))
            .Where(s => users.All(u => u.Name != s) && running.Any(c => c.Labels.Value(Names.Service) == s)).ToList();
        if (dependents.Count > 0)
        {
            changes.Add(new PlannedChange(ChangeKind.Services, string.Join(", ", dependents), ChangeAction.Restart, "they depend on a recreated service", async ct =>
            {
                rotation.Dependents.AddRange(dependents);
                await (await session.LifecycleAsync(ct)).RestartAsync(dependents, ct);
                return null;
            }));
        }

        changes.Add(new PlannedChange(ChangeKind.Check, name, ChangeAction.Verify, rotation.Account is null ? "the running services use the new value" : $"the running services use the new value; {rotation.Definition.Login} accepts it and refuses the old one",
            ct => VerifyAsync(rotation, ct)));
        foreach (var service in Environment.Services.Where(s => s.SecretReferences.Contains(name) && users.All(u => u.Name != s.Name)))
        {
            kept.Add(new KeptResource(ChangeKind.Service, service.Name, $"not running: it reads the new {name} when it starts"));
        }

        return new ChangePlan($"rotate {name} ({users.Count} running service(s) read it)", changes, kept);
    }

    private async Task<string?> VerifyAsync(Rotation rotation, CancellationToken cancellationToken)
    {
        var engine = await session.EngineAsync(cancellationToken);
        var values = SecretStore.Read(session.SecretsPath);
        if (values.GetValueOrDefault(rotation.Name) != rotation.Next)
        {
            throw new PipelineException($"the secrets file does not hold the new {rotation.Name}");
        }

        foreach (var container in await engine.ServiceContainersAsync(Scope.Of(Environment), cancellationToken, all: false))
        {
            var service = Environment.Services.FirstOrDefault(s => s.Name == container.Labels.Value(Names.Service));
            if (service is not null && service.SecretReferences.Contains(rotation.Name)
                && (await DriftedAsync(engine, container, service, values, cancellationToken)).Count > 0)
            {
                throw new PipelineException($"{container.Names[0].TrimStart('/')} does not run with the new {rotation.Name}");
            }
        }

        if (rotation is { RoleChanged: true, Account: { } account })
        {
            var server = await RunningIdAsync(rotation.Definition.Login!, cancellationToken);
            if (!await PostgresLogin.AcceptsAsync(engine, server, account, rotation.Next, cancellationToken))
            {
                throw new PipelineException($"{rotation.Definition.Login} refuses {account} with the new value");
            }

            if (await PostgresLogin.AcceptsAsync(engine, server, account, rotation.Previous, cancellationToken))
            {
                throw new PipelineException($"{rotation.Definition.Login} still accepts the old value of {account}");
            }

            return "new value accepted, old refused";
        }

        return "the running services use the new value";
    }

    /// <summary>Puts the previous value back wherever the rotation got to; returns what it undid (or could not).</summary>
    private async Task<string> RollbackAsync(Rotation rotation, string path)
    {
        // Runs after a failure or Ctrl-C: its own time budget, not the cancelled run's token.
        using var budget = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        var ct = budget.Token;
        var undone = new List<string>();
        async Task Step(string what, Func<Task> action)
        {
            try
            {
                await action();
                undone.Add(what);
                log.Warning("Rolled back: {What}", what);
            }
            catch (Exception e) when (e is not OperationCanceledException || !budget.IsCancellationRequested)
            {
                undone.Add($"{what} FAILED ({e.Message.Split('\n')[0]})");
                log.Error("Rollback of {What} failed: {Error}", what, e.Message.Split('\n')[0]);
            }
        }

        if (rotation.RoleChanged)
        {
            await Step($"role {rotation.Account}", async () =>
                await PostgresLogin.SetPasswordAsync(await session.EngineAsync(ct), await RunningIdAsync(rotation.Definition.Login!, ct), rotation.Account!, rotation.Previous, ct));
        }

        if (rotation.FileChanged)
        {
            await Step($"{rotation.Name} in {Path.GetFileName(path)}", () =>
            {
                SecretStore.Update(path, rotation.Name, rotation.Previous);
                session.ReloadSecrets();
                return Task.CompletedTask;
            });
        }

        foreach (var stack in rotation.Recreated)
        {
            await Step($"stack {stack}", () => session.StartAsync(stack, ct));
        }

        if (rotation.Dependents.Count > 0)
        {
            await Step(string.Join(", ", rotation.Dependents), async () => await (await session.LifecycleAsync(ct)).RestartAsync(rotation.Dependents, ct));
        }

        return undone.Count == 0 ? "nothing had changed" : string.Join("; ", undone);
    }

    private async Task<string> RunningIdAsync(string service, CancellationToken cancellationToken) =>
        (await (await session.EngineAsync(cancellationToken)).RunningContainerAsync(Environment, service, "to change or check its password", cancellationToken)).Id;

    /// <summary>A volume of ours the service keeps its data in, if one exists.</summary>
    private async Task<string?> HasDataAsync(DockerEngine engine, string service, CancellationToken cancellationToken)
    {
        var scope = Scope.Of(Environment);
        foreach (var mount in Environment.Service(service).Volumes.Where(m => m.Kind == MountKind.Volume))
        {
            var volume = Environment.Volumes.FirstOrDefault(v => v.Key == mount.Source);
            if (volume is null)
            {
                continue;
            }

            try
            {
                var found = await engine.CallAsync(ct => engine.Client.Volumes.InspectAsync(volume.Name, ct), cancellationToken);
                if (scope.Owns(found.Labels))
                {
                    return volume.Name;
                }
            }
            catch (Docker.DotNet.DockerApiException e) when (e.StatusCode == System.Net.HttpStatusCode.NotFound)
            {
            }
        }

        return null;
    }

    /// <summary>The file's mode (0600), owner (the running user) and git status (ignored).</summary>
    private async Task<List<CredentialFinding>> FileFindingsAsync(string path, string level, CancellationToken cancellationToken)
    {
        var findings = new List<CredentialFinding>();
        if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())
        {
            if (CredentialRules.FileMode(Environment.Name, path, File.GetUnixFileMode(path), level) is { } mode)
            {
                findings.Add(mode);
            }

            var owner = await ProcessRunner.RunAsync("stat", ["-c", "%u", path], "/", null, cancellationToken);
            var me = await ProcessRunner.RunAsync("id", ["-u"], "/", null, cancellationToken);
            if (owner.ExitCode == 0 && me.ExitCode == 0 && owner.Output.FirstOrDefault()?.Trim() != me.Output.FirstOrDefault()?.Trim())
            {
                findings.Add(new CredentialFinding(Environment.Name, "-", "file-owner", level,
                    $"{path} belongs to uid {owner.Output.FirstOrDefault()?.Trim()}, not to the running user (uid {me.Output.FirstOrDefault()?.Trim()}): chown it"));
            }
        }

        var root = session.Options.Schema.RootDirectory;
        var ignored = await ProcessRunner.RunAsync("git", ["-C", root, "check-ignore", "-q", "--", path], root, null, cancellationToken);
        if (ignored.ExitCode == 1)
        {
            findings.Add(new CredentialFinding(Environment.Name, "-", "git-ignored", level, $"{path} is not git-ignored: add {Path.GetRelativePath(root, Path.GetDirectoryName(path)!)}/ to .gitignore"));
        }

        var tracked = await ProcessRunner.RunAsync("git", ["-C", root, "ls-files", "--error-unmatch", "--", path], root, null, cancellationToken);
        if (tracked.ExitCode == 0)
        {
            findings.Add(new CredentialFinding(Environment.Name, "-", "git-tracked", CredentialFinding.Error, $"{path} is committed: git rm --cached it, then rotate every secret in it"));
        }

        return findings;
    }

    /// <summary>
    /// Drift between the file and the running services: each running container's environment against the file's
    /// values, and every <c>login</c> secret by logging in to its running server.
    /// </summary>
    private async Task<List<CredentialFinding>> LiveFindingsAsync(IReadOnlyDictionary<string, string> values, string level, List<string> checkedLive, CancellationToken cancellationToken)
    {
        var findings = new List<CredentialFinding>();
        var engine = await session.EngineAsync(cancellationToken);
        var running = await engine.ServiceContainersAsync(Scope.Of(Environment), cancellationToken, all: false);
        foreach (var container in running.OrderBy(c => c.Names[0], StringComparer.Ordinal))
        {
            var service = Environment.Services.FirstOrDefault(s => s.Name == container.Labels.Value(Names.Service));
            if (service is null)
            {
                continue;
            }

            var drifted = await DriftedAsync(engine, container, service, values, cancellationToken);
            foreach (var secret in drifted)
            {
                findings.Add(new CredentialFinding(Environment.Name, secret, "drift", level,
                    $"{container.Names[0].TrimStart('/')} runs with another value than the file's: Start{StackTarget(service.Stack)} recreates it (or the file was changed by hand: restore it)"));
            }

            if (service.SecretReferences.Count > 0)
            {
                checkedLive.Add($"{service.Name} (environment)");
            }
        }

        foreach (var (name, definition) in Definitions.Where(d => d.Value.Login is not null).OrderBy(d => d.Key, StringComparer.Ordinal))
        {
            var server = running.FirstOrDefault(c => c.Labels.Value(Names.Service) == definition.Login);
            if (server is null || !values.TryGetValue(name, out var password) || definition.Account is null
                || !Environment.Variables.TryGetValue(definition.Account, out var account))
            {
                continue;
            }

            checkedLive.Add($"{definition.Login} (login of {account})");
            if (!await PostgresLogin.AcceptsAsync(engine, server.ID, account, password, cancellationToken))
            {
                findings.Add(new CredentialFinding(Environment.Name, name, "login", level,
                    $"{definition.Login} refuses {account} with the file's value (changed behind LlmStack's back, or a restore brought another): put the right value back, or RotateSecret --secret {name}"));
            }
        }

        return findings;
    }

    /// <summary>The secrets whose value in the container's environment differs from what the file gives.</summary>
    internal static async Task<IReadOnlyList<string>> DriftedAsync(
        DockerEngine engine, ContainerListResponse container, ResolvedService service, IReadOnlyDictionary<string, string> values, CancellationToken cancellationToken)
    {
        var inspect = await engine.CallAsync(ct => engine.Client.Containers.InspectContainerAsync(container.ID, ct), cancellationToken);
        var actual = (inspect.Config?.Env ?? []).Select(e => e.Split('=', 2)).Where(p => p.Length == 2).GroupBy(p => p[0]).ToDictionary(g => g.Key, g => g.Last()[1], StringComparer.Ordinal);
        var drifted = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var (key, form) in service.Environment)
        {
            var secrets = Interpolation.References(form).Where(values.ContainsKey).ToList();
            if (secrets.Count == 0)
            {
                continue;
            }

            var expected = Interpolation.Materialize(form, values.GetValueOrDefault);
            if (!actual.TryGetValue(key, out var running) || running != expected)
            {
                drifted.UnionWith(secrets);
            }
        }

        return drifted.ToList();
    }

    internal static string StackTarget(string stack) => Engine.Health.Capitalize(stack);

}
