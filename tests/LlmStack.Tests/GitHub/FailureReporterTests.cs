using LlmStack.GitHub;
using LlmStack.Pipeline;

namespace LlmStack.Tests.GitHub;

public sealed class FailureReporterTests : GitHubTestBase
{
    private const string Issues = GitHubFake.Repo + "/issues";
    private const string Labels = GitHubFake.Repo + "/labels";
    private readonly string _directory = Repository.TempDirectory("github-issues");

    // A secret value the run knows (the environment's secrets file, a secret parameter): never in an issue.
    private static readonly string DatabasePassword = string.Concat("pg", "-pass-", "77c1d0e4a2");

    /// <summary>The repository's issues, kept in memory: an unrelated labelled issue, a pull request, and whatever the reporter opens.</summary>
    private readonly List<Dictionary<string, object?>> _issues =
    [
        new() { ["number"] = 1, ["body"] = FailureReporter.Marker("backup-staging.yml", "staging"), ["pr"] = false },
        new() { ["number"] = 2, ["body"] = FailureReporter.Marker("backup-production.yml", "production"), ["pr"] = true },
    ];

    /// <summary>The comments posted on issue 42.</summary>
    private readonly List<string> _comments = [];

    public FailureReporterTests()
    {
        GitHub.Json("GET", Labels + "/" + FailureReporter.Label, 404, _ => new { message = "Not Found" }, priority: 20);
        GitHub.Json("POST", Labels, 201, _ => new { id = 7, name = FailureReporter.Label, color = "d73a4a" });
        GitHub.Json("GET", Issues, 200, _ => _issues.Where(i => (string?)i.GetValueOrDefault("state") is null or "open")
            .Select(i => GitHubFake.Issue((int)i["number"]!, (string)i["body"]!, pullRequest: (bool)i["pr"]!)).ToList());
        GitHub.Json("POST", Issues, 201, request => GitHubFake.Issue(42, Open(request)));
        GitHub.Json("POST", Issues + "/42/comments", 201, Comment);
        GitHub.Json("GET", Issues + "/42/comments", 200, _ => _comments.Select((body, i) => new { id = 9 + i, body }).ToList());
        GitHub.Json("PATCH", Issues + "/42", 200, request =>
        {
            _issues.Single(i => (int)i["number"]! == 42)["state"] = GitHubFake.Body(request).GetProperty("state").GetString();
            return GitHubFake.Issue(42, "", "closed");
        });
    }

    private string Open(WireMock.IRequestMessage request)
    {
        var body = GitHubFake.Body(request).GetProperty("body").GetString()!;
        _issues.Add(new() { ["number"] = 42, ["body"] = body, ["pr"] = false });
        return body;
    }

    private object Comment(WireMock.IRequestMessage request)
    {
        var body = GitHubFake.Body(request).GetProperty("body").GetString()!;
        _comments.Add(body);
        return new { id = 8 + _comments.Count, body };
    }

