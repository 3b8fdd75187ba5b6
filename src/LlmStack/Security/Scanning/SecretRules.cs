using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace LlmStack.Security.Scanning;

/// <summary>
/// One detection rule: a regular expression whose group <c>secret</c> (else the whole match) is the secret, an optional
/// keyword prefilter (the regex only runs on text that contains one of them, case-insensitive), optional gates on the
/// secret (minimum length, minimum Shannon entropy in bits per character) and an optional check of the candidate
/// (<see cref="Accept"/>) for what a regex cannot say (a JWT header that decodes to JSON with "alg", a placeholder).
/// </summary>
public sealed record SecretRule(string Id, string Name, string Description, Regex Pattern)
{
    public IReadOnlyList<string> Keywords
    {
        get => _keywords;
        init
        {
            _keywords = value;
            _keywordSearch = value.Count == 0 ? null : SearchValues.Create([.. value], StringComparison.OrdinalIgnoreCase);
        }
    }

    private readonly IReadOnlyList<string> _keywords = [];
    private readonly SearchValues<string>? _keywordSearch;

    /// <summary>The prefilter: does <paramref name="text"/> contain a keyword (case-insensitive; no keywords: always)?</summary>
    internal bool MayMatch(ReadOnlySpan<char> text) => _keywordSearch is null || text.IndexOfAny(_keywordSearch) >= 0;

    public int MinLength { get; init; }

    public double MinEntropy { get; init; }

    public Func<string, bool> Accept { get; init; } = _ => true;

    /// <summary>The secret part of a match, after the gates; null when the match is not a finding.</summary>
    internal Group? Secret(Match match)
    {
        var group = match.Groups["secret"] is { Success: true } named ? named : match.Groups[0];
        var value = group.Value;
        return value.Length >= MinLength && (MinEntropy <= 0 || SecretRules.Entropy(value) >= MinEntropy) && Accept(value) ? group : null;
    }
}

/// <summary>
/// The rule table of ValidateSecurity (docs/SECURITY.md lists every rule). Rules are data: adding one is adding an
/// entry here and a test of its true positives and look-alikes.
/// </summary>
public static class SecretRules
{
    /// <summary>The rule id of the environment's actual secret values (secrets/&lt;env&gt;.env), which has no regex.</summary>
    public const string EnvironmentSecretId = "environment-secret-value";

    /// <summary>Rule ids of the structural checks (not content rules).</summary>
    public const string SecretFallbackId = "secret-default-fallback";

    public const string SecretsTrackedId = "secrets-dir-tracked";

    public const string SecretsNotIgnoredId = "secrets-dir-not-ignored";

    /// <summary>The generic assignment rule's gates (documented in docs/SECURITY.md).</summary>
    public const int GenericMinLength = 12;

    public const double GenericMinEntropy = 3.0;

