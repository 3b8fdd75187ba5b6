using LlmStack.Schema;
using Serilog;

namespace LlmStack.Credentials;

/// <summary>
/// One RotateSecret as it goes: the previous and the new value, and which of its steps have changed something (the
/// role, the file, the stacks started again, the dependents restarted) — what <see cref="RollbackAsync"/> undoes.
/// </summary>
public sealed class Rotation(string name, SecretDefinition definition)
{
    public string Name => name;

    public SecretDefinition Definition => definition;

    public string Previous { get; set; } = string.Empty;

    public string Next { get; set; } = string.Empty;

    /// <summary>The login account whose password the rotation changes (the value of the definition's <c>account:</c> variable).</summary>
    public string? Account { get; set; }

    public bool RoleChanged { get; set; }

    public bool FileChanged { get; set; }

    public List<string> Recreated { get; } = [];

    public List<string> Dependents { get; } = [];

    /// <summary>Something has changed: a failure from here on needs the rollback.</summary>
    public bool Started => RoleChanged || FileChanged || Recreated.Count > 0;

    /// <summary>
    /// Puts the previous value back wherever the rotation got to (role, file, stacks, dependents), each step on its own so
    /// that one failing does not stop the others; returns what it undid (or could not). Runs after a failure or Ctrl-C,
    /// so with its own time budget, not the cancelled run's token.
    /// </summary>
    public async Task<string> RollbackAsync(string path, IRotationActions actions, ILogger log)
    {
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

        if (RoleChanged)
        {
            await Step($"role {Account}", () => actions.SetPasswordAsync(Definition.Login!, Account!, Previous, ct));
        }

        if (FileChanged)
        {
            await Step($"{Name} in {Path.GetFileName(path)}", () =>
            {
                actions.WriteSecret(path, Name, Previous);
                actions.ReloadSecrets();
                return Task.CompletedTask;
            });
        }

        foreach (var stack in Recreated)
        {
            await Step($"stack {stack}", () => actions.StartStackAsync(stack, ct));
        }

        if (Dependents.Count > 0)
        {
            await Step(string.Join(", ", Dependents), () => actions.RestartAsync(Dependents, ct));
        }

        return undone.Count == 0 ? "nothing had changed" : string.Join("; ", undone);
    }
}
