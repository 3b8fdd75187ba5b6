using System.Text.RegularExpressions;
using LlmStack.Pipeline;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace LlmStack.Security.Scanning;

/// <summary>
/// Checks of the repository's shape rather than its text: the unified schema and the generated compose files hold no
/// literal value for a declared secret and no <c>${SECRET:-default}</c> fallback (a fallback would run a service with a
/// known password when the secrets file is missing), and the secrets directory is git-ignored with nothing under it
/// tracked.
/// </summary>
public static partial class StructuralChecks
{
    public const string SecretLiteralId = "secret-literal-value";

    [GeneratedRegex(@"\$\{(?<name>[A-Za-z_][A-Za-z0-9_]*)(?<operator>:?[-=])")]
    private static partial Regex Fallback();

    [GeneratedRegex(@"^\$\{(?<name>[A-Za-z_][A-Za-z0-9_]*)(?::?\?[^}]*)?\}$")]
    private static partial Regex PlainReference();

    /// <summary>
    /// A YAML file (the schema, a generated compose file) against the declared secret names: every fallback of a secret,
    /// and every value given to a secret's name (<c>NAME: value</c>, <c>- NAME=value</c>) that is not <c>${NAME}</c> or
    /// <c>${NAME:?message}</c>. A file that is not valid YAML is left to ValidateSchema (the text scan still covers it).
    /// </summary>
    public static List<Finding> CheckComposeYaml(string path, string displayPath, ISet<string> secretNames)
    {
        var findings = new List<Finding>();
        var stream = new YamlStream();
        try
        {
            using var reader = new StreamReader(path);
            stream.Load(reader);
        }
        catch (YamlException)
        {
            return findings;
        }

        void Literal(YamlScalarNode node, string name, string value)
        {
            if (value.Length > 0 && !(PlainReference().Match(value) is { Success: true } reference && reference.Groups["name"].Value == name))
            {
                findings.Add(new Finding(SecretLiteralId, displayPath, (int)node.Start.Line, (int)node.Start.Column, value, $"a literal value for the declared secret {name}: write ${{{name}}}"));
            }
        }

        void Visit(YamlNode node)
        {
            switch (node)
            {
                case YamlScalarNode { Value: { } text } scalar:
                    foreach (Match match in Fallback().Matches(text))
                    {
                        if (secretNames.Contains(match.Groups["name"].Value))
                        {
                            var close = text.IndexOf('}', match.Index);
                            var reference = close < 0 ? text[match.Index..] : text[match.Index..(close + 1)];
                            findings.Add(new Finding(SecretRules.SecretFallbackId, displayPath, (int)scalar.Start.Line, (int)scalar.Start.Column, reference,
                                $"a default for the declared secret {match.Groups["name"].Value} (${{{match.Groups["name"].Value}{match.Groups["operator"].Value}…}}): write ${{{match.Groups["name"].Value}}}"));
                        }
                    }

                    var equals = text.IndexOf('=', StringComparison.Ordinal);
                    if (equals > 0 && secretNames.Contains(text[..equals]))
                    {
                        Literal(scalar, text[..equals], text[(equals + 1)..]);
                    }

                    break;
                case YamlMappingNode mapping:
                    foreach (var (key, value) in mapping.Children)
                    {
                        if (key is YamlScalarNode { Value: { } name } && secretNames.Contains(name) && value is YamlScalarNode { Value: { } literal } valueNode)
                        {
                            Literal(valueNode, name, literal);
                        }

                        Visit(value);
                    }

                    break;
                case YamlSequenceNode sequence:
                    foreach (var child in sequence.Children)
                    {
                        Visit(child);
                    }

                    break;
            }
        }

        foreach (var document in stream.Documents)
        {
            Visit(document.RootNode);
        }

        return findings;
    }

    /// <summary>
    /// The secrets directory of a repository: ignored by git's rules (<c>git check-ignore</c>) and nothing under it tracked.
    /// Nothing to check when it lies outside the repository (a CI runner keeps it elsewhere).
    /// </summary>
    public static async Task<List<Finding>> CheckSecretsDirectoryAsync(string root, string secretsDirectory, CancellationToken cancellationToken)
    {
        var findings = new List<Finding>();
        var relative = Path.GetRelativePath(root, secretsDirectory).Replace(Path.DirectorySeparatorChar, '/');
        if (relative == "." || relative.StartsWith("../", StringComparison.Ordinal) || relative == ".." || Path.IsPathRooted(relative))
        {
            return findings;
        }

        var ignored = await ProcessRunner.RunAsync("git", ["-C", root, "check-ignore", "-q", "--no-index", $"{relative}/"], root, null, cancellationToken, onErrorLine: _ => { });
        if (ignored.ExitCode == 1)
        {
            findings.Add(new Finding(SecretRules.SecretsNotIgnoredId, ".gitignore", 1, 1, relative, $"{relative}/ is not git-ignored: add '{relative}/' to .gitignore"));
        }
        else if (ignored.ExitCode != 0)
        {
            throw new PipelineException($"git check-ignore in {root} failed (exit {ignored.ExitCode}): is it a git repository?");
        }

        var errors = new List<string>();
        var tracked = await ProcessRunner.RunAsync("git", ["-C", root, "-c", "core.quotePath=false", "ls-files", "-z", "--", relative], root, null, cancellationToken, onErrorLine: errors.Add);
        if (tracked.ExitCode != 0)
        {
            throw new PipelineException($"git ls-files in {root} failed (exit {tracked.ExitCode}): {errors.FirstOrDefault() ?? "no message"}");
        }

        foreach (var file in string.Join('\n', tracked.Output).Split('\0', StringSplitOptions.RemoveEmptyEntries))
        {
            findings.Add(new Finding(SecretRules.SecretsTrackedId, file, 1, 1, file, $"{file} is tracked by git: git rm --cached '{file}', then rotate its secrets (they are in the history)"));
        }

        return findings;
    }
}
