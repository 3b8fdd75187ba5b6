using LlmStack.Pipeline;

namespace LlmStack.Pipeline.Tests;

public class ParameterTests
{
    public enum Mode
    {
        Fast,
        Thorough,
    }

    public interface IHaveSchema : IPipelineBuild
    {
        [Parameter("Path of the schema")]
        string Schema => TryGetValue(() => Schema) ?? "schemas/default.yaml";

        [Parameter("Port of the thing")]
        int Port => TryGetValue<int?>(() => Port) ?? 8080;
    }

    public class ParamBuild : PipelineBuild, IHaveSchema
    {
        [Parameter("Environment to operate on", ValueProviderMember = nameof(Environments))]
        public readonly string Environment = "development";

        [Parameter("Image substitutions")]
        public readonly string? ImageMap;

        [Parameter("Change nothing", Sources = ParameterSources.CommandLine)]
        public readonly bool DryRun;

        [Parameter("How many")]
        public readonly int Count = 1;

        [Parameter("Optional number")]
        public readonly int? Limit;

        [Parameter("Mode", Header = true)]
        public readonly Mode Mode = Mode.Fast;

        [Parameter("Services", Separator = ',')]
        public readonly string[] Services = [];

        [Parameter("API token")]
        [Secret]
        public readonly string? ApiToken;

        [Parameter("Confirmation", Sources = ParameterSources.CommandLine)]
        public readonly string? Confirm;

        [Parameter("A directory that may come from a bare variable", Sources = ParameterSources.Default | ParameterSources.BareVariable)]
        public readonly string? HostDirectory;

        public IEnumerable<string> Environments => File.Exists(SchemaPath) ? File.ReadAllLines(SchemaPath) : ["development", "staging"];

        private string SchemaPath => Path.Combine(RootDirectory, ((IHaveSchema)this).Schema);

        public Dictionary<string, object?> Seen { get; } = new();

        public Target Show => _ => _.Executes(() =>
        {
            Seen["Environment"] = Environment;
            Seen["ImageMap"] = ImageMap;
            Seen["DryRun"] = DryRun;
            Seen["Count"] = Count;
            Seen["Limit"] = Limit;
            Seen["Mode"] = Mode;
            Seen["Services"] = Services;
            Seen["Schema"] = ((IHaveSchema)this).Schema;
            Seen["Port"] = ((IHaveSchema)this).Port;
            Seen["HostDirectory"] = HostDirectory;
            Log.Information("Token is {Token} and inline " + ApiToken, ApiToken);
            Out.WriteLine($"console token {ApiToken}");
        });

        public Target NeedsToken => _ => _.Requires(() => ApiToken).Executes(() => { });

        public Target NeedsConfirm => _ => _.Requires(() => Confirm == Environment).Executes(() => { });
    }

    private static async Task<ParamBuild> Show(Harness h, params string[] args)
    {
        (await h.RunAsync<ParamBuild>(["Show", .. args])).Should().Be(0, h.Error + h.Output);
        return h.BuildAs<ParamBuild>();
    }

    [Fact]
    public async Task Defaults_are_the_initializers()
    {
        using var h = new Harness();
        var b = await Show(h);
        b.Seen.Should().Contain(new Dictionary<string, object?>
        {
            ["Environment"] = "development", ["ImageMap"] = null, ["DryRun"] = false, ["Count"] = 1, ["Limit"] = null,
            ["Mode"] = Mode.Fast, ["Schema"] = "schemas/default.yaml", ["Port"] = 8080,
        });
    }

    [Fact]
    public async Task Command_line_beats_environment_beats_profile_beats_parameters_json()
    {
        using var h = new Harness();
        h.WriteParameters("""{ "$schema": "build.schema.json", "Count": 2, "ImageMap": "file.yaml", "Mode": "thorough", "Limit": 4, "Services": ["a", "b"] }""");
        h.WriteParameters("""{ "Count": 3, "ImageMap": "profile.yaml" }""", "ci");
        h.Environment["BUILD_COUNT"] = "5";

        var b = await Show(h, "--profile", "ci", "--count", "7");
        b.Seen["Count"].Should().Be(7);
        b.Seen["ImageMap"].Should().Be("profile.yaml");
        b.Seen["Mode"].Should().Be(Mode.Thorough);
        b.Seen["Limit"].Should().Be(4);
        b.Seen["Services"].Should().BeEquivalentTo(new[] { "a", "b" });

        b = await Show(h, "--profile", "ci");
        b.Seen["Count"].Should().Be(5);

        h.Environment.Clear();
        b = await Show(h, "--profile", "ci");
        b.Seen["Count"].Should().Be(3);

        b = await Show(h);
        b.Seen["Count"].Should().Be(2);
        b.Seen["ImageMap"].Should().Be("file.yaml");
    }

