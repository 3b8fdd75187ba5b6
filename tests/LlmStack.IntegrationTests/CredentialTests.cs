using LlmStack.Security;
using LlmStack.Credentials;

namespace LlmStack.IntegrationTests;

/// <summary>
/// ValidateCredentials, SetupSecrets and RotateSecret on the real engine: crafted secrets files (made-up values), a
/// PostgreSQL password changed behind LlmStack's back, a rotation that leaves the core healthy with the old password
/// refused, and one that fails midway and puts the old value back.
/// </summary>
[Collection(TestLane.MainCollection)]
[Trait("Category", "Integration")]
public sealed class CredentialTests(RunningCore core) : IClassFixture<RunningCore>, IDisposable
{
    private static readonly string Postgres = TestNames.Container("postgres");
    private readonly string _work = Directory.CreateTempSubdirectory("llmstack-it-credentials-").FullName;

    private DockerFixture Docker => core.Docker;

    private string SecretsFile => Path.Combine(Docker.Root, "secrets", "testing.env");

    public void Dispose()
    {
        var leftover = SecretsFile + ".tmp";
        if (Directory.Exists(leftover))
        {
            Directory.Delete(leftover);
        }

        Directory.Delete(_work, recursive: true);
    }

    private TestRun Build => new(Docker.Root);

    /// <summary>Whether postgres accepts the account with this password over its network address (the socket trusts everyone).</summary>
    private async Task<bool> AcceptsAsync(string password)
    {
        var engine = await LlmStack.Engine.DockerEngine.ConnectAsync(null, Serilog.Core.Logger.None, CancellationToken.None);
        return await PostgresLogin.AcceptsAsync(engine, Postgres, "multimodal", password, CancellationToken.None);
    }

    private string FileValue(string name) => SecretStore.Read(SecretsFile)[name];

