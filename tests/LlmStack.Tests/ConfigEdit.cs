using FluentAssertions;

namespace LlmStack.Tests;

/// <summary>Edits a shipped configuration for a test and finds the position marked with ⟦ (removed from the text).</summary>
public static class ConfigEdit
{
    public const string Marker = "⟦";

    /// <returns>The edited YAML and the marker's line:column (1-based), or null when no edit placed a marker.</returns>
    public static (string Yaml, string? Position) Apply(string yaml, params (string From, string To)[] edits)
    {
        foreach (var (from, to) in edits)
        {
            yaml.Should().Contain(from);
            var index = yaml.IndexOf(from, StringComparison.Ordinal);
            yaml = yaml[..index] + to + yaml[(index + from.Length)..];
        }

        var marker = yaml.IndexOf(Marker, StringComparison.Ordinal);
        if (marker < 0)
        {
            return (yaml, null);
        }

        var before = yaml[..marker];
        var position = $"{before.Count(c => c == '\n') + 1}:{marker - (before.LastIndexOf('\n') + 1) + 1}";
        return (yaml.Remove(marker, Marker.Length), position);
    }
}
