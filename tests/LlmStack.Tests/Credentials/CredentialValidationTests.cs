using System.Text.Json;
using LlmStack.Pipeline;
using LlmStack.Reporting;
using LlmStack.Schema;
using LlmStack.Security;
using LlmStack.Credentials;

namespace LlmStack.Tests.Credentials;

/// <summary>
/// ValidateCredentials' whole finding list over fakes of the files and the running services: the value rules, the
/// file's rules, drift and logins, an engine that cannot be reached, and the report (words, JSON, the failure).
/// All values are generated or made up here.
/// </summary>
public sealed class CredentialValidationTests
{
    private static readonly SchemaFile Schema = new(Repository.Root, "schemas/compose-schema.yaml");

    private const string Root = "/repo";
    private const string Path = "/repo/secrets/staging.env";
    private const string ProductionPath = "/repo/secrets/production.env";

    private readonly ResolvedEnvironment _staging = Schema.Resolve("staging");
    private readonly IReadOnlyDictionary<string, SecretDefinition> _definitions = Schema.Load().Secrets;
    private readonly FakeFiles _files = new();
    private readonly FakeRunning _running;

    public CredentialValidationTests()
    {
        _running = new FakeRunning(_staging);
        _files.Files[Path] = _definitions.ToDictionary(d => d.Key, d => SecretStore.Generate(d.Value), StringComparer.Ordinal);
    }

    private Dictionary<string, string> Values => _files.Files[Path];

    private Task<CredentialCheck> CheckAsync(bool strict = false) =>
        new CredentialValidation(_staging, _definitions, Root, _files, _running)
            .CheckAsync(Path, _files.Read(Path), new Dictionary<string, string> { ["production"] = ProductionPath, ["testing"] = "/repo/secrets/testing.env" }, strict, CancellationToken.None);

    private static (string Secret, string Rule, CredentialLevel Level)[] Rows(CredentialCheck check) =>
        check.Findings.Select(f => (f.Secret, f.Rule, f.Level)).ToArray();

    [Fact]
    public async Task A_clean_file_and_services_running_with_its_values_give_no_finding_and_name_what_was_checked()
    {
        _running.Run(Values, "postgres", "redis", "litellm");
        _running.Passwords["multimodal"] = Values["POSTGRES_PASSWORD"];

        var check = await CheckAsync();

        check.Findings.Should().BeEmpty();
        check.Running.Should().Equal(["litellm (environment)", "postgres (environment)", "postgres (login of multimodal)"], "containers in name order, then the logins");
        _running.Logins.Should().Equal("id-postgres multimodal");
        check.ToReport().Failure.Should().BeNull();
    }

    [Fact]
    public async Task Every_kind_of_finding_is_listed_in_order_value_rules_then_the_file_then_the_running_services()
    {
        var started = new Dictionary<string, string>(Values);
        Values["N8N_PASSWORD"] = string.Concat(Enumerable.Repeat("xq", 32));
        Values["POSTGRES_PASSWORD"] = "changeme_in_production_0123456789";
        _files.Files[ProductionPath] = new Dictionary<string, string> { ["JWT_SECRET_KEY"] = Values["JWT_SECRET_KEY"] };
        _files.Facts = new SecretsFileFacts(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead, "12345", "1000", NotIgnored: true, Tracked: true);
        // postgres and litellm still run with the values they were started with; the role kept the old password.
        _running.Run(started, "postgres", "litellm", "redis");
        _running.Passwords["multimodal"] = started["POSTGRES_PASSWORD"];

        var check = await CheckAsync();

        Rows(check).Should().Equal(
            ("N8N_PASSWORD", "simple", CredentialLevel.Error),
            ("POSTGRES_PASSWORD", "weak", CredentialLevel.Error),
            ("JWT_SECRET_KEY", "shared", CredentialLevel.Error),
            ("-", "file-mode", CredentialLevel.Error),
            ("-", "file-owner", CredentialLevel.Error),
            ("-", "git-ignored", CredentialLevel.Error),
            ("-", "git-tracked", CredentialLevel.Error),
            ("POSTGRES_PASSWORD", "drift", CredentialLevel.Error),
            ("POSTGRES_PASSWORD", "drift", CredentialLevel.Error),
            ("POSTGRES_PASSWORD", "login", CredentialLevel.Error));
        check.Findings.Where(f => f.Rule == "drift").Select(f => f.Detail).Should().Equal(
            "multimodal-staging-litellm-1 runs with another value than the file's: StartInference recreates it (or the file was changed by hand: restore it)",
            "multimodal-staging-postgres-1 runs with another value than the file's: StartCore recreates it (or the file was changed by hand: restore it)");
        check.Findings.Single(f => f.Rule == "file-owner").Detail.Should().Be($"{Path} belongs to uid 12345, not to the running user (uid 1000): chown it");
        check.Findings.Single(f => f.Rule == "git-ignored").Detail.Should().Be($"{Path} is not git-ignored: add secrets/ to .gitignore");
        check.Findings.Single(f => f.Rule == "login").Detail.Should().StartWith("postgres refuses multimodal with the file's value");
        foreach (var value in Values.Values.Concat(started.Values))
        {
            check.Findings.Should().NotContain(f => f.Detail.Contains(value, StringComparison.Ordinal), "a finding never carries a value");
        }
    }

