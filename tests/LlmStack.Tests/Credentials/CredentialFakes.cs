using LlmStack.Pipeline;
using LlmStack.Schema;
using LlmStack.Security;
using LlmStack.Credentials;

namespace LlmStack.Tests.Credentials;

/// <summary>Secrets files in memory: values by path, and the facts every existing file reports.</summary>
internal sealed class FakeFiles : ISecretsFiles
{
    public Dictionary<string, Dictionary<string, string>> Files { get; } = new(StringComparer.Ordinal);

    public SecretsFileFacts Facts { get; set; } = new(UnixFileMode.UserRead | UnixFileMode.UserWrite, "1000", "1000", NotIgnored: false, Tracked: false);

    public IReadOnlyDictionary<string, string> Read(string path) =>
        Files.TryGetValue(path, out var values) ? new Dictionary<string, string>(values, StringComparer.Ordinal) : new Dictionary<string, string>();

    public bool Exists(string path) => Files.ContainsKey(path);

    public Task<SecretsFileFacts> InspectAsync(string path, CancellationToken cancellationToken) => Task.FromResult(Facts);
}

/// <summary>
/// Running containers in memory: one per service, named as compose names them, each with the environment it runs with;
/// postgres logins accepted for the password in <see cref="Passwords"/>.
/// </summary>
internal sealed class FakeRunning(ResolvedEnvironment environment) : IRunningServices
{
    public List<RunningContainer> Containers { get; } = [];

    public Dictionary<string, IReadOnlyDictionary<string, string>> Environments { get; } = new(StringComparer.Ordinal);

    /// <summary>The password each account logs in with.</summary>
    public Dictionary<string, string> Passwords { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, string> DataVolumes { get; } = new(StringComparer.Ordinal);

    /// <summary>Thrown by every call when set (an engine that cannot be reached).</summary>
    public Exception? Unreachable { get; set; }

    public List<string> Logins { get; } = [];

    /// <summary>The services run, each with the environment <paramref name="values"/> give it (as Start would create it).</summary>
    public FakeRunning Run(IReadOnlyDictionary<string, string> values, params string[] services)
    {
        foreach (var name in services)
        {
            var id = $"id-{name}";
            Containers.RemoveAll(c => c.Id == id);
            Containers.Add(new RunningContainer(id, $"{environment.Project}-{name}-1", name));
            Environments[id] = EnvironmentOf(environment.Service(name), values);
        }

        return this;
    }

    public static IReadOnlyDictionary<string, string> EnvironmentOf(ResolvedService service, IReadOnlyDictionary<string, string> values) =>
        service.Environment.ToDictionary(e => e.Key, e => Interpolation.Materialize(e.Value, values.GetValueOrDefault), StringComparer.Ordinal);

    public Task<IReadOnlyList<RunningContainer>> RunningAsync(CancellationToken cancellationToken) =>
        Unreachable is { } e ? Task.FromException<IReadOnlyList<RunningContainer>>(e) : Task.FromResult<IReadOnlyList<RunningContainer>>(Containers.ToList());

    public Task<IReadOnlyDictionary<string, string>> EnvironmentAsync(string container, CancellationToken cancellationToken) => Task.FromResult(Environments[container]);

    public Task<bool> AcceptsAsync(string container, string account, string password, CancellationToken cancellationToken)
    {
        Logins.Add($"{container} {account}");
        return Task.FromResult(Passwords.GetValueOrDefault(account) == password);
    }

    public Task<string> RunningIdAsync(string service, CancellationToken cancellationToken) =>
        Containers.FirstOrDefault(c => c.Service == service) is { } c
            ? Task.FromResult(c.Id)
            : Task.FromException<string>(new PipelineException($"service '{service}' is not running"));

    public Task<string?> DataVolumeAsync(string service, CancellationToken cancellationToken) => Task.FromResult(DataVolumes.GetValueOrDefault(service));
}

/// <summary>RotateSecret's actions on the fakes, each recorded in <see cref="Calls"/>; <see cref="FailOn"/> makes one throw.</summary>
internal sealed class FakeActions(ResolvedEnvironment environment, FakeFiles files, FakeRunning running) : IRotationActions
{
    public List<string> Calls { get; } = [];

    public Dictionary<string, string> History { get; } = new(StringComparer.Ordinal);

    /// <summary>The call (its first word: set-password, write, history, reload, start, restart) that throws.</summary>
    public string? FailOn { get; set; }

    private void Record(string call)
    {
        Calls.Add(call);
        if (FailOn is { } failing && (call == failing || call.StartsWith(failing + " ", StringComparison.Ordinal)))
        {
            throw new IOException($"{call} failed");
        }
    }

    public Task SetPasswordAsync(string service, string account, string password, CancellationToken cancellationToken)
    {
        Record($"set-password {service} {account}");
        running.Passwords[account] = password;
        return Task.CompletedTask;
    }

    public void WriteSecret(string path, string name, string value)
    {
        Record($"write {Path.GetFileName(path)} {name}");
        files.Files[path][name] = value;
    }

    public void AppendHistory(string path, string name, string previous)
    {
        Record($"history {Path.GetFileName(path)} {name}");
        History[name] = previous;
    }

    public void ReloadSecrets() => Record("reload");

    public Task<string> StartStackAsync(string stack, CancellationToken cancellationToken)
    {
        Record($"start {stack}");
        var values = files.Files.Values.Single();
        running.Run(values, running.Containers.Select(c => c.Service!).Where(s => environment.Service(s).Stack == stack).ToArray());
        return Task.FromResult($"Stack {stack} is up");
    }

    public Task RestartAsync(IReadOnlyList<string> services, CancellationToken cancellationToken)
    {
        Record($"restart {string.Join(",", services)}");
        return Task.CompletedTask;
    }
}
