using System.Globalization;
using System.Text.RegularExpressions;
using LlmStack.GitHub;
using LlmStack.Pipeline;
using WireMock;
using WireMock.Matchers;
using WireMock.RequestBuilders;

namespace LlmStack.Tests.GitHub;

public sealed class RestoreDispatcherTests : GitHubTestBase
{
    private const string Runs = GitHubFake.Repo + "/actions/workflows/restore.yml/runs";
    private const string Dispatches = GitHubFake.Repo + "/actions/workflows/restore.yml/dispatches";
    private const string ForeignId = "0123456789abcdef0123456789abcdef";
    private static readonly DateTimeOffset Start = new(2026, 6, 1, 10, 0, 0, TimeSpan.Zero);
    private static readonly RunPolling Polling = new(TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(2));

    private readonly SimulatedTime _time = new(Start);
    private readonly Lock _gate = new();
    private readonly Dictionary<long, int> _polls = [];
    private int _listings;

    /// <summary>The statuses a dispatched run goes through, one per poll of it (the last repeats).</summary>
    private (string Status, string? Conclusion)[] _states = [("in_progress", null), ("completed", "success")];

    /// <summary>Which dispatch requests (0-based) created a run on the fake GitHub.</summary>
    private Func<int, bool> _took = _ => true;

    /// <summary>How many listings show no dispatched run yet; and how many dispatches there must be before any shows.</summary>
    private int _hiddenListings = 1;

    private int _dispatchesBeforeAnyShows = 1;

    public RestoreDispatcherTests()
    {
        GitHub.Json("GET", GitHubFake.Repo, 200, _ => new { id = 1, name = "stack", full_name = "acme/stack", default_branch = "main" });
        GitHub.NoContent("POST", Dispatches);
        GitHub.Json("GET", Runs, 200, _ => GitHubFake.Runs([.. Listing()]));
        GitHub.Server.Given(Request.Create().WithPath(new WildcardMatcher(GitHubFake.Repo + "/actions/runs/*")).UsingGet())
            .RespondWith(GitHubFake.Answer(200, Poll));
    }

    /// <summary>The dispatch requests GitHub answered, and their dispatch ids.</summary>
    private IReadOnlyList<IRequestMessage> DispatchRequests => GitHub.Requests("POST", Dispatches);

    private static string Input(IRequestMessage dispatch, string name) => GitHubFake.Body(dispatch).GetProperty("inputs").GetProperty(name).GetString()!;

    /// <summary>restore.yml's run of dispatch <paramref name="index"/>: titled as restore.yml's run-name titles it.</summary>
    private static object DispatchedRun(IRequestMessage dispatch, int index, string status, string? conclusion = null) =>
        GitHubFake.Run(10 + index, status, conclusion, Start.AddSeconds(index), title:
            $"Restore {Input(dispatch, "service")} in {Input(dispatch, "environment")} [{Input(dispatch, RestoreDispatcher.DispatchIdInput)}]");

    /// <summary>Newest first: the runs of the dispatches that took, and another operator's restore of the same minute.</summary>
    private IEnumerable<object> Listing()
    {
        var dispatches = DispatchRequests;
        bool visible;
        lock (_gate)
        {
            visible = ++_listings > _hiddenListings && dispatches.Count >= _dispatchesBeforeAnyShows;
        }

        if (visible)
        {
            for (var i = dispatches.Count - 1; i >= 0; i--)
            {
                if (_took(i))
                {
                    yield return DispatchedRun(dispatches[i], i, "queued");
                }
            }
        }

        yield return GitHubFake.Run(1, "queued", null, Start.AddSeconds(1), title: $"Restore postgres in staging [{ForeignId}]");
    }

    private object Poll(IRequestMessage request)
    {
        var id = long.Parse(request.Path.Split('/')[^1], CultureInfo.InvariantCulture);
        int poll;
        lock (_gate)
        {
            poll = _polls[id] = _polls.GetValueOrDefault(id) + 1;
        }

        var (status, conclusion) = _states[Math.Min(poll - 1, _states.Length - 1)];
        return id == 1 ? GitHubFake.Run(1, "in_progress") : DispatchedRun(DispatchRequests[(int)id - 10], (int)id - 10, status, conclusion);
    }

    private async Task<RestoreDispatcher> DispatcherAsync() => new(await GitHub.ApiAsync(_time), Output, _time);

