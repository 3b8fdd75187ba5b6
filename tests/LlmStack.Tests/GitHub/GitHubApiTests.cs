using System.Globalization;
using LlmStack.GitHub;
using IResponseBuilder = WireMock.ResponseBuilders.IResponseBuilder;

namespace LlmStack.Tests.GitHub;

/// <summary>The one way to call GitHub: the base URL as given, retries of what GitHub says to retry, one line for the rest.</summary>
public sealed class GitHubApiTests : GitHubTestBase
{
    private static readonly object RepositoryJson = new { id = 1, name = "stack", full_name = "acme/stack", default_branch = "main" };

    private readonly SimulatedTime _time = new(new DateTimeOffset(2026, 6, 1, 10, 0, 0, TimeSpan.Zero));

    private Task<Octokit.Repository> ReadAsync(GitHubApi api, CancellationToken cancellationToken = default) =>
        api.CallAsync("reading acme/stack", c => c.Repository.Get("acme", "stack"), cancellationToken);

    private static IResponseBuilder Ok => GitHubFake.Answer(200, _ => RepositoryJson);

    private static IResponseBuilder Status(int status, string message = "Server Error", params (string, string)[] headers) =>
        GitHubFake.Answer(status, _ => new { message }, headers);

    [Theory]
    [InlineData("/github/api/v3", "/github/api/v3/repos/acme/stack")]
    [InlineData("/github/api/v3/", "/github/api/v3/repos/acme/stack")]
    [InlineData("/proxy", "/proxy/repos/acme/stack")]
    public async Task The_api_url_is_used_as_given_with_its_path_prefix(string apiPath, string requested)
    {
        GitHub.Json("GET", requested, 200, _ => RepositoryJson);
        var api = await GitHub.ApiAsync(apiPath: apiPath);

        (await ReadAsync(api)).DefaultBranch.Should().Be("main");

        api.BaseUrl.AbsolutePath.Should().Be(apiPath.TrimEnd('/') + "/");
        GitHub.All.Select(r => r.Path).Should().Equal(requested);
    }

    [Fact]
    public async Task A_502_then_200_is_retried_and_succeeds()
    {
        GitHub.Sequence("GET", GitHubFake.Repo, Status(502), Ok);

        (await ReadAsync(await GitHub.ApiAsync(_time))).DefaultBranch.Should().Be("main");

        GitHub.Requests("GET", GitHubFake.Repo).Should().HaveCount(2);
        _time.Delays.Should().Equal(GitHubRetry.Default.FirstBackoff);
    }

