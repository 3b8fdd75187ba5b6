using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using LlmStack.GitHub;
using LlmStack.Pipeline;
using WireMock;
using WireMock.Logging;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;
using WireMock.Settings;

namespace LlmStack.Tests.GitHub;

/// <summary>
/// A WireMock.Net server on 127.0.0.1 answering with the JSON shapes GitHub documents, and the Octokit client of
/// <see cref="GitHubClientFactory"/> pointed at it as at a GitHub Enterprise Server (<c>http://127.0.0.1:port/api/v3</c>;
/// the client uses the URL as given).
/// </summary>
internal sealed class GitHubFake : IDisposable
{
    public const string ApiPath = "/api/v3";

    public const string Repo = ApiPath + "/repos/acme/stack";

    // Not shaped like any real GitHub token, so the repository's secret scan stays clean.
    public static readonly string Token = string.Concat("test", "-token-", "3f9a7c1e5b");

    public WireMockServer Server { get; }

    public SecretMasker Masker { get; } = new();

    public GitHubFake()
    {
        Server = WireMockServer.Start(new WireMockServerSettings { Urls = [$"http://127.0.0.1:{FreePort()}"] });
    }

    /// <summary>The client for acme/stack at <see cref="ApiPath"/> (or <paramref name="apiPath"/>); <paramref name="time"/> times its retries.</summary>
    public Task<GitHubApi> ApiAsync(TimeProvider? time = null, string apiPath = ApiPath) => GitHubClientFactory.CreateAsync(
        new GitHubSettings { Token = Token, Repository = "acme/stack", ApiUrl = Server.Url + apiPath, RootDirectory = Path.GetTempPath(), Masker = Masker },
        CancellationToken.None,
        time);

    /// <summary>Answers <paramref name="method"/> <paramref name="path"/> with JSON; the body is computed per request.</summary>
    public void Json(string method, string path, int status, Func<IRequestMessage, object?> body, int priority = 10) =>
        Server.Given(Request.Create().WithPath(path).UsingMethod(method)).AtPriority(priority).RespondWith(Answer(status, body));

    /// <summary>A JSON answer (the body computed per request) with extra headers.</summary>
    public static IResponseBuilder Answer(int status, Func<IRequestMessage, object?> body, params (string Name, string Value)[] headers)
    {
        var response = Response.Create().WithStatusCode(status).WithHeader("Content-Type", "application/json; charset=utf-8");
        foreach (var (name, value) in headers)
        {
            response = response.WithHeader(name, value);
        }

        return response.WithBody(request => JsonSerializer.Serialize(body(request)));
    }

    /// <summary>Answers the requests to <paramref name="method"/> <paramref name="path"/> in turn; the last answer repeats.</summary>
    public void Sequence(string method, string path, params IResponseBuilder[] answers)
    {
        if (answers.Length == 1)
        {
            Server.Given(Request.Create().WithPath(path).UsingMethod(method)).AtPriority(1).RespondWith(answers[0]);
            return;
        }

        var scenario = $"{method} {path} {Guid.NewGuid():N}";
        for (var i = 0; i < answers.Length; i++)
        {
            var mapping = Server.Given(Request.Create().WithPath(path).UsingMethod(method)).AtPriority(1).InScenario(scenario);
            if (i > 0)
            {
                mapping = mapping.WhenStateIs($"answer {i}");
            }

            if (i < answers.Length - 1)
            {
                mapping = mapping.WillSetStateTo($"answer {i + 1}");
            }

            mapping.RespondWith(answers[i]);
        }
    }

    public void NoContent(string method, string path, int priority = 10) =>
        Server.Given(Request.Create().WithPath(path).UsingMethod(method)).AtPriority(priority).RespondWith(Response.Create().WithStatusCode(204));

    public IReadOnlyList<IRequestMessage> Requests(string method, string path) =>
        Server.LogEntries.Select(e => e.RequestMessage).Where(r => r.Method == method && r.Path == path).ToList();

