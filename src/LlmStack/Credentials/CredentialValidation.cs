using LlmStack.Pipeline;
using LlmStack.Reporting;
using LlmStack.Schema;
using LlmStack.Security;

namespace LlmStack.Credentials;

/// <summary>What ValidateCredentials found, and which running services it checked.</summary>
public sealed record CredentialCheck(string Environment, IReadOnlyList<CredentialFinding> Findings, IReadOnlyList<string> Running)
{
    public int Count(CredentialLevel level) => Findings.Count(f => f.Level == level);

    /// <summary>The table (when there are findings), the <c>--json</c> document, and the failure when a finding is an error.</summary>
    public Report ToReport()
    {
        var table = new TextTable("SECRET", "RULE", "LEVEL", "DETAIL");
        foreach (var f in Findings)
        {
            table.Add(f.Secret, f.Rule, f.Level.Word(), f.Detail);
        }

        return new Report { Document = new { environment = Environment, findings = Findings, running = Running } }
            .TableIfAny(table)
            .FailWhen(Findings.Where(f => f.Level == CredentialLevel.Error).Select(f => f.Secret).ToList(), errors =>
                $"ValidateCredentials: {errors.Count} error(s) in the secrets of {Environment} (each named above; values are never shown)");
    }
}

/// <summary>
/// Every finding of ValidateCredentials for one environment, over the read-side interfaces: the value rules
/// (<see cref="CredentialRules.Check"/>) against the other environments' files, the file's own rules, and the running
/// services against the file — each running container's environment (<c>drift</c>) and every <c>login</c> secret by
/// logging in to its server. When the running services cannot be checked, a warning says so and the rest still counts.
/// </summary>
public sealed class CredentialValidation(
    ResolvedEnvironment environment, IReadOnlyDictionary<string, SecretDefinition> definitions, string root, ISecretsFiles files, IRunningServices running)
{
    /// <param name="path">The environment's secrets file.</param>
    /// <param name="values">Its values (read once by the caller, which registers them with the masker first).</param>
    /// <param name="otherFiles">The other environments' secrets files, by environment.</param>
    /// <param name="strict">Every finding an error.</param>
    public async Task<CredentialCheck> CheckAsync(
        string path, IReadOnlyDictionary<string, string> values, IReadOnlyDictionary<string, string> otherFiles, bool strict, CancellationToken cancellationToken)
    {
        var level = CredentialRules.LevelFor(environment.Name, strict);
        var findings = new List<CredentialFinding>();
        if (!files.Exists(path))
        {
            findings.Add(new CredentialFinding(environment.Name, "-", "file", level, $"{path} does not exist: run SetupSecrets"));
        }
        else
        {
            var others = new Dictionary<string, IReadOnlyDictionary<string, string>>(StringComparer.Ordinal);
            foreach (var (other, otherPath) in otherFiles)
            {
                var otherValues = files.Read(otherPath);
                if (otherValues.Count > 0)
                {
                    others[other] = otherValues;
                }
            }

            findings.AddRange(CredentialRules.Check(environment.Name, definitions, values, environment.Variables, others, strict));
            findings.AddRange(CredentialRules.FileFindings(environment.Name, path, root, await files.InspectAsync(path, cancellationToken), level));
        }

        var checkedLive = new List<string>();
        try
        {
            findings.AddRange(await LiveAsync(values, level, checkedLive, cancellationToken));
        }
        catch (PipelineException e)
        {
            findings.Add(new CredentialFinding(environment.Name, "-", "running", CredentialLevel.Warning, $"the running services were not checked: {e.Message}"));
        }

        return new CredentialCheck(environment.Name, findings, checkedLive);
    }

    /// <summary>
    /// Drift between the file and the running services: each running container's environment against the file's
    /// values, and every <c>login</c> secret by logging in to its running server.
    /// </summary>
    private async Task<List<CredentialFinding>> LiveAsync(IReadOnlyDictionary<string, string> values, CredentialLevel level, List<string> checkedLive, CancellationToken cancellationToken)
    {
        var findings = new List<CredentialFinding>();
        var containers = await running.RunningAsync(cancellationToken);
        foreach (var container in containers.OrderBy(c => c.Name, StringComparer.Ordinal))
        {
            var service = environment.Services.FirstOrDefault(s => s.Name == container.Service);
            if (service is null)
            {
                continue;
            }

            foreach (var secret in Drifted(service, values, await running.EnvironmentAsync(container.Id, cancellationToken)))
            {
                findings.Add(new CredentialFinding(environment.Name, secret, "drift", level,
                    $"{container.Name} runs with another value than the file's: Start{StackTarget(service.Stack)} recreates it (or the file was changed by hand: restore it)"));
            }

            if (service.SecretReferences.Count > 0)
            {
                checkedLive.Add($"{service.Name} (environment)");
            }
        }

        foreach (var (name, definition) in definitions.Where(d => d.Value.Login is not null).OrderBy(d => d.Key, StringComparer.Ordinal))
        {
            var server = containers.FirstOrDefault(c => c.Service == definition.Login);
            if (server is null || !values.TryGetValue(name, out var password) || definition.Account is null
                || !environment.Variables.TryGetValue(definition.Account, out var account))
            {
                continue;
            }

            checkedLive.Add($"{definition.Login} (login of {account})");
            if (!await running.AcceptsAsync(server.Id, account, password, cancellationToken))
            {
                findings.Add(new CredentialFinding(environment.Name, name, "login", level,
                    $"{definition.Login} refuses {account} with the file's value (changed behind LlmStack's back, or a restore brought another): put the right value back, or RotateSecret --secret {name}"));
            }
        }

        return findings;
    }

    /// <summary>The target that starts a stack's services (<c>core</c> → <c>Core</c>, as in <c>StartCore</c>).</summary>
    internal static string StackTarget(string stack) => Engine.Health.Capitalize(stack);

    /// <summary>The secrets whose value in the container's environment (<paramref name="actual"/>) differs from what the file gives.</summary>
    public static IReadOnlyList<string> Drifted(ResolvedService service, IReadOnlyDictionary<string, string> values, IReadOnlyDictionary<string, string> actual)
    {
        var drifted = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var (key, form) in service.Environment)
        {
            var secrets = Interpolation.References(form).Where(values.ContainsKey).ToList();
            if (secrets.Count == 0)
            {
                continue;
            }

            var expected = Interpolation.Materialize(form, values.GetValueOrDefault);
            if (!actual.TryGetValue(key, out var value) || value != expected)
            {
                drifted.UnionWith(secrets);
            }
        }

        return drifted.ToList();
    }
}
