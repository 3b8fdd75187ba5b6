using LlmStack.Compose;
using LlmStack.Engine;
using LlmStack.Pipeline;
using LlmStack.Schema;
using LlmStack.Security;
using LlmStack.Sessions;

namespace LlmStack.Credentials;

/// <summary>The secrets files on disk: <see cref="SecretStore.Read"/>, the mode, <c>stat</c>/<c>id</c> for the owner, git for its status.</summary>
public sealed class SecretsFiles(string root) : ISecretsFiles
{
    public IReadOnlyDictionary<string, string> Read(string path) => SecretStore.Read(path);

    public bool Exists(string path) => File.Exists(path);

    public async Task<SecretsFileFacts> InspectAsync(string path, CancellationToken cancellationToken)
    {
        UnixFileMode? mode = null;
        string? owner = null, user = null;
        if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())
        {
            mode = File.GetUnixFileMode(path);
            var stat = await ProcessRunner.RunAsync("stat", ["-c", "%u", path], "/", null, cancellationToken);
            var id = await ProcessRunner.RunAsync("id", ["-u"], "/", null, cancellationToken);
            if (stat.ExitCode == 0 && id.ExitCode == 0)
            {
                owner = stat.Output.FirstOrDefault()?.Trim() ?? string.Empty;
                user = id.Output.FirstOrDefault()?.Trim() ?? string.Empty;
            }
        }

        var ignored = await ProcessRunner.RunAsync("git", ["-C", root, "check-ignore", "-q", "--", path], root, null, cancellationToken);
        var tracked = await ProcessRunner.RunAsync("git", ["-C", root, "ls-files", "--error-unmatch", "--", path], root, null, cancellationToken);
        return new SecretsFileFacts(mode, owner, user, NotIgnored: ignored.ExitCode == 1, Tracked: tracked.ExitCode == 0);
    }
}

/// <summary>The environment's running services through the session's engine connection, selected by the environment's labels.</summary>
public sealed class RunningServices(EnvironmentSession session) : IRunningServices
{
    private ResolvedEnvironment Environment => session.Environment;

    public async Task<IReadOnlyList<RunningContainer>> RunningAsync(CancellationToken cancellationToken)
    {
        var engine = await session.EngineAsync(cancellationToken);
        var running = await engine.ServiceContainersAsync(Scope.Of(Environment), cancellationToken, all: false);
        return running.Select(c => new RunningContainer(c.ID, c.Names[0].TrimStart('/'), c.Labels.Value(Names.Service))).ToList();
    }

    public async Task<IReadOnlyDictionary<string, string>> EnvironmentAsync(string container, CancellationToken cancellationToken)
    {
        var engine = await session.EngineAsync(cancellationToken);
        var inspect = await engine.CallAsync(ct => engine.Client.Containers.InspectContainerAsync(container, ct), cancellationToken);
        return (inspect.Config?.Env ?? []).Select(e => e.Split('=', 2)).Where(p => p.Length == 2).GroupBy(p => p[0])
            .ToDictionary(g => g.Key, g => g.Last()[1], StringComparer.Ordinal);
    }

    public async Task<bool> AcceptsAsync(string container, string account, string password, CancellationToken cancellationToken) =>
        await PostgresLogin.AcceptsAsync(await session.EngineAsync(cancellationToken), container, account, password, cancellationToken);

    public async Task<string> RunningIdAsync(string service, CancellationToken cancellationToken) =>
        (await (await session.EngineAsync(cancellationToken)).RunningContainerAsync(Environment, service, "to change or check its password", cancellationToken)).Id;

    public async Task<string?> DataVolumeAsync(string service, CancellationToken cancellationToken)
    {
        var engine = await session.EngineAsync(cancellationToken);
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
}

/// <summary>RotateSecret's changes through the session: PostgreSQL's role, the secrets file, Start and the lifecycle's restart.</summary>
public sealed class SessionRotationActions(EnvironmentSession session, IRunningServices running) : IRotationActions
{
    public async Task SetPasswordAsync(string service, string account, string password, CancellationToken cancellationToken) =>
        await PostgresLogin.SetPasswordAsync(await session.EngineAsync(cancellationToken), await running.RunningIdAsync(service, cancellationToken), account, password, cancellationToken);

    public void WriteSecret(string path, string name, string value) => SecretStore.Update(path, name, value);

    public void AppendHistory(string path, string name, string previous) => SecretStore.AppendHistory(path, name, previous, DateTimeOffset.UtcNow);

    public void ReloadSecrets() => session.ReloadSecrets();

    public async Task<string> StartStackAsync(string stack, CancellationToken cancellationToken) => (await session.StartAsync(stack, cancellationToken)).ToString();

    public async Task RestartAsync(IReadOnlyList<string> services, CancellationToken cancellationToken) =>
        await (await session.LifecycleAsync(cancellationToken)).RestartAsync(services, cancellationToken);
}
