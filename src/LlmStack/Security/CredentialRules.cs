using System.Text.RegularExpressions;
using LlmStack.Schema;

namespace LlmStack.Security;

/// <summary>
/// The rules a secret's value must pass, as data and pure functions (no file, no engine): presence, length, prefix, a
/// blocklist of weak and placeholder values, the account name, repeated characters and simple sequences, reuse inside
/// the environment and across environments. Findings never carry a value.
/// </summary>
public static partial class CredentialRules
{
    /// <summary>Environments whose findings are errors without --strict.</summary>
    public static readonly IReadOnlySet<string> StrictEnvironments = new HashSet<string>(StringComparer.Ordinal) { "staging", "production" };

    /// <summary>Weak values, rejected when the whole value equals one (case-insensitive; separators and digits around them ignored).</summary>
    public static readonly IReadOnlyList<string> Weak =
    [
        "changeme", "password", "passw0rd", "admin", "administrator", "minioadmin", "postgres", "root", "secret", "test", "testing",
        "dummy", "example", "default", "letmein", "welcome", "qwerty", "guest", "user", "demo", "sample", "pass", "master", "redis",
        "grafana", "n8n", "litellm", "minio", "openwebui", "token", "apikey", "key",
    ];

    /// <summary>Placeholder words, rejected wherever they appear in the value (case-insensitive).</summary>
    public static readonly IReadOnlyList<string> Placeholders =
    [
        "changeme", "change_me", "change-me", "changethis", "change_this", "placeholder", "replaceme", "replace_me", "replace-me",
        "example", "dummy", "notsecret", "not_secret", "insecure", "fixme", "xxxxxx", "tochange", "to_change",
    ];

