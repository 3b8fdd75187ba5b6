using LlmStack.Security.Scanning;
using Fake = LlmStack.Benchmarks.FakeSecrets;

namespace LlmStack.Tests.Security.Scanning;

public sealed class SecretRulesTests
{
    private static readonly ContentScanner Scanner = new(SecretRules.All, []);

    private static List<Finding> Scan(string text) => Scanner.Scan(text, "file.txt");

    private static void Finds(string text, string rule, string secret)
    {
        var findings = Scan(text);
        findings.Should().ContainSingle(f => f.RuleId == rule, $"'{Finding.Redact(text)}' holds a {rule}")
            .Which.Match.Should().Be(secret);
    }

    private static void FindsNothing(string text) =>
        Scan(text).Select(f => $"{f.RuleId} {f.Redacted}").Should().BeEmpty();

    [Fact]
    public void Aws_access_key_ids_are_found_but_not_the_documented_examples()
    {
        var key = Fake.AwsKeyId();
        Finds($"aws_access_key_id = {key}\n", "aws-access-key-id", key);
        var temporary = "AS" + "IA" + key[4..];
        Finds($"key: {temporary}", "aws-access-key-id", temporary);
        FindsNothing("aws_access_key_id = " + "AK" + "IAIOSFODNN7EXAMPLE");
        FindsNothing("AK" + "IA" + "1234"); // too short
        FindsNothing("X" + key); // inside a longer word
    }

    [Fact]
    public void Aws_secret_keys_are_found_in_an_assignment_with_enough_entropy()
    {
        var secret = Fake.Chars(40, 11, Fake.Alphanumeric + "/+");
        Finds($"aws_secret_access_key = {secret}", "aws-secret-access-key", secret);
        Finds($"export AWS_SECRET_ACCESS_KEY=\"{secret}\"", "aws-secret-access-key", secret);
        FindsNothing("aws_secret_access_key = " + new string('A', 20) + new string('B', 20));
        FindsNothing("aws_secret_access_key = wJalrXUtnFEMI" + "/K7MDENG/bPxRfiCY" + "EXAMPLEKEY"); // AWS's documented example
    }

    [Theory]
    [InlineData("p")]
    [InlineData("o")]
    [InlineData("u")]
    [InlineData("s")]
    [InlineData("r")]
    public void GitHub_tokens_of_every_kind_are_found(string kind)
    {
        var token = Fake.GitHub(kind);
        Finds($"GITHUB_TOKEN: {token}", "github-token", token);
    }

    [Fact]
    public void GitHub_fine_grained_tokens_are_found_and_short_look_alikes_not()
    {
        var token = "github" + "_pat_" + Fake.Chars(22, 12) + "_" + Fake.Chars(59, 13);
        Finds(token, "github-token", token);
        FindsNothing("gh" + "p_" + Fake.Chars(20, 14));
        FindsNothing("gh" + "x_" + Fake.Chars(36, 14));
    }

    [Fact]
    public void GitLab_slack_stripe_and_google_keys_are_found()
    {
        Finds("token " + Fake.GitLab(), "gitlab-token", Fake.GitLab());
        Finds("SLACK=" + Fake.Slack(), "slack-token", Fake.Slack());
        Finds("url: " + Fake.SlackWebhook(), "slack-webhook", Fake.SlackWebhook());
        Finds(Fake.Stripe(), "stripe-live-key", Fake.Stripe());
        Finds(Fake.Stripe("rk"), "stripe-live-key", Fake.Stripe("rk"));
        Finds("key=" + Fake.Google(), "google-api-key", Fake.Google());
    }

    [Fact]
    public void Test_mode_and_truncated_look_alikes_of_those_are_not()
    {
        FindsNothing("sk" + "_test_" + Fake.Chars(24, 15));
        FindsNothing("xo" + "xb-not-a-token-at-all");
        FindsNothing("AI" + "za" + Fake.Chars(20, 16));
        FindsNothing("https://hooks.slack" + ".com/services/");
    }

    [Theory]
    [InlineData("RSA ")]
    [InlineData("EC ")]
    [InlineData("")]
    [InlineData("ENCRYPTED ")]
    [InlineData("OPENSSH ")]
    public void Private_key_blocks_are_found(string kind)
    {
        var findings = Scan("# key\n" + Fake.PrivateKey(kind));
        var finding = findings.Should().ContainSingle(f => f.RuleId == "private-key").Which;
        (finding.Line, finding.Column).Should().Be((2, 1));
        finding.Redacted.Should().Be("----…");
    }

    [Fact]
    public void A_pgp_private_key_block_with_armor_headers_is_found_but_a_lone_begin_line_or_a_public_key_is_not()
    {
        Scan(Fake.PgpPrivateKey()).Should().ContainSingle(f => f.RuleId == "private-key");
        FindsNothing("The file starts with -----BEGIN " + "RSA PRIVATE KEY-----\n and ends with the END line.");
        FindsNothing("-----BEGIN " + "PUBLIC KEY-----\n" + Fake.Chars(64, 17, Fake.Alphanumeric + "+/"));
    }

