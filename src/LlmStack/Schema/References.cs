using LlmStack.Pipeline;

namespace LlmStack.Schema;

/// <summary>
/// How a name that refers to nothing is reported, in the schema and in every configuration: the closest defined names
/// (the engine's <see cref="Naming.Closest"/>, as for a mistyped target), else every defined name.
/// </summary>
public static class References
{
    /// <summary><c> (did you mean 'local'?)</c> when a defined name is close, else <c> (defined: a, b)</c>, or <c> (none is defined)</c>.</summary>
    public static string Hint(string name, IEnumerable<string> defined)
    {
        var names = defined.ToList();
        return DidYouMean(name, names) is { Length: > 0 } closest ? closest
            : names.Count == 0 ? " (none is defined)"
            : $" (defined: {string.Join(", ", names)})";
    }

    /// <summary><c> (did you mean 'local'?)</c> when a defined name is close to <paramref name="name"/>, else empty.</summary>
    public static string DidYouMean(string name, IEnumerable<string> defined)
    {
        var closest = Naming.Closest(name, defined, 2).Where(c => c != name).ToList();
        return closest.Count == 0 ? string.Empty : $" (did you mean {string.Join(" or ", closest.Select(c => $"'{c}'"))}?)";
    }
}
