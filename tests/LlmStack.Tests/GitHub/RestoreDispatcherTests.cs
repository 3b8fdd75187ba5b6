using LlmStack.GitHub;
using LlmStack.Pipeline;

namespace LlmStack.Tests.GitHub;

public sealed class RestoreDispatcherTests : GitHubTestBase
{
    private const string Runs = GitHubFake.Repo + "/actions/workflows/restore.yml/runs";
    private const string Dispatches = GitHubFake.Repo + "/actions/workflows/restore.yml/dispatches";
    private static readonly RunPolling Fast = new(TimeSpan.FromMilliseconds(5), TimeSpan.FromSeconds(5));

    /// <summary>restore.yml: run 1 existed before the dispatch; run 2 appears on the second listing after it, and goes through <paramref name="states"/>.</summary>
    private void Workflow(params (string Status, string? Conclusion)[] states)
    {
        GitHub.Json("GET", GitHubFake.Repo, 200, _ => new { id = 1, name = "stack", full_name = "acme/stack", default_branch = "main" });
        var old = GitHubFake.Run(1, "completed", "success", DateTimeOffset.UtcNow.AddSeconds(-30));
        var listings = 0;
        GitHub.Json("GET", Runs, 200, request => GitHubFake.Query(request, "created") is null
            ? GitHubFake.Runs(old)
            : ++listings < 2 ? GitHubFake.Runs(old) : GitHubFake.Runs(GitHubFake.Run(2, "queued"), GitHubFake.Run(3, "queued", branch: "other"), old));
        GitHub.NoContent("POST", Dispatches);
        var polls = 0;
        GitHub.Json("GET", GitHubFake.Repo + "/actions/runs/2", 200, _ =>
        {
            var (status, conclusion) = states[Math.Min(polls++, states.Length - 1)];
            return GitHubFake.Run(2, status, conclusion);
        });
    }

    [Fact]
    public async Task Dispatches_finds_the_new_run_and_follows_it_to_success()
    {
        Workflow(("queued", null), ("in_progress", null), ("in_progress", null), ("completed", "success"));
        var dispatcher = new RestoreDispatcher(await GitHub.ApiAsync(), Output, TimeProvider.System);

        var run = await dispatcher.RunAsync(new RestoreDispatch("staging", "postgres", "latest", "staging"), Fast, CancellationToken.None);

        run.Id.Should().Be(2);
        var dispatch = GitHub.Requests("POST", Dispatches).Should().ContainSingle().Subject;
        var body = GitHubFake.Body(dispatch);
        body.GetProperty("ref").GetString().Should().Be("main");
        var inputs = body.GetProperty("inputs");
        inputs.GetProperty("environment").GetString().Should().Be("staging");
        inputs.GetProperty("service").GetString().Should().Be("postgres");
        inputs.GetProperty("backup").GetString().Should().Be("latest");
        inputs.GetProperty("confirm").GetString().Should().Be("staging");
        dispatch.Headers!["Authorization"].Should().ContainSingle().Which.Should().BeEquivalentTo($"token {GitHubFake.Token}");

        var listings = GitHub.Requests("GET", Runs);
        listings.Should().OnlyContain(r => GitHubFake.Query(r, "event") == "workflow_dispatch");
        listings.Count(r => GitHubFake.Query(r, "created") is { } created && created.StartsWith(">=", StringComparison.Ordinal)).Should().Be(2, "the run appears on the second poll");
        GitHub.Requests("GET", GitHubFake.Repo + "/actions/runs/2").Count.Should().BeGreaterThanOrEqualTo(3);
        GitHub.All.Select(r => r.Path).Should().NotContain(GitHubFake.Repo + "/actions/runs/1");

        var text = Output.ToString();
        text.Should().Contain("restore.yml run #102: https://github.com/acme/stack/actions/runs/2");
        text.Should().Contain(": queued").And.Contain(": in_progress").And.Contain(": completed");
        text.Split("in_progress").Length.Should().Be(2, "a status is printed when it changes, not on every poll");
        text.Should().Contain("concluded success");
    }

    [Fact]
    public async Task A_run_that_does_not_succeed_is_one_line_with_the_conclusion_and_url()
    {
        Workflow(("in_progress", null), ("completed", "failure"));
        var dispatcher = new RestoreDispatcher(await GitHub.ApiAsync(), Output, TimeProvider.System);

        var act = () => dispatcher.RunAsync(new RestoreDispatch("staging", "all", "latest", "staging", Ref: "main"), Fast, CancellationToken.None);

        (await act.Should().ThrowAsync<PipelineException>()).Which.Message.Should()
            .Be("restore.yml run #102 concluded failure: https://github.com/acme/stack/actions/runs/2");
        GitHub.Requests("GET", GitHubFake.Repo).Should().BeEmpty("--ref needs no default branch");
    }

    [Fact]
    public async Task Without_the_environment_as_confirmation_nothing_reachesGitHub()
    {
        Workflow(("completed", "success"));
        var dispatcher = new RestoreDispatcher(await GitHub.ApiAsync(), Output, TimeProvider.System);

        var act = () => dispatcher.RunAsync(new RestoreDispatch("production", "all", "latest", "staging"), Fast, CancellationToken.None);

        (await act.Should().ThrowAsync<PipelineException>()).Which.Message.Should().Contain("--confirm production").And.Contain("'staging'");
        GitHub.All.Should().BeEmpty();
    }

