using System.Globalization;
using System.Net;
using System.Runtime.ExceptionServices;
using LlmStack.Pipeline;
using Octokit;

namespace LlmStack.GitHub;

/// <summary>A GitHub API failure as the one line the run prints (the exception stays the inner one, for the log file).</summary>
public sealed class GitHubException(string message, Exception? inner = null) : PipelineException(message, inner);

/// <summary>
/// How <see cref="GitHubApi"/> retries a call GitHub answered 502/503/504 or refused by its secondary rate limit:
/// <see cref="Attempts"/> in all; between them <c>Retry-After</c> when GitHub sends it, else <see cref="FirstBackoff"/>
/// doubling (a secondary rate limit: at least <see cref="SecondaryLimitWait"/>, as GitHub asks), never more than
/// <see cref="MaxWait"/> (a longer <c>Retry-After</c> ends the retries at once).
/// </summary>
public sealed record GitHubRetry(int Attempts, TimeSpan FirstBackoff, TimeSpan MaxWait)
{
    public static GitHubRetry Default { get; } = new(4, TimeSpan.FromSeconds(2), TimeSpan.FromMinutes(1));

    /// <summary>GitHub's advice after a secondary rate limit without <c>Retry-After</c>: wait at least a minute.</summary>
    public static readonly TimeSpan SecondaryLimitWait = TimeSpan.FromMinutes(1);
}

