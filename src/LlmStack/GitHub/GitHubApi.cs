using System.Globalization;
using System.Net;
using LlmStack.Pipeline;
using Octokit;

namespace LlmStack.GitHub;

/// <summary>A GitHub API failure as the one line the run prints (the exception stays the inner one, for the log file).</summary>
public sealed class GitHubException(string message, Exception? inner = null) : PipelineException(message, inner);

/// <summary>
/// The Octokit client for one repository. Every call goes through <see cref="CallAsync{T}"/>, which turns Octokit's
/// exceptions (bad token, missing rights, not found, rate limit, unreachable host) into a <see cref="GitHubException"/>:
/// one line naming what was being done and the fix, never a stack trace. Octokit takes no cancellation token: a
/// cancelled call is abandoned (<c>WaitAsync</c>), its request times out on its own.
/// </summary>
public sealed class GitHubApi(IGitHubClient client, RepositoryName repository, Uri baseUrl)
{
    public IGitHubClient Client => client;

    public RepositoryName Repository => repository;

    public string Owner => repository.Owner;

    public string Name => repository.Name;

    public Uri BaseUrl => baseUrl;

    /// <summary>Calls the API; <paramref name="what"/> says what for the error line ("dispatching restore.yml (actions: write)").</summary>
    public async Task<T> CallAsync<T>(string what, Func<IGitHubClient, Task<T>> call, CancellationToken cancellationToken)
    {
        try
        {
            return await call(client).WaitAsync(cancellationToken);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && Describe(e, what) is { } line)
        {
            throw new GitHubException(line, e);
        }
    }

    public Task CallAsync(string what, Func<IGitHubClient, Task> call, CancellationToken cancellationToken) =>
        CallAsync(what, async c =>
        {
            await call(c);
            return true;
        }, cancellationToken);

    /// <summary>One line for an exception of a GitHub call; null for what is no GitHub failure.</summary>
    public string? Describe(Exception exception, string what) => exception switch
    {
        RateLimitExceededException limit =>
            $"GitHub's API rate limit ({limit.Limit} requests an hour) is used up while {what}: it resets at {limit.Reset.UtcDateTime.ToString("HH:mm", CultureInfo.InvariantCulture)} UTC",
        SecondaryRateLimitExceededException =>
            $"GitHub's secondary rate limit stopped {what}: too many requests in a short time, retry in a minute",
        AuthorizationException =>
            $"GitHub refused the token (401) while {what}: check --github-token / GITHUB_TOKEN (expired or revoked?)",
        ForbiddenException forbidden =>
            $"GitHub forbids {what} (403: {Message(forbidden)}): the token lacks a permission (docs/GITHUB-API.md lists them)",
        NotFoundException =>
            $"GitHub found nothing while {what} (404): is {repository} right, and may the token see it? (--github-repository / GITHUB_REPOSITORY)",
        ApiValidationException invalid =>
            $"GitHub rejected the request while {what} (422: {Message(invalid)})",
        ApiException api =>
            $"GitHub answered {(int)api.StatusCode} {api.StatusCode} while {what}: {Message(api)}",
        HttpRequestException or WebException or TaskCanceledException or TimeoutException =>
            $"cannot reach GitHub at {baseUrl} while {what} ({Innermost(exception).Message}): check --github-api-url / GITHUB_API_URL and the network",
        _ => null,
    };

    private static string Message(ApiException exception)
    {
        var errors = exception.ApiError?.Errors?.Select(e => e.Message ?? $"{e.Field} {e.Code}").Where(m => !string.IsNullOrWhiteSpace(m)).ToList() ?? [];
        var message = exception.ApiError?.Message ?? exception.Message;
        return errors.Count > 0 ? $"{message}: {string.Join("; ", errors)}" : message;
    }

    private static Exception Innermost(Exception exception)
    {
        while (exception.InnerException is { } inner)
        {
            exception = inner;
        }

        return exception;
    }
}
