using System.Reflection;
using System.Text.RegularExpressions;
using LlmStack.Pipeline;

namespace LlmStack.Tests;

/// <summary>
/// The build's shape: one component (an interface with default-member targets) per area, each in build/&lt;Name&gt;.cs,
/// declaring only its area's targets and the parameters it uses; a parameter several areas use lives in a component
/// they all extend (IHazEnvironment, IHazService, …); Build itself declares no target and no parameter.
/// </summary>
public partial class BuildComponentsTests
{
    private static readonly Type BuildType = Type.GetType("Build, _build", throwOnError: true)!;

    private static readonly IReadOnlyList<Type> Components =
        BuildType.GetInterfaces().Where(i => i.Assembly == BuildType.Assembly).OrderBy(i => i.Name, StringComparer.Ordinal).ToList();

    private static readonly IReadOnlyList<ExecutableTarget> Targets = PipelineBuild.DescribeTargets((PipelineBuild)Activator.CreateInstance(BuildType)!, Repository.Root);

    private static readonly string BuildDirectory = Path.Combine(Repository.Root, "build");

    private const BindingFlags Declared = BindingFlags.Instance | BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly;

    private static string FileOf(Type component) => Path.Combine(BuildDirectory, component.Name + ".cs");

    [Fact]
    public void Build_cs_and_one_file_per_component_named_after_it_are_the_whole_build_directory()
    {
        Directory.GetFiles(BuildDirectory, "*.cs").Select(Path.GetFileName)
            .Should().BeEquivalentTo(Components.Select(c => c.Name + ".cs").Append("Build.cs"));
        foreach (var component in Components)
        {
            File.ReadAllText(FileOf(component)).Should().MatchRegex($@"(?m)^interface {component.Name}\b", $"{component.Name}.cs declares {component.Name}");
        }
    }

    [Fact]
    public void Build_declares_no_target_and_no_parameter_of_its_own()
    {
        BuildType.GetProperties(Declared).Where(p => p.PropertyType == typeof(Target) && !p.Name.Contains('.', StringComparison.Ordinal))
            .Should().BeEmpty("targets are the components' default members");
        BuildType.GetMembers(Declared).Where(m => m.GetCustomAttribute<ParameterAttribute>() is not null)
            .Should().BeEmpty("parameters are the components' properties, read through TryGetValue");
    }

    public static TheoryData<string, string[]> AreaTargets() => new()
    {
        { "IStacks", ["StartCore", "StartInference", "StartAi", "StartUi", "StartTesting", "StartMonitoring", "Start",
            "StopUi", "StopAi", "StopInference", "StopTesting", "StopMonitoring", "StopCore", "Stop",
            "RestartCore", "RestartInference", "RestartAi", "RestartUi", "RestartTesting", "RestartMonitoring", "Restart",
            "StatusCore", "StatusInference", "StatusAi", "StatusUi", "StatusTesting", "StatusMonitoring", "SystemStatus",
            "LogsCore", "LogsInference", "LogsAi", "LogsUi", "LogsTesting", "LogsMonitoring"] },
        { "IDeploy", ["Plan", "Deploy", "CheckDrift", "ExportState"] },
        { "IImages", ["BuildImages", "RebuildCore", "RebuildInference", "RebuildAi", "RebuildUi", "RebuildTesting", "RebuildMonitoring",
            "PullImages", "Images", "DetectGpu", "CheckGpu", "Setup"] },
        { "INetworks", ["CheckNetworkConflicts", "SuggestSubnets", "ValidateNetworks", "CheckNetworkHealth", "CleanupNetworks"] },
        { "ISwarm", ["SwarmInit", "SwarmNodes", "SwarmLabelNodes", "SwarmLeave"] },
        { "IBackup", ["BackupFull", "BackupService", "BackupCopy", "BackupVerify", "RestoreTest", "BackupList", "BackupStatus", "BackupSchedule", "Restore", "RestoreSet"] },
        { "IRetention", ["RetentionSimulate", "RetentionStatus", "RetentionCleanup", "RetentionCleanupService", "RetentionTest", "RetentionSchedule"] },
        { "IWipe", ["WipeCore", "WipeInference", "WipeAi", "WipeUi", "WipeTestingStack", "WipeMonitoring", "WipeDb", "WipeCache", "WipeModels", "WipeLogs", "WipeTestResults",
            "WipeEnvironment", "WipeDevelopment", "WipeDev", "WipeStaging", "WipeProduction", "WipeProd", "WipeTesting", "WipeNuclear", "BackupBeforeNuclear", "Reset"] },
        { "ICredentials", ["ValidateCredentials", "SetupSecrets", "RotateSecret"] },
        { "ISecretScan", ["ValidateSecurity"] },
        { "IWorkflows", ["GenerateWorkflows", "CheckWorkflows"] },
        { "IGitHub", ["DispatchRestore", "ReportFailure", "WorkflowStatus"] },
        { "ITests", ["TestTools", "UnitTest", "FixtureImages", "IntegrationTest", "Test"] },
        { "ITesting", ["SmokeTest", "LoadTest", "TestReport", "ServeTestReport", "CheckDocs"] },
        { "IBenchmarks", ["BenchmarkStartup", "BenchmarkStartCore", "BenchmarkBackup", "BenchmarkTiers", "BenchmarkRetentionCleanup", "BenchmarkRetention", "BenchmarkSecurityScan"] },
        { "ISchema", ["ValidateSchema", "GenerateCompose"] },
        { "IMonitoring", ["GenerateMonitoring", "CheckMonitoring"] },
    };

