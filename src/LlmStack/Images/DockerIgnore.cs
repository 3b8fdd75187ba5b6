using System.Text;
using System.Text.RegularExpressions;
using LlmStack.Pipeline;

namespace LlmStack.Images;

/// <summary>
/// A build context's <c>.dockerignore</c>, read and applied as the Docker CLI does before it sends a context: one pattern a
/// line; a line starting with <c>#</c> is a comment; lines are trimmed, cleaned as Go's <c>filepath.Clean</c> cleans them and
/// a leading <c>/</c> dropped (the context root is both the working and the root directory); <c>!</c> makes an exception.
/// Patterns are Go's <c>filepath.Match</c> (<c>*</c> and <c>?</c> stop at <c>/</c>, <c>[...]</c> classes negated with
/// <c>^</c>, <c>\</c> escapes) plus <c>**</c> for any number of directories, zero included. A pattern matches a path or any
/// of its parent directories, and the last pattern that matches decides. The Dockerfile and <c>.dockerignore</c> are always
/// sent (the engine needs them; they are excluded only from what COPY sees, by the engine).
/// </summary>
public sealed class DockerIgnore
{
    public const string FileName = ".dockerignore";

    private readonly IReadOnlyList<IgnorePattern> _patterns;

    private DockerIgnore(IReadOnlyList<IgnorePattern> patterns) => _patterns = patterns;

    public static DockerIgnore None { get; } = new([]);

    public IReadOnlyList<IgnorePattern> Patterns => _patterns;

    /// <summary>Whether a pattern is an exception (<c>!</c>): then an excluded directory may still hold included files.</summary>
    public bool HasExceptions => _patterns.Any(p => p.Exception);

    /// <summary>The patterns of <c>.dockerignore</c>'s text; a malformed one is one line naming <paramref name="source"/>, the line and the pattern.</summary>
    public static DockerIgnore Parse(string text, string source)
    {
        var patterns = new List<IgnorePattern>();
        var number = 0;
        foreach (var raw in text.Split('\n'))
        {
            number++;
            var line = number == 1 ? raw.TrimStart('\uFEFF') : raw;
            if (line.StartsWith('#'))
            {
                continue;
            }

            line = line.Trim();
            if (line.Length == 0)
            {
                continue;
            }

            var exception = line[0] == '!';
            if (exception)
            {
                line = line[1..].Trim();
            }

            if (line.Length > 0)
            {
                line = Clean(line);
                if (line.Length > 1 && line[0] == '/')
                {
                    line = line[1..];
                }
            }

            if (exception && line.Length == 0)
            {
                throw new PipelineException($"{source}:{number}: illegal exclusion pattern '!': name what to keep after the !");
            }

            try
            {
                patterns.Add(new IgnorePattern(line, exception));
            }
            catch (ArgumentException e)
            {
                throw new PipelineException($"{source}:{number}: bad pattern '{line}' ({e.Message}): fix it as Go's filepath.Match patterns are written");
            }
        }

        return new DockerIgnore(patterns);
    }

    /// <summary>
    /// The context's <c>.dockerignore</c> (none: nothing is excluded), with the Dockerfile and <c>.dockerignore</c> kept in
    /// the context whatever it says, as the CLI keeps them.
    /// </summary>
    public static DockerIgnore Load(string contextDirectory, string dockerfile)
    {
        var path = Path.Combine(contextDirectory, FileName);
        var ignore = File.Exists(path) ? Parse(File.ReadAllText(path, Encoding.UTF8), path) : None;
        var patterns = ignore._patterns.ToList();
        foreach (var kept in new[] { FileName, dockerfile })
        {
            if (ignore.Excludes(kept))
            {
                patterns.Add(new IgnorePattern(Clean(kept), exception: true));
            }
        }

        return new DockerIgnore(patterns);
    }

    /// <summary>
    /// Whether <paramref name="path"/> (relative to the context, <c>/</c>-separated) is left out: the last pattern that matches
    /// it or one of its parent directories decides (moby's <c>MatchesOrParentMatches</c>).
    /// </summary>
    public bool Excludes(string path)
    {
        var matched = false;
        var slash = path.LastIndexOf('/');
        var parents = slash < 0 ? [] : path[..slash].Split('/');
        foreach (var pattern in _patterns)
        {
            // Only a pattern that could change the verdict is evaluated: an exclusion while included, an exception while excluded.
            if (pattern.Exception != matched)
            {
                continue;
            }

            var match = pattern.Matches(path);
            for (var i = 0; !match && i < parents.Length; i++)
            {
                match = pattern.Matches(string.Join('/', parents.Take(i + 1)));
            }

            if (match)
            {
                matched = !pattern.Exception;
            }
        }

        return matched;
    }