/// <summary>
/// The Octokit client for one repository. Every call goes through <see cref="CallAsync{T}"/> (or, for a create that
/// must not happen twice, <see cref="CreateAsync{T}"/>), which retries what GitHub says to retry (<see cref="GitHubRetry"/>)
/// and turns Octokit's exceptions (bad token, missing rights, not found, rate limit, unreachable host) into a
/// <see cref="GitHubException"/>: one line naming what was being done and the fix, never a stack trace. Octokit takes
/// no cancellation token: a cancelled call is abandoned (<c>WaitAsync</c>, its request times out on its own), the wait
/// between attempts is cancelled, and nothing is retried once the token is cancelled.
/// </summary>
public sealed class GitHubApi(IGitHubClient client, RepositoryName repository, Uri baseUrl, TimeProvider? time = null, GitHubRetry? retry = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    public RepositoryName Repository => repository;

    public string Owner => repository.Owner;

    public string Name => repository.Name;

    public Uri BaseUrl => baseUrl;

    public GitHubRetry Retry { get; } = retry ?? GitHubRetry.Default;

    /// <summary>
    /// Calls the API, retrying 502/503/504 and secondary rate limits: for reads and for writes that are the same when
    /// repeated (closing an issue, creating a label). <paramref name="what"/> says what for the error line
    /// ("dispatching restore.yml (actions: write)").
    /// </summary>
    public Task<T> CallAsync<T>(string what, Func<IGitHubClient, Task<T>> call, CancellationToken cancellationToken) =>
        RunAsync(what, call, null, cancellationToken);

    public Task CallAsync(string what, Func<IGitHubClient, Task> call, CancellationToken cancellationToken) =>
        CallAsync(what, async c =>
        {
            await call(c);
            return true;
        }, cancellationToken);

    /// <summary>
    /// A create that must not happen twice (an issue, a comment, a workflow dispatch). A 502/503/504 leaves open
    /// whether GitHub did it, so before every repeat <paramref name="findCreated"/> looks for what the create makes
    /// (the marked issue, the marked comment, the run with the dispatch id): found, that is the result; only when it
    /// is not found is the create repeated. A secondary rate limit refused the request, so it is repeated as it is.
    /// </summary>
    public Task<T> CreateAsync<T>(string what, Func<IGitHubClient, Task<T>> create, Func<CancellationToken, Task<T?>> findCreated, CancellationToken cancellationToken)
        where T : class =>
        RunAsync(what, create, findCreated, cancellationToken);

    private async Task<T> RunAsync<T>(string what, Func<IGitHubClient, Task<T>> call, Func<CancellationToken, Task<T?>>? findCreated, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Exception failure;
            try
            {
                return await call(client).WaitAsync(cancellationToken);
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                failure = e;
            }

            var transient = Transient(failure);
            if (transient is not null && findCreated is not null && transient.Kind == TransientKind.ServerError
                && await findCreated(cancellationToken) is { } created)
            {
                return created;
            }

            var wait = transient is null || attempt >= Retry.Attempts ? null : Wait(transient, attempt);
            if (wait is null)
            {
                if (Describe(failure, what, transient is null ? null : (transient, attempt)) is { } line)
                {
                    throw new GitHubException(line, failure);
                }

                ExceptionDispatchInfo.Throw(failure); // no GitHub failure (a bug, a nested GitHubException): as it was
            }

            await Task.Delay(wait.Value, _time, cancellationToken);
        }
    }

    private enum TransientKind
    {
        /// <summary>502, 503, 504: GitHub (or a proxy) failed; a write may or may not have happened.</summary>
        ServerError,

        /// <summary>403/429 of the secondary rate limit: refused, nothing happened.</summary>
        SecondaryLimit,
    }

    private sealed record TransientFailure(TransientKind Kind, int Status, TimeSpan? RetryAfter);

    /// <summary>What may be retried; null for the rest (the primary rate limit, 4xx, an unreachable host).</summary>
    private static TransientFailure? Transient(Exception exception)
    {
        if (exception is not ApiException api || PrimaryLimit(api) is not null)
        {
            return null;
        }

        var status = (int)api.StatusCode;
        var retryAfter = RetryAfter(api);
        if (status is 502 or 503 or 504)
        {
            return new TransientFailure(TransientKind.ServerError, status, retryAfter);
        }

        var secondary = api is SecondaryRateLimitExceededException or AbuseException
            || status == 429
            || (status == 403 && (retryAfter is not null || Message(api).Contains("secondary rate limit", StringComparison.OrdinalIgnoreCase)));
        return secondary ? new TransientFailure(TransientKind.SecondaryLimit, status, retryAfter) : null;
    }

    /// <summary>How long to wait after the failed <paramref name="attempt"/>; null when GitHub asks for longer than <see cref="GitHubRetry.MaxWait"/>.</summary>
    private TimeSpan? Wait(TransientFailure failure, int attempt)
    {
        if (failure.RetryAfter is { } asked)
        {
            return asked <= Retry.MaxWait ? asked : null;
        }

        var backoff = Retry.FirstBackoff * Math.Pow(2, attempt - 1);
        if (failure.Kind == TransientKind.SecondaryLimit && backoff < GitHubRetry.SecondaryLimitWait)
        {
            backoff = GitHubRetry.SecondaryLimitWait;
        }

        return backoff < Retry.MaxWait ? backoff : Retry.MaxWait;
    }

    /// <summary><c>Retry-After</c> in seconds (or as an HTTP date), or the abuse exception's.</summary>
    private static TimeSpan? RetryAfter(ApiException api)
    {
        if (Header(api, "Retry-After") is { } text)
        {
            if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds))
            {
                return TimeSpan.FromSeconds(seconds);
            }

            if (DateTimeOffset.TryParseExact(text, "r", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var date))
            {
                var until = Math.Ceiling((date - DateTimeOffset.UtcNow).TotalSeconds);
                return TimeSpan.FromSeconds(until > 0 ? until : 0);
            }
        }

        return api is AbuseException { RetryAfterSeconds: { } abuse } ? TimeSpan.FromSeconds(abuse) : null;
    }

    private static string? Header(ApiException api, string name) =>
        api.HttpResponse?.Headers?.FirstOrDefault(h => string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase)).Value is { Length: > 0 } value ? value.Trim() : null;

    /// <summary>The primary rate limit used up (<c>x-ratelimit-remaining: 0</c>): its size and reset; null otherwise.</summary>
    private static (int Limit, DateTimeOffset Reset)? PrimaryLimit(ApiException api) => api switch
    {
        RateLimitExceededException limit => (limit.Limit, limit.Reset),
        { StatusCode: HttpStatusCode.Forbidden or HttpStatusCode.TooManyRequests } when Header(api, "X-RateLimit-Remaining") == "0" =>
            (int.TryParse(Header(api, "X-RateLimit-Limit"), CultureInfo.InvariantCulture, out var size) ? size : 0,
                long.TryParse(Header(api, "X-RateLimit-Reset"), CultureInfo.InvariantCulture, out var reset) ? DateTimeOffset.FromUnixTimeSeconds(reset) : DateTimeOffset.UtcNow),
        _ => null,
    };

    /// <summary>One line for an exception of a GitHub call (after <c>attempts</c> when it was retried); null for what is no GitHub failure.</summary>
    private string? Describe(Exception exception, string what, (TransientFailure Failure, int Attempts)? retried)
    {
        if (retried is ({ } failure, var attempts) && exception is ApiException answered)
        {
            var tries = attempts == 1 ? "" : $" {attempts} times";
            var asked = failure.RetryAfter is { } after && after > Retry.MaxWait ? $", and asks to wait {Schema.Duration.Format(after)}" : "";
            return failure.Kind == TransientKind.ServerError
                ? $"GitHub answered {failure.Status} {answered.StatusCode}{tries} while {what}{asked}: GitHub is having trouble (https://www.githubstatus.com); try again later"
                : $"GitHub's secondary rate limit stopped {what}{(tries.Length > 0 ? $" ({attempts} attempts)" : "")}{asked}: too many requests in a short time; try again in a few minutes";
        }

        return exception switch
        {
            ApiException api when PrimaryLimit(api) is { } limit =>
                $"GitHub's API rate limit ({limit.Limit} requests an hour) is used up while {what}: it resets at {limit.Reset.UtcDateTime.ToString("HH:mm", CultureInfo.InvariantCulture)} UTC",
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
    }

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