    private const RegexOptions Options = RegexOptions.Compiled | RegexOptions.CultureInvariant | RegexOptions.ExplicitCapture;

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);

    private static Regex R(string pattern, RegexOptions extra = RegexOptions.None) => new(pattern, Options | extra, Timeout);

    /// <summary>Words that mark a value as an example or a placeholder, never a secret (compared case-insensitively).</summary>
    private static readonly string[] PlaceholderWords =
        ["changeme", "change_me", "change-me", "example", "placeholder", "dummy", "sample", "your_", "your-", "yourpassword", "redacted", "xxxx", "****", "...", "…", "replace"];

    /// <summary>Values that name what belongs there rather than being it (<c>scheme://user:password@host</c>).</summary>
    private static readonly HashSet<string> PlaceholderValues = new(["password", "passwd", "pass", "pwd", "secret", "token", "key", "apikey", "api_key"], StringComparer.OrdinalIgnoreCase);

    private static readonly Regex Uuid = R(@"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$");

    private static readonly Regex GitSha = R(@"^[0-9a-f]{40}$");

    public static readonly IReadOnlyList<SecretRule> All =
    [
        new("aws-access-key-id", "AWS access key ID", "An AWS access key ID (AKIA… long-term, ASIA… temporary). AWS's documented examples (ending in EXAMPLE) are not reported.",
            R(@"\b(?<secret>(?:AKIA|ASIA)[A-Z2-7]{16})\b"))
        {
            Keywords = ["AKIA", "ASIA"],
            Accept = value => !value.EndsWith("EXAMPLE", StringComparison.Ordinal),
        },
        new("aws-secret-access-key", "AWS secret access key", "A 40-character AWS secret access key assigned to a name that mentions AWS and a secret/access key.",
            R(@"aws_?(?:secret|private)?_?(?:access)?_?key(?:_id)?[""']?\s*[:=]\s*[""']?(?<secret>[A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])", RegexOptions.IgnoreCase))
        {
            Keywords = ["aws"],
            MinEntropy = 3.5,
            Accept = value => !IsPlaceholder(value),
        },
        new("github-token", "GitHub token", "A GitHub personal access, OAuth, user-to-server, server-to-server or refresh token (ghp_, gho_, ghu_, ghs_, ghr_) or a fine-grained token (github_pat_).",
            R(@"\b(?<secret>gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{50,255})\b"))
        {
            Keywords = ["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"],
        },
        new("gitlab-token", "GitLab personal access token", "A GitLab personal access token (glpat-).",
            R(@"\b(?<secret>glpat-[A-Za-z0-9_-]{20,})"))
        {
            Keywords = ["glpat-"],
        },
        new("slack-token", "Slack token", "A Slack bot, app, user, refresh or legacy token (xoxb-, xoxa-, xoxp-, xoxr-, xoxs-).",
            R(@"\b(?<secret>xox[baprs]-[A-Za-z0-9-]{10,})"))
        {
            Keywords = ["xox"],
            Accept = value => value.Count(char.IsDigit) >= 4,
        },
        new("slack-webhook", "Slack incoming webhook", "A Slack incoming webhook or workflow URL (hooks.slack.com/services/…, /workflows/…).",
            R(@"(?<secret>https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_]{6,}/[A-Za-z0-9_]{6,}/[A-Za-z0-9_]{12,})"))
        {
            Keywords = ["hooks.slack.com"],
        },
        new("stripe-live-key", "Stripe live secret key", "A Stripe live secret or restricted key (sk_live_, rk_live_).",
            R(@"\b(?<secret>(?:sk|rk)_live_[A-Za-z0-9]{20,})\b"))
        {
            Keywords = ["_live_"],
        },
        new("google-api-key", "Google API key", "A Google API key (AIza followed by 35 characters).",
            R(@"\b(?<secret>AIza[0-9A-Za-z_-]{35})(?![0-9A-Za-z_-])"))
        {
            Keywords = ["AIza"],
        },
        new("private-key", "Private key block", "A PEM private key (RSA, EC, DSA, PKCS#8, encrypted), an OpenSSH private key or a PGP private key block: the BEGIN line followed by key material.",
            R(@"(?<secret>-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----(?:\r?\n[A-Za-z-]+: [^\r\n]*)*\s*[A-Za-z0-9+/=]{40,})"))
        {
            Keywords = ["PRIVATE KEY"],
        },
        new("jwt", "JSON Web Token", "A JWT: three base64url parts whose header decodes to a JSON object with \"alg\".",
            R(@"\b(?<secret>eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*)"))
        {
            Keywords = ["eyJ"],
            Accept = IsJwt,
        },
        new("url-password", "Password in a URL", "A URL with an embedded password (scheme://user:password@host); ${VAR} placeholders, an empty password and example values are not reported.",
            R(@"(?<=\b[A-Za-z][A-Za-z0-9+.-]{1,30})://[^\s:/@""'<>`]*:(?<secret>[^\s/@""'<>`]+)@[A-Za-z0-9.\[\]_-]+"))
        {
            Keywords = ["://"],
            Accept = value => !IsPlaceholder(value) && !value.StartsWith('%') && !value.StartsWith('{') && !value.StartsWith(':'),
        },
        new("generic-secret-assignment", "Secret assigned to a secret-like name", $"A value assigned (: or =) to a name containing password, passwd, pwd, secret, token, api_key, apikey, access_key or private_key; reported only when it is at least {GenericMinLength} characters long, has a letter and a digit, a Shannon entropy of at least {GenericMinEntropy:0.0} bits per character, and is no placeholder, UUID or git SHA.",
            R(@"(?:password|passwd|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key)[A-Za-z0-9_.-]*[""']?\s*(?::=|=>|:-|:|=)\s*[""']?(?<secret>[^\s""'`,;(){}\[\]<>$\\?][^\s""'`,;(){}\[\]<>$\\]*)", RegexOptions.IgnoreCase))
        {
            Keywords = ["pass", "pwd", "secret", "token", "key"],
            MinLength = GenericMinLength,
            MinEntropy = GenericMinEntropy,
            Accept = value => !IsPlaceholder(value) && value.Any(char.IsAsciiLetter) && value.Any(char.IsAsciiDigit)
                && !Uuid.IsMatch(value) && !GitSha.IsMatch(value) && !value.StartsWith("sha", StringComparison.OrdinalIgnoreCase) && !value.Contains("://", StringComparison.Ordinal),
        },
    ];

    /// <summary>Shannon entropy of the characters of <paramref name="value"/>, in bits per character.</summary>
    public static double Entropy(string value)
    {
        if (value.Length == 0)
        {
            return 0;
        }

        var counts = new Dictionary<char, int>();
        foreach (var c in value)
        {
            counts[c] = counts.GetValueOrDefault(c) + 1;
        }

        return counts.Values.Sum(count =>
        {
            var p = (double)count / value.Length;
            return -p * Math.Log2(p);
        });
    }

    /// <summary>An example or placeholder rather than a value: ${VAR}, &lt;…&gt;, {{…}}, changeme, xxxx, example words.</summary>
    public static bool IsPlaceholder(string value) =>
        value.Contains("${", StringComparison.Ordinal) || value.StartsWith('$') || (value.StartsWith('<') && value.EndsWith('>')) || value.Contains("{{", StringComparison.Ordinal)
        || PlaceholderValues.Contains(value) || PlaceholderWords.Any(word => value.Contains(word, StringComparison.OrdinalIgnoreCase))
        || value.Distinct().Count() <= 2;

    private static bool IsJwt(string token)
    {
        var header = token[..token.IndexOf('.', StringComparison.Ordinal)];
        var base64 = header.Replace('-', '+').Replace('_', '/');
        base64 = base64.PadRight(base64.Length + ((4 - (base64.Length % 4)) % 4), '=');
        try
        {
            using var json = JsonDocument.Parse(Encoding.UTF8.GetString(Convert.FromBase64String(base64)));
            return json.RootElement.ValueKind == JsonValueKind.Object && json.RootElement.TryGetProperty("alg", out _);
        }
        catch (Exception e) when (e is FormatException or JsonException or ArgumentException)
        {
            return false;
        }
    }
}
