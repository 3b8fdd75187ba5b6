using LlmStack.Pipeline;
using LlmStack.Schema;
using LlmStack.Wipe;

namespace LlmStack.Tests;

/// <summary>The stack targets (build/IStacks.cs) agree with the schema's stack dependencies; the wipes (build/IWipe.cs) with the wipe policy.</summary>
public class BuildTargetsTests
{
    private static readonly IReadOnlyList<ExecutableTarget> Targets =
        PipelineBuild.DescribeTargets((PipelineBuild)Activator.CreateInstance(Type.GetType("Build, _build", throwOnError: true)!)!, Repository.Root);

    private static readonly ComposeSchema Schema = new SchemaFile(Repository.Root, "schemas/compose-schema.yaml").Load();

    private static string Pascal(string stack) => char.ToUpperInvariant(stack[0]) + stack[1..];

    private static ExecutableTarget Target(string name) =>
        Targets.SingleOrDefault(t => t.Name == name) ?? throw new InvalidOperationException($"the build declares no target {name}");

    public static TheoryData<string> Stacks()
    {
        var data = new TheoryData<string>();
        foreach (var stack in Schema.Stacks.Keys)
        {
            data.Add(stack);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Stacks))]
    public void Every_stack_has_its_five_targets(string stack)
    {
        foreach (var verb in new[] { "Start", "Stop", "Restart", "Status", "Logs" })
        {
            Target(verb + Pascal(stack)).Description.Should().Contain(stack);
        }
    }

    [Theory]
    [MemberData(nameof(Stacks))]
    public void Start_depends_exactly_on_the_starts_of_the_stacks_it_needs_and_the_gpu_check(string stack)
    {
        Target("Start" + Pascal(stack)).ExecutionDependencies.Select(t => t.Name)
            .Should().BeEquivalentTo(Schema.Stacks[stack].DependsOn.Select(d => "Start" + Pascal(d)).Append("CheckGpu"));
    }

    [Theory]
    [MemberData(nameof(Stacks))]
    public void Rebuild_depends_on_the_starts_of_the_stacks_it_needs_and_the_gpu_check(string stack)
    {
        Target("Rebuild" + Pascal(stack)).ExecutionDependencies.Select(t => t.Name)
            .Should().BeEquivalentTo(Schema.Stacks[stack].DependsOn.Select(d => "Start" + Pascal(d)).Append("CheckGpu"));
    }

    [Theory]
    [MemberData(nameof(Stacks))]
    public void Stop_depends_exactly_on_the_stops_of_the_stacks_that_need_it(string stack)
    {
        var dependents = Schema.Stacks.Where(s => s.Value.DependsOn.Contains(stack)).Select(s => "Stop" + Pascal(s.Key));
        Target("Stop" + Pascal(stack)).ExecutionDependencies.Select(t => t.Name).Should().BeEquivalentTo(dependents);
    }

    [Theory]
    [MemberData(nameof(Stacks))]
    public void Restart_runs_after_the_restarts_of_the_stacks_it_needs_without_pulling_them_in(string stack)
    {
        var restart = Target("Restart" + Pascal(stack));
        restart.ExecutionDependencies.Should().BeEmpty("dependents keep running, dependencies are not restarted");
        restart.OrderDependencies.Select(t => t.Name).Should().BeEquivalentTo(Schema.Stacks[stack].DependsOn.Select(d => "Restart" + Pascal(d)));
    }

    [Fact]
    public void The_all_stack_targets_cover_every_stack()
    {
        foreach (var verb in new[] { "Start", "Stop", "Restart" })
        {
            Target(verb).ExecutionDependencies.Select(t => t.Name).Should().BeEquivalentTo(Schema.Stacks.Keys.Select(s => verb + Pascal(s)));
        }
    }

    [Fact]
    public async Task A_schema_that_cannot_be_read_fails_only_the_targets_declared_from_it_and_help_and_ValidateSchema_still_work()
    {
        var root = BuildRun.ScratchRoot("broken-schema");
        try
        {
            File.WriteAllText(Path.Combine(root, "schemas", "compose-schema.yaml"), "stacks:\n  core: [\n");

            var (help, text) = await BuildRun.RunAsync(root, "--help");
            help.Should().Be(0);
            text.Should().MatchRegex(@"StartCore\s+Unavailable:\s+\S*compose-schema\.yaml:3:1:\s+malformed\s+YAML").And.MatchRegex(@"WipeCore\s+Unavailable:")
                .And.Contain("ValidateSchema");

            var (validate, report) = await BuildRun.RunAsync(root, "ValidateSchema");
            validate.Should().NotBe(0);
            report.Should().Contain("schemas/compose-schema.yaml:3:1: error: malformed YAML");

            var (start, output) = await BuildRun.RunAsync(root, "StartAi", "--plan");
            start.Should().Be(0, "planning needs no schema");
            output.Should().Contain("1. StartAi").And.NotContain("StartCore", "the stacks it needs are not known");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task A_stack_of_the_schema_without_targets_fails_the_all_stacks_targets_in_one_line_naming_the_missing_one()
    {
        var root = BuildRun.ScratchRoot("extra-stack");
        try
        {
            var schema = Path.Combine(root, "schemas", "compose-schema.yaml");
            File.WriteAllText(schema, File.ReadAllText(schema).Replace("stacks:\n  core:\n", "stacks:\n  rag:\n    depends_on: [core]\n  core:\n", StringComparison.Ordinal));

            var (code, output) = await BuildRun.RunAsync(root, "Stop", "--docker-host", "unix:///nonexistent/llmstack-test.sock");

            code.Should().NotBe(0);
            output.Should().Contain("the schema has a stack whose target StopRag build/IStacks.cs does not declare: declare it, or remove the stack");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static readonly WipePolicy Wipes = WipePolicy.Of(() => new SchemaFile(Repository.Root, "schemas/compose-schema.yaml"));

    [Fact]
    public void Every_wipe_the_build_declares_is_one_of_the_policy_and_takes_its_backup_target_first()
    {
        var declared = Targets.Where(t => Wipes.Wipe(t.Name) is not null).ToList();
        declared.Select(t => t.Name).Should().BeEquivalentTo(
            ["WipeCore", "WipeInference", "WipeAi", "WipeUi", "WipeTestingStack", "WipeMonitoring", "WipeDb", "WipeCache", "WipeModels", "WipeLogs", "WipeTestResults",
                "WipeEnvironment", "WipeDevelopment", "WipeDev", "WipeStaging", "WipeProduction", "WipeProd", "WipeTesting", "Reset", "WipeNuclear"]);
        foreach (var target in declared)
        {
            var backup = Wipes.Wipe(target.Name)!.Kind == WipeKind.Nuclear ? WipePolicy.BackupBeforeNuclear : WipePolicy.BackupFull;
            target.ExecutionDependencies.Select(t => t.Name).Should().Contain(backup, $"{target.Name} is a wipe");
        }

        Targets.Where(t => t.ExecutionDependencies.Any(d => d.Name == WipePolicy.BackupFull)).Select(t => t.Name)
            .Should().OnlyContain(name => Wipes.Wipe(name) != null || name == WipePolicy.RetentionCleanup, "BackupFull's condition knows every target that pulls it in");
    }

    [Fact]
    public void The_environment_wipes_the_build_declares_set_the_environment_their_name_says()
    {
        Targets.Select(t => Wipes.Wipe(t.Name)).Where(w => w?.Environment is not null).ToDictionary(w => w!.Name, w => w!.Environment).Should().BeEquivalentTo(new Dictionary<string, string>
        {
            ["WipeDevelopment"] = "development", ["WipeDev"] = "development", ["WipeStaging"] = "staging",
            ["WipeProduction"] = "production", ["WipeProd"] = "production", ["WipeTesting"] = "testing",
        });
        foreach (var name in new[] { WipePolicy.WipeEnvironment, WipePolicy.Reset, WipePolicy.WipeNuclear, WipePolicy.BackupFull, WipePolicy.BackupBeforeNuclear, WipePolicy.RetentionCleanup })
        {
            Target(name).Should().NotBeNull("the policy's names are the build's targets");
        }
    }

    /// <summary>The parameter a component of the build declares as <paramref name="member"/>.</summary>
    private static ParameterAttribute ParameterOf(string member) =>
        Type.GetType("Build, _build", throwOnError: true)!.GetInterfaces()
            .Select(component => component.GetProperty(member, System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.DeclaredOnly))
            .Single(property => property is not null)!
            .GetCustomAttributes(typeof(ParameterAttribute), false).Cast<ParameterAttribute>().Single();

    [Theory]
    [InlineData("Confirm")]
    [InlineData("DryRun")]
    public void Safety_parameters_come_from_the_command_line_only(string member)
    {
        ParameterOf(member).Sources.Should().Be(ParameterSources.CommandLine, "no ambient variable or committed file may confirm or un-dry a run");
    }

    [Fact]
    public void The_environment_is_never_read_from_a_bare_variable()
    {
        var environment = ParameterOf("EnvironmentArgument");
        environment.Name.Should().Be("Environment", "the parameter stays --environment");
        environment.Sources.Should().NotHaveFlag(ParameterSources.BareVariable, "a host-wide ENVIRONMENT=production must not retarget runs");
    }

    [Fact]
    public void ValidateSecurity_is_a_standalone_check_whose_scan_directory_is_the_path_parameter()
    {
        Target("ValidateSecurity").ExecutionDependencies.Should().BeEmpty("a secret scan needs no Docker engine and no other target");
        ParameterOf("ScanPath").Name.Should().Be("Path", "the parameter is --path (the member is not named Path: that would hide System.IO.Path in the components)");
    }
}
