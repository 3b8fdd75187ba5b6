namespace LlmStack.Pipeline;

/// <summary>A plain aligned table for the console: a header row, a rule, then the rows.</summary>
public sealed class TextTable(params string[] headers)
{
    private readonly List<string[]> _rows = [];

    public TextTable Add(params string[] cells)
    {
        _rows.Add(cells);
        return this;
    }

    public int Count => _rows.Count;

    public void Write(TextWriter output)
    {
        var widths = headers.Select((h, i) => Math.Max(h.Length, _rows.Select(r => i < r.Length ? r[i].Length : 0).DefaultIfEmpty(0).Max())).ToArray();
        string Line(IReadOnlyList<string> cells) =>
            string.Join("  ", cells.Select((c, i) => i == cells.Count - 1 ? c : c.PadRight(widths[i]))).TrimEnd();

        output.WriteLine(Line(headers));
        output.WriteLine(string.Join("  ", widths.Select(w => new string('─', w))));
        foreach (var row in _rows)
        {
            output.WriteLine(Line(row));
        }
    }
}
