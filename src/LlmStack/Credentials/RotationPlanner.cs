using LlmStack.ChangeControl;
using LlmStack.Pipeline;
using LlmStack.Schema;
using LlmStack.Security;

namespace LlmStack.Credentials;

/// <summary>
/// RotateSecret's plan: from the secret's definition, the secrets file and what runs, the steps of one change gate —
/// <b>role</b> (ALTER ROLE for a <c>login</c> secret whose server runs; refused when it is stopped but its data exists),
/// <b>secret</b> (the file, the previous value to the history), <b>recreate</b> (each stack with a running service that
/// reads it), <b>restart</b> (running services that depend on those), <b>verify</b>. Each step's apply goes through
/// <see cref="IRotationActions"/> and records in the <see cref="Rotation"/> what it changed, for the rollback.
/// </summary>
public sealed class RotationPlanner(ResolvedEnvironment environment, ISecretsFiles files, IRunningServices running, IRotationActions actions)
{
    /// <param name="rotation">The rotation, its <see cref="Rotation.Next"/> value drawn; <see cref="Rotation.Previous"/> is set here.</param>
    /// <param name="path">The environment's secrets file.</param>
    /// <param name="values">The file's values, read under the lock.</param>
    public async Task<ChangePlan> PlanAsync(Rotation rotation, string path, IReadOnlyDictionary<string, string> values, CancellationToken cancellationToken)
    {
        var name = rotation.Name;
        if (!values.TryGetValue(name, out var previous) || previous.Length == 0)
        {
            throw new PipelineException($"{name} is not in {path}: run SetupSecrets (there is nothing to rotate)");
        }

        rotation.Previous = previous;
        var containers = await running.RunningAsync(cancellationToken);
        bool Runs(string service) => containers.Any(c => c.Service == service);
        var users = environment.Services.Where(s => s.SecretReferences.Contains(name) && Runs(s.Name)).ToList();
        var changes = new List<PlannedChange>();
        var kept = new List<KeptResource>();

        if (rotation.Definition is { Login: { } login, Account: { } accountVariable } && environment.Variables.TryGetValue(accountVariable, out var account))
        {
            rotation.Account = account;
            if (Runs(login))
            {
                changes.Add(new PlannedChange(ChangeKind.Role, $"{account} on {login}", ChangeAction.SetPassword, "ALTER ROLE over the server's local socket (the value through the exec environment)", async ct =>
                {
                    await actions.SetPasswordAsync(login, account, rotation.Next, ct);
                    rotation.RoleChanged = true;
                    return null;
                }));
            }
            else if (await running.DataVolumeAsync(login, cancellationToken) is { } volume)
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
            actions.WriteSecret(path, name, rotation.Next);
            rotation.FileChanged = true;
            actions.AppendHistory(path, name, previous);
            actions.ReloadSecrets();
            return Task.FromResult<string?>(null);
        }));

        foreach (var stack in environment.Stacks.Where(s => users.Any(u => u.Stack == s.Name)))
        {
            changes.Add(new PlannedChange(ChangeKind.Stack, stack.Name, ChangeAction.Recreate, $"{string.Join(", ", users.Where(u => u.Stack == stack.Name).Select(u => u.Name))} read {name} at start (Start{CredentialValidation.StackTarget(stack.Name)}: only changed services, health-gated)", async ct =>
            {
                rotation.Recreated.Add(stack.Name);
                return await actions.StartStackAsync(stack.Name, ct);
            }));
        }

        var dependents = environment.Graph.WithDependents(users.Select(u => u.Name))
            .Where(s => users.All(u => u.Name != s) && Runs(s)).ToList();
        if (dependents.Count > 0)
        {
            changes.Add(new PlannedChange(ChangeKind.Services, string.Join(", ", dependents), ChangeAction.Restart, "they depend on a recreated service", async ct =>
            {
                rotation.Dependents.AddRange(dependents);
                await actions.RestartAsync(dependents, ct);
                return null;
            }));
        }

        changes.Add(new PlannedChange(ChangeKind.Check, name, ChangeAction.Verify, rotation.Account is null ? "the running services use the new value" : $"the running services use the new value; {rotation.Definition.Login} accepts it and refuses the old one",
            ct => VerifyAsync(rotation, path, ct)));
        foreach (var service in environment.Services.Where(s => s.SecretReferences.Contains(name) && users.All(u => u.Name != s.Name)))
        {
            kept.Add(new KeptResource(ChangeKind.Service, service.Name, $"not running: it reads the new {name} when it starts"));
        }

        return new ChangePlan($"rotate {name} ({users.Count} running service(s) read it)", changes, kept);
    }

    /// <summary>The verify step: the file holds the new value, every running reader runs with it, and a login accepts the new value and refuses the old.</summary>
    public async Task<string?> VerifyAsync(Rotation rotation, string path, CancellationToken cancellationToken)
    {
        var values = files.Read(path);
        if (values.GetValueOrDefault(rotation.Name) != rotation.Next)
        {
            throw new PipelineException($"the secrets file does not hold the new {rotation.Name}");
        }

        foreach (var container in await running.RunningAsync(cancellationToken))
        {
            var service = environment.Services.FirstOrDefault(s => s.Name == container.Service);
            if (service is not null && service.SecretReferences.Contains(rotation.Name)
                && CredentialValidation.Drifted(service, values, await running.EnvironmentAsync(container.Id, cancellationToken)).Count > 0)
            {
                throw new PipelineException($"{container.Name} does not run with the new {rotation.Name}");
            }
        }

        if (rotation is { RoleChanged: true, Account: { } account })
        {
            var server = await running.RunningIdAsync(rotation.Definition.Login!, cancellationToken);
            if (!await running.AcceptsAsync(server, account, rotation.Next, cancellationToken))
            {
                throw new PipelineException($"{rotation.Definition.Login} refuses {account} with the new value");
            }

            if (await running.AcceptsAsync(server, account, rotation.Previous, cancellationToken))
            {
                throw new PipelineException($"{rotation.Definition.Login} still accepts the old value of {account}");
            }

            return "new value accepted, old refused";
        }

        return "the running services use the new value";
    }
}
