using System.Text;
using LlmStack.Engine;

namespace LlmStack.Backup;

/// <summary>Counts rows of the COPY blocks in pg_restore's SQL output as it streams (one line per row in COPY text format).</summary>
internal sealed class CopyRowCounter : WriteOnlyStream
{
    private readonly StringBuilder _line = new();
    private readonly Decoder _decoder = Encoding.UTF8.GetDecoder();
    private string? _table;

    public Dictionary<string, long> Rows { get; } = new(StringComparer.Ordinal);

    public override void Write(byte[] buffer, int offset, int count)
    {
        var chars = new char[_decoder.GetCharCount(buffer, offset, count)];
        _decoder.GetChars(buffer, offset, count, chars, 0);
        foreach (var c in chars)
        {
            if (c != '\n')
            {
                if (_line.Length < 4096)
                {
                    _line.Append(c);
                }

                continue;
            }

            Line(_line.ToString());
            _line.Clear();
        }
    }

    private void Line(string line)
    {
        if (_table is null)
        {
            if (line.StartsWith("COPY ", StringComparison.Ordinal) && line.EndsWith("FROM stdin;", StringComparison.Ordinal))
            {
                var end = line.IndexOf(" (", StringComparison.Ordinal) is var paren and > 0 ? paren : line.IndexOf(" FROM stdin;", StringComparison.Ordinal);
                _table = line[5..end];
                Rows[_table] = 0;
            }
        }
        else if (line == "\\.")
        {
            _table = null;
        }
        else
        {
            Rows[_table]++;
        }
    }
}
