namespace LlmStack.Pipeline;

/// <summary>
/// Every secret value the run knows (secret parameters, secrets read by targets) is registered here;
/// the logging pipeline and console writers pass text through <see cref="Mask"/>.
/// </summary>
public sealed class SecretMasker
{
    public const string Placeholder = "****";
    private const int MinimumLength = 4;
    private volatile string[] _secrets = [];
    private readonly Lock _lock = new();

    public bool IsEmpty => _secrets.Length == 0;

    /// <summary>Registers a value; values shorter than 4 characters are ignored (they would mask ordinary text).</summary>
    public void Register(string? value)
    {
        if (string.IsNullOrEmpty(value) || value.Length < MinimumLength)
        {
            return;
        }

        lock (_lock)
        {
            if (!_secrets.Contains(value, StringComparer.Ordinal))
            {
                // Longest first, so a secret containing another is masked whole.
                _secrets = [.. _secrets.Append(value).OrderByDescending(s => s.Length)];
            }
        }
    }

    public string Mask(string text)
    {
        var secrets = _secrets;
        if (secrets.Length == 0 || string.IsNullOrEmpty(text))
        {
            return text;
        }

        foreach (var secret in secrets)
        {
            if (text.Contains(secret, StringComparison.Ordinal))
            {
                text = text.Replace(secret, Placeholder, StringComparison.Ordinal);
            }
        }

        return text;
    }

    public bool Contains(string text) => _secrets.Any(s => text.Contains(s, StringComparison.Ordinal));
}

/// <summary>
/// A writer that masks secrets in everything written through it. Text is held until a line ends (or the writer is
/// flushed), then masked as a whole, so a secret written a character or a fragment at a time is masked too. Terminal
/// control sequences a tool's output carried into a message or a table are removed on the way (<see cref="TerminalText"/>).
/// </summary>
public sealed class MaskingTextWriter(TextWriter inner, SecretMasker masker) : TextWriter
{
    private readonly System.Text.StringBuilder _pending = new();
    private readonly Lock _lock = new();

    public override System.Text.Encoding Encoding => inner.Encoding;

    public override void Write(char value)
    {
        lock (_lock)
        {
            _pending.Append(value);
            if (value == '\n')
            {
                Emit();
            }
        }
    }

    public override void Write(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return;
        }

        lock (_lock)
        {
            _pending.Append(value);
            if (value.Contains('\n', StringComparison.Ordinal))
            {
                Emit();
            }
        }
    }

    public override void Write(char[] buffer, int index, int count) => Write(new string(buffer, index, count));

    public override void WriteLine(string? value) => Write((value ?? string.Empty) + NewLine);

    public override void WriteLine() => Write(NewLine);

    /// <summary>Writes what is pending, masked (a prompt without a newline shows once flushed).</summary>
    public override void Flush()
    {
        lock (_lock)
        {
            if (_pending.Length > 0)
            {
                inner.Write(TerminalText.Clean(masker.Mask(_pending.ToString())));
                _pending.Clear();
            }

            inner.Flush();
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Flush();
        }

        base.Dispose(disposing);
    }

    /// <summary>Writes every complete line pending; keeps a trailing partial line.</summary>
    private void Emit()
    {
        var text = _pending.ToString();
        var end = text.LastIndexOf('\n') + 1;
        inner.Write(TerminalText.Clean(masker.Mask(text[..end])));
        _pending.Remove(0, end);
    }
}