    [Theory]
    [InlineData("--image-map")]
    [InlineData("--imagemap")]
    [InlineData("--ImageMap")]
    [InlineData("-image_map")]
    public async Task Parameter_names_ignore_case_and_dashes(string name)
    {
        using var h = new Harness();
        var b = await Show(h, name, "x.yaml");
        b.Seen["ImageMap"].Should().Be("x.yaml");
    }

    [Theory]
    [InlineData("BUILD_IMAGE_MAP")]
    [InlineData("build_imagemap")]
    [InlineData("Build_Image_Map")]
    public async Task Prefixed_environment_variables_match_in_any_case_and_separators(string variable)
    {
        using var h = new Harness();
        h.Environment[variable] = "env.yaml";
        var b = await Show(h);
        b.Seen["ImageMap"].Should().Be("env.yaml");
        b.Parameters.Single(p => p.Name == "ImageMap").Source.Should().Be($"environment variable {variable}");
    }

    [Theory]
    [InlineData("IMAGE_MAP")]
    [InlineData("ImageMap")]
    public async Task Bare_environment_variables_are_not_parameters_unless_the_parameter_opts_in(string variable)
    {
        using var h = new Harness();
        h.Environment[variable] = "ambient.yaml";
        h.Environment["TARGET"] = "NeedsToken";
        h.Environment["HOST_DIRECTORY"] = "/from/bare";
        var b = await Show(h);
        b.Seen["ImageMap"].Should().BeNull("an ambient variable must never set a parameter by accident");
        b.Seen["HostDirectory"].Should().Be("/from/bare", "HostDirectory opts in to its bare name");
        h.PlanNames.Should().Equal("Show");
    }

    [Fact]
    public async Task Ambient_variables_never_confirm_a_command_line_only_parameter()
    {
        // Fault 4: CONFIRM=development in the environment satisfied a confirmation; ENVIRONMENT=production retargeted runs.
        using var h = new Harness();
        h.Environment["CONFIRM"] = "staging";
        h.Environment["BUILD_CONFIRM"] = "staging";
        h.Environment["ENVIRONMENT"] = "staging";
        h.WriteParameters("""{ "Confirm": "staging", "DryRun": true }""");
        (await h.RunAsync<ParamBuild>("NeedsConfirm")).Should().Be(PipelineRunner.Failure);
        h.Error.Should().Contain("Target 'NeedsConfirm' requires 'Confirm == Environment'.");
        var b = h.BuildAs<ParamBuild>();
        b.Confirm.Should().BeNull();
        b.Environment.Should().Be("development");
        b.DryRun.Should().BeFalse();
        h.Output.Should().Contain("environment variable BUILD_CONFIRM is ignored: --confirm is only taken from the command line (--confirm)")
            .And.Contain("'Confirm' in parameters.json is ignored").And.Contain("'DryRun' in parameters.json is ignored");

        (await h.RunAsync<ParamBuild>("NeedsConfirm", "--environment", "staging", "--confirm", "staging")).Should().Be(0, h.Error);
    }

    [Fact]
    public async Task The_run_header_names_each_value_and_its_source_with_secrets_masked()
    {
        using var h = new Harness();
        h.Environment["BUILD_IMAGE_MAP"] = "map.yaml";
        h.Environment["BUILD_API_TOKEN"] = "super-secret-token";
        h.WriteParameters("""{ "Count": 3 }""");
        await Show(h, "--environment", "staging");
        h.Output.Should().MatchRegex(@"--environment +staging +\(command line\)")
            .And.MatchRegex(@"--image-map +map\.yaml +\(environment variable BUILD_IMAGE_MAP\)")
            .And.MatchRegex(@"--count +3 +\(parameters\.json\)")
            .And.MatchRegex(@"--api-token +\*\*\*\* +\(environment variable BUILD_API_TOKEN\)")
            .And.MatchRegex(@"--mode +fast +\(default\)")
            .And.NotMatchRegex(@"\[INF\] --port ", "defaults of other parameters go to the log files only")
            .And.NotContain("super-secret-token");
        File.ReadAllText(Path.Combine(h.Root, ".nuke", "temp", "build.log")).Should().MatchRegex(@"--port +8080 +\(default\)");
    }

    [Fact]
    public async Task Values_are_converted_to_their_types()
    {
        using var h = new Harness();
        var b = await Show(h, "--dry-run", "--mode", "THOROUGH", "--limit", "9", "--services", "a,b", "c", "--port", "9000", "--schema=s.yaml");
        b.Seen["DryRun"].Should().Be(true);
        b.Seen["Mode"].Should().Be(Mode.Thorough);
        b.Seen["Limit"].Should().Be(9);
        b.Seen["Services"].Should().BeEquivalentTo(new[] { "a,b", "c" });
        b.Seen["Port"].Should().Be(9000);
        b.Seen["Schema"].Should().Be("s.yaml");

        b = await Show(h, "--services", "a,b", "--dry-run", "false");
        b.Seen["Services"].Should().BeEquivalentTo(new[] { "a", "b" });
        b.Seen["DryRun"].Should().Be(false);
    }