    public override void Dispose()
    {
        base.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    private string Log()
    {
        var path = Path.Combine(_directory, "backup.log");
        File.WriteAllLines(path, Enumerable.Range(1, 80).Select(i => $"line {i}")
            .Append($"\u001b[31merror\u001b[0m: postgres refused password {DatabasePassword}")
            .Append("```")
            .Append("the end"));
        return path;
    }

    [Fact]
    public async Task A_failure_opens_one_issue_a_second_comments_and_a_success_closes_it()
    {
        var api = await GitHub.ApiAsync();
        GitHub.Masker.Register(DatabasePassword);
        var reporter = new FailureReporter(api, GitHub.Masker, Output);
        var outcome = new WorkflowOutcome("backup-production.yml", "production", "BackupFull", Log(), "https://github.com/acme/stack/actions/runs/555");

        var opened = await reporter.ReportAsync(outcome, CancellationToken.None);

        opened.Number.Should().Be(42);
        var label = GitHubFake.Body(GitHub.Requests("POST", Labels).Should().ContainSingle().Subject);
        label.GetProperty("name").GetString().Should().Be(FailureReporter.Label);
        var issue = GitHubFake.Body(GitHub.Requests("POST", Issues).Should().ContainSingle().Subject);
        issue.GetProperty("title").GetString().Should().Be("backup-production.yml failed in production");
        issue.GetProperty("labels").EnumerateArray().Select(l => l.GetString()).Should().Equal(FailureReporter.Label);
        var body = issue.GetProperty("body").GetString()!;
        body.Should().StartWith("<!-- llmstack:failure workflow=backup-production.yml environment=production -->");
        body.Should().Contain("`BackupFull`").And.Contain("https://github.com/acme/stack/actions/runs/555");
        body.Should().Contain("\nline 34\n").And.NotContain("\nline 33\n", "only the last 50 lines");
        body.Should().Contain("error: postgres refused password ****").And.NotContain(DatabasePassword).And.NotContain("\u001b");
        body.Should().Contain("````text\n", "the fence is longer than the backticks in the log");
        GitHub.Requests("POST", Issues + "/42/comments").Should().BeEmpty();

        await reporter.ReportAsync(outcome, CancellationToken.None);

        GitHub.Requests("POST", Issues).Should().ContainSingle("the open issue gets a comment, not a twin");
        var comment = GitHubFake.Body(GitHub.Requests("POST", Issues + "/42/comments").Should().ContainSingle().Subject).GetProperty("body").GetString();
        comment.Should().StartWith("Failed again.").And.Contain("runs/555").And.NotContain(DatabasePassword);
        GitHub.Requests("GET", Issues).Should().OnlyContain(r => GitHubFake.Query(r, "labels") == FailureReporter.Label && GitHubFake.Query(r, "state") == "open");

        var closed = await reporter.ResolveAsync(outcome with { RunUrl = "https://github.com/acme/stack/actions/runs/556" }, CancellationToken.None);

        closed.Should().NotBeNull();
        GitHub.Requests("POST", Issues + "/42/comments").Should().HaveCount(2);
        GitHubFake.Body(GitHub.Requests("POST", Issues + "/42/comments")[1]).GetProperty("body").GetString().Should().Contain("succeeded").And.Contain("runs/556");
        var update = GitHubFake.Body(GitHub.Requests("PATCH", Issues + "/42").Should().ContainSingle().Subject);
        update.GetProperty("state").GetString().Should().Be("closed");
        update.GetProperty("state_reason").GetString().Should().Be("completed");
        GitHub.All.Select(r => r.Path).Should().NotContain(p => p.StartsWith(Issues + "/1", StringComparison.Ordinal) || p.StartsWith(Issues + "/2", StringComparison.Ordinal),
            "another workflow's issue and a pull request with our marker are not ours");
        Output.ToString().Should().Contain("opened issue #42").And.Contain("commented on issue #42").And.Contain("closed issue #42");
    }

    [Theory]
    [InlineData(true, new ExecutionStatus[0], false)]
    [InlineData(false, new ExecutionStatus[0], true)]
    [InlineData(false, new[] { ExecutionStatus.Succeeded, ExecutionStatus.Skipped }, false)]
    [InlineData(false, new[] { ExecutionStatus.Succeeded, ExecutionStatus.Failed }, true)]
    [InlineData(true, new[] { ExecutionStatus.Failed }, false)]
    public async Task ReportFailure_reports_unless_succeeded_says_so_or_every_other_target_of_the_run_succeeded_or_was_skipped(bool succeeded, ExecutionStatus[] others, bool reported)
    {
        var reporter = new FailureReporter(await GitHub.ApiAsync(), GitHub.Masker, Output);

        await reporter.ReportOrResolveAsync(new WorkflowOutcome("retention-staging.yml", "staging"), succeeded, others, CancellationToken.None);

        GitHub.Requests("POST", Issues).Should().HaveCount(reported ? 1 : 0);
        Output.ToString().Should().Contain(reported ? "opened issue #42" : "no open failure issue");
    }

    [Fact]
    public async Task A_success_with_no_open_issue_changes_nothing()
    {
        var reporter = new FailureReporter(await GitHub.ApiAsync(), GitHub.Masker, Output);

        var closed = await reporter.ResolveAsync(new WorkflowOutcome("retention-staging.yml", "staging"), CancellationToken.None);

        closed.Should().BeNull();
        GitHub.All.Should().OnlyContain(r => r.Method == "GET");
        Output.ToString().Should().Contain("no open failure issue");
    }

    [Fact]
    public async Task An_existing_label_is_not_created_again()
    {
        GitHub.Json("GET", Labels + "/" + FailureReporter.Label, 200, _ => new { id = 7, name = FailureReporter.Label, color = "d73a4a" }, priority: 1);
        var reporter = new FailureReporter(await GitHub.ApiAsync(), GitHub.Masker, Output);

        await reporter.ReportAsync(new WorkflowOutcome("restore-test.yml", "staging", LogFile: Path.Combine(_directory, "missing.log")), CancellationToken.None);

        GitHub.Requests("POST", Labels).Should().BeEmpty();
        var body = GitHubFake.Body(GitHub.Requests("POST", Issues).Single()).GetProperty("body").GetString();
        body.Should().Contain("`missing.log` does not exist").And.Contain("--failed-target");
    }

    [Fact]
    public async Task An_issue_opened_despite_a_502_is_found_and_not_opened_twice()
    {
        GitHub.Json("POST", Issues, 502, request =>
        {
            Open(request); // GitHub opened it; the answer was lost on the way
            return new { message = "Bad Gateway" };
        }, priority: 1);
        var reporter = new FailureReporter(await GitHub.ApiAsync(new SimulatedTime(DateTimeOffset.UtcNow)), GitHub.Masker, Output);

        var issue = await reporter.ReportAsync(new WorkflowOutcome("backup-production.yml", "production", "BackupFull"), CancellationToken.None);

        issue.Number.Should().Be(42);
        GitHub.Requests("POST", Issues).Should().ContainSingle("the marked issue was found before opening it again");
        Output.ToString().Should().Contain("opened issue #42");
    }

    [Fact]
    public async Task A_comment_posted_despite_a_502_is_found_by_its_marker_and_not_posted_twice()
    {
        _issues.Add(new() { ["number"] = 42, ["body"] = FailureReporter.Marker("backup-production.yml", "production"), ["pr"] = false });
        GitHub.Json("POST", Issues + "/42/comments", 502, request =>
        {
            Comment(request);
            return new { message = "Bad Gateway" };
        }, priority: 1);
        var reporter = new FailureReporter(await GitHub.ApiAsync(new SimulatedTime(DateTimeOffset.UtcNow)), GitHub.Masker, Output);

        await reporter.ReportAsync(new WorkflowOutcome("backup-production.yml", "production", "BackupFull"), CancellationToken.None);

        GitHub.Requests("POST", Issues + "/42/comments").Should().ContainSingle();
        _comments.Should().ContainSingle().Which.Should().MatchRegex("<!-- llmstack:comment id=[0-9a-f]{32} -->$");
        GitHub.Requests("GET", Issues + "/42/comments").Should().ContainSingle().Which.Query!.Should().ContainKey("since");
    }

    [Fact]
    public void The_log_tail_masks_every_known_secret_and_the_token()
    {
        var masker = new SecretMasker();
        masker.Register(GitHubFake.Token);
        masker.Register(DatabasePassword);
        var path = Path.Combine(_directory, "secrets.log");
        File.WriteAllLines(path, [$"Authorization: token {GitHubFake.Token}", $"PGPASSWORD={DatabasePassword} psql", new string('x', 5000)]);

        var tail = FailureReporter.LogTail(path, 50, masker);

        tail[0].Should().Be("Authorization: token ****");
        tail[1].Should().Be("PGPASSWORD=**** psql");
        tail[2].Length.Should().BeLessThan(1100);
    }

    [Fact]
    public void The_run_url_comes_from_what_actions_sets()
    {
        var variables = new Dictionary<string, string> { ["GITHUB_SERVER_URL"] = "https://github.com", ["GITHUB_REPOSITORY"] = "acme/stack", ["GITHUB_RUN_ID"] = "123" };
        FailureReporter.RunUrl(variables.GetValueOrDefault).Should().Be("https://github.com/acme/stack/actions/runs/123");
        FailureReporter.RunUrl(_ => null).Should().BeNull();
    }
}