    [Fact]
    public async Task Dispatches_with_a_unique_id_and_follows_its_own_run_to_success()
    {
        _states = [("queued", null), ("in_progress", null), ("in_progress", null), ("completed", "success")];
        var dispatcher = await DispatcherAsync();

        var run = await dispatcher.RunAsync(new RestoreDispatch("staging", "postgres", "latest", "staging"), Polling, CancellationToken.None);

        run.Id.Should().Be(10);
        var dispatch = DispatchRequests.Should().ContainSingle().Subject;
        var body = GitHubFake.Body(dispatch);
        body.GetProperty("ref").GetString().Should().Be("main");
        Input(dispatch, "environment").Should().Be("staging");
        Input(dispatch, "service").Should().Be("postgres");
        Input(dispatch, "backup").Should().Be("latest");
        Input(dispatch, "confirm").Should().Be("staging");
        var dispatchId = Input(dispatch, RestoreDispatcher.DispatchIdInput);
        dispatchId.Should().MatchRegex("^[0-9a-f]{32}$");
        run.DisplayTitle.Should().Be($"Restore postgres in staging [{dispatchId}]");
        dispatch.Headers!["Authorization"].Should().ContainSingle().Which.Should().BeEquivalentTo($"token {GitHubFake.Token}");

        var listings = GitHub.Requests("GET", Runs);
        listings.Should().HaveCount(2, "the run appears on the second listing")
            .And.OnlyContain(r => GitHubFake.Query(r, "event") == "workflow_dispatch" && GitHubFake.Query(r, "created")!.StartsWith(">=2026-06-01T09:55:00Z", StringComparison.Ordinal));
        GitHub.Requests("GET", GitHubFake.Repo + "/actions/runs/10").Count.Should().Be(4);
        GitHub.All.Select(r => r.Path).Should().NotContain(GitHubFake.Repo + "/actions/runs/1", "another operator's restore of the same minute is not ours");

        var text = Output.ToString();
        text.Should().Contain($"(dispatch id {dispatchId})").And.Contain("restore.yml run #110: https://github.com/acme/stack/actions/runs/10");
        text.Should().Contain(": queued").And.Contain(": in_progress").And.Contain(": completed");
        text.Split("in_progress").Length.Should().Be(2, "a status is printed when it changes, not on every poll");
        text.Should().Contain("concluded success");
    }

    [Fact]
    public async Task Two_concurrent_dispatches_each_follow_their_own_run()
    {
        _dispatchesBeforeAnyShows = 2; // both dispatched before either run shows: the newest run is not necessarily mine
        _hiddenListings = 0;
        var first = await DispatcherAsync();
        var second = new RestoreDispatcher(await GitHub.ApiAsync(_time), new StringWriter(), _time);

        var runs = await Task.WhenAll(
            first.RunAsync(new RestoreDispatch("staging", "postgres", "latest", "staging"), Polling with { AppearTimeout = TimeSpan.FromDays(1) }, CancellationToken.None),
            second.RunAsync(new RestoreDispatch("staging", "redis", "latest", "staging"), Polling with { AppearTimeout = TimeSpan.FromDays(1) }, CancellationToken.None));

        var ids = DispatchRequests.ToDictionary(d => Input(d, "service"), d => Input(d, RestoreDispatcher.DispatchIdInput));
        ids.Values.Should().OnlyHaveUniqueItems();
        runs[0].DisplayTitle.Should().Be($"Restore postgres in staging [{ids["postgres"]}]");
        runs[1].DisplayTitle.Should().Be($"Restore redis in staging [{ids["redis"]}]");
        runs.Select(r => r.Id).Should().OnlyHaveUniqueItems();
    }

    [Fact]
    public async Task Polling_has_a_floor_and_backs_off_while_the_run_is_queued_or_waiting()
    {
        _hiddenListings = 0;
        _states =
        [
            ("queued", null), ("queued", null), ("queued", null), ("queued", null), ("waiting", null), ("waiting", null),
            ("in_progress", null), ("in_progress", null), ("in_progress", null), ("in_progress", null), ("completed", "success"),
        ];
        var polling = new RunPolling(TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(2));

        await (await DispatcherAsync()).RunAsync(new RestoreDispatch("staging", "postgres", "latest", "staging"), polling, CancellationToken.None);

        polling.Interval.Should().Be(RunPolling.Floor);
        _time.Delays.Select(d => d.TotalSeconds).Should().Equal(
            [10, 20, 40, 80, 120, 10, 20, 10, 20, 40, 60],
            "queued: doubling up to 2m; a change resets the wait; in progress: doubling up to 1m");
        Output.ToString().Should().Contain("waiting (for a reviewer's approval of the environment)");
    }