    [Theory]
    [InlineData("Invalid value 'abc' for --count: expected an integer", "--count", "abc")]
    [InlineData("Invalid value 'slow' for --mode: expected one of fast, thorough", "--mode", "slow")]
    [InlineData("Parameter --count takes one value but got 2", "--count", "1", "2")]
    [InlineData("Parameter --image-map needs a value", "--image-map")]
    [InlineData("Unknown parameter '--enviroment': did you mean --environment?", "--enviroment", "staging")]
    [InlineData("Invalid value 'prod' for --environment: allowed values are development, staging", "--environment", "prod")]
    public async Task Bad_values_fail_with_one_clear_line(string message, params string[] args)
    {
        using var h = new Harness();
        (await h.RunAsync<ParamBuild>(["Show", .. args])).Should().Be(PipelineRunner.Failure);
        h.Error.Should().Contain(message);
        h.Error.Trim().Split('\n').Should().HaveCount(1);
        h.BuildAs<ParamBuild>().Seen.Should().BeEmpty();
    }

    [Fact]
    public async Task Value_sets_use_other_parameters_and_the_allowed_spelling()
    {
        using var h = new Harness();
        File.WriteAllLines(Path.Combine(h.Root, "envs.txt"), ["qa", "live"]);
        var b = await Show(h, "--environment", "LIVE", "--schema", "envs.txt");
        b.Seen["Environment"].Should().Be("live");
    }

    [Fact]
    public async Task Requires_names_the_parameter_and_how_to_pass_it()
    {
        using var h = new Harness();
        (await h.RunAsync<ParamBuild>("NeedsToken")).Should().Be(PipelineRunner.Failure);
        h.Error.Should().Contain("Target 'NeedsToken' requires parameter --api-token: pass --api-token <value> or set BUILD_API_TOKEN.");

        (await h.RunAsync<ParamBuild>("NeedsConfirm", "--environment", "staging")).Should().Be(PipelineRunner.Failure);
        h.Error.Should().Contain("Target 'NeedsConfirm' requires 'Confirm == Environment'.");

        (await h.RunAsync<ParamBuild>("NeedsConfirm", "--environment", "staging", "--confirm", "staging")).Should().Be(0);
    }

    [Fact]
    public async Task Secrets_never_reach_the_console_or_the_logs()
    {
        using var h = new Harness();
        const string token = "s3cr3t-token-value";
        h.Environment["BUILD_API_TOKEN"] = token;
        await Show(h);
        h.Output.Should().NotContain(token).And.Contain("console token ****").And.Contain("Token is ****");
        var log = File.ReadAllText(Path.Combine(h.Root, ".nuke", "temp", "build.log"));
        var json = File.ReadAllText(Path.Combine(h.Root, ".nuke", "temp", "build.json"));
        log.Should().Contain("Token is ****").And.NotContain(token);
        json.Should().NotContain(token).And.Contain("****");
    }

    [Fact]
    public async Task Secrets_are_refused_in_parameter_files()
    {
        using var h = new Harness();
        h.WriteParameters("""{ "ApiToken": "plain-text-token" }""");
        (await h.RunAsync<ParamBuild>("Show")).Should().Be(PipelineRunner.Failure);
        h.Error.Should().Contain("secret parameter 'ApiToken' must not be stored in a parameter file").And.NotContain("plain-text-token");
    }

    [Fact]
    public async Task A_missing_profile_is_an_error()
    {
        using var h = new Harness();
        h.WriteParameters("{}", "ci");
        (await h.RunAsync<ParamBuild>("Show", "--profile", "nightly")).Should().Be(PipelineRunner.Failure);
        h.Error.Should().Contain("Profile 'nightly' not found: create .nuke/parameters.nightly.json (available: ci)");
    }

    [Fact]
    public async Task Help_lists_targets_with_dependencies_and_parameters_with_types_values_and_defaults()
    {
        using var h = new Harness();
        (await h.RunAsync<PlanningTests.LinearBuild>("--help")).Should().Be(0);
        h.Output.Should().Contain("  Publish -> Test, Pack").And.Contain("  Restore\n");

        (await h.RunAsync<ParamBuild>("--help")).Should().Be(0);
        var help = h.Output;
        help.Should().Contain("  --environment <string>\n      Environment to operate on. Allowed: development, staging. Default: development.");
        help.Should().Contain("  --mode <fast|thorough>\n      Mode. Default: fast.");
        help.Should().Contain("  --dry-run\n      Change nothing. Command line only.");
        help.Should().Contain("  --services <string...>");
        help.Should().Contain("  --schema <string>\n      Path of the schema. Default: schemas/default.yaml.");
        help.Should().Contain("  --port <int>\n      Port of the thing. Default: 8080.");
        help.Should().Contain("  --api-token <string>\n      API token. Secret: pass it as BUILD_API_TOKEN; never printed.");
        help.Should().Contain("  --skip <string...>").And.Contain("  --plan").And.Contain("  --verbosity <quiet|minimal|normal|verbose>");
        h.BuildAs<ParamBuild>().Seen.Should().BeEmpty();
    }

