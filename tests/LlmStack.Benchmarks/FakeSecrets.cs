using System.Text;

namespace LlmStack.Benchmarks;

/// <summary>
/// Made-up secrets for the scanner's tests and BenchmarkSecurityScan, assembled at run time: the prefixes are split in
/// the source ("gh" + "p_") and the bodies come from a seeded generator, so this repository holds no literal look-alike
/// and ValidateSecurity scans it clean.
/// </summary>
public static class FakeSecrets
{
    public const string Alphanumeric = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    private const string Base32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

    /// <summary>A deterministic high-entropy string (a different one per seed).</summary>
    public static string Chars(int length, int seed, string charset = Alphanumeric)
    {
        var random = new Random(seed);
        return string.Concat(Enumerable.Range(0, length).Select(_ => charset[random.Next(charset.Length)]));
    }

    public static string AwsKeyId(int seed = 1) => "AK" + "IA" + Chars(16, seed, Base32);

    public static string GitHub(string kind = "p", int seed = 2) => "gh" + kind + "_" + Chars(36, seed);

    public static string GitLab(int seed = 3) => "glp" + "at-" + Chars(20, seed);

    public static string Slack(int seed = 4) => "xo" + "xb-" + Chars(12, seed, "0123456789") + "-" + Chars(13, seed + 1, "0123456789") + "-" + Chars(24, seed + 2);

    public static string SlackWebhook(int seed = 5) => "https://hooks.slack" + ".com/services/T" + Chars(8, seed, Base32) + "/B" + Chars(8, seed + 1, Base32) + "/" + Chars(24, seed + 2);

    public static string Stripe(string kind = "sk", int seed = 6) => kind + "_li" + "ve_" + Chars(24, seed);

    public static string Google(int seed = 7) => "AI" + "za" + Chars(35, seed);

    public static string Jwt(string header = """{"alg":"HS256","typ":"JWT"}""", int seed = 8) =>
        Base64Url(header) + "." + Base64Url("""{"sub":"1234567890","name":"Made Up"}""") + "." + Chars(43, seed, Alphanumeric + "-_");

    public static string PrivateKey(string kind = "RSA ", int seed = 9) =>
        "-----BEGIN " + kind + "PRIVATE KEY-----\n" + Chars(64, seed, Alphanumeric + "+/") + "\n" + Chars(64, seed + 1, Alphanumeric + "+/") + "\n-----END " + kind + "PRIVATE KEY-----\n";

    public static string PgpPrivateKey(int seed = 10) =>
        "-----BEGIN PGP " + "PRIVATE KEY BLOCK-----\nVersion: Made Up 1.0\n\n" + Chars(64, seed, Alphanumeric + "+/") + "\n-----END PGP PRIVATE KEY BLOCK-----\n";

    public static string Base64Url(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
