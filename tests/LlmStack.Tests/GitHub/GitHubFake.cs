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
/// <see cref="GitHubClientFactory"/> pointed at it (Octokit puts an Enterprise URL's API under /api/v3).
/// </summary>
internal sealed class GitHubFake : IDisposable
{
    public const string Repo = "/api/v3/repos/acme/stack";

    // Not shaped like any real GitHub token, so the repository's secret scan stays clean.
    public static readonly string Token = string.Concat("test", "-token-", "3f9a7c1e5b");

    public WireMockServer Server { get; }

    public SecretMasker Masker { get; } = new();

    public GitHubFake()
    {
        Server = WireMockServer.Start(new WireMockServerSettings { Urls = [$"http://127.0.0.1:{FreePort()}"] });
    }

    public Task<GitHubApi> ApiAsync() => GitHubClientFactory.CreateAsync(
        new GitHubSettings { Token = Token, Repository = "acme/stack", ApiUrl = Server.Url, RootDirectory = Path.GetTempPath(), Masker = Masker }, CancellationToken.None);

    /// <summary>Answers <paramref name="method"/> <paramref name="path"/> with JSON; the body is computed per request.</summary>
    public void Json(string method, string path, int status, Func<IRequestMessage, object?> body, int priority = 10)
    {
        Server.Given(Request.Create().WithPath(path).UsingMethod(method)).AtPriority(priority)
            .RespondWith(Response.Create().WithStatusCode(status).WithHeader("Content-Type", "application/json; charset=utf-8")
                .WithBody(request => JsonSerializer.Serialize(body(request))));
    }

    public void NoContent(string method, string path) =>
        Server.Given(Request.Create().WithPath(path).UsingMethod(method)).RespondWith(Response.Create().WithStatusCode(204));

    public IReadOnlyList<IRequestMessage> Requests(string method, string path) =>
        Server.LogEntries.Select(e => e.RequestMessage).Where(r => r.Method == method && r.Path == path).ToList();

    public IReadOnlyList<IRequestMessage> All => Server.LogEntries.Select(e => e.RequestMessage).ToList();

    public static JsonElement Body(IRequestMessage request) => JsonDocument.Parse(request.Body!).RootElement;

    public static string? Query(IRequestMessage request, string name) =>
        request.Query is { } query && query.TryGetValue(name, out var values) ? values.FirstOrDefault() : null;

    public static object Run(long id, string status, string? conclusion = null, DateTimeOffset? created = null, string @event = "workflow_dispatch", string branch = "main") => new Dictionary<string, object?>
    {
        ["id"] = id,
        ["name"] = "run",
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
