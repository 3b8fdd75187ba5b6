using LlmStack.Images;
using LlmStack.Pipeline;

namespace LlmStack.Tests.Images;

/// <summary>.dockerignore as Docker documents and applies it (moby's patternmatcher and the CLI's context walk).</summary>
public class DockerIgnoreTests
{
    private static DockerIgnore Rules(params string[] lines) => DockerIgnore.Parse(string.Join('\n', lines), ".dockerignore");

    public static TheoryData<string[], string, bool> Cases => new()
    {
        // Docker's documented example: */temp*, */*/temp*, temp?
        { ["# comment", "*/temp*", "*/*/temp*", "temp?"], "somedir/temporary.txt", true },
        { ["# comment", "*/temp*", "*/*/temp*", "temp?"], "somedir/temp", true },
        { ["# comment", "*/temp*", "*/*/temp*", "temp?"], "somedir/subdir/temporary.txt", true },
        { ["# comment", "*/temp*", "*/*/temp*", "temp?"], "tempa", true },
        { ["# comment", "*/temp*", "*/*/temp*", "temp?"], "temporary.txt", false },
        { ["# comment", "*/temp*", "*/*/temp*", "temp?"], "a/b/c/temp1", false },
        { ["# comment"], "# comment", false },
        // The root is both the working and the root directory: /foo/bar and foo/bar exclude only foo/bar.
        { ["/foo/bar"], "foo/bar", true },
        { ["foo/bar"], "foo/bar", true },
        { ["foo/bar"], "x/foo/bar", false },
        // A pattern matches a path or any of its parents.
        { ["node_modules"], "node_modules/left-pad/index.js", true },
        { ["build/"], "build/out/app.dll", true },
        { ["./docs/../build"], "build/app", true },
        // * and ? stop at /; ** matches any number of directories, none included.
        { ["*.md"], "README.md", true },
        { ["*.md"], "docs/guide.md", false },
        { ["**/*.go"], "main.go", true },
        { ["**/*.go"], "a/b/c/main.go", true },
        { ["a/**/z"], "a/z", true },
        { ["a/**/z"], "a/b/c/z", true },
        { ["a/**/z"], "b/a/z", false },
        { ["**"], "anything/at/all", true },
        { ["data/**"], "data/x/y", true },
        { ["data/**"], "database", false },
        { ["**/cache"], "cache", true },
        { ["**/cache"], "deep/in/cache/file", true },
        { ["file?.txt"], "file1.txt", true },
        { ["file?.txt"], "file/.txt", false },
        { ["[a-c]at"], "bat", true },
        { ["[a-c]at"], "rat", false },
        { ["[^a-c]at"], "rat", true },
        { ["\\*.txt"], "*.txt", true },
        { ["\\*.txt"], "a.txt", false },
        { ["a.b"], "axb", false },
        // ! makes an exception; the last line that matches decides.
        { ["*.md", "!README.md"], "README.md", false },
        { ["*.md", "!README.md"], "CHANGES.md", true },
        { ["*.md", "!README*.md", "README-secret.md"], "README-secret.md", true },
        { ["*.md", "!README*.md", "README-secret.md"], "README-public.md", false },
        { ["*.md", "README-secret.md", "!README*.md"], "README-secret.md", false },
        { ["*", "!src"], "src/main.c", false },
        { ["*", "!src"], "Makefile", true },
        { ["big", "!big/keep.txt"], "big/keep.txt", false },
        { ["big", "!big/keep.txt"], "big/other.bin", true },
        // Lines are trimmed; blank ones are nothing.
        { ["  large.bin  ", "", "   "], "large.bin", true },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void A_path_is_excluded_as_docker_decides(string[] lines, string path, bool excluded)
    {
        Rules(lines).Excludes(path).Should().Be(excluded, $"'{path}' against [{string.Join(" | ", lines)}]");
    }

    [Fact]
    public void An_excluded_directory_is_walked_only_when_an_exception_may_keep_something_under_it()
    {
        var rules = Rules("big", "vendor", "!big/keep.txt");
        rules.HasExceptions.Should().BeTrue();
        rules.MayKeepUnder("big").Should().BeTrue();
        rules.MayKeepUnder("vendor").Should().BeFalse();
        Rules("big").HasExceptions.Should().BeFalse();
    }

    [Fact]
    public void The_dockerfile_and_the_dockerignore_are_always_sent()
    {
        var directory = Repository.TempDirectory("dockerignore");
        try
        {
            File.WriteAllText(Path.Combine(directory, ".dockerignore"), "*\n!app\n");
            var rules = DockerIgnore.Load(directory, "docker/Dockerfile.prod");

            rules.Excludes(".dockerignore").Should().BeFalse();
            rules.Excludes("docker/Dockerfile.prod").Should().BeFalse();
            rules.Excludes("docker/other").Should().BeTrue();
            rules.Excludes("app/main.py").Should().BeFalse();
            DockerIgnore.Load(Path.Combine(directory, "none"), "Dockerfile").Patterns.Should().BeEmpty("no .dockerignore: nothing is excluded");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Theory]
    [InlineData("!", "context/.dockerignore:2: illegal exclusion pattern '!'")]
    [InlineData("[a-", "context/.dockerignore:2: bad pattern '[a-'")]
    [InlineData("trailing\\", "context/.dockerignore:2: bad pattern 'trailing\\'")]
    public void A_malformed_line_is_one_line_naming_the_file_and_the_line(string line, string message)
    {
        var parse = () => DockerIgnore.Parse("ok\n" + line + "\n", "context/.dockerignore");
        parse.Should().Throw<PipelineException>().WithMessage(message + "*");
    }

    [Theory]
    [InlineData("a//b/./c/", "a/b/c")]
    [InlineData("a/../../b", "../b")]
    [InlineData("/../a", "/a")]
    [InlineData("./", ".")]
    public void Patterns_are_cleaned_as_go_cleans_paths(string path, string cleaned)
    {
        DockerIgnore.Clean(path).Should().Be(cleaned);
    }
}
