using LlmStack.GitHub;
using LlmStack.Pipeline;

/// <summary>The GitHub API connection (Octokit): the GitHub targets' and BackupStatus's workflow line. See docs/GITHUB-API.md.</summary>
interface IHazGitHub : IPipelineBuild
{
    [Parameter("GitHub token for DispatchRestore, ReportFailure, WorkflowStatus and BackupStatus's workflow line", Sources = ParameterSources.Default | ParameterSources.BareVariable)]
    [Secret]
    string? GitHubToken => TryGetValue(() => GitHubToken);

    [Parameter("GitHub repository as owner/name (default: the origin remote)", Sources = ParameterSources.Default | ParameterSources.BareVariable)]
    string? GitHubRepository => TryGetValue(() => GitHubRepository);

    [Parameter("GitHub API URL, used as given (default https://api.github.com/; Enterprise: https://HOST/api/v3; a path prefix, e.g. of a proxy, is kept)", Sources = ParameterSources.Default | ParameterSources.BareVariable)]
    string? GitHubApiUrl => TryGetValue(() => GitHubApiUrl);

    Task<GitHubApi> GitHubAsync(CancellationToken ct) => GitHubClientFactory.CreateAsync(
        new GitHubSettings { Token = GitHubToken, Repository = GitHubRepository, ApiUrl = GitHubApiUrl, RootDirectory = RootDirectory, Masker = Secrets }, ct);
}
