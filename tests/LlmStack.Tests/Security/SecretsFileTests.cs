using LlmStack.Schema;
using LlmStack.Security;

namespace LlmStack.Tests.Security;

/// <summary>
/// ValidateCredentials on the secrets file itself, through the built program (the running services cannot be checked:
/// the Docker endpoint given does not exist, which is a warning). All values here are made up.
/// </summary>
public sealed class SecretsFileTests : IDisposable
{
    private readonly string _root = BuildRun.ScratchRoot("secrets-file");

    private string Secrets => Path.Combine(_root, "private");

    private string File(string environment) => Path.Combine(Secrets, $"{environment}.env");

    public SecretsFileTests() => Directory.CreateDirectory(Secrets);

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private Task<(int Code, string Output)> Validate(string environment) =>
        BuildRun.RunAsync(_root, "ValidateCredentials", "--environment", environment, "--secrets-dir", Secrets, "--docker-host", "unix:///nonexistent/llmstack-test.sock", "--json");

    [Fact]
    public async Task A_file_of_mode_000_is_a_file_mode_finding_even_for_root_who_can_still_read_it()
    {
        System.IO.File.WriteAllText(File("staging"), $"POSTGRES_PASSWORD={SecretStore.Generate(new SecretDefinition { Length = 32 })}\n");
        System.IO.File.SetUnixFileMode(File("staging"), UnixFileMode.None);

        var (code, output) = await Validate("staging");

        code.Should().NotBe(0, "a finding in staging is an error");
        output.Should().Contain("\"rule\": \"file-mode\"").And.Contain($"{File("staging")} is 000, not 600: chmod 600 {File("staging")}");
    }

    [Fact]
    public async Task A_name_set_twice_is_one_error_naming_both_lines_and_no_value()
    {
        var (first, second) = (SecretStore.Generate(new SecretDefinition()), SecretStore.Generate(new SecretDefinition()));
        System.IO.File.WriteAllText(File("testing"), $"POSTGRES_PASSWORD={first}\nOTHER_NAME=x\nPOSTGRES_PASSWORD={second}\n");
        System.IO.File.SetUnixFileMode(File("testing"), UnixFileMode.UserRead | UnixFileMode.UserWrite);

        var (code, output) = await Validate("testing");

        code.Should().NotBe(0);
        output.Should().Contain($"{File("testing")}:3: POSTGRES_PASSWORD is set twice, on lines 1 and 3: keep one of them (the values are not shown)")
            .And.NotContain(first).And.NotContain(second).And.NotContain("   at ");
    }
}
