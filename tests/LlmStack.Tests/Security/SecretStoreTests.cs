using LlmStack.Pipeline;
using LlmStack.Schema;
using LlmStack.Security;

namespace LlmStack.Tests.Security;

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
        var store = SecretStore.LoadOrGenerate(_root, "secrets", "qa", Definitions(), masker, Serilog.Core.Logger.None);

        store.Get("DB_PASSWORD").Should().MatchRegex("^[A-Za-z0-9]{24}$");
        store.Get("API_KEY").Should().MatchRegex("^sk-[A-Za-z0-9]{40}$");
        store.Get("TOKEN").Should().MatchRegex("^[0-9a-f]{32}$");
        File.GetUnixFileMode(store.Path).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.GetUnixFileMode(Path.GetDirectoryName(store.Path)!).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        masker.Mask($"x {store.Get("API_KEY")} y").Should().Be("x **** y");
    }

    [Fact]
    public void Mask_registers_the_files_values_and_writes_nothing()
    {
        var path = SecretStore.FileFor(_root, "secrets", "qa");
        var masker = new SecretMasker();
        SecretStore.Mask(path, masker);
        File.Exists(path).Should().BeFalse("a missing file has no values and is not created");

        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, "DB_PASSWORD=chosen-by-hand-long\n");
        var before = File.GetLastWriteTimeUtc(path);
        SecretStore.Mask(path, masker);

        masker.Mask("log: password chosen-by-hand-long refused").Should().Be("log: password **** refused");
        File.GetLastWriteTimeUtc(path).Should().Be(before);
    }

    [Fact]
    public void Existing_values_are_never_overwritten_and_new_ones_are_added()
    {
        Directory.CreateDirectory(Path.Combine(_root, "secrets"));
        File.WriteAllText(SecretStore.FileFor(_root, "secrets", "qa"), "# kept\nDB_PASSWORD=chosen-by-hand-long\n");
        var store = SecretStore.LoadOrGenerate(_root, "secrets", "qa", Definitions(), new SecretMasker(), Serilog.Core.Logger.None);
        store.Get("DB_PASSWORD").Should().Be("chosen-by-hand-long");

        var again = SecretStore.LoadOrGenerate(_root, "secrets", "qa", Definitions(), new SecretMasker(), Serilog.Core.Logger.None);
        again.Get("API_KEY").Should().Be(store.Get("API_KEY"));
        again.Get("DB_PASSWORD").Should().Be("chosen-by-hand-long");
    }

    [Fact]
    public void Two_generations_differ_and_a_readable_file_is_made_private()
    {
        var first = SecretStore.LoadOrGenerate(_root, "secrets", "a", Definitions(), new SecretMasker(), Serilog.Core.Logger.None);
        var second = SecretStore.LoadOrGenerate(_root, "secrets", "b", Definitions(), new SecretMasker(), Serilog.Core.Logger.None);
        second.Get("DB_PASSWORD").Should().NotBe(first.Get("DB_PASSWORD"));

        File.SetUnixFileMode(first.Path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
        SecretStore.LoadOrGenerate(_root, "secrets", "a", Definitions(), new SecretMasker(), Serilog.Core.Logger.None);
        File.GetUnixFileMode(first.Path).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    [Fact]
    public void A_malformed_line_names_the_file_and_line_but_not_the_value()
    {
        Directory.CreateDirectory(Path.Combine(_root, "secrets"));
        File.WriteAllText(SecretStore.FileFor(_root, "secrets", "qa"), "DB_PASSWORD=ok-value-here\nsupersecretvalue\n");
        var load = () => SecretStore.LoadOrGenerate(_root, "secrets", "qa", Definitions(), new SecretMasker(), Serilog.Core.Logger.None);
        load.Should().Throw<PipelineException>().Where(e => e.Message.EndsWith("qa.env:2: expected NAME=value (the value is not shown)") && !e.Message.Contains("supersecret"));
    }

    [Fact]
    public void A_name_set_twice_is_an_error_naming_both_lines_for_every_reader_and_never_a_value()
    {
        Directory.CreateDirectory(Path.Combine(_root, "secrets"));
        var path = SecretStore.FileFor(_root, "secrets", "qa");
        File.WriteAllText(path, "DB_PASSWORD=first-value-aaaa\n# a comment\nAPI_KEY=sk-other-value\n\nDB_PASSWORD=second-value-bbbb\n");
        var before = File.ReadAllText(path);
        var expected = $"{path}:5: DB_PASSWORD is set twice, on lines 1 and 5: keep one of them (the values are not shown)";

        Action read = () => SecretStore.Read(path);
        Action load = () => SecretStore.LoadOrGenerate(_root, "secrets", "qa", Definitions(), new SecretMasker(), Serilog.Core.Logger.None);
        Action update = () => SecretStore.Update(path, "API_KEY", "sk-new-value-cccc");

        foreach (var reader in new[] { read, load, update })
        {
            reader.Should().Throw<PipelineException>().Which.Message.Should().Be(expected);
        }

        File.ReadAllText(path).Should().Be(before, "nothing is generated or rewritten over an ambiguous file");
    }

    [Fact]
    public void A_secrets_file_that_is_a_directory_is_an_error_and_nothing_is_written()
    {
        // Fault 3: it was treated as missing, new secrets went to testing.env.tmp, then an IOException stack trace.
        var path = SecretStore.FileFor(_root, "secrets", "qa");
        Directory.CreateDirectory(path);
        var load = () => SecretStore.LoadOrGenerate(_root, "secrets", "qa", Definitions(), new SecretMasker(), Serilog.Core.Logger.None);
        load.Should().Throw<PipelineException>().WithMessage($"secrets file {path} is a directory: move it away (LlmStack never replaces a secrets file)");
        Directory.GetFileSystemEntries(Path.GetDirectoryName(path)!).Should().Equal(path);
        Directory.GetFileSystemEntries(path).Should().BeEmpty();
    }

    [Fact]
    public void A_dangling_link_in_place_of_the_secrets_file_is_an_error_and_nothing_is_written()
    {
        var path = SecretStore.FileFor(_root, "secrets", "qa");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var target = Path.Combine(_root, "vault", "qa.env");
        File.CreateSymbolicLink(path, target);
        var load = () => SecretStore.LoadOrGenerate(_root, "secrets", "qa", Definitions(), new SecretMasker(), Serilog.Core.Logger.None);
        load.Should().Throw<PipelineException>().WithMessage($"secrets file {path} is a link to {target}, which does not exist: fix the link*");
        Directory.GetFileSystemEntries(Path.GetDirectoryName(path)!).Should().Equal(path);
        File.Exists(target).Should().BeFalse();
    }

    [Fact]
    public void The_secrets_directory_can_live_outside_the_checkout()
    {
        var outside = Repository.TempDirectory("runner-secrets");
        try
        {
            var store = SecretStore.LoadOrGenerate(_root, outside, "qa", Definitions(), new SecretMasker(), Serilog.Core.Logger.None);
            store.Path.Should().Be(Path.Combine(outside, "qa.env"));
            File.Exists(store.Path).Should().BeTrue();
            Directory.Exists(Path.Combine(_root, "secrets")).Should().BeFalse();
            File.GetUnixFileMode(store.Path).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        finally
        {
            Directory.Delete(outside, recursive: true);
        }
    }
}