    [Theory]
    [MemberData(nameof(AreaTargets))]
    public void Each_area_component_declares_exactly_its_areas_targets_in_declaration_order(string component, string[] targets)
    {
        Targets.Where(t => t.DeclaringType.Name == component).Select(t => t.Name).Should().Equal(targets);
    }

    [Fact]
    public void Every_target_is_declared_by_an_area_component_and_the_shared_ones_declare_none()
    {
        var areas = AreaTargets().Select(row => (string)row[0]).ToList();
        Targets.Should().OnlyContain(t => areas.Contains(t.DeclaringType.Name));
        Components.Where(c => !areas.Contains(c.Name)).Should().OnlyContain(c => c.Name.StartsWith("IHaz", StringComparison.Ordinal),
            "a component without targets is a shared one (IHaz…)");
    }

    [Fact]
    public void Targets_are_discovered_component_by_component_in_the_order_of_the_components_names()
    {
        Targets.Select(t => t.DeclaringType.Name).Distinct().Should().BeInAscendingOrder(StringComparer.Ordinal)
            .And.HaveCount(Targets.Select(t => t.DeclaringType).Distinct().Count(), "each component's targets are together");
    }

    [GeneratedRegex(@"(?m)^\s*(using\s.*|//.*|\[(Parameter|Secret)\b.*)$")]
    private static partial Regex NotCode();

    [GeneratedRegex(@"""""""[\s\S]*?""""""|""(?:\\.|[^""\\\n])*""")]
    private static partial Regex StringLiteral();

    /// <summary>
    /// A file's code without using lines, comments, parameter attributes and string literals (texts name targets and
    /// areas, not members; a parameter read only inside an interpolation would count as unread: the test fails, never passes, on it).
    /// </summary>
    private static string Code(string file) => StringLiteral().Replace(NotCode().Replace(File.ReadAllText(file), string.Empty), "\"\"");

    public static TheoryData<string, string> Parameters()
    {
        var data = new TheoryData<string, string>();
        foreach (var component in Components)
        {
            foreach (var property in component.GetProperties(Declared).Where(p => p.GetCustomAttribute<ParameterAttribute>() is not null))
            {
                data.Add(component.Name, property.Name);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Parameters))]
    public void A_parameter_is_used_and_only_by_its_component_and_the_components_that_extend_it(string component, string member)
    {
        var declaring = Components.Single(c => c.Name == component);
        var word = new Regex($@"(?<!\w|\b[a-z]\w*\.){member}\b"); // not a member of a local (sources.MetricsFile)
        var declaration = new Regex($@"(?m)^.*\b{member} => TryGetValue.*$");
        var users = Components
            .Where(c => word.IsMatch(declaration.Replace(Code(FileOf(c)), string.Empty)))
            .Select(c => c.Name)
            .ToList();
        users.Should().NotBeEmpty($"--{Naming.ToKebabCase(member)} is read by a target");
        users.Where(user => !declaring.IsAssignableFrom(Components.Single(c => c.Name == user)))
            .Should().BeEmpty($"{member} is declared on {component}: a component that uses it extends {component} (several areas: a shared component they all extend)");
    }

    private static ParameterAttribute Parameter(string member) =>
        Components.Select(c => c.GetProperty(member, Declared)).Single(p => p is not null)!.GetCustomAttribute<ParameterAttribute>()!;

    [Fact]
    public void The_service_parameter_names_every_target_that_takes_a_service_not_only_logs()
    {
        var text = Parameter("Service").Description;
        text.Should().Contain("Logs");
        foreach (var target in new[] { "BackupService", "Restore", "RetentionCleanupService", "DispatchRestore", "BuildImages" })
        {
            Targets.Should().Contain(t => t.Name == target);
            text.Should().MatchRegex($@"\b{target}\b", $"{target} takes --service");
        }
    }

    [Fact]
    public void The_json_parameter_lists_no_targets_by_hand()
    {
        var text = Parameter("Json").Description!;
        Targets.Where(t => Regex.IsMatch(text, $@"\b{t.Name}\b")).Should().BeEmpty("a hand-kept list of the targets that write a report goes stale");
        text.Should().NotContain("*");
    }

    [Theory]
    [InlineData("NextRuns", new[] { "BackupSchedule", "RetentionSchedule" })]
    [InlineData("Backup", new[] { "Restore", "DispatchRestore" })]
    [InlineData("BackupSet", new[] { "RestoreSet", "BackupVerify", "RestoreTest" })]
    [InlineData("WipeSecrets", new[] { "WipeEnvironment", "Wipe<Environment>", "WipeNuclear" })]
    [InlineData("Runs", new[] { "BenchmarkStartup", "BenchmarkStartCore", "BenchmarkRetention", "BenchmarkSecurityScan" })]
    public void A_parameter_several_targets_read_names_each_of_them(string member, string[] targets)
    {
        foreach (var target in targets)
        {
            Parameter(member).Description.Should().Contain(target);
        }
    }
}
