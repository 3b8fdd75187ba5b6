using LlmStack.Schema;
using LlmStack.Security;
using LlmStack.Credentials;

namespace LlmStack.Tests.Security;

/// <summary>ValidateCredentials' rules on crafted values (all made up here; none is a real secret).</summary>
public sealed class CredentialRulesTests
{
    private static readonly Dictionary<string, SecretDefinition> Definitions = new()
    {
        ["POSTGRES_PASSWORD"] = new SecretDefinition { Length = 32, Account = "POSTGRES_USER" },
        ["LITELLM_MASTER_KEY"] = new SecretDefinition { Length = 32, Prefix = "sk-" },
        ["JWT_SECRET_KEY"] = new SecretDefinition { Length = 32 },
    };

    private static readonly Dictionary<string, string> Variables = new() { ["POSTGRES_USER"] = "multimodal" };

    private const string Good1 = "Qm7xT2vR9kLp4sWz8nYc3bHf6jGd1aEu";
    private const string Good2 = "sk-Zr5tN8wQ2mKx7vB4cL9pF3hJ6yD1gSaQ";
    private const string Good3 = "Hc4nW9qE2rT7yU1iO5pA8sD3fG6hJ0kL";

    private static Dictionary<string, string> Values(string? postgres = null, string? litellm = null, string? jwt = null) => new()
    {
        ["POSTGRES_PASSWORD"] = postgres ?? Good1,
        ["LITELLM_MASTER_KEY"] = litellm ?? Good2,
        ["JWT_SECRET_KEY"] = jwt ?? Good3,
    };

    private static IReadOnlyList<CredentialFinding> Check(Dictionary<string, string> values, string environment = "production", bool strict = false,
        Dictionary<string, IReadOnlyDictionary<string, string>>? others = null) =>
        CredentialRules.Check(environment, Definitions, values, Variables, others ?? [], strict);

    [Theory]
    [InlineData(0b000_000_000, "000")]
    [InlineData(0b100_000_000, "400")]
    [InlineData(0b110_100_000, "640")]
    [InlineData(0b111_000_000, "700")]
    [InlineData(0b110_110_110, "666")]
    public void Any_mode_but_0600_is_a_file_mode_finding_whatever_the_reader_can_read(int mode, string octal)
    {
        var finding = CredentialRules.FileMode("production", "/s/production.env", (UnixFileMode)mode, CredentialLevel.Error);
        finding.Should().Be(new CredentialFinding("production", "-", "file-mode", CredentialLevel.Error, $"/s/production.env is {octal}, not 600: chmod 600 /s/production.env"));
    }

    [Fact]
    public void Mode_0600_is_no_finding() =>
        CredentialRules.FileMode("production", "/s/production.env", UnixFileMode.UserRead | UnixFileMode.UserWrite, CredentialLevel.Error).Should().BeNull();

    [Fact]
    public void Strong_distinct_values_pass_every_rule()
    {
        Check(Values()).Should().BeEmpty();
    }

    [Theory]
    [InlineData("changeme")]
    [InlineData("CHANGEME")]
    [InlineData("changeme_in_production_0123456789abcdef")]
    [InlineData("Password1!")]
    [InlineData("minioadmin")]
    [InlineData("postgres")]
    [InlineData("__secret__2024")]
    [InlineData("test")]
    [InlineData("dummy-value-for-the-database-password")]
    [InlineData("an-example-that-is-long-enough-to-pass-length")]
    [InlineData("your-database-password-here-and-more-text")]
    [InlineData("placeholder0123456789placeholder012")]
    public void Weak_and_placeholder_values_are_found(string value)
    {
        Check(Values(postgres: value)).Should().Contain(f => f.Secret == "POSTGRES_PASSWORD" && f.Rule == "weak");
    }

