using LlmStack.Testing;

namespace LlmStack.Tests.Testing;

/// <summary>CheckDocs against the repository's own build.schema.json and docs.</summary>
public sealed class DocsCheckTests
{
    private static readonly BuildVocabulary Vocabulary = BuildVocabulary.Read(Path.Combine(Repository.Root, ".nuke", "build.schema.json"));

    [Fact]
    public void The_repository_docs_pass()
    {
        DocsCheck.Run(Repository.Root, Vocabulary).Failure.Should().BeNull();
    }

    [Fact]
    public void A_line_naming_a_target_that_does_not_exist_fails_with_file_line_and_the_closest_name()
    {
        var problems = DocsCheck.Check("docs/X.md", "intro\n```bash\n./build.sh StartCoer --environment testing   # start\n```\n", Vocabulary);
        problems.Should().Equal("docs/X.md:3: `./build.sh StartCoer --environment testing`: StartCoer is no target (did you mean 'StartCore'?)");
    }

    [Fact]
    public void Unknown_parameters_and_values_outside_a_parameters_set_fail_and_placeholders_pass()
    {
        DocsCheck.Check("R.md", "`./build.sh StatusCore --enviroment testing`", Vocabulary).Should().ContainSingle().Which.Should().Contain("--enviroment is no parameter (did you mean '--environment'?)");
        DocsCheck.Check("R.md", "`./build.sh StatusCore --environment qa`", Vocabulary).Should().ContainSingle().Which.Should().Contain("'qa' is not a value of --environment (allowed: ");
        DocsCheck.Check("R.md", "`./build.sh BackupFull --skip BackupVerfy`", Vocabulary).Should().ContainSingle().Which.Should().Contain("'BackupVerfy' is not a value of --skip");
        DocsCheck.Check("R.md", "./build.sh <Target> [<Target> ...] [--parameter value ...]\n`./build.sh Start<Stack> --environment <env> --service X`\n`./build.sh Plan --json --against FILE`", Vocabulary)
            .Should().BeEmpty();
        DocsCheck.Check("R.md", "`./build.sh generate-compose --image-map tests/fixtures/image-map.yaml --verbosity verbose`", Vocabulary).Should().BeEmpty("names ignore case and dashes");
    }
}
