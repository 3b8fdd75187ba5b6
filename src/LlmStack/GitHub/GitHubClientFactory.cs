using System.Text.RegularExpressions;
using LlmStack.Pipeline;
using Octokit;

namespace LlmStack.GitHub;

/// <summary>Where and as whom the GitHub API targets talk: what the build's parameters say.</summary>
public sealed record GitHubSettings
{
    /// <summary>--github-token or GITHUB_TOKEN.</summary>
    public string? Token { get; init; }

    /// <summary>--github-repository or GITHUB_REPOSITORY (owner/name); else the origin remote of the checkout.</summary>
    public string? Repository { get; init; }

    /// <summary>--github-api-url or GITHUB_API_URL (GitHub Enterprise: https://HOST/api/v3); default https://api.github.com/.</summary>
    public string? ApiUrl { get; init; }

    public required string RootDirectory { get; init; }

    public required SecretMasker Masker { get; init; }
}

/// <summary>A repository on GitHub, <c>owner/name</c>.</summary>
public sealed partial record RepositoryName(string Owner, string Name)
{
    public override string ToString() => $"{Owner}/{Name}";

    [GeneratedRegex(@"^(?<owner>[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)/(?<name>[A-Za-z0-9._-]+?)(?:\.git)?/?$")]
    private static partial Regex OwnerName();

    // https://[credentials@]host[:port]/owner/name[.git], ssh://git@host[:port]/owner/name[.git], git://host/owner/name
    [GeneratedRegex(@"^(?:https?|ssh|git)://(?:[^@/]+@)?[^/]+/(?<path>[^?#]+)$")]
    private static partial Regex UrlForm();

    // git@host:owner/name[.git] (scp-like)
    [GeneratedRegex(@"^[^@/\s]+@[^:/\s]+:(?<path>[^\s]+)$")]
    private static partial Regex ScpForm();

    /// <summary><c>owner/name</c>, or null when the text is not of that shape.</summary>
    public static RepositoryName? TryParse(string? text)
    {
        var match = OwnerName().Match(text?.Trim() ?? "");
        return match.Success && match.Groups["name"].Value is not ("." or "..")
            ? new RepositoryName(match.Groups["owner"].Value, match.Groups["name"].Value)
            : null;
    }

    /// <summary>The repository of a git remote URL (https, ssh or scp-like forms); null for anything else.</summary>
    public static RepositoryName? FromRemote(string? remote)
    {
        var url = remote?.Trim() ?? "";
        var match = UrlForm().Match(url);
        if (!match.Success)
        {
            match = ScpForm().Match(url);
        }

        return match.Success ? TryParse(match.Groups["path"].Value.TrimStart('/')) : null;
    }
}

/// <summary>Makes the Octokit client from <see cref="GitHubSettings"/>: the token registered with the run's masker first.</summary>
public static class GitHubClientFactory
{
    public const string DefaultApiUrl = "https://api.github.com/";

    /// <summary>
    /// The client for the settings' repository, talking to the API URL exactly as given (Octokit's
    /// <c>new GitHubClient(product, url)</c> would move any host but github.com to <c>/api/v3/</c>, dropping a path
    /// prefix such as a proxy's; a <see cref="Connection"/> keeps it). <paramref name="time"/> times the waits between
    /// retries (tests record them).
    /// </summary>
    public static async Task<GitHubApi> CreateAsync(GitHubSettings settings, CancellationToken cancellationToken, TimeProvider? time = null)
    {
        if (string.IsNullOrWhiteSpace(settings.Token))
        {
            throw new PipelineException("no GitHub token: pass --github-token or set GITHUB_TOKEN (scopes: docs/GITHUB-API.md)");
        }

        settings.Masker.Register(settings.Token);
        var repository = await RepositoryAsync(settings, cancellationToken);
        var baseUrl = ApiUri(settings.ApiUrl);
        var connection = new Connection(new ProductHeaderValue("LlmStack"), baseUrl) { Credentials = new Octokit.Credentials(settings.Token.Trim()) };
        var client = new GitHubClient(connection);
        client.SetRequestTimeout(TimeSpan.FromSeconds(30));
        return new GitHubApi(client, repository, baseUrl, time);
    }

    /// <summary>The API URL as given, with a trailing slash (so that Octokit's relative paths land under it).</summary>
    public static Uri ApiUri(string? apiUrl)
    {
        var text = string.IsNullOrWhiteSpace(apiUrl) ? DefaultApiUrl : apiUrl.Trim();
        return Uri.TryCreate(text.EndsWith('/') ? text : text + "/", UriKind.Absolute, out var uri) && uri.Scheme is "https" or "http"
            ? uri
            : throw new PipelineException($"Invalid value '{text}' for --github-api-url: expected a URL like https://api.github.com/ or https://github.example.com/api/v3");
    }

    /// <summary>--github-repository / GITHUB_REPOSITORY, else the checkout's origin remote.</summary>
    public static async Task<RepositoryName> RepositoryAsync(GitHubSettings settings, CancellationToken cancellationToken)
    {
        if (!string.IsNullOrWhiteSpace(settings.Repository))
        {
            return RepositoryName.TryParse(settings.Repository)
                ?? throw new PipelineException($"Invalid value '{settings.Repository}' for --github-repository (or GITHUB_REPOSITORY): expected owner/name");
        }

        var result = await ProcessRunner.RunAsync(
            "git", ["-C", settings.RootDirectory, "remote", "get-url", "origin"], settings.RootDirectory, null, cancellationToken, onErrorLine: _ => { });
        var remote = result.ExitCode == 0 ? result.Output.FirstOrDefault() : null;
        return RepositoryName.FromRemote(remote)
            ?? throw new PipelineException(
                $"no GitHub repository: pass --github-repository owner/name or set GITHUB_REPOSITORY ({(remote is null ? "this checkout has no origin remote" : "the origin remote is not a GitHub-style owner/name URL")})");
    }
}
