using System.Text.Json;
using LlmStack.Pipeline;
using LlmStack.Reporting;
using LlmStack.Schema;
using LlmStack.Security.Scanning;
using NJsonSchema;
using Fake = LlmStack.Benchmarks.FakeSecrets;

namespace LlmStack.Tests.Security.Scanning;

/// <summary>The scanner end to end on scratch directories and git repositories (made-up secrets only).</summary>
public sealed class SecretScannerTests : IDisposable
{
    private readonly string _root = Repository.TempDirectory("secret-scan");

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private async Task Git(params string[] arguments) =>
        await ProcessRunner.RunCheckedAsync("git", ["-C", _root, "-c", "user.name=Scan Test", "-c", "user.email=scan@test.invalid", "-c", "commit.gpgsign=false", .. arguments], _root, null, CancellationToken.None);

    private async Task Commit(string message)
    {
        await Git("add", "-A");
        await Git("commit", "-qm", message);
    }

    private async Task InitRepository()
    {
        await Git("init", "-q", "-b", "main");
        Write(".gitignore", "secrets/\nbuild-output/\n");
    }

    private void Write(string relative, string content)
    {
        var path = Path.Combine(_root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
    }

    private SecretScanOptions Options(bool history = false, string? sarif = null) =>
        new() { RepositoryRoot = _root, History = history, SarifFile = sarif };

    private Task<SecretScanResult> Scan(bool history = false) =>
        SecretScanner.ScanAsync(Options(history), new SecretMasker(), Serilog.Core.Logger.None, CancellationToken.None);

    [Fact]
    public async Task A_repository_is_scanned_through_git_tracked_and_untracked_files_but_not_ignored_ones()
    {
        await InitRepository();
        Write("tracked.txt", "github: " + Fake.GitHub() + "\n");
        await Commit("tracked");
        Write("untracked.env", "\n\nSTRIPE=" + Fake.Stripe() + "\n");
        Write("build-output/ignored.txt", Fake.GitLab());

        var result = await Scan();

        result.Files.GitAware.Should().BeTrue();
        result.Findings.Select(f => (f.Path, f.RuleId, f.Line, f.Column)).Should().BeEquivalentTo(
        [
            ("tracked.txt", "github-token", 1, 9),
            ("untracked.env", "stripe-live-key", 3, 8),
        ]);
    }

    [Fact]
    public async Task A_plain_directory_is_scanned_whole_skipping_binary_and_oversized_files()
    {
        Write("a/b/config.yml", "token: " + Fake.GitLab() + "\n");
        var binary = new byte[100];
        System.Text.Encoding.ASCII.GetBytes(Fake.GitHub()).CopyTo(binary, 10);
        File.WriteAllBytes(Path.Combine(_root, "image.bin"), binary);
        using (var large = File.Create(Path.Combine(_root, "large.log")))
        {
            large.Write(System.Text.Encoding.ASCII.GetBytes(Fake.GitHub() + "\n"));
            large.SetLength(ScanSources.MaxFileBytes + 1);
        }

        var result = await Scan();

        result.Files.Should().Be(new FileScanStatistics(1, 1, 1, false));
        result.Findings.Should().ContainSingle().Which.Path.Should().Be("a/b/config.yml");
    }

    [Fact]
    public async Task The_history_finds_a_secret_committed_then_deleted_with_its_commit_path_and_line()
    {
        await InitRepository();
        Write("app/settings.py", "DEBUG = True\n");
        await Commit("first");
        Write("app/settings.py", "DEBUG = True\nNAME = 'app'\nAWS_KEY = '" + Fake.AwsKeyId() + "'\n");
        await Git("commit", "-qam", "leak");
        var leak = (await ProcessRunner.RunCheckedAsync("git", ["-C", _root, "rev-parse", "HEAD"], _root, null, CancellationToken.None)).Output[0];
        Write("app/settings.py", "DEBUG = True\n");
        await Git("commit", "-qam", "remove the key");

        (await Scan()).Findings.Should().BeEmpty("the work tree is clean now");
        var result = await Scan(history: true);

        result.Commits.Should().Be(3);
        var finding = result.Findings.Should().ContainSingle().Which;
        (finding.Commit, finding.Path, finding.Line, finding.Column, finding.RuleId).Should().Be((leak, "app/settings.py", 3, 12, "aws-access-key-id"));
        finding.Location.Should().Be($"{leak[..12]}:app/settings.py:3:12");
    }

    [Fact]
    public async Task History_needs_a_repository()
    {
        var act = () => Scan(history: true);
        (await act.Should().ThrowAsync<PipelineException>()).Which.Message.Should().Contain("--history needs a git repository");
    }

    [Fact]
    public async Task The_environments_actual_secret_values_are_found_anywhere_but_in_the_secrets_directory()
    {
        var value = Fake.Chars(32, 30);
        Write("secrets/staging.env", "# made up\nPOSTGRES_PASSWORD=" + value + "\nSHORT=abc\n");
        Write("notes/debug.txt", "connected with " + value + " today; abc is short\n");

        var result = await Scan();

        var finding = result.Findings.Should().ContainSingle().Which;
        (finding.RuleId, finding.Path, finding.Line, finding.Column).Should().Be((SecretRules.EnvironmentSecretId, "notes/debug.txt", 1, 16));
        finding.Message.Should().Be($"the value of POSTGRES_PASSWORD from {Path.Combine("secrets", "staging.env")}");
    }

    [Fact]
    public async Task The_allowlist_takes_findings_by_fingerprint_and_by_path_glob()
    {
        Write("docs/example.md", "Bearer " + Fake.Jwt() + "\n");
        Write("tests/fixtures/deep/key.pem", Fake.PrivateKey());
        Write("src/leak.cs", "var k = \"" + Fake.Google() + "\";\n");
        var before = await Scan();
        before.Findings.Should().HaveCount(3);
        var jwt = before.Findings.Single(f => f.RuleId == "jwt");

        Write(SecretScanAllowlist.DefaultPath, $"""
            # why each entry may stay
            allow:
              - fingerprint: {jwt.Fingerprint}
                reason: the documented example token, made up
              - path: tests/fixtures/**
                reason: made-up keys for the tests
            """);
        var after = await Scan();

        after.Findings.Should().ContainSingle().Which.Path.Should().Be("src/leak.cs");
        after.Allowed.Select(a => (a.Finding.Path, a.Entry.Reason)).Should().BeEquivalentTo(
            [("docs/example.md", "the documented example token, made up"), ("tests/fixtures/deep/key.pem", "made-up keys for the tests")]);
    }

    [Fact]
    public async Task A_fingerprint_is_path_rule_and_the_sha256_of_the_match_and_moves_with_neither_line_nor_commit()
    {
        var key = Fake.GitHub();
        Write("a.txt", key);
        Write("b.txt", "\n\n   " + key);
        var findings = (await Scan()).Findings;
        findings.Select(f => f.Fingerprint.Split(';')[2]).Distinct().Should().ContainSingle()
            .Which.Should().Be(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(key))));
        findings[0].Fingerprint.Should().StartWith("a.txt;github-token;");
    }

    [Theory]
    [InlineData("allow:\n  - path: docs/**\n", "configs/secret-scan-allowlist.yaml:2:5: error: allow[0]: every entry needs a reason")]
    [InlineData("allow:\n  - path: docs/**\n    reason: [unclosed\n", "configs/secret-scan-allowlist.yaml:4:1: error: malformed YAML")]
    [InlineData("allow:\n  - reason: both\n    path: a\n    fingerprint: a;jwt;00\n", "configs/secret-scan-allowlist.yaml:2:5: error: allow[0]: give exactly one of fingerprint")]
    [InlineData("allow:\n  - reason: bad\n    fingerprint: a;jwt;00\n", "configs/secret-scan-allowlist.yaml:3:5: error: allow[0]: a fingerprint is path;rule;sha256")]
    [InlineData("allow:\n  - reason: x\n    paths: a\n", "configs/secret-scan-allowlist.yaml:2:5: error: allow[0]: give exactly one of fingerprint (copied from a finding) and path (a glob) (and 1 more)")]
    public async Task A_wrong_allowlist_is_one_error_with_its_position(string yaml, string error)
    {
        Write("a.txt", "nothing here\n");
        Write(SecretScanAllowlist.DefaultPath, yaml);
        var act = () => Scan();
        (await act.Should().ThrowAsync<PipelineException>()).Which.Message.Should().StartWith(error);
    }

    [Fact]
    public void The_schema_and_compose_files_hold_no_literal_value_and_no_fallback_for_a_declared_secret()
    {
        Write("compose.yml", """
            services:
              db:
                environment:
                  POSTGRES_PASSWORD: "${POSTGRES_PASSWORD}"
                  API_KEY: "${API_KEY:?API_KEY is missing}"
                  OTHER: "${UNDECLARED:-fine}"
              app:
                environment:
                  - POSTGRES_PASSWORD=hunter22
                  - DSN=postgres://u:${POSTGRES_PASSWORD:-devpassword}@db/app
                  - API_KEY=${API_KEY}
              cache:
                environment:
                  API_KEY: literal-value
            """);
        var findings = StructuralChecks.CheckComposeYaml(Path.Combine(_root, "compose.yml"), "compose.yml", new HashSet<string> { "POSTGRES_PASSWORD", "API_KEY" });

        findings.Select(f => (f.RuleId, f.Line, f.Column, f.Message)).Should().BeEquivalentTo(
        [
            (StructuralChecks.SecretLiteralId, 9, 9, "a literal value for the declared secret POSTGRES_PASSWORD: write ${POSTGRES_PASSWORD}"),
            (SecretRules.SecretFallbackId, 10, 9, "a default for the declared secret POSTGRES_PASSWORD (${POSTGRES_PASSWORD:-…}): write ${POSTGRES_PASSWORD}"),
            (StructuralChecks.SecretLiteralId, 14, 16, "a literal value for the declared secret API_KEY: write ${API_KEY}"),
        ]);
        findings.Should().OnlyContain(f => !f.Message.Contains("hunter22") && !f.Message.Contains("devpassword") && !f.Message.Contains("literal-value"));
    }

    [Fact]
    public async Task The_repositorys_schema_and_its_generated_compose_files_pass_the_structural_checks()
    {
        var schema = new SchemaFile(Repository.Root, "schemas/compose-schema.yaml");
        var secrets = schema.Load().Secrets.Keys.ToHashSet();
        secrets.Should().NotBeEmpty();
        StructuralChecks.CheckComposeYaml(schema.FullPath, "schemas/compose-schema.yaml", secrets).Should().BeEmpty();
        var files = LlmStack.Compose.ComposeCommands.GenerateAll(schema, _root, Serilog.Core.Logger.None);
        files.Should().NotBeEmpty();
        files.SelectMany(file => StructuralChecks.CheckComposeYaml(file, file, secrets)).Should().BeEmpty();
        var scanner = new ContentScanner(SecretRules.All, []);
        files.SelectMany(file => scanner.Scan(File.ReadAllText(file), file)).Should().BeEmpty();
    }

    [Fact]
    public async Task The_secrets_directory_must_be_ignored_and_untracked()
    {
        await Git("init", "-q", "-b", "main");
        Write(".gitignore", "*.log\n");
        Write("secrets/development.env", "X=" + Fake.Chars(20, 31) + "\n");
        await Commit("oops");

        var findings = await StructuralChecks.CheckSecretsDirectoryAsync(_root, Path.Combine(_root, "secrets"), CancellationToken.None);
        findings.Select(f => (f.RuleId, f.Path)).Should().BeEquivalentTo(
            [(SecretRules.SecretsNotIgnoredId, ".gitignore"), (SecretRules.SecretsTrackedId, "secrets/development.env")]);

        Write(".gitignore", "secrets/\n");
        await Git("rm", "-q", "--cached", "secrets/development.env");
        (await StructuralChecks.CheckSecretsDirectoryAsync(_root, Path.Combine(_root, "secrets"), CancellationToken.None)).Should().BeEmpty();
        (await StructuralChecks.CheckSecretsDirectoryAsync(_root, Path.Combine(Path.GetTempPath(), "elsewhere"), CancellationToken.None)).Should().BeEmpty("a secrets directory outside the repository is not git's business");
    }

    [Fact]
    public async Task Validate_prints_only_redactions_and_fails_with_one_line()
    {
        var token = Fake.GitHub();
        var value = Fake.Chars(24, 32);
        Write("secrets/development.env", "N8N_PASSWORD=" + value + "\n");
        Write("leak.txt", token + "\n" + value + "\n");
        var output = new StringWriter();
        var log = new CollectingSink();
        var logger = new Serilog.LoggerConfiguration().MinimumLevel.Verbose().WriteTo.Sink(log).CreateLogger();
        var sarif = Path.Combine(_root, "out", "scan.sarif");

        var act = () => SecretScanner.ValidateAsync(Options(sarif: sarif), new SecretMasker(), logger, ReportWriter.Text(output), CancellationToken.None);

        var error = (await act.Should().ThrowAsync<PipelineException>()).Which.Message;
        error.Should().Be("ValidateSecurity: 2 finding(s) (github-token, environment-secret-value): remove each secret and rotate it, or allowlist it with a reason in configs/secret-scan-allowlist.yaml (docs/SECURITY.md)");
        var everything = output + log.ToString() + await File.ReadAllTextAsync(sarif);
        everything.Should().Contain(token[..4] + "…").And.Contain("leak.txt:1:1").And.Contain("leak.txt:2:1");
        everything.Should().NotContain(token).And.NotContain(value).And.NotContain(token[..5]);
    }

    [Fact]
    public async Task Json_output_lists_findings_with_redaction_and_fingerprint()
    {
        Write("leak.txt", Fake.Stripe());
        var output = new StringWriter();
        var act = () => SecretScanner.ValidateAsync(Options(), new SecretMasker(), Serilog.Core.Logger.None, new ReportWriter(TextWriter.Null, output, json: true), CancellationToken.None);
        await act.Should().ThrowAsync<PipelineException>();

        using var json = JsonDocument.Parse(output.ToString());
        var finding = json.RootElement.GetProperty("findings")[0];
        finding.GetProperty("rule").GetString().Should().Be("stripe-live-key");
        finding.GetProperty("match").GetString().Should().Be(Fake.Stripe()[..4] + "…");
        finding.GetProperty("fingerprint").GetString().Should().StartWith("leak.txt;stripe-live-key;");
        output.ToString().Should().NotContain(Fake.Stripe());
    }

    [Fact]
    public async Task A_clean_directory_passes()
    {
        // A reference, a placeholder and a low-entropy assignment: nothing a rule may report.
        Write("README.md", "password: ${DB_PASSWORD}\napi_key = changeme\ntoken: xxxxxxxxxxxxxxxxxxxx\n");
        Write("src/app.py", "SECRET_KEY = os.environ['SECRET_KEY']\n");
        var output = new StringWriter();

        await SecretScanner.ValidateAsync(Options(), new SecretMasker(), Serilog.Core.Logger.None, new ReportWriter(TextWriter.Null, output, json: true), CancellationToken.None);

        using var json = JsonDocument.Parse(output.ToString());
        json.RootElement.GetProperty("findings").GetArrayLength().Should().Be(0);
        json.RootElement.GetProperty("files").GetProperty("scanned").GetInt32().Should().Be(2, "both files were read, not skipped");
        var result = await Scan();
        result.Findings.Should().BeEmpty();
        result.Files.Scanned.Should().Be(2);

        // The same directory with one real-looking key is not clean: the test above can fail.
        Write("src/app.py", "SECRET_KEY = os.environ['SECRET_KEY']\nSTRIPE = '" + Fake.Stripe() + "'\n");
        (await Scan()).Findings.Should().ContainSingle().Which.RuleId.Should().Be("stripe-live-key");
    }

    [Fact]
    public async Task The_sarif_output_is_valid_sarif_2_1_0_with_relative_uris_regions_and_fingerprints()
    {
        await InitRepository();
        Write("dir with space/app.env", "GITHUB=" + Fake.GitHub() + "\n");
        await Commit("leak");
        Write("dir with space/app.env", "nothing\n");
        await Git("commit", "-qam", "fix");
        Write("now.txt", "x " + Fake.Google());
        var result = await Scan(history: true);
        result.Findings.Should().HaveCount(2);

        var sarif = ScanReport.ToSarif(result);

        var schema = await JsonSchema.FromFileAsync(Tools.SarifJsonSchema());
        schema.Validate(sarif).Select(e => $"{e.Path}: {e.Kind}").Should().BeEmpty();
        using var json = JsonDocument.Parse(sarif);
        var run = json.RootElement.GetProperty("runs")[0];
        run.GetProperty("tool").GetProperty("driver").GetProperty("rules").EnumerateArray().Select(r => r.GetProperty("id").GetString())
            .Should().Contain(SecretRules.All.Select(r => r.Id)).And.Contain(SecretRules.EnvironmentSecretId);
        var results = run.GetProperty("results").EnumerateArray().ToList();
        var location = results[0].GetProperty("locations")[0].GetProperty("physicalLocation");
        location.GetProperty("artifactLocation").GetProperty("uri").GetString().Should().Be("now.txt");
        location.GetProperty("region").GetProperty("startColumn").GetInt32().Should().Be(3);
        results[1].GetProperty("locations")[0].GetProperty("physicalLocation").GetProperty("artifactLocation").GetProperty("uri").GetString().Should().Be("dir%20with%20space/app.env");
        results[1].GetProperty("ruleId").GetString().Should().Be("github-token");
        results[1].GetProperty("partialFingerprints").GetProperty("secretFingerprint/v1").GetString().Should().Be(result.Findings[1].Fingerprint);
        sarif.Should().NotContain(Fake.GitHub()).And.NotContain(Fake.Google());
    }

    [Fact]
    public async Task This_repository_scans_clean()
    {
        var options = new SecretScanOptions { RepositoryRoot = Repository.Root, Schema = new SchemaFile(Repository.Root, "schemas/compose-schema.yaml") };
        var result = await SecretScanner.ScanAsync(options, new SecretMasker(), Serilog.Core.Logger.None, CancellationToken.None);
        result.Findings.Select(f => $"{f.Location} {f.RuleId} {f.Fingerprint}").Should().BeEmpty("fix or allowlist (with a reason) what ValidateSecurity finds");
        result.Files.Scanned.Should().BeGreaterThan(100);
    }

    [Fact]
    public async Task The_sarif_schema_check_can_fail()
    {
        var schema = await JsonSchema.FromFileAsync(Tools.SarifJsonSchema());
        schema.Validate("""{"version":"2.1.0","runs":[{"tool":{"driver":{}}}]}""").Should().NotBeEmpty("a driver needs a name");
    }

    private sealed class CollectingSink : Serilog.Core.ILogEventSink
    {
        private readonly System.Text.StringBuilder _text = new();

        public void Emit(Serilog.Events.LogEvent logEvent) => _text.AppendLine(logEvent.RenderMessage());

        public override string ToString() => _text.ToString();
    }
}