    [Fact]
    public async Task A_password_changed_behind_LlmStacks_back_is_caught_and_RotateSecret_leaves_the_core_healthy_with_the_old_password_refused()
    {
        (await Build.RunAsync("StartCore")).ExitCode.Should().Be(0);
        var clean = await Build.RunAsync("ValidateCredentials", "--strict");
        clean.ExitCode.Should().Be(0, clean.ToString());
        clean.Output.Should().Contain("postgres (login of multimodal)").And.Contain("0 error(s)");

        // Behind LlmStack's back: the role gets another password (over the trusted socket).
        var (exit, output) = await Docker.ExecAsync(Postgres, "psql", "-U", "multimodal", "-d", "postgres", "-c", "ALTER ROLE multimodal PASSWORD 'Drifted0Value0Made0Up0ForTest0x'");
        exit.Should().Be(0, output);
        var drift = await Build.RunAsync("ValidateCredentials", "--strict");
        drift.ExitCode.Should().NotBe(0, drift.ToString());
        drift.Output.Should().MatchRegex(@"POSTGRES_PASSWORD\s+login\s+error\s+postgres refuses multimodal with the file's value")
            .And.NotContain(FileValue("POSTGRES_PASSWORD")).And.NotContain("Drifted0Value0Made0Up0ForTest0x");
        var warning = await Build.RunAsync("ValidateCredentials");
        warning.ExitCode.Should().Be(0, "in testing a finding is a warning without --strict");
        warning.Output.Should().MatchRegex(@"POSTGRES_PASSWORD\s+login\s+warning");

        // RotateSecret sets a new password over the socket, so it also ends the drift.
        var old = FileValue("POSTGRES_PASSWORD");
        var before = await Docker.ContainersAsync("testing", "core");
        var dry = await Build.RunAsync("RotateSecret", "--secret", "POSTGRES_PASSWORD", "--dry-run");
        dry.ExitCode.Should().Be(0, dry.ToString());
        dry.Output.Should().Contain("would set password").And.Contain("would rotate").And.Contain("would recreate");
        FileValue("POSTGRES_PASSWORD").Should().Be(old, "a dry run changes nothing");

        var rotate = await Build.RunAsync("RotateSecret", "--secret", "POSTGRES_PASSWORD", "--confirm", "testing");
        rotate.ExitCode.Should().Be(0, rotate.ToString());
        var rotated = FileValue("POSTGRES_PASSWORD");
        rotated.Should().NotBe(old).And.HaveLength(32);
        rotate.Output.Should().NotContain(rotated).And.NotContain(old).And.Contain("new value accepted, old refused").And.Contain("Stack core of testing is up");
        (await AcceptsAsync(rotated)).Should().BeTrue("the new password works");
        (await AcceptsAsync(old)).Should().BeFalse("the old password is refused");
        (await AcceptsAsync("Drifted0Value0Made0Up0ForTest0x")).Should().BeFalse();

        var after = await Docker.ContainersAsync("testing", "core");
        after.Should().OnlyContain(c => c.State == "running");
        after.Single(c => c.Names[0] == "/" + Postgres).ID.Should().NotBe(before.Single(c => c.Names[0] == "/" + Postgres).ID, "postgres reads the secret at start: recreated");
        File.GetUnixFileMode(SecretsFile).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var history = SecretStore.HistoryFor(SecretsFile);
        File.GetUnixFileMode(history).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite);
        (await File.ReadAllTextAsync(history)).Should().Contain($"POSTGRES_PASSWORD={old}\n");
        var valid = await Build.RunAsync("ValidateCredentials", "--strict");
        valid.ExitCode.Should().Be(0, valid.ToString());
    }

    [Fact]
    public async Task A_rotation_that_fails_midway_puts_the_old_password_back_and_a_stable_secret_is_refused()
    {
        (await Build.RunAsync("StartCore")).ExitCode.Should().Be(0);
        var old = FileValue("POSTGRES_PASSWORD");
        (await AcceptsAsync(old)).Should().BeTrue();

        // The role is changed first; writing the file then fails (its temporary path is taken by a directory).
        Directory.CreateDirectory(SecretsFile + ".tmp");
        var rotate = await Build.RunAsync("RotateSecret", "--secret", "POSTGRES_PASSWORD", "--confirm", "testing");
        rotate.ExitCode.Should().NotBe(0, rotate.ToString());
        rotate.Output.Should().Contain("RotateSecret POSTGRES_PASSWORD failed").And.Contain("the previous value is back: role multimodal");
        FileValue("POSTGRES_PASSWORD").Should().Be(old);
        (await AcceptsAsync(old)).Should().BeTrue("the role has its previous password again");
        Directory.Delete(SecretsFile + ".tmp");

        var stable = await Build.RunAsync("RotateSecret", "--secret", "N8N_ENCRYPTION_KEY", "--confirm", "testing");
        stable.ExitCode.Should().NotBe(0);
        stable.Output.Should().Contain("N8N_ENCRYPTION_KEY must stay stable for the data it protects");
        var unknown = await Build.RunAsync("RotateSecret", "--secret", "NO_SUCH_SECRET", "--confirm", "testing");
        unknown.Output.Should().Contain("--secret NO_SUCH_SECRET is not a secret of the schema");
    }

    [Fact]
    public async Task Crafted_secrets_files_break_each_rule_and_SetupSecrets_creates_only_what_is_missing()
    {
        var secrets = Path.Combine(_work, "secrets");
        var staging = Build with { Environment = "staging", ImageMap = null, Arguments = ["--secrets-dir", secrets] };

        var setup = await staging.RunAsync("SetupSecrets");
        setup.ExitCode.Should().Be(0, setup.ToString());
        setup.Output.Should().Contain("Created in").And.Contain("POSTGRES_PASSWORD").And.Contain("GRAFANA_ADMIN_PASSWORD");
        var file = Path.Combine(secrets, "staging.env");
        File.GetUnixFileMode(file).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var generated = await File.ReadAllTextAsync(file);
        (await staging.RunAsync("ValidateCredentials")).ExitCode.Should().Be(0, "generated secrets pass every rule");

        var again = await staging.RunAsync("SetupSecrets");
        again.Output.Should().Contain("Nothing to create: all 11 secret(s) of staging exist");
        (await File.ReadAllTextAsync(file)).Should().Be(generated, "existing secrets are never changed");

        // Made-up weak values; production shares staging's JWT key.
        var values = SecretStore.Read(file);
        SecretStore.Update(file, "POSTGRES_PASSWORD", "changeme_in_production");
        SecretStore.Update(file, "MINIO_ROOT_PASSWORD", "multimodal-" + values["MINIO_ROOT_PASSWORD"]);
        SecretStore.Update(file, "N8N_PASSWORD", "abcdefghijklmnopqrstuvwxyz");
        SecretStore.Update(file, "WEBUI_SECRET_KEY", values["GRAFANA_ADMIN_PASSWORD"] + "Zz");
        SecretStore.Update(file, "GRAFANA_ADMIN_PASSWORD", values["GRAFANA_ADMIN_PASSWORD"] + "Zz");
        SecretStore.Update(file, "LITELLM_MASTER_KEY", values["LITELLM_MASTER_KEY"][3..]);
        File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
        await File.WriteAllTextAsync(Path.Combine(secrets, "production.env"), $"JWT_SECRET_KEY={values["JWT_SECRET_KEY"]}\n");

        var check = await staging.RunAsync("ValidateCredentials", "--json");
        check.ExitCode.Should().NotBe(0, check.ToString());
        foreach (var (secret, rule) in new[]
        {
            ("POSTGRES_PASSWORD", "weak"), ("POSTGRES_PASSWORD", "length"), ("MINIO_ROOT_PASSWORD", "account"), ("N8N_PASSWORD", "simple"),
            ("WEBUI_SECRET_KEY", "reused"), ("GRAFANA_ADMIN_PASSWORD", "reused"), ("LITELLM_MASTER_KEY", "prefix"), ("JWT_SECRET_KEY", "shared"), ("-", "file-mode"),
        })
        {
            check.Output.Should().MatchRegex($"\"secret\": \"{secret}\",\\s+\"rule\": \"{rule}\",\\s+\"level\": \"error\"", $"{secret} breaks {rule}");
        }

        check.Output.Should().NotContain(values["JWT_SECRET_KEY"]).And.NotContain(values["MINIO_ROOT_PASSWORD"]).And.NotContain("changeme_in_production");

        // A secrets directory inside the checkout that git does not ignore, and a file another user owns.
        var inside = Path.Combine(Docker.Root, $"it-secrets-{Guid.NewGuid():N}");
        Directory.CreateDirectory(inside);
        try
        {
            File.Copy(file, Path.Combine(inside, "staging.env"));
            await ProcessRunnerChownAsync(Path.Combine(inside, "staging.env"));
            var exposed = await (staging with { Arguments = ["--secrets-dir", inside] }).RunAsync("ValidateCredentials", "--json");
            exposed.ExitCode.Should().NotBe(0, exposed.ToString());
            exposed.Output.Should().MatchRegex("\"rule\": \"git-ignored\",\\s+\"level\": \"error\"").And.MatchRegex("\"rule\": \"file-owner\",\\s+\"level\": \"error\"");
        }
        finally
        {
            Directory.Delete(inside, recursive: true);
        }
    }

    private static async Task ProcessRunnerChownAsync(string path) =>
        (await LlmStack.Pipeline.ProcessRunner.RunAsync("chown", ["12345", path], "/", null, CancellationToken.None)).ExitCode.Should().Be(0);
}