    [Theory]
    [InlineData("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "one character repeated")]
    [InlineData("abababababababababababababababababab", "a 2-character unit repeated")]
    [InlineData("0123456789:;<=>?@ABCDEFGHIJKLMNOPQRS", "a simple sequence")]
    [InlineData("zyxwvutsrqponmlkjihgfedcbaZYXWVUTSRQ", null)]
    public void Repeated_characters_and_simple_sequences_are_found(string value, string? reason)
    {
        CredentialRules.SimpleReason(value).Should().Be(reason);
    }

    [Fact]
    public void Length_prefix_and_the_account_name_are_checked_without_showing_a_value()
    {
        var findings = Check(Values(postgres: "multimodal-Qm7xT2vR9kLp4sWz8nYc3bHf", litellm: "Zr5tN8wQ2mKx7vB4cL9pF3hJ6yD1gSaXXY1", jwt: "Hc4nW9qE2rT7"));
        findings.Select(f => (f.Secret, f.Rule)).Should().BeEquivalentTo(new[]
        {
            ("POSTGRES_PASSWORD", "account"), ("LITELLM_MASTER_KEY", "prefix"), ("JWT_SECRET_KEY", "length"),
        });
        findings.Should().OnlyContain(f => f.Level == CredentialLevel.Error, "production's findings are errors");
        findings.Should().NotContain(f => f.Detail.Contains("Qm7x", StringComparison.Ordinal) || f.Detail.Contains("Hc4n", StringComparison.Ordinal) || f.Detail.Contains("Zr5t", StringComparison.Ordinal));
        findings.Single(f => f.Rule == "length").Detail.Should().Contain("12 characters").And.Contain("at least 32");
    }

    [Fact]
    public void A_missing_secret_is_named_and_points_at_SetupSecrets()
    {
        var values = Values();
        values.Remove("JWT_SECRET_KEY");
        Check(values).Should().ContainSingle().Which.Should().Be(new CredentialFinding("production", "JWT_SECRET_KEY", "missing", CredentialLevel.Error, "not in the secrets file: run SetupSecrets"));
    }

    [Fact]
    public void A_value_reused_by_two_secrets_of_one_environment_is_found_for_both()
    {
        Check(Values(jwt: Good1)).Where(f => f.Rule == "reused").Select(f => f.Secret).Should().BeEquivalentTo(["POSTGRES_PASSWORD", "JWT_SECRET_KEY"]);
    }

    [Fact]
    public void A_value_shared_with_another_environment_is_found_and_production_equal_to_staging_is_an_error_even_in_development()
    {
        var staging = new Dictionary<string, string> { ["POSTGRES_PASSWORD"] = Good1, ["JWT_SECRET_KEY"] = "Other0value0of0staging0aBcDeFgHiJk" };
        var production = Check(Values(), "production", others: new() { ["staging"] = staging });
        production.Should().ContainSingle(f => f.Rule == "shared").Which.Should().Match<CredentialFinding>(f =>
            f.Secret == "POSTGRES_PASSWORD" && f.Level == CredentialLevel.Error && f.Detail.Contains("POSTGRES_PASSWORD of environment staging"));

        var development = Check(Values(), "development", others: new() { ["staging"] = staging, ["testing"] = new Dictionary<string, string> { ["X"] = Good3 } });
        development.Where(f => f.Rule == "shared").Select(f => (f.Secret, f.Level)).Should().BeEquivalentTo(new[]
        {
            ("POSTGRES_PASSWORD", CredentialLevel.Error), ("JWT_SECRET_KEY", CredentialLevel.Warning),
        }, "sharing with staging is an error anywhere; development sharing with testing only a warning");
    }

    [Theory]
    [InlineData("development", false, CredentialLevel.Warning)]
    [InlineData("testing", false, CredentialLevel.Warning)]
    [InlineData("testing", true, CredentialLevel.Error)]
    [InlineData("staging", false, CredentialLevel.Error)]
    [InlineData("production", false, CredentialLevel.Error)]
    public void Findings_are_errors_in_staging_and_production_and_warnings_elsewhere_unless_strict(string environment, bool strict, CredentialLevel level)
    {
        Check(Values(postgres: "changeme"), environment, strict).Should().OnlyContain(f => f.Level == level);
    }

    [Fact]
    public void Generated_values_pass_every_rule()
    {
        var definition = new SecretDefinition { Length = 16, Prefix = "sk-" };
        for (var i = 0; i < 200; i++)
        {
            var value = SecretStore.Generate(definition);
            value.Should().StartWith("sk-").And.HaveLength(19);
            CredentialRules.WeakReason(value[3..]).Should().BeNull();
            CredentialRules.SimpleReason(value[3..]).Should().BeNull();
        }
    }
}