    [GeneratedRegex(@"your[-_ ]?.*[-_ ]?here", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex YourSomethingHere();

    [GeneratedRegex(@"^[\W\d_]*(?<word>[a-z]+?)[\W\d_]*$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex WordWithDecoration();

    public static CredentialLevel LevelFor(string environment, bool strict) =>
        strict || StrictEnvironments.Contains(environment) ? CredentialLevel.Error : CredentialLevel.Warning;

    /// <summary>
    /// Every finding of one environment. <paramref name="others"/> holds the other environments' files (name → values),
    /// read only, for the cross-environment rule.
    /// </summary>
    public static IReadOnlyList<CredentialFinding> Check(
        string environment,
        IReadOnlyDictionary<string, SecretDefinition> definitions,
        IReadOnlyDictionary<string, string> values,
        IReadOnlyDictionary<string, string> variables,
        IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> others,
        bool strict)
    {
        var level = LevelFor(environment, strict);
        var findings = new List<CredentialFinding>();
        void Add(string secret, string rule, string detail) => findings.Add(new CredentialFinding(environment, secret, rule, level, detail));

        foreach (var (name, definition) in definitions.OrderBy(d => d.Key, StringComparer.Ordinal))
        {
            if (!values.TryGetValue(name, out var value) || value.Length == 0)
            {
                Add(name, "missing", "not in the secrets file: run SetupSecrets");
                continue;
            }

            var prefix = definition.Prefix ?? string.Empty;
            var minimum = prefix.Length + (definition.Length ?? 32);
            if (value.Length < minimum)
            {
                Add(name, "length", $"{value.Length} characters, the schema asks for at least {minimum}: RotateSecret --secret {name}");
            }

            if (prefix.Length > 0 && !value.StartsWith(prefix, StringComparison.Ordinal))
            {
                Add(name, "prefix", $"does not start with '{prefix}', which its service expects: RotateSecret --secret {name}");
            }

            var body = prefix.Length > 0 && value.StartsWith(prefix, StringComparison.Ordinal) ? value[prefix.Length..] : value;
            if (WeakReason(body) is { } weak)
            {
                Add(name, "weak", $"{weak}: RotateSecret --secret {name}");
            }

            if (SimpleReason(body) is { } simple)
            {
                Add(name, "simple", $"{simple}: RotateSecret --secret {name}");
            }

            if (definition.Account is { } accountVariable && variables.TryGetValue(accountVariable, out var account) && account.Length >= 3
                && value.Contains(account, StringComparison.OrdinalIgnoreCase))
            {
                Add(name, "account", $"{(string.Equals(value, account, StringComparison.OrdinalIgnoreCase) ? "equals" : "contains")} the account name ({accountVariable}): RotateSecret --secret {name}");
            }
        }

        foreach (var group in definitions.Keys.Where(values.ContainsKey).Where(n => values[n].Length > 0).GroupBy(n => values[n], StringComparer.Ordinal).Where(g => g.Count() > 1))
        {
            var names = group.Order(StringComparer.Ordinal).ToList();
            foreach (var name in names)
            {
                Add(name, "reused", $"same value as {string.Join(", ", names.Where(n => n != name))} in {environment}: rotate all but one");
            }
        }

        foreach (var (otherEnvironment, otherValues) in others.OrderBy(o => o.Key, StringComparer.Ordinal))
        {
            var shared = otherValues.Values.Where(v => v.Length > 0).ToHashSet(StringComparer.Ordinal);
            foreach (var name in definitions.Keys.Order(StringComparer.Ordinal).Where(n => values.TryGetValue(n, out var v) && shared.Contains(v)))
            {
                var alsoAs = otherValues.Where(kv => kv.Value == values[name]).Select(kv => kv.Key).Order(StringComparer.Ordinal).ToList();
                findings.Add(new CredentialFinding(environment, name, "shared",
                    StrictEnvironments.Contains(otherEnvironment) ? CredentialLevel.Error : level,
                    $"same value as {string.Join(", ", alsoAs)} of environment {otherEnvironment}: every environment needs its own (RotateSecret --secret {name})"));
            }
        }

        return findings;
    }

    /// <summary>
    /// The <c>file-mode</c> rule: a secrets file is 0600 and nothing else. The mode bits decide, not whether the file can
    /// be read: root reads a 0000 file all the same, and 0400 or 0640 are not 0600 either.
    /// </summary>
    public static CredentialFinding? FileMode(string environment, string path, UnixFileMode mode, CredentialLevel level)
    {
        const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        return mode == Private
            ? null
            : new CredentialFinding(environment, "-", "file-mode", level, $"{path} is {Convert.ToString((int)mode, 8).PadLeft(3, '0')}, not 600: chmod 600 {path}");
    }

    /// <summary>
    /// The rules on the file itself: mode 0600 (<see cref="FileMode"/>), owned by the running user, git-ignored, not
    /// committed (a committed file is an error everywhere: its values are in the history).
    /// </summary>
    public static IReadOnlyList<CredentialFinding> FileFindings(string environment, string path, string root, SecretsFileFacts facts, CredentialLevel level)
    {
        var findings = new List<CredentialFinding>();
        if (facts.Mode is { } mode && FileMode(environment, path, mode, level) is { } wrong)
        {
            findings.Add(wrong);
        }

        if (facts is { OwnerUid: { } owner, UserUid: { } user } && owner != user)
        {
            findings.Add(new CredentialFinding(environment, "-", "file-owner", level, $"{path} belongs to uid {owner}, not to the running user (uid {user}): chown it"));
        }

        if (facts.NotIgnored)
        {
            findings.Add(new CredentialFinding(environment, "-", "git-ignored", level, $"{path} is not git-ignored: add {Path.GetRelativePath(root, Path.GetDirectoryName(path)!)}/ to .gitignore"));
        }

        if (facts.Tracked)
        {
            findings.Add(new CredentialFinding(environment, "-", "git-tracked", CredentialLevel.Error, $"{path} is committed: git rm --cached it, then rotate every secret in it"));
        }

        return findings;
    }

    /// <summary>Why the value is a known weak or placeholder value, or null.</summary>
    public static string? WeakReason(string value)
    {
        var lower = value.ToLowerInvariant();
        if (WordWithDecoration().Match(lower) is { Success: true } word && Weak.Contains(word.Groups["word"].Value))
        {
            return $"a known weak value ('{word.Groups["word"].Value}' with decoration at most)";
        }

        if (Placeholders.FirstOrDefault(p => lower.Contains(p, StringComparison.Ordinal)) is { } placeholder)
        {
            return $"contains the placeholder word '{placeholder}'";
        }

        return YourSomethingHere().IsMatch(lower) ? "a 'your-…-here' placeholder" : null;
    }

    /// <summary>Why the value is trivially guessable (one repeated character, a short repeated unit, a run up or down), or null.</summary>
    public static string? SimpleReason(string value)
    {
        if (value.Length == 0)
        {
            return null;
        }

        if (value.Distinct().Count() == 1)
        {
            return "one character repeated";
        }

        for (var period = 2; period <= Math.Min(4, value.Length / 2); period++)
        {
            var unit = value[..period];
            if (Enumerable.Range(0, value.Length).All(i => value[i] == unit[i % period]))
            {
                return $"a {period}-character unit repeated";
            }
        }

        var steps = Enumerable.Range(1, value.Length - 1).Select(i => value[i] - value[i - 1]).Distinct().ToList();
        return steps.Count == 1 && Math.Abs(steps[0]) == 1 ? "a simple sequence" : null;
    }
}
