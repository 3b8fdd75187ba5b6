using System.Text;

namespace LlmStack.Pipeline;

/// <summary>Names on the command line: kebab-case for display, matching ignores dashes, underscores and case.</summary>
public static class Naming
{
    private static readonly string[] KnownWords = ["GitHub", "DotNet", "NuGet"];

    /// <summary><c>ImageMap</c> → <c>image-map</c>; <c>GitHubToken</c> → <c>github-token</c>.</summary>
    public static string ToKebabCase(string name)
    {
        foreach (var word in KnownWords)
        {
            name = name.Replace(word, word[..1].ToUpperInvariant() + word[1..].ToLowerInvariant(), StringComparison.Ordinal);
        }

        var builder = new StringBuilder(name.Length + 8);
        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            if (i > 0 && char.IsUpper(c) && char.IsLower(name[i - 1]))
            {
                builder.Append('-');
            }

            builder.Append(char.ToLowerInvariant(c));
        }

        return builder.ToString();
    }

    /// <summary>The form used for matching: letters and digits only, lower case.</summary>
    public static string Normalize(string name)
    {
        var builder = new StringBuilder(name.Length);
        foreach (var c in name)
        {
            if (char.IsLetterOrDigit(c))
            {
                builder.Append(char.ToLowerInvariant(c));
            }
        }

        return builder.ToString();
    }

    /// <summary>Candidates closest to <paramref name="name"/> (edit distance on normalized names), best first.</summary>
    public static IReadOnlyList<string> Closest(string name, IEnumerable<string> candidates, int max = 3)
    {
        var wanted = Normalize(name);
        return candidates
            .Select(candidate => (candidate, distance: Distance(wanted, Normalize(candidate))))
            .Where(x => x.distance <= Math.Max(2, wanted.Length / 3) || Normalize(x.candidate).Contains(wanted, StringComparison.Ordinal))
            .OrderBy(x => x.distance)
            .ThenBy(x => x.candidate, StringComparer.Ordinal)
            .Take(max)
            .Select(x => x.candidate)
            .ToList();
    }

    internal static int Distance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost);
            }

            (previous, current) = (current, previous);
        }

        return previous[b.Length];
    }
}