    [Fact]
    public async Task A_malformed_parameter_file_does_not_break_help_but_fails_a_run_with_its_position()
    {
        // Fault 7.
        using var h = new Harness();
        h.WriteParameters("{\n  \"Count\": 3,\n  oops\n}");
        (await h.RunAsync<ParamBuild>("--help")).Should().Be(0);
        h.Output.Should().Contain("Targets (with their direct dependencies):");
        h.Error.Should().Contain("parameters.json:3:").And.Contain("ignored for --help");

        (await h.RunAsync<ParamBuild>("Show")).Should().Be(PipelineRunner.Failure);
        h.Error.Should().Contain("parameters.json:3:").And.Contain("invalid JSON in parameter file");
        h.BuildAs<ParamBuild>().Seen.Should().BeEmpty();
    }

    public class BrokenProviderBuild : PipelineBuild
    {
        [Parameter("Environment", ValueProviderMember = nameof(Names))]
        public readonly string Environment = "development";

        public IEnumerable<string> Names => throw new FileNotFoundException("schemas/missing.yaml does not exist: pass --schema");

        public Target Show => _ => _.Executes(() => { });
    }

    [Fact]
    public async Task Help_shows_why_a_value_set_is_unavailable()
    {
        // Fault 10: the reflection wrapper's "Exception has been thrown by the target of an invocation" hid the cause.
        using var h = new Harness();
        (await h.RunAsync<BrokenProviderBuild>("--help")).Should().Be(0);
        h.Output.Should().Contain("(Allowed values unavailable: schemas/missing.yaml does not exist: pass --schema)")
            .And.NotContain("target of an invocation");
    }

    [Fact]
    public async Task An_error_after_the_logger_exists_is_printed_once()
    {
        // Fault 6: it was printed as "[ERR] …" and again as "error: …".
        using var h = new Harness();
        (await h.RunAsync<ParamBuild>("NeedsToken")).Should().Be(PipelineRunner.Failure);
        var everything = h.Output + h.Error;
        var count = everything.Split("Target 'NeedsToken' requires parameter --api-token").Length - 1;
        count.Should().Be(1, everything);
    }

    [Fact]
    public async Task No_target_prints_help()
    {
        using var h = new Harness();
        (await h.RunAsync<ParamBuild>()).Should().Be(0);
        h.Output.Should().Contain("Targets (with their direct dependencies):");
    }

    [Fact]
    public async Task Build_schema_is_written_when_it_changes_only()
    {
        using var h = new Harness();
        await h.RunAsync<ParamBuild>("--help");
        var file = Path.Combine(h.Root, ".nuke", "build.schema.json");
        var json = File.ReadAllText(file);
        json.Should().Contain("\"NeedsConfirm\"").And.Contain("\"Environment\"").And.Contain("\"enum\": [\n");
        json.Should().Contain("Secrets are never stored here: set environment variable BUILD_API_TOKEN");
        var stamp = File.GetLastWriteTimeUtc(file);
        File.SetLastWriteTimeUtc(file, stamp.AddHours(-1));
        await h.RunAsync<ParamBuild>("--help");
        File.GetLastWriteTimeUtc(file).Should().Be(stamp.AddHours(-1));
    }

    [Fact]
    public async Task The_build_schema_describes_defaults_whatever_this_run_passes()
    {
        using var h = new Harness();
        File.WriteAllLines(Path.Combine(h.Root, "envs.txt"), ["qa", "live"]);
        (await h.RunAsync<ParamBuild>("--help", "--schema", "envs.txt")).Should().Be(0);
        h.Output.Should().Contain("Allowed: live, qa.");
        var json = File.ReadAllText(Path.Combine(h.Root, ".nuke", "build.schema.json"));
        json.Should().Contain("\"development\"").And.NotContain("\"qa\"");
    }

    [Fact]
    public async Task Verbosity_quiet_hides_information()
    {
        using var h = new Harness();
        await Show(h, "--verbosity", "quiet");
        h.Output.Should().NotContain("Token is");
        File.ReadAllText(Path.Combine(h.Root, ".nuke", "temp", "build.log")).Should().Contain("| Show");
    }
}
