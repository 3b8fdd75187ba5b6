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

/// <summary>A writer that masks secrets in everything written through it.</summary>
public sealed class MaskingTextWriter(TextWriter inner, SecretMasker masker) : TextWriter
{
    public override System.Text.Encoding Encoding => inner.Encoding;

    public override void Write(char value) => inner.Write(value);

    public override void Write(string? value) => inner.Write(value is null ? null : masker.Mask(value));

    public override void WriteLine(string? value) => inner.WriteLine(value is null ? null : masker.Mask(value));

    public override void Write(char[] buffer, int index, int count) => Write(new string(buffer, index, count));

    public override void Flush() => inner.Flush();
}
