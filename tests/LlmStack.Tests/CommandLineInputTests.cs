namespace LlmStack.Tests;

/// <summary>
/// What a new user types, through the built program: a wrong value is one line naming what is allowed, before any
/// container is touched (the Docker endpoint given here does not even exist), and the run summary speaks the user's words.
/// </summary>
public sealed class CommandLineInputTests : IDisposable
{
    private const string NoEngine = "unix:///nonexistent/llmstack-test.sock";

    private readonly string _root = BuildRun.ScratchRoot("command-line");

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private Task<(int Code, string Output)> Run(params string[] arguments) =>
        BuildRun.RunAsync(_root, [.. arguments, "--docker-host", NoEngine, "--lock-dir", Path.Combine(_root, "locks")]);

    [Theory]
    [InlineData("abc")]
    [InlineData("-5")]
    [InlineData("10x")]
    public async Task A_tail_that_is_neither_a_number_nor_all_is_one_line_before_the_engine_is_asked(string tail)
    {
        var (code, output) = await Run("LogsCore", "--environment", "testing", "--tail", tail);

        code.Should().NotBe(0);
        output.Should().Contain($"--tail '{tail}' is not a number of lines: give 0 or more (e.g. --tail 50), or all")
            .And.NotContain("not reachable", "the value is refused before the engine is asked anything")
            .And.NotContain("   at ", "a user's input is never a stack trace");
    }

    [Fact]
    public async Task Status_with_an_image_map_that_does_not_exist_fails_in_one_line()
    {
        var (code, output) = await Run("StatusCore", "--environment", "testing", "--image-map", "tests/no-such-map.yaml");

        code.Should().NotBe(0);
        output.Should().Contain("image map 'tests/no-such-map.yaml' not found: pass an existing --image-map file")
            .And.NotContain("not reachable").And.NotContain("   at ");
    }

    [Fact]
    public async Task SystemStatus_with_a_malformed_image_map_fails_in_one_line_at_its_position()
    {
        File.WriteAllText(Path.Combine(_root, "map.yaml"), "postgres:15: fixture/postgres:15\n\t\"*\": fixture/standin:1\n");

        var (code, output) = await Run("SystemStatus", "--environment", "testing", "--image-map", "map.yaml");

        code.Should().NotBe(0);
        output.Should().Contain("map.yaml:2:1: malformed YAML in the image map: a tab in the indentation").And.NotContain("not reachable");
    }

    [Fact]
    public async Task RetentionStatus_refuses_a_mistyped_tier_in_one_line_before_any_repository_or_engine()
    {
        var config = Path.Combine(_root, "configs", "retention-policies.yaml");
        File.WriteAllText(config, File.ReadAllText(config).Replace("tiers:\n  local: local\n", "tiers:\n  locla: local\n", StringComparison.Ordinal));

        var (code, output) = await Run("RetentionStatus", "--environment", "testing");

        code.Should().NotBe(0);
        output.Should().MatchRegex(@"configs/retention-policies\.yaml:\d+:3: error: tier 'locla' is not a tier of configs/backup-strategies\.yaml \(did you mean 'local'\?\)")
            .And.NotContain("everything kept").And.NotContain("not reachable");
    }

    [Fact]
    public async Task A_stack_target_pulled_in_for_a_stack_the_environment_does_not_enable_is_skipped_in_words()
    {
        // development does not enable the testing stack; StartCore then fails on the missing engine, after the skips are decided.
        var (code, output) = await Run("Start", "--environment", "development");

        code.Should().NotBe(0);
        output.Should().MatchRegex(@"StartTesting\s+Skipped\s.*// stack testing is not enabled in environment development")
            .And.NotContain("OnlyWhen", "the condition's source text is internal");
    }

    [Fact]
    public async Task A_retention_duration_past_year_9999_plans_like_restic_and_a_too_large_one_is_one_line()
    {
        var backups = Path.Combine(_root, "backups.json");
        File.WriteAllText(backups, """
            [{"id": "a", "time": "2024-05-01T00:00:00Z"}, {"id": "b", "time": "2025-05-01T00:00:00Z"}, {"id": "c", "time": "2025-06-01T00:00:00Z"}]
            """);

        var (code, output) = await Run("RetentionSimulate", "--backups", backups, "--keep-within-yearly", "9999y", "--json");
        code.Should().Be(0, output);
        output.Should().NotContain("ArgumentOutOfRange").And.NotContain("   at ");
        var document = System.Text.Json.JsonDocument.Parse(output[output.IndexOf("\n{", StringComparison.Ordinal)..(output.LastIndexOf("\n}", StringComparison.Ordinal) + 2)]).RootElement;
        document.GetProperty("keep").EnumerateArray().Select(e => e.GetString()).Should().BeEquivalentTo("a", "c");
        document.GetProperty("remove").EnumerateArray().Select(e => e.GetString()).Should().Equal("b");

        (code, output) = await Run("RetentionSimulate", "--backups", backups, "--keep-within", "99999999999y");
        code.Should().NotBe(0);
        output.Should().Contain("99999999999y is too large").And.NotContain("   at ");
    }

    [Fact]
    public async Task A_json_run_has_only_its_document_on_standard_output()
    {
        var backups = Path.Combine(_root, "backups.json");
        File.WriteAllText(backups, """[{"id": "a", "time": "2025-05-01T00:00:00Z"}, {"id": "b", "time": "2025-06-01T00:00:00Z"}]""");
        File.WriteAllText(Path.Combine(_root, ".gitignore"), "secrets/\n.nuke/temp/\n");
        using (var git = System.Diagnostics.Process.Start("git", ["-C", _root, "init", "-q"])!)
        {
            await git.WaitForExitAsync();
        }

        foreach (var arguments in new[] { new[] { "RetentionSimulate", "--backups", backups, "--keep-last", "1" }, ["ValidateSecurity"] })
        {
            var (code, stdout, stderr) = await BuildRun.RunSeparatedAsync(_root, [.. arguments, "--json"]);
            code.Should().Be(0, stderr);
            var parse = () => System.Text.Json.JsonDocument.Parse(stdout);
            parse.Should().NotThrow($"{arguments[0]} --json | jq . must work; stdout was:\n{stdout}");
            stderr.Should().Contain($"║ {arguments[0]}").And.Contain("Run succeeded", "the banner, the summary and the log go to standard error");
        }
    }
}
