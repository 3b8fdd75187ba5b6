using LlmStack.GitHub;
using LlmStack.Pipeline;

namespace LlmStack.Tests.GitHub;

public sealed class GitHubClientFactoryTests
{
    [Theory]
    [InlineData("https://github.com/acme/stack.git", "acme", "stack")]
    [InlineData("https://github.com/acme/stack", "acme", "stack")]
    [InlineData("https://github.com/acme/stack/", "acme", "stack")]
    [InlineData("https://someone:secret@github.example.com/acme/my.stack.git", "acme", "my.stack")]
    [InlineData("git@github.com:acme/stack.git", "acme", "stack")]
    [InlineData("git@github.com:acme/stack", "acme", "stack")]
    [InlineData("ssh://git@github.com/acme/stack.git", "acme", "stack")]
    [InlineData("ssh://git@ghe.example.com:2222/acme-org/llm_stack.git", "acme-org", "llm_stack")]
    public void Repositories_come_from_https_and_ssh_remotes(string remote, string owner, string name) =>
        RepositoryName.FromRemote(remote).Should().Be(new RepositoryName(owner, name));

    [Theory]
    [InlineData("")]
    [InlineData("/srv/git/stack.git")]
    [InlineData("https://gitlab.example.com/group/sub/stack.git")]
    [InlineData("file:///srv/git/acme/stack.git")]
    public void Other_remotes_are_no_repository(string remote) => RepositoryName.FromRemote(remote).Should().BeNull();

    [Theory]
    [InlineData("acme/stack", true)]
    [InlineData("acme/stack.git", true)]
    [InlineData("acme", false)]
    [InlineData("acme/stack/extra", false)]
    [InlineData("-acme/stack", false)]
    public void Repository_parameters_are_owner_and_name(string text, bool valid) => (RepositoryName.TryParse(text) is not null).Should().Be(valid);

    [Fact]
    public async Task The_repository_falls_back_to_the_origin_remote()
    {
        var directory = Repository.TempDirectory("github-remote");
        await ProcessRunner.RunCheckedAsync("git", ["init", "-q", directory], directory, null, CancellationToken.None);
        var settings = new GitHubSettings { Token = "x", RootDirectory = directory, Masker = new SecretMasker() };

        (await FluentActions.Awaiting(() => GitHubClientFactory.RepositoryAsync(settings, CancellationToken.None)).Should().ThrowAsync<PipelineException>())
            .Which.Message.Should().Be("no GitHub repository: pass --github-repository owner/name or set GITHUB_REPOSITORY (this checkout has no origin remote)");

        await ProcessRunner.RunCheckedAsync("git", ["-C", directory, "remote", "add", "origin", "git@github.com:acme/from-remote.git"], directory, null, CancellationToken.None);
        (await GitHubClientFactory.RepositoryAsync(settings, CancellationToken.None)).Should().Be(new RepositoryName("acme", "from-remote"));
        (await GitHubClientFactory.RepositoryAsync(settings with { Repository = "other/repo" }, CancellationToken.None)).Should().Be(new RepositoryName("other", "repo"));
        Directory.Delete(directory, recursive: true);
    }

    [Fact]
    public async Task A_missing_token_is_one_line_and_a_given_one_is_masked()
    {
        var masker = new SecretMasker();
        var settings = new GitHubSettings { Repository = "acme/stack", RootDirectory = Path.GetTempPath(), Masker = masker };

        (await FluentActions.Awaiting(() => GitHubClientFactory.CreateAsync(settings, CancellationToken.None)).Should().ThrowAsync<PipelineException>())
            .Which.Message.Should().Be("no GitHub token: pass --github-token or set GITHUB_TOKEN (scopes: docs/GITHUB-API.md)");

        var api = await GitHubClientFactory.CreateAsync(settings with { Token = GitHubFake.Token }, CancellationToken.None);
        api.BaseUrl.Should().Be(new Uri("https://api.github.com/"));
        masker.Mask($"token {GitHubFake.Token}").Should().Be("token ****");
    }

    [Fact]
    public void Enterprise_urls_are_taken_and_nonsense_refused()
    {
        GitHubClientFactory.ApiUri("https://ghe.example.com/api/v3").Should().Be(new Uri("https://ghe.example.com/api/v3/"));
        FluentActions.Invoking(() => GitHubClientFactory.ApiUri("ghe.example.com")).Should().Throw<PipelineException>().Which.Message.Should().Contain("--github-api-url");
    }
}
