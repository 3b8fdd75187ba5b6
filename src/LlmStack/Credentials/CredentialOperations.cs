using LlmStack.Engine;
using LlmStack.Pipeline;
using LlmStack.Schema;
using LlmStack.Security;
using LlmStack.Sessions;
using Serilog;

namespace LlmStack.Credentials;

/// <summary>
/// The bodies of ValidateCredentials, SetupSecrets and RotateSecret for one environment: they gather what the session
/// knows, hand it to <see cref="CredentialValidation"/> and <see cref="RotationPlanner"/> (over the files on disk, the
/// running services and the session's actions), and write the report or pass the plan through the change gate.
/// </summary>
public sealed class CredentialOperations(EnvironmentSession session, ILogger log)
{
    private ResolvedEnvironment Environment => session.Environment;

    private TextWriter Out => session.Options.Out;

    private IReadOnlyDictionary<string, SecretDefinition> Definitions => session.Options.Schema.Load().Secrets;

    private string Root => session.Options.Schema.RootDirectory;

    private ISecretsFiles Files => new SecretsFiles(Root);

    /// <summary>
    /// Every rule on the environment's secrets file (errors in staging and production, warnings elsewhere unless
    /// <paramref name="strict"/>), the file's mode, owner and git status, and the running services against the file.
    /// Never creates or changes anything. Fails when a finding is an error.
    /// </summary>
    public async Task ValidateAsync(bool strict, CancellationToken cancellationToken)
    {
        var files = Files;
        var path = session.SecretsPath;
        var values = files.Read(path);
        foreach (var value in values.Values.Where(v => v.Length > 0))
        {
            session.Options.Masker.Register(value);
        }

        var others = session.Options.Schema.EnvironmentNames().Where(e => e != Environment.Name)
            .ToDictionary(e => e, e => SecretStore.FileFor(Root, session.Options.State.Secrets, e), StringComparer.Ordinal);
        var check = await new CredentialValidation(Environment, Definitions, Root, files, new RunningServices(session))
            .CheckAsync(path, values, others, strict, cancellationToken);

        log.Information(
            "{Environment}: {Count} secret(s) checked, {Errors} error(s), {Warnings} warning(s); running services checked: {Live}",
            Environment.Name, Definitions.Count, check.Count(CredentialLevel.Error), check.Count(CredentialLevel.Warning),
            check.Running.Count == 0 ? "none running" : string.Join(", ", check.Running));
        session.Options.Reports.Write(check.ToReport());
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
        var files = Files;
        var running = new RunningServices(session);
        var actions = new SessionRotationActions(session, running);
        var planner = new RotationPlanner(Environment, files, running, actions);
        var rotation = new Rotation(name, definition);
        try
        {
            await session.ChangeAsync(target, ct =>
            {
                // Read under the lock (the gate takes it before planning), so the plan and its apply see the same file.
                var values = files.Read(path);
                if (values.GetValueOrDefault(name) is { Length: > 0 } previous)
                {
                    session.Options.Masker.Register(previous);
                }

                rotation.Next = SecretStore.Generate(definition);
                session.Options.Masker.Register(rotation.Next);
                return planner.PlanAsync(rotation, path, values, ct);
            }, cancellationToken);
        }
        catch (Exception e) when (rotation.Started)
        {
            var undone = await rotation.RollbackAsync(path, actions, log);
            throw new PipelineException($"RotateSecret {name} failed ({(e is OperationCanceledException ? "cancelled" : e.Message.Split('\n')[0])}); the previous value is back: {undone}", e);
        }
    }
}
