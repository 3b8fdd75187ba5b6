using System.Text;

namespace LlmStack.Schema;

/// <summary>
/// Compose-style interpolation: <c>${NAME}</c>, <c>${NAME:-default}</c>, <c>${NAME-default}</c>,
/// <c>${NAME:?message}</c>, <c>${NAME?message}</c> and <c>$$</c> for a literal <c>$</c>.
/// Resolving an environment substitutes variables and keeps secret references (<c>${SECRET}</c>) and
/// <c>$$</c>: the "compose form", valid in a compose file. <see cref="Materialize"/> turns the compose form
/// into the final value for the Docker API.
/// </summary>
public static class Interpolation
{
    /// <summary>Substitutes variables; secrets stay references. Problems go to <paramref name="error"/>.</summary>
    public static string Substitute(string text, Func<string, string?> variables, ISet<string> secrets, Action<string> error)
    {
        if (!text.Contains('$', StringComparison.Ordinal))
        {
            return text;
        }

        var output = new StringBuilder(text.Length);
        foreach (var part in Parse(text, error))
        {
            switch (part)
            {
                case Literal literal:
                    output.Append(Escape(literal.Text));
                    break;
                case Reference reference when secrets.Contains(reference.Name):
                    if (reference.Operator is not null)
                    {
                        error($"secret ${{{reference.Name}}} cannot have a default or message: write ${{{reference.Name}}}");
                    }

                    output.Append("${").Append(reference.Name).Append('}');
                    break;
                case Reference reference:
                    var value = variables(reference.Name);
                    var useDefault = reference.Operator switch
                    {
                        ":-" or ":?" => string.IsNullOrEmpty(value),
                        "-" or "?" => value is null,
                        _ => false,
                    };
                    if (useDefault && reference.Operator is ":?" or "?")
                    {
                        error($"variable {reference.Name} is required: {reference.Argument}");
                    }
                    else if (useDefault)
                    {
                        output.Append(Substitute(reference.Argument ?? string.Empty, variables, secrets, error));
                    }
                    else if (value is null)
                    {
                        error($"undefined variable ${{{reference.Name}}}: declare it under variables or secrets, or write ${{{reference.Name}:-default}}");
                    }
                    else
                    {
                        output.Append(Escape(value));
                    }

                    break;
            }
        }

        return output.ToString();
    }

    /// <summary>Names referenced by a text (variables and secrets).</summary>
    public static IEnumerable<string> References(string text) =>
        text.Contains('$', StringComparison.Ordinal)
            ? Parse(text, _ => { }).OfType<Reference>().Select(r => r.Name)
            : [];

    /// <summary>Compose form → final value: <c>$$</c> → <c>$</c>, <c>${SECRET}</c> → its value.</summary>
    public static string Materialize(string composeForm, Func<string, string?> secrets)
    {
        if (!composeForm.Contains('$', StringComparison.Ordinal))
        {
            return composeForm;
        }

        var output = new StringBuilder(composeForm.Length);
        foreach (var part in Parse(composeForm, message => throw new SchemaException(message)))
        {
            if (part is Literal literal)
            {
                output.Append(literal.Text);
            }
            else if (part is Reference reference)
            {
                output.Append(secrets(reference.Name)
                    ?? throw new SchemaException($"secret {reference.Name} has no value: run a Start target to generate secrets, or add it to the secrets file"));
            }
        }

        return output.ToString();
    }

    /// <summary>A literal value in compose form.</summary>
    public static string Escape(string literal) => literal.Replace("$", "$$", StringComparison.Ordinal);

    private abstract record Part;

    private sealed record Literal(string Text) : Part;

    private sealed record Reference(string Name, string? Operator, string? Argument) : Part;

    private static List<Part> Parse(string text, Action<string> error)
    {
        var parts = new List<Part>();
        var literal = new StringBuilder();
        var i = 0;
        while (i < text.Length)
        {
            var c = text[i];
            if (c != '$')
            {
                literal.Append(c);
                i++;
                continue;
            }

            if (i + 1 < text.Length && text[i + 1] == '$')
            {
                literal.Append('$');
                i += 2;
                continue;
            }

            if (i + 1 < text.Length && text[i + 1] == '{')
            {
                var close = text.IndexOf('}', i + 2);
                if (close < 0)
                {
                    error($"unclosed ${{ in '{text}'");
                    literal.Append(text[i..]);
                    break;
                }

                var inner = text[(i + 2)..close];
                var nameLength = 0;
                while (nameLength < inner.Length && (char.IsLetterOrDigit(inner[nameLength]) || inner[nameLength] == '_'))
                {
                    nameLength++;
                }

                var name = inner[..nameLength];
                var rest = inner[nameLength..];
                string? op = null;
                string? argument = null;
                foreach (var candidate in new[] { ":-", ":?", "-", "?" })
                {
                    if (rest.StartsWith(candidate, StringComparison.Ordinal))
                    {
                        op = candidate;
                        argument = rest[candidate.Length..];
                        break;
                    }
                }

                if (name.Length == 0 || char.IsDigit(name[0]) || (op is null && rest.Length > 0))
                {
                    error($"invalid reference '${{{inner}}}': use ${{NAME}}, ${{NAME:-default}} or ${{NAME:?message}}");
                    i = close + 1;
                    continue;
                }

                if (literal.Length > 0)
                {
                    parts.Add(new Literal(literal.ToString()));
                    literal.Clear();
                }

                parts.Add(new Reference(name, op, argument));
                i = close + 1;
                continue;
            }

            var bare = i + 1 < text.Length && (char.IsLetter(text[i + 1]) || text[i + 1] == '_');
            error(bare
                ? $"bare ${text[(i + 1)..].Split(' ', '/', ':', '"', '\'')[0]} in '{text}': write ${{NAME}}, or $$ for a literal $"
                : $"a lone $ in '{text}': write $$ for a literal $");
            literal.Append('$');
            i++;
        }

        if (literal.Length > 0)
        {
            parts.Add(new Literal(literal.ToString()));
        }

        return parts;
    }
}
