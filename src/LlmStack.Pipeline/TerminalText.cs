using System.Text;

namespace LlmStack.Pipeline;

/// <summary>
/// Text from external tools as it may reach a message or a log: without terminal control sequences. A tool that thinks
/// it writes to a terminal (restic's <c>ESC[2K</c> before "signal interrupt received", colours, cursor moves) would
/// otherwise put raw escapes into error messages, <c>build.log</c> and <c>build.json</c>.
/// </summary>
public static class TerminalText
{
    private const char Escape = '\u001b';

    /// <summary>
    /// Removes escape sequences (CSI <c>ESC[…</c>, OSC <c>ESC]…BEL</c>, two-character <c>ESC x</c>), C1 controls and every
    /// other control character except line feed and tab; a carriage return goes too (it rewrites a terminal line).
    /// </summary>
    public static string Clean(string text)
    {
        if (!NeedsCleaning(text))
        {
            return text;
        }

        var result = new StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == Escape)
            {
                i = SkipSequence(text, i);
                continue;
            }

            if (c == '\u009b')
            {
                // The one-character CSI: parameters and a final byte follow, as after ESC [.
                i = SkipCsi(text, i + 1);
                continue;
            }

            if (!IsControl(c))
            {
                result.Append(c);
            }
        }

        return result.ToString();
    }

    /// <summary>Whether <paramref name="text"/> holds anything <see cref="Clean"/> would remove.</summary>
    public static bool NeedsCleaning(string text)
    {
        foreach (var c in text)
        {
            if (IsControl(c))
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsControl(char c) => c is not ('\n' or '\t') && (c < ' ' || c is >= '\u007f' and <= '\u009f');

    /// <summary>The index of the last character of the escape sequence starting at <paramref name="start"/>.</summary>
    private static int SkipSequence(string text, int start)
    {
        if (start + 1 >= text.Length)
        {
            return start;
        }

        var next = text[start + 1];
        switch (next)
        {
            case '[':
                return SkipCsi(text, start + 2);
            case ']' or 'P' or '_' or '^':
                // OSC, DCS, APC, PM: up to BEL or ESC \ (string terminator).
                for (var i = start + 2; i < text.Length; i++)
                {
                    if (text[i] == '\u0007')
                    {
                        return i;
                    }

                    if (text[i] == Escape && i + 1 < text.Length && text[i + 1] == '\\')
                    {
                        return i + 1;
                    }
                }

                return text.Length - 1;
            default:
                // ESC followed by intermediate bytes (0x20–0x2F) and one final byte.
                var j = start + 1;
                while (j < text.Length && text[j] is >= ' ' and <= '/')
                {
                    j++;
                }

                return Math.Min(j, text.Length - 1);
        }
    }

    /// <summary>CSI: parameter bytes (0x30–0x3F), intermediate bytes (0x20–0x2F), then one final byte (0x40–0x7E).</summary>
    private static int SkipCsi(string text, int from)
    {
        var i = from;
        while (i < text.Length && text[i] is >= '0' and <= '?')
        {
            i++;
        }

        while (i < text.Length && text[i] is >= ' ' and <= '/')
        {
            i++;
        }

        return i < text.Length && text[i] is >= '@' and <= '~' ? i : i - 1;
    }
}
