using LlmStack.Pipeline;
using LlmStack.Schema;
using LlmStack.Security;

namespace LlmStack.Tests.Engine;

public class SecretStoreTests : IDisposable
{
    private readonly string _root = Repository.TempDirectory("secrets");

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static Dictionary<string, SecretDefinition> Definitions() => new()
    {
        ["DB_PASSWORD"] = new SecretDefinition { Length = 24 },
        ["API_KEY"] = new SecretDefinition { Prefix = "sk-", Length = 40 },
        ["TOKEN"] = new SecretDefinition { Charset = "hex" },
    };

    [Fact]
    public void Missing_secrets_are_generated_with_their_shape_into_a_private_file()
    {
        var masker = new SecretMasker();
        var store = SecretStore.LoadOrGenerate(_root, "qa", Definitions(), masker, Serilog.Core.Logger.None);

        store.Get("DB_PASSWORD").Should().MatchRegex("^[A-Za-z0-9]{24}$");
        store.Get("API_KEY").Should().MatchRegex("^sk-[A-Za-z0-9]{40}$");
        store.Get("TOKEN").Should().MatchRegex("^[0-9a-f]{32}$");
        File.GetUnixFileMode(store.Path).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.GetUnixFileMode(Path.GetDirectoryName(store.Path)!).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        masker.Mask($"x {store.Get("API_KEY")} y").Should().Be("x **** y");
    }

    [Fact]
    public void Existing_values_are_never_overwritten_and_new_ones_are_added()
    {
        Directory.CreateDirectory(Path.Combine(_root, "secrets"));
        File.WriteAllText(SecretStore.FileFor(_root, "qa"), "# kept\nDB_PASSWORD=chosen-by-hand-long\n");
        var store = SecretStore.LoadOrGenerate(_root, "qa", Definitions(), new SecretMasker(), Serilog.Core.Logger.None);
        store.Get("DB_PASSWORD").Should().Be("chosen-by-hand-long");

        var again = SecretStore.LoadOrGenerate(_root, "qa", Definitions(), new SecretMasker(), Serilog.Core.Logger.None);
        again.Get("API_KEY").Should().Be(store.Get("API_KEY"));
        again.Get("DB_PASSWORD").Should().Be("chosen-by-hand-long");
    }

    [Fact]
    public void Two_generations_differ_and_a_readable_file_is_made_private()
    {
        var first = SecretStore.LoadOrGenerate(_root, "a", Definitions(), new SecretMasker(), Serilog.Core.Logger.None);
        var second = SecretStore.LoadOrGenerate(_root, "b", Definitions(), new SecretMasker(), Serilog.Core.Logger.None);
        second.Get("DB_PASSWORD").Should().NotBe(first.Get("DB_PASSWORD"));

        File.SetUnixFileMode(first.Path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
        SecretStore.LoadOrGenerate(_root, "a", Definitions(), new SecretMasker(), Serilog.Core.Logger.None);
        File.GetUnixFileMode(first.Path).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    [Fact]
    public void A_malformed_line_names_the_file_and_line_but_not_the_value()
    {
        Directory.CreateDirectory(Path.Combine(_root, "secrets"));
        File.WriteAllText(SecretStore.FileFor(_root, "qa"), "DB_PASSWORD=ok-value-here\nsupersecretvalue\n");
        var load = () => SecretStore.LoadOrGenerate(_root, "qa", Definitions(), new SecretMasker(), Serilog.Core.Logger.None);
        load.Should().Throw<PipelineException>().Where(e => e.Message.EndsWith("qa.env:2: expected NAME=value (the value is not shown)") && !e.Message.Contains("supersecret"));
    }
}