    [Fact]
    public async Task Retry_after_of_a_secondary_rate_limit_is_waited()
    {
        GitHub.Sequence("GET", GitHubFake.Repo,
            Status(403, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.", ("Retry-After", "1")), Ok);

        (await ReadAsync(await GitHub.ApiAsync(_time))).DefaultBranch.Should().Be("main");

        _time.Delays.Should().Equal(TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task A_secondary_rate_limit_without_retry_after_waits_a_minute_and_a_429_is_one_too()
    {
        GitHub.Sequence("GET", GitHubFake.Repo,
            Status(403, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."), Status(429, "Too many requests"), Ok);

        (await ReadAsync(await GitHub.ApiAsync(_time))).DefaultBranch.Should().Be("main");

        _time.Delays.Should().Equal(GitHubRetry.SecondaryLimitWait, GitHubRetry.SecondaryLimitWait);
    }

    [Fact]
    public async Task Too_many_5xx_is_one_line_naming_the_call_after_a_bounded_number_of_attempts()
    {
        GitHub.Json("GET", GitHubFake.Repo, 503, _ => new { message = "Service Unavailable" });

        var api = await GitHub.ApiAsync(_time);

        var act = () => ReadAsync(api);

        var message = (await act.Should().ThrowAsync<GitHubException>()).Which.Message;
        message.Should().Be(
            $"GitHub answered 503 ServiceUnavailable {GitHubRetry.Default.Attempts} times while reading acme/stack: GitHub is having trouble (https://www.githubstatus.com); try again later");
        GitHub.Requests("GET", GitHubFake.Repo).Should().HaveCount(GitHubRetry.Default.Attempts);
        _time.Delays.Should().Equal(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(8));
    }

    [Fact]
    public async Task A_retry_after_beyond_the_cap_ends_the_retries_at_once()
    {
        GitHub.Sequence("GET", GitHubFake.Repo, Status(429, "Too many requests", ("Retry-After", "3600")));

        var api = await GitHub.ApiAsync(_time);

        var act = () => ReadAsync(api);

        (await act.Should().ThrowAsync<GitHubException>()).Which.Message.Should()
            .Be("GitHub's secondary rate limit stopped reading acme/stack, and asks to wait 1h: too many requests in a short time; try again in a few minutes");
        GitHub.Requests("GET", GitHubFake.Repo).Should().ContainSingle();
        _time.Delays.Should().BeEmpty();
    }

    [Theory]
    [InlineData(403, "API rate limit exceeded for installation ID 1.")]
    [InlineData(429, "Too many requests")]
    public async Task The_primary_rate_limit_is_one_line_with_its_reset_and_not_retried(int status, string message)
    {
        var reset = DateTimeOffset.UtcNow.AddMinutes(20);
        GitHub.Sequence("GET", GitHubFake.Repo, Status(status, message,
            ("X-RateLimit-Limit", "1000"), ("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", reset.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture))));

        var api = await GitHub.ApiAsync(_time);

        var act = () => ReadAsync(api);

        (await act.Should().ThrowAsync<GitHubException>()).Which.Message.Should()
            .Be($"GitHub's API rate limit (1000 requests an hour) is used up while reading acme/stack: it resets at {reset.UtcDateTime:HH:mm} UTC");
        GitHub.Requests("GET", GitHubFake.Repo).Should().ContainSingle();
        _time.Delays.Should().BeEmpty();
    }

    [Fact]
    public async Task Client_errors_are_not_retried()
    {
        GitHub.Json("GET", GitHubFake.Repo, 404, _ => new { message = "Not Found" });

        var api = await GitHub.ApiAsync(_time);

        var act = () => ReadAsync(api);

        (await act.Should().ThrowAsync<GitHubException>()).Which.Message.Should().Contain("(404)");
        GitHub.Requests("GET", GitHubFake.Repo).Should().ContainSingle();
    }

    [Fact]
    public async Task Cancelling_during_the_wait_ends_it_and_nothing_is_retried()
    {
        GitHub.Sequence("GET", GitHubFake.Repo, Status(502), Ok);
        using var cancel = new CancellationTokenSource();
        _time.Hold = true; // the wait would never end by itself
        _time.OnDelay = _ => cancel.Cancel(); // Ctrl-C while waiting
        var api = await GitHub.ApiAsync(_time);

        var act = () => ReadAsync(api, cancel.Token);

        await act.Should().ThrowAsync<OperationCanceledException>();
        GitHub.Requests("GET", GitHubFake.Repo).Should().ContainSingle();
    }

    [Fact]
    public async Task A_create_answered_502_is_looked_for_and_not_repeated_when_it_happened()
    {
        GitHub.Json("POST", GitHubFake.Repo + "/things", 502, _ => new { message = "Bad Gateway" });
        var api = await GitHub.ApiAsync(_time);
        var looked = 0;

        var created = await api.CreateAsync(
            "creating a thing",
            async c => (await c.Connection.Post<object>(new Uri("repos/acme/stack/things", UriKind.Relative), new { }, "application/json", "application/json")).Body,
            _ =>
            {
                looked++;
                return Task.FromResult<object?>("the thing GitHub made after all");
            },
            CancellationToken.None);

        created.Should().Be("the thing GitHub made after all");
        looked.Should().Be(1);
        GitHub.Requests("POST", GitHubFake.Repo + "/things").Should().ContainSingle("a create is not repeated once it is found");
    }

    [Fact]
    public async Task A_create_answered_502_that_did_not_happen_is_repeated_but_a_secondary_limit_is_not_looked_for()
    {
        GitHub.Sequence("POST", GitHubFake.Repo + "/things",
            Status(403, "You have exceeded a secondary rate limit.", ("Retry-After", "3")), Status(502), GitHub201());
        var api = await GitHub.ApiAsync(_time);
        var looked = 0;

        var created = await api.CreateAsync(
            "creating a thing",
            async c => (object)(await c.Connection.Post<Dictionary<string, object>>(new Uri("repos/acme/stack/things", UriKind.Relative), new { }, "application/json", "application/json")).Body["id"],
            _ =>
            {
                looked++;
                return Task.FromResult<object?>(null);
            },
            CancellationToken.None);

        created.ToString().Should().Be("7");
        looked.Should().Be(1, "only the ambiguous 502 leaves open whether it happened");
        GitHub.Requests("POST", GitHubFake.Repo + "/things").Should().HaveCount(3);
        _time.Delays.Should().Equal(TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(4));
    }

    private static IResponseBuilder GitHub201() => GitHubFake.Answer(201, _ => new { id = 7 });
}
