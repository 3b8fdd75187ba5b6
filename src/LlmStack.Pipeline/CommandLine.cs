namespace LlmStack.Pipeline;

/// <summary>
/// The command line: leading positional tokens are targets; <c>--name v1 v2</c> takes the tokens up to the
/// next one starting with '-'; <c>--name=value</c> is accepted too. The last occurrence of a name wins.
/// </summary>
internal sealed class CommandLine
{
    private readonly Dictionary<string, (string Token, List<string> Values)> _named = new(StringComparer.Ordinal);

    public List<string> Positional { get; } = [];

    public static CommandLine Parse(IReadOnlyList<string> args)
    {
        var line = new CommandLine();
        string? current = null;
        foreach (var arg in args)
        {
            if (arg.Length > 1 && arg[0] == '-' && !IsNumber(arg))
            {
                var token = arg.TrimStart('-');
                string? inline = null;
                var equals = token.IndexOf('=', StringComparison.Ordinal);
                if (equals > 0)
                {
                    inline = token[(equals + 1)..];
                    token = token[..equals];
                }

                current = Naming.Normalize(token);
                line._named[current] = (arg.Split('=')[0], inline is null ? [] : [inline]);
                if (inline is not null)
                {
                    current = null;
                }
            }
            else if (current is null)
            {
                if (line._named.Count > 0)
                {
                    throw new PipelineException($"Unexpected argument '{arg}': targets come first, parameter values follow their --name.");
                }

                line.Positional.Add(arg);
            }
            else
            {
                line._named[current].Values.Add(arg);
            }
        }

        return line;
    }

    public IEnumerable<(string Normalized, string Token)> Names => _named.Select(kv => (kv.Key, kv.Value.Token));

    public bool Has(string normalizedName) => _named.ContainsKey(normalizedName);

    /// <summary>Whether every name given is <paramref name="normalizedName"/> (or none is given).</summary>
    public bool HasOnly(string normalizedName)
    {
        foreach (var name in _named.Keys)
        {
            if (name != normalizedName)
            {
                return false;
            }
        }

        return true;
    }

    public IReadOnlyList<string>? Values(string normalizedName) =>
        _named.TryGetValue(normalizedName, out var entry) ? entry.Values : null;

    private static bool IsNumber(string arg) => arg.Length > 1 && arg[0] == '-' && double.TryParse(arg, System.Globalization.CultureInfo.InvariantCulture, out _);
}