    [Fact]
    public void Jwts_are_found_only_when_the_header_decodes_to_json_with_alg()
    {
        var jwt = Fake.Jwt();
        Finds($"Authorization: Bearer {jwt}", "jwt", jwt);
        FindsNothing(Fake.Jwt("""{"typ":"JWT"}"""));
        FindsNothing("ey" + "JhbGciOi." + Fake.Chars(20, 18) + "." + Fake.Chars(20, 19));
    }

    [Fact]
    public void Urls_with_passwords_are_found_but_not_placeholders_or_empty_passwords()
    {
        var password = Fake.Chars(16, 20);
        Finds($"DATABASE_URL=postgres://app:{password}@db.internal:5432/app", "url-password", password);
        Finds($"redis://:{password}@cache:6379/0", "url-password", password);
        FindsNothing("postgresql://${POSTGRES_USER}:${POSTGRES_PASSWORD}@postgres:5432/${POSTGRES_DB}");
        FindsNothing("ftp://anonymous:@mirror.example.org/pub");
        FindsNothing("scheme://user:password@host");
        FindsNothing("https://user:<password>@host/path");
        FindsNothing("mongodb://admin:changeme@localhost");
        FindsNothing("https://example.org/a:b@c"); // no user:password before the host
    }

    [Fact]
    public void Generic_assignments_are_found_when_long_and_random_enough()
    {
        var value = Fake.Chars(24, 21);
        Finds($"api_key = \"{value}\"", "generic-secret-assignment", value);
        Finds($"DB_PASSWORD={value}", "generic-secret-assignment", value);
        Finds($"  client_secret: '{value}'", "generic-secret-assignment", value);
        Finds($"\"accessKey\": \"{value}\",", "generic-secret-assignment", value);
        Finds($"password := \"{value}\"", "generic-secret-assignment", value);
        Finds($"url: ${{API_TOKEN:-{value}}}", "generic-secret-assignment", value);
    }

    [Theory]
    [InlineData("password: ${POSTGRES_PASSWORD}")]
    [InlineData("N8N_BASIC_AUTH_PASSWORD: \"${N8N_PASSWORD:?N8N_PASSWORD is missing: pass --env-file secrets/development.env}\"")]
    [InlineData("api_key = \"<your-api-key>\"")]
    [InlineData("token: changeme12345678")]
    [InlineData("secret = xxxxxxxxxxxxxxxx")]
    [InlineData("password = example-password-1")]
    [InlineData("api_key = {{ api_key_from_vault }}")]
    [InlineData("token: 123e4567-e89b-12d3-a456-426614174000")] // a UUID
    [InlineData("token: 6c82fed0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6")] // a git SHA
    [InlineData("\"integrity\": \"sha512-Q3Tsi4i5SEbxuzvwF2cEz7Hj5NPiA6k1bHXzSeVVQ5wK1hLykm2Bp9w7SJJSAr1qqZFSZ8Q6uQCUVfKcK4Cp2g==\"")]
    [InlineData("token: sha512-Q3Tsi4i5SEbxuzvwF2cEz7Hj5NPiA6k1bHXzSeVVQ5wK1hLykm2Bp9w7")]
    [InlineData("var password = GeneratePassword(length);")]
    [InlineData("secret_name: POSTGRES_PASSWORD")] // no digit
    [InlineData("token = os.environ[\"API_TOKEN\"]")]
    public void Generic_assignments_skip_placeholders_and_look_alikes(string text) => FindsNothing(text);

    [Fact]
    public void The_entropy_gate_separates_values_on_both_sides_of_the_threshold()
    {
        SecretRules.Entropy("abcdefgh1234").Should().BeApproximately(Math.Log2(12), 1e-9);
        SecretRules.Entropy("abcabcabc123").Should().BeLessThan(SecretRules.GenericMinEntropy);
        SecretRules.Entropy("aaaa").Should().Be(0);

        Finds("password = " + "abcdefgh" + "1234", "generic-secret-assignment", "abcdefgh1234"); // 3.58 bits, 12 characters (split: the repository's own scan must stay clean)
        FindsNothing("password = abcabcabc123"); // 2.40 bits
        FindsNothing("password = abcdefgh123"); // 3.46 bits but 11 characters: below the minimum length
    }

    [Fact]
    public void Rules_have_unique_ids_a_description_and_a_keyword_each()
    {
        SecretRules.All.Select(r => r.Id).Should().OnlyHaveUniqueItems();
        SecretRules.All.Should().OnlyContain(r => r.Description.Length > 20 && r.Keywords.Count > 0);
    }
}