    /// <summary>
    /// Whether an excluded directory must still be walked: an exception pattern names something under it (the CLI's
    /// walker: a pattern that starts with the directory's path and a slash).
    /// </summary>
    public bool MayKeepUnder(string directory) =>
        _patterns.Any(p => p.Exception && (p.Text + "/").StartsWith(directory + "/", StringComparison.Ordinal));

    /// <summary>Go's <c>path.Clean</c>: one slash at a time, no <c>.</c> elements, <c>..</c> folded into its parent, no trailing slash.</summary>
    public static string Clean(string path)
    {
        if (path.Length == 0)
        {
            return ".";
        }

        var rooted = path[0] == '/';
        var parts = new List<string>();
        foreach (var part in path.Split('/'))
        {
            if (part.Length == 0 || part == ".")
            {
                continue;
            }

            if (part == "..")
            {
                if (parts.Count > 0 && parts[^1] != "..")
                {
                    parts.RemoveAt(parts.Count - 1);
                }
                else if (!rooted)
                {
                    parts.Add(part);
                }

                continue;
            }

            parts.Add(part);
        }

        var cleaned = (rooted ? "/" : string.Empty) + string.Join('/', parts);
        return cleaned.Length == 0 ? "." : cleaned;
    }
}

/// <summary>
/// One pattern of a <c>.dockerignore</c>, compiled as moby's patternmatcher compiles it: an exact, prefix (<c>dir/**</c>),
/// suffix (<c>**/name</c>) or regular-expression match.
/// </summary>
public sealed class IgnorePattern
{
    private enum Kind
    {
        Exact,
        Prefix,
        Suffix,
        Expression,
    }

    private readonly Kind _kind;
    private readonly Regex? _expression;

    public IgnorePattern(string text, bool exception)
    {
        Text = text;
        Exception = exception;
        (_kind, _expression) = Compile(text);
    }

    /// <summary>The pattern as cleaned (without the <c>!</c>).</summary>
    public string Text { get; }

    /// <summary>An exception (<c>!pattern</c>): what it matches is kept.</summary>
    public bool Exception { get; }

    public bool Matches(string path) => _kind switch
    {
        Kind.Exact => path == Text,
        Kind.Prefix => path.StartsWith(Text[..^2], StringComparison.Ordinal),
        Kind.Suffix => path.EndsWith(Text[2..], StringComparison.Ordinal) || (Text.Length > 2 && Text[2] == '/' && path == Text[3..]),
        _ => _expression!.IsMatch(path),
    };

    public override string ToString() => (Exception ? "!" : string.Empty) + Text;

    private static (Kind, Regex?) Compile(string pattern)
    {
        var expression = new StringBuilder("^");
        var kind = Kind.Exact;
        for (var i = 0; i < pattern.Length; i++)
        {
            var c = pattern[i];
            if (c == '*')
            {
                if (i + 1 < pattern.Length && pattern[i + 1] == '*')
                {
                    var start = i;
                    i++;
                    if (i + 1 < pattern.Length && pattern[i + 1] == '/')
                    {
                        i++; // **/ is **: the slash is eaten
                    }

                    if (i + 1 >= pattern.Length)
                    {
                        // ** at the end: everything (as .gitignore)
                        if (kind == Kind.Exact)
                        {
                            kind = Kind.Prefix;
                        }
                        else
                        {
                            expression.Append(".*");
                            kind = Kind.Expression;
                        }
                    }
                    else
                    {
                        expression.Append("(.*/)?"); // any number of directories, none included
                        kind = Kind.Expression;
                    }

                    if (start == 0)
                    {
                        kind = Kind.Suffix;
                    }
                }
                else
                {
                    expression.Append("[^/]*");
                    kind = Kind.Expression;
                }
            }
            else if (c == '?')
            {
                expression.Append("[^/]");
                kind = Kind.Expression;
            }
            else if (c is '.' or '+' or '(' or ')' or '|' or '{' or '}' or '$')
            {
                expression.Append('\\').Append(c);
            }
            else if (c == '\\')
            {
                if (i + 1 < pattern.Length)
                {
                    expression.Append('\\').Append(pattern[++i]);
                    kind = Kind.Expression;
                }
                else
                {
                    throw new ArgumentException("a trailing \\ escapes nothing");
                }
            }
            else if (c is '[' or ']')
            {
                expression.Append(c);
                kind = Kind.Expression;
            }
            else
            {
                expression.Append(c);
            }
        }

        if (kind != Kind.Expression)
        {
            return (kind, null);
        }

        // An unterminated or reversed [class] is refused here, as Go's filepath.Match refuses it.
        return (kind, new Regex(expression.Append('$').ToString(), RegexOptions.CultureInvariant));
    }
}
