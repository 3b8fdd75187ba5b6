using System.Text.RegularExpressions;

namespace LlmStack.Security.Scanning;

/// <summary>A value from a secrets file (<c>secrets/&lt;env&gt;.env</c>) that must appear nowhere else.</summary>
public sealed record KnownSecret(string Name, string Source, string Value);

/// <summary>
/// Applies the rule table and the environment's actual secret values to one text. Pure and thread-safe: the file and
/// history scans call it in parallel.
/// </summary>
public sealed class ContentScanner(IReadOnlyList<SecretRule> rules, IReadOnlyList<KnownSecret> knownSecrets)
{
    /// <summary>Secret values shorter than this are not searched for (they would match ordinary words).</summary>
    public const int MinKnownSecretLength = 8;

    private readonly IReadOnlyList<KnownSecret> _known = knownSecrets.Where(k => k.Value.Length >= MinKnownSecretLength).ToList();

    public IReadOnlyList<SecretRule> Rules => rules;

    /// <summary>
    /// Every finding in <paramref name="text"/>; its first line is line <paramref name="firstLine"/> of the file
    /// (a history hunk starts mid-file). A match of several rules at one place is reported once, by the first rule.
    /// </summary>
    public List<Finding> Scan(string text, string path, int firstLine = 1, string? commit = null)
    {
        var findings = new List<Finding>();
        int[]? lineStarts = null;
        var taken = new HashSet<int>();

        void Add(string ruleId, int index, string match, string message)
        {
            if (!taken.Add(index))
            {
                return;
            }

            lineStarts ??= LineStarts(text);
            var line = Array.BinarySearch(lineStarts, index);
            line = line >= 0 ? line : ~line - 1;
            findings.Add(new Finding(ruleId, path, firstLine + line, index - lineStarts[line] + 1, match, message, commit));
        }

        foreach (var known in _known)
        {
            for (var index = text.IndexOf(known.Value, StringComparison.Ordinal); index >= 0; index = text.IndexOf(known.Value, index + known.Value.Length, StringComparison.Ordinal))
            {
                Add(SecretRules.EnvironmentSecretId, index, known.Value, $"the value of {known.Name} from {known.Source}");
            }
        }

        foreach (var rule in rules)
        {
            if (!rule.MayMatch(text))
            {
                continue;
            }

            try
            {
                for (var match = rule.Pattern.Match(text); match.Success; match = match.NextMatch())
                {
                    if (rule.Secret(match) is { } secret)
                    {
                        Add(rule.Id, secret.Index, secret.Value, rule.Name);
                    }
                }
            }
            catch (RegexMatchTimeoutException)
            {
                findings.Add(new Finding("scan-timeout", path, firstLine, 1, string.Empty, $"rule {rule.Id} timed out on this file: check it by hand or allowlist it", commit));
            }
        }

        return findings;
    }

    private static int[] LineStarts(string text)
    {
        var starts = new List<int> { 0 };
        for (var i = text.IndexOf('\n', StringComparison.Ordinal); i >= 0; i = text.IndexOf('\n', i + 1))
        {
            starts.Add(i + 1);
        }

        return [.. starts];
    }
}