    public IReadOnlyList<IRequestMessage> All => Server.LogEntries.Select(e => e.RequestMessage).ToList();

    public static JsonElement Body(IRequestMessage request) => JsonDocument.Parse(request.Body!).RootElement;

    public static string? Query(IRequestMessage request, string name) =>
        request.Query is { } query && query.TryGetValue(name, out var values) ? values.FirstOrDefault() : null;

    public static object Run(long id, string status, string? conclusion = null, DateTimeOffset? created = null, string @event = "workflow_dispatch", string branch = "main", string? title = null) => new Dictionary<string, object?>
    {
        ["id"] = id,
        ["name"] = "run",
        ["display_title"] = title ?? "run",
        ["run_number"] = id + 100,
        ["event"] = @event,
        ["status"] = status,
        ["conclusion"] = conclusion,
        ["head_branch"] = branch,
        ["created_at"] = (created ?? DateTimeOffset.UtcNow).ToString("yyyy-MM-ddTHH:mm:ssZ"),
        ["updated_at"] = (created ?? DateTimeOffset.UtcNow).ToString("yyyy-MM-ddTHH:mm:ssZ"),
        ["html_url"] = $"https://github.com/acme/stack/actions/runs/{id}",
    };

    public static object Runs(params object[] runs) => new Dictionary<string, object> { ["total_count"] = runs.Length, ["workflow_runs"] = runs };

    public static object Issue(int number, string body, string state = "open", bool pullRequest = false) => new Dictionary<string, object?>
    {
        ["id"] = number * 1000,
        ["number"] = number,
        ["title"] = $"issue {number}",
        ["body"] = body,
        ["state"] = state,
        ["html_url"] = $"https://github.com/acme/stack/issues/{number}",
        ["labels"] = new[] { new { name = FailureReporter.Label } },
        ["pull_request"] = pullRequest ? new { url = $"https://api.github.com/repos/acme/stack/pulls/{number}" } : null,
    };

    public void Dispose() => Server.Stop();

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>A test class with its own fake GitHub and an output to read.</summary>
public abstract class GitHubTestBase : IDisposable
{
    internal GitHubFake GitHub { get; } = new();

    protected StringWriter Output { get; } = new();

    public virtual void Dispose() => GitHub.Dispose();
}

/// <summary>A clock that says what the test wants (delays still run on real, millisecond timers).</summary>
internal sealed class FixedTime(DateTimeOffset now) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => now;
}

/// <summary>
/// A clock that moves only by the waits asked of it: every delay (<c>Task.Delay(span, time, token)</c>) is recorded in
/// <see cref="Delays"/>, moves the clock on and ends at once, so a test asserts on the waits instead of timing them.
/// <see cref="OnDelay"/> runs when a wait starts; with <see cref="Hold"/> the wait never ends by itself (only its token
/// ends it).
/// </summary>
internal sealed class SimulatedTime(DateTimeOffset start) : TimeProvider
{
    private readonly Lock _gate = new();
    private readonly List<TimeSpan> _delays = [];
    private DateTimeOffset _now = start;

    public Action<TimeSpan>? OnDelay { get; set; }

    public bool Hold { get; set; }

    public IReadOnlyList<TimeSpan> Delays
    {
        get
        {
            lock (_gate)
            {
                return [.. _delays];
            }
        }
    }

    public override DateTimeOffset GetUtcNow()
    {
        lock (_gate)
        {
            return _now;
        }
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        lock (_gate)
        {
            _delays.Add(dueTime);
            _now += dueTime;
        }

        OnDelay?.Invoke(dueTime);
        if (!Hold)
        {
            ThreadPool.QueueUserWorkItem(_ => callback(state));
        }

        return new Timer();
    }

    private sealed class Timer : ITimer
    {
        public bool Change(TimeSpan dueTime, TimeSpan period) => true;

        public void Dispose()
        {
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