    [Fact]
    public async Task Outside_staging_and_production_findings_are_warnings_unless_strict_but_a_committed_file_is_always_an_error()
    {
        var testing = Schema.Resolve("testing");
        _files.Facts = _files.Facts with { Tracked = true, NotIgnored = true };
        Values["POSTGRES_PASSWORD"] = "changeme_in_production_0123456789";
        var validation = new CredentialValidation(testing, _definitions, Root, _files, new FakeRunning(testing));

        var lenient = await validation.CheckAsync(Path, _files.Read(Path), new Dictionary<string, string>(), strict: false, CancellationToken.None);
        Rows(lenient).Should().Equal(
            ("POSTGRES_PASSWORD", "weak", CredentialLevel.Warning), ("-", "git-ignored", CredentialLevel.Warning), ("-", "git-tracked", CredentialLevel.Error));
        var strict = await validation.CheckAsync(Path, _files.Read(Path), new Dictionary<string, string>(), strict: true, CancellationToken.None);
        strict.Findings.Should().OnlyContain(f => f.Level == CredentialLevel.Error);
    }

    [Fact]
    public async Task A_missing_file_is_one_finding_and_the_running_services_are_still_checked()
    {
        _files.Files.Remove(Path);
        _running.Run(new Dictionary<string, string>(), "redis");

        var check = await CheckAsync();

        Rows(check).Should().Equal(("-", "file", CredentialLevel.Error));
        check.Findings[0].Detail.Should().Be($"{Path} does not exist: run SetupSecrets");
        check.Running.Should().BeEmpty("redis reads no secret");
    }

    [Fact]
    public async Task An_engine_that_cannot_be_reached_is_a_warning_and_the_file_is_still_checked()
    {
        Values["POSTGRES_PASSWORD"] = "changeme_in_production_0123456789";
        _running.Unreachable = new PipelineException("cannot reach the Docker engine at unix:///var/run/docker.sock");

        var check = await CheckAsync();

        Rows(check).Should().Equal(("POSTGRES_PASSWORD", "weak", CredentialLevel.Error), ("-", "running", CredentialLevel.Warning));
        check.Findings[^1].Detail.Should().Be("the running services were not checked: cannot reach the Docker engine at unix:///var/run/docker.sock");
    }

    [Fact]
    public async Task The_report_shows_levels_as_words_in_the_table_and_the_json_and_fails_on_an_error_only()
    {
        Values["POSTGRES_PASSWORD"] = "changeme_in_production_0123456789";
        _running.Unreachable = new PipelineException("engine down");
        var check = await CheckAsync();

        var table = new StringWriter();
        var text = () => ReportWriter.Text(table).Write(check.ToReport());
        text.Should().Throw<PipelineException>().WithMessage("ValidateCredentials: 1 error(s) in the secrets of staging (each named above; values are never shown)");
        table.ToString().Should().MatchRegex(@"POSTGRES_PASSWORD\s+weak\s+error\s").And.MatchRegex(@"-\s+running\s+warning\s");

        var json = new StringWriter();
        var document = () => new ReportWriter(new StringWriter(), json, json: true).Write(check.ToReport());
        document.Should().Throw<PipelineException>();
        using var parsed = JsonDocument.Parse(json.ToString());
        parsed.RootElement.GetProperty("environment").GetString().Should().Be("staging");
        parsed.RootElement.GetProperty("findings").EnumerateArray().Select(f => (f.GetProperty("secret").GetString(), f.GetProperty("rule").GetString(), f.GetProperty("level").GetString()))
            .Should().Equal(("POSTGRES_PASSWORD", "weak", "error"), ("-", "running", "warning"));
        parsed.RootElement.GetProperty("running").GetArrayLength().Should().Be(0);

        var warningsOnly = check with { Findings = check.Findings.Where(f => f.Level == CredentialLevel.Warning).ToList() };
        warningsOnly.ToReport().Failure.Should().BeNull("warnings do not fail the run");
    }
}
