using LlmStack.Security;

namespace LlmStack.Credentials;

/// <summary>The read side of the secrets files: their values and their facts (file system and git).</summary>
public interface ISecretsFiles
{
    /// <summary>A secrets file's values (empty when it does not exist; never generates anything).</summary>
    IReadOnlyDictionary<string, string> Read(string path);

    bool Exists(string path);

    Task<SecretsFileFacts> InspectAsync(string path, CancellationToken cancellationToken);
}

/// <summary>A running service container of the environment.</summary>
/// <param name="Id">The container's id.</param>
/// <param name="Name">Its name, without Docker's leading slash.</param>
/// <param name="Service">The service its labels name (null for a container without one).</param>
public sealed record RunningContainer(string Id, string Name, string? Service);

/// <summary>The read side of the running services: what runs, with which environment, and whether a login works.</summary>
public interface IRunningServices
{
    /// <summary>The environment's running service containers, selected by label.</summary>
    Task<IReadOnlyList<RunningContainer>> RunningAsync(CancellationToken cancellationToken);

    /// <summary>The environment variables a container runs with (name → value; the last one wins for a name given twice).</summary>
    Task<IReadOnlyDictionary<string, string>> EnvironmentAsync(string container, CancellationToken cancellationToken);

    /// <summary>Whether the PostgreSQL server in <paramref name="container"/> accepts the account with the password.</summary>
    Task<bool> AcceptsAsync(string container, string account, string password, CancellationToken cancellationToken);

    /// <summary>The id of the service's running container, or one line saying it must run to change or check its password.</summary>
    Task<string> RunningIdAsync(string service, CancellationToken cancellationToken);

    /// <summary>A volume of ours the service keeps its data in, if one exists.</summary>
    Task<string?> DataVolumeAsync(string service, CancellationToken cancellationToken);
}

/// <summary>The write side of RotateSecret: what its steps (and their rollback) change.</summary>
public interface IRotationActions
{
    /// <summary>ALTER ROLE in the running server of <paramref name="service"/>.</summary>
    Task SetPasswordAsync(string service, string account, string password, CancellationToken cancellationToken);

    /// <summary>One value of the secrets file replaced atomically (0600).</summary>
    void WriteSecret(string path, string name, string value);

    /// <summary>The previous value appended to the file's history (0600).</summary>
    void AppendHistory(string path, string name, string previous);

    /// <summary>The run's cached secrets dropped, so the next start reads the file again.</summary>
    void ReloadSecrets();

    /// <summary>A stack started again (recreates the services whose definition changed, health-gated); the report's text.</summary>
    Task<string> StartStackAsync(string stack, CancellationToken cancellationToken);

    /// <summary>Running services restarted in dependency order.</summary>
    Task RestartAsync(IReadOnlyList<string> services, CancellationToken cancellationToken);
}