    [Fact]
    public async Task A_run_that_never_appears_times_out_with_one_line()
    {
        GitHub.Json("GET", Runs, 200, _ => GitHubFake.Runs());
        GitHub.NoContent("POST", Dispatches);
        var dispatcher = new RestoreDispatcher(await GitHub.ApiAsync(), Output, TimeProvider.System);

        var act = () => dispatcher.RunAsync(
            new RestoreDispatch("staging", "all", "latest", "staging", "main"), new RunPolling(TimeSpan.FromMilliseconds(5), TimeSpan.FromMilliseconds(60)), CancellationToken.None);

        (await act.Should().ThrowAsync<PipelineException>()).Which.Message.Should().StartWith("the dispatched restore.yml run did not appear within");
    }

    [Fact]
    public async Task Cancelling_stops_following_and_says_the_run_continues()
    {
        Workflow(("in_progress", null));
        using var cancel = new CancellationTokenSource();
        var polls = 0;
        GitHub.Json("GET", GitHubFake.Repo + "/actions/runs/2", 200, _ =>
        {
            if (++polls == 2)
            {
                cancel.Cancel(); // Ctrl-C while following
            }

            return GitHubFake.Run(2, "in_progress");
        }, priority: 1);
        var dispatcher = new RestoreDispatcher(await GitHub.ApiAsync(), Output, TimeProvider.System);

        var act = () => dispatcher.RunAsync(new RestoreDispatch("staging", "all", "latest", "staging"), Fast, cancel.Token);

        await act.Should().ThrowAsync<OperationCanceledException>();
        Output.ToString().Should().Contain("Stopped following restore.yml run #102; it continues on GitHub: https://github.com/acme/stack/actions/runs/2");
    }

    [Fact]
    public async Task Github_errors_are_one_line_naming_the_fix()
    {
        GitHub.Json("GET", GitHubFake.Repo, 401, _ => new { message = "Bad credentials", documentation_url = "https://docs.github.com/rest" });
        var dispatcher = new RestoreDispatcher(await GitHub.ApiAsync(), Output, TimeProvider.System);

        var act = () => dispatcher.RunAsync(new RestoreDispatch("staging", "all", "latest", "staging"), Fast, CancellationToken.None);

        var message = (await act.Should().ThrowAsync<GitHubException>()).Which.Message;
        message.Should().Contain("refused the token (401)").And.Contain("GITHUB_TOKEN").And.NotContain(GitHubFake.Token).And.NotContain("\n");
    }

    [Fact]
    public async Task Missing_rights_rate_limits_and_unknown_repositories_are_one_line_each()
    {
        var reset = DateTimeOffset.UtcNow.AddMinutes(20).ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        GitHub.Server.Given(WireMock.RequestBuilders.Request.Create().WithPath(GitHubFake.Repo).UsingGet())
            .RespondWith(WireMock.ResponseBuilders.Response.Create().WithStatusCode(403).WithHeader("Content-Type", "application/json")
                .WithHeader("X-RateLimit-Limit", "5000").WithHeader("X-RateLimit-Remaining", "0").WithHeader("X-RateLimit-Reset", reset)
                .WithBody("""{"message":"API rate limit exceeded"}"""));
        GitHub.Json("POST", Dispatches, 403, _ => new { message = "Resource not accessible by integration" });
        GitHub.Json("GET", Runs, 404, _ => new { message = "Not Found" });
        var api = await GitHub.ApiAsync();
        var dispatcher = new RestoreDispatcher(api, Output, TimeProvider.System);

        (await FluentActions.Awaiting(() => dispatcher.RunAsync(new RestoreDispatch("staging", "all", "latest", "staging"), Fast, CancellationToken.None))
            .Should().ThrowAsync<GitHubException>()).Which.Message.Should().Contain("rate limit (5000 requests an hour) is used up");
        (await FluentActions.Awaiting(() => dispatcher.RunAsync(new RestoreDispatch("staging", "all", "latest", "staging", "main"), Fast, CancellationToken.None))
            .Should().ThrowAsync<GitHubException>()).Which.Message.Should().Contain("(404)").And.Contain("acme/stack");
        (await FluentActions.Awaiting(() => api.CallAsync("dispatching", c => c.Actions.Workflows.CreateDispatch("acme", "stack", "restore.yml", new Octokit.CreateWorkflowDispatch("main")), CancellationToken.None))
            .Should().ThrowAsync<GitHubException>()).Which.Message.Should().Contain("forbids dispatching (403: Resource not accessible by integration)");
    }

    [Fact]
    public async Task An_unreachable_api_is_one_line_naming_the_url()
    {
        var url = GitHub.Server.Url!;
        GitHub.Server.Stop();
        var api = await GitHubClientFactory.CreateAsync(
            new GitHubSettings { Token = GitHubFake.Token, Repository = "acme/stack", ApiUrl = url, RootDirectory = Path.GetTempPath(), Masker = new SecretMasker() }, CancellationToken.None);

        var act = () => new RestoreDispatcher(api, Output, TimeProvider.System).RunAsync(new RestoreDispatch("staging", "all", "latest", "staging"), Fast, CancellationToken.None);

        (await act.Should().ThrowAsync<GitHubException>()).Which.Message.Should().StartWith($"cannot reach GitHub at {url}").And.Contain("--github-api-url");
    }
}