    [Fact]
    public async Task A_run_that_does_not_succeed_is_one_line_with_the_conclusion_and_url()
    {
        _states = [("in_progress", null), ("completed", "failure")];
        var dispatcher = await DispatcherAsync();

        var act = () => dispatcher.RunAsync(new RestoreDispatch("staging", "all", "latest", "staging", Ref: "main"), Polling, CancellationToken.None);

        (await act.Should().ThrowAsync<PipelineException>()).Which.Message.Should()
            .Be("restore.yml run #110 concluded failure: https://github.com/acme/stack/actions/runs/10");
        GitHub.Requests("GET", GitHubFake.Repo).Should().BeEmpty("--ref needs no default branch");
    }

    [Fact]
    public async Task Without_the_environment_as_confirmation_nothing_reaches_GitHub()
    {
        var dispatcher = await DispatcherAsync();

        var act = () => dispatcher.RunAsync(new RestoreDispatch("production", "all", "latest", "staging"), Polling, CancellationToken.None);

        (await act.Should().ThrowAsync<PipelineException>()).Which.Message.Should().Contain("--confirm production").And.Contain("'staging'");
        GitHub.All.Should().BeEmpty();
    }

    [Fact]
    public async Task A_run_that_never_appears_times_out_with_one_line()
    {
        _took = _ => false;
        var dispatcher = await DispatcherAsync();

        var act = () => dispatcher.RunAsync(new RestoreDispatch("staging", "all", "latest", "staging", "main"), Polling, CancellationToken.None);

        var message = (await act.Should().ThrowAsync<PipelineException>()).Which.Message;
        message.Should().Be(
            $"the dispatched restore.yml run (dispatch id {Input(DispatchRequests.Single(), RestoreDispatcher.DispatchIdInput)}) did not appear within 2m: look for it under Actions of acme/stack on GitHub");
        _time.Delays.Should().HaveCount(12).And.OnlyContain(d => d == TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task A_dispatch_answered_502_whose_run_appeared_is_not_repeated()
    {
        GitHub.Json("POST", Dispatches, 502, _ => new { message = "Bad Gateway" }, priority: 1); // GitHub dispatched, the proxy failed
        var dispatcher = await DispatcherAsync();

        var run = await dispatcher.RunAsync(new RestoreDispatch("staging", "postgres", "latest", "staging"), Polling, CancellationToken.None);

        DispatchRequests.Should().ContainSingle("its run was found by the dispatch id: dispatching again would restore twice");
        run.DisplayTitle.Should().Contain(Input(DispatchRequests[0], RestoreDispatcher.DispatchIdInput));
        Output.ToString().Should().Contain("concluded success");
    }

    [Fact]
    public async Task A_dispatch_answered_502_whose_run_never_appeared_is_repeated_with_the_same_id()
    {
        GitHub.Sequence("POST", Dispatches, GitHubFake.Answer(502, _ => new { message = "Bad Gateway" }), WireMock.ResponseBuilders.Response.Create().WithStatusCode(204));
        _took = i => i == 1; // the first dispatch was lost
        var dispatcher = await DispatcherAsync();

        var run = await dispatcher.RunAsync(new RestoreDispatch("staging", "postgres", "latest", "staging"), Polling, CancellationToken.None);

        DispatchRequests.Should().HaveCount(2);
        DispatchRequests.Select(d => Input(d, RestoreDispatcher.DispatchIdInput)).Distinct().Should().ContainSingle();
        run.Id.Should().Be(11);
        var waits = _time.Delays.Select(d => d.TotalSeconds).ToList();
        waits.Take(13).Should().Equal([.. Enumerable.Repeat(10.0, 12), 2.0], "the run is looked for as long as a run may take to appear, then the dispatch is repeated after the backoff");
    }

    [Fact]
    public async Task Two_runs_with_one_id_are_named_and_the_first_is_followed()
    {
        GitHub.Json("GET", Runs, 200, _ =>
        {
            var dispatch = DispatchRequests.Single();
            return GitHubFake.Runs(DispatchedRun(dispatch, 1, "queued"), DispatchedRun(dispatch, 0, "queued"));
        }, priority: 1);
        var dispatcher = await DispatcherAsync();

        var run = await dispatcher.RunAsync(new RestoreDispatch("staging", "postgres", "latest", "staging"), Polling, CancellationToken.None);

        run.Id.Should().Be(10);
        Output.ToString().Should().Contain("Warning: 2 restore.yml runs carry dispatch id").And.Contain("cancel https://github.com/acme/stack/actions/runs/11");
    }

    [Fact]
    public async Task Cancelling_stops_following_and_says_the_run_continues()
    {
        _states = [("in_progress", null)];
        _hiddenListings = 0;
        using var cancel = new CancellationTokenSource();
        _time.OnDelay = _ =>
        {
            if (GitHub.Requests("GET", GitHubFake.Repo + "/actions/runs/10").Count == 2)
            {
                cancel.Cancel(); // Ctrl-C while following
            }
        };
        var dispatcher = await DispatcherAsync();

        var act = () => dispatcher.RunAsync(new RestoreDispatch("staging", "all", "latest", "staging"), Polling, cancel.Token);

        await act.Should().ThrowAsync<OperationCanceledException>();
        Output.ToString().Should().Contain("Stopped following restore.yml run #110; it continues on GitHub: https://github.com/acme/stack/actions/runs/10");
        GitHub.Requests("GET", GitHubFake.Repo + "/actions/runs/10").Should().HaveCount(2);
    }

    [Fact]
    public async Task Github_errors_are_one_line_naming_the_fix()
    {
        GitHub.Json("GET", GitHubFake.Repo, 401, _ => new { message = "Bad credentials", documentation_url = "https://docs.github.com/rest" }, priority: 1);
        var dispatcher = await DispatcherAsync();

        var act = () => dispatcher.RunAsync(new RestoreDispatch("staging", "all", "latest", "staging"), Polling, CancellationToken.None);

        var message = (await act.Should().ThrowAsync<GitHubException>()).Which.Message;
        message.Should().Contain("refused the token (401)").And.Contain("GITHUB_TOKEN").And.NotContain(GitHubFake.Token).And.NotContain("\n");
    }

    [Fact]
    public async Task Missing_rights_rate_limits_unknown_repositories_and_undeclared_inputs_are_one_line_each()
    {
        var reset = DateTimeOffset.UtcNow.AddMinutes(20).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        GitHub.Server.Given(Request.Create().WithPath(GitHubFake.Repo).UsingGet()).AtPriority(1)
            .RespondWith(WireMock.ResponseBuilders.Response.Create().WithStatusCode(403).WithHeader("Content-Type", "application/json")
                .WithHeader("X-RateLimit-Limit", "5000").WithHeader("X-RateLimit-Remaining", "0").WithHeader("X-RateLimit-Reset", reset)
                .WithBody("""{"message":"API rate limit exceeded"}"""));
        GitHub.Json("POST", Dispatches, 422, _ => new { message = "Unexpected inputs provided: [\"dispatch_id\"]" }, priority: 1);
        var api = await GitHub.ApiAsync(_time);
        var dispatcher = new RestoreDispatcher(api, Output, _time);

        (await FluentActions.Awaiting(() => dispatcher.RunAsync(new RestoreDispatch("staging", "all", "latest", "staging"), Polling, CancellationToken.None))
            .Should().ThrowAsync<GitHubException>()).Which.Message.Should().Contain("rate limit (5000 requests an hour) is used up");
        (await FluentActions.Awaiting(() => dispatcher.RunAsync(new RestoreDispatch("staging", "all", "latest", "staging", "main"), Polling, CancellationToken.None))
            .Should().ThrowAsync<GitHubException>()).Which.Message.Should().Contain("(422: Unexpected inputs provided").And.Contain("regenerate and push restore.yml");

        GitHub.Json("POST", Dispatches, 403, _ => new { message = "Resource not accessible by integration" }, priority: 0);
        (await FluentActions.Awaiting(() => api.CallAsync("dispatching", c => c.Actions.Workflows.CreateDispatch("acme", "stack", "restore.yml", new Octokit.CreateWorkflowDispatch("main")), CancellationToken.None))
            .Should().ThrowAsync<GitHubException>()).Which.Message.Should().Contain("forbids dispatching (403: Resource not accessible by integration)");
        GitHub.Json("GET", GitHubFake.Repo + "/actions/workflows/missing.yml/runs", 404, _ => new { message = "Not Found" }, priority: 0);
        (await FluentActions.Awaiting(() => api.CallAsync("listing", c => c.Actions.Workflows.Runs.ListByWorkflow("acme", "stack", "missing.yml"), CancellationToken.None))
            .Should().ThrowAsync<GitHubException>()).Which.Message.Should().Contain("(404)").And.Contain("acme/stack");
    }

    [Fact]
    public async Task An_unreachable_api_is_one_line_naming_the_url()
    {
        var url = GitHub.Server.Url!;
        GitHub.Server.Stop();
        var api = await GitHubClientFactory.CreateAsync(
            new GitHubSettings { Token = GitHubFake.Token, Repository = "acme/stack", ApiUrl = url, RootDirectory = Path.GetTempPath(), Masker = new SecretMasker() }, CancellationToken.None);

        var act = () => new RestoreDispatcher(api, Output, _time).RunAsync(new RestoreDispatch("staging", "all", "latest", "staging"), Polling, CancellationToken.None);

        (await act.Should().ThrowAsync<GitHubException>()).Which.Message.Should().StartWith($"cannot reach GitHub at {url}/").And.Contain("--github-api-url");
    }
}
