using LlmStack.Pipeline;

namespace LlmStack.Pipeline.Tests;

public class PlanningTests
{
    public class LinearBuild : RecordingBuild
    {
        public Target Restore => _ => Record(_, "Restore");

        public Target Compile => _ => Record(_.DependsOn(Restore), "Compile");

        public Target Test => _ => Record(_.DependsOn(Compile), "Test");

        public Target Pack => _ => Record(_.DependsOn(Compile), "Pack");

        public Target Publish => _ => Record(_.DependsOn(Test, Pack), "Publish");
    }

    [Fact]
    public async Task Dependencies_run_first_and_ties_go_to_declaration_order()
    {
        using var h = new Harness();
        (await h.RunAsync<LinearBuild>("Pack", "Test")).Should().Be(0);
        h.BuildAs<LinearBuild>().Ran.Should().Equal("Restore", "Compile", "Test", "Pack");
    }

    [Fact]
    public async Task Command_line_order_of_invoked_targets_does_not_matter()
    {
        using var h = new Harness();
        await h.RunAsync<LinearBuild>("Test", "Pack");
        var first = h.BuildAs<LinearBuild>().Ran.ToList();
        await h.RunAsync<LinearBuild>("Pack", "Test");
        h.BuildAs<LinearBuild>().Ran.Should().Equal(first);
    }

    [Fact]
    public async Task Only_needed_targets_are_planned()
    {
        using var h = new Harness();
        await h.RunAsync<LinearBuild>("Compile");
        h.PlanNames.Should().Equal("Restore", "Compile");
    }

    [Theory]
    [InlineData("publish")]
    [InlineData("PUBLISH")]
    [InlineData("pub-lish")]
    [InlineData("--target", "Publish")]
    public async Task Target_names_ignore_case_and_dashes(params string[] args)
    {
        using var h = new Harness();
        (await h.RunAsync<LinearBuild>(args)).Should().Be(0);
        h.BuildAs<LinearBuild>().Ran.Should().Equal("Restore", "Compile", "Test", "Pack", "Publish");
    }

    [Fact]
    public async Task Targets_can_be_joined_with_plus()
    {
        using var h = new Harness();
        (await h.RunAsync<LinearBuild>("--target", "Restore+Compile")).Should().Be(0);
        h.PlanNames.Should().Equal("Restore", "Compile");
    }

    [Fact]
    public async Task Unknown_target_lists_the_closest_names()
    {
        using var h = new Harness();
        (await h.RunAsync<LinearBuild>("Compil")).Should().NotBe(0);
        h.Error.Should().Contain("Target 'Compil' does not exist").And.Contain("Did you mean Compile");
    }

    public class OrderingBuild : RecordingBuild
    {
        public Target A => _ => Record(_.After(C), "A");

        public Target B => _ => Record(_.Before(A), "B");

        public Target C => _ => Record(_, "C");

        public Target D => _ => Record(_.DependsOn(A, B, C), "D");
    }

    [Fact]
    public async Task Before_and_after_order_without_pulling_targets_in()
    {
        using var h = new Harness();
        await h.RunAsync<OrderingBuild>("D");
        h.BuildAs<OrderingBuild>().Ran.Should().Equal("B", "C", "A", "D");

        await h.RunAsync<OrderingBuild>("A");
        h.PlanNames.Should().Equal("A");
    }

    public class TriggerBuild : RecordingBuild
    {
        public Target A => _ => Record(_.DependsOn(B), "A");

        public Target B => _ => Record(_.Triggers(C), "B");

        public Target C => _ => Record(_.After(A).DependsOn(E), "C");

        public Target D => _ => Record(_.TriggeredBy(A), "D");

        public Target E => _ => Record(_, "E");

        public Target F => _ => Record(_.DependentFor(A), "F");
    }

    [Fact]
    public async Task Triggers_pull_in_targets_with_their_dependencies_and_run_after()
    {
        using var h = new Harness();
        (await h.RunAsync<TriggerBuild>("A")).Should().Be(0);
        h.BuildAs<TriggerBuild>().Ran.Should().Equal("B", "E", "F", "A", "C", "D");
    }

    public class CycleBuild : RecordingBuild
    {
        public Target A => _ => Record(_.DependsOn(B), "A");

        public Target B => _ => Record(_.DependsOn(C), "B");

        public Target C => _ => Record(_.After(A), "C");

        public Target Unrelated => _ => Record(_, "Unrelated");
    }

    [Fact]
    public async Task A_cycle_names_its_members_even_when_not_invoked()
    {
        using var h = new Harness();
        (await h.RunAsync<CycleBuild>("Unrelated")).Should().NotBe(0);
        h.Error.Should().Contain("Circular dependency between targets: A -> B -> C -> A");
        h.BuildAs<CycleBuild>().Ran.Should().BeEmpty();
    }

    public class SelfBuild : RecordingBuild
    {
        public Target A => _ => Record(_.DependsOn(A), "A");
    }

    [Fact]
    public async Task A_self_dependency_is_rejected()
    {
        using var h = new Harness();
        (await h.RunAsync<SelfBuild>("A")).Should().NotBe(0);
        h.Error.Should().Contain("Target 'A' cannot depend on itself");
    }

    public interface IRestore : IPipelineBuild
    {
        Target Restore => _ => _.Executes(() => ((RecordingBuild)this).Ran.Add("Restore"));
    }

    public interface ICompile : IRestore
    {
        Target Compile => _ => _.DependsOn<IRestore>(x => x.Restore).Executes(() => ((RecordingBuild)this).Ran.Add("Compile"));
    }

    public class ComponentBuild : RecordingBuild, ICompile
    {
        public Target Pack => _ => Record(_.DependsOn<ICompile>(x => x.Compile), "Pack");
    }

    [Fact]
    public async Task Targets_declared_on_component_interfaces_take_part()
    {
        using var h = new Harness();
        (await h.RunAsync<ComponentBuild>("Pack")).Should().Be(0);
        h.BuildAs<ComponentBuild>().Ran.Should().Equal("Restore", "Compile", "Pack");
        h.Build!.Targets.Select(t => t.Name).Should().Equal("Pack", "Compile", "Restore");
    }

    public class OverridingBuild : RecordingBuild, ICompile
    {
        Target ICompile.Compile => _ => Record(_.DependsOn<IRestore>(x => x.Restore), "MyCompile");
    }

    [Fact]
    public async Task An_explicit_implementation_replaces_the_component_target()
    {
        using var h = new Harness();
        (await h.RunAsync<OverridingBuild>("compile")).Should().Be(0);
        h.BuildAs<OverridingBuild>().Ran.Should().Equal("Restore", "MyCompile");
    }

    public interface IZeta : IPipelineBuild
    {
        Target Zeta => _ => _.Executes(() => ReportSummary("Ran", $"{CurrentTarget?.Name} of {string.Join("+", InvokedTargets.Select(t => t.Name))} in a plan of {ExecutionPlan.Count}"));
    }

    public interface IAlpha : IPipelineBuild
    {
        Target Alpha => _ => _.Executes(() => ((RecordingBuild)this).Ran.Add("Alpha"));
    }

    public class ZetaFirstBuild : RecordingBuild, IZeta, IAlpha;

    public class AlphaFirstBuild : RecordingBuild, IAlpha, IZeta;

    [Fact]
    public async Task Components_are_discovered_in_the_order_of_their_names_whatever_order_the_build_lists_them_in()
    {
        using var h = new Harness();
        (await h.RunAsync<ZetaFirstBuild>("Zeta", "Alpha")).Should().Be(0);
        h.PlanNames.Should().Equal("Alpha", "Zeta");
        using var other = new Harness();
        (await other.RunAsync<AlphaFirstBuild>("Zeta", "Alpha")).Should().Be(0);
        other.PlanNames.Should().Equal("Alpha", "Zeta");
    }

    [Fact]
    public async Task A_component_reaches_the_run_through_the_build_interface()
    {
        using var h = new Harness();
        (await h.RunAsync<ZetaFirstBuild>("Zeta")).Should().Be(0);
        h.Build!.ExecutionPlan.Single().SummaryInfo.Should().Be("Ran: Zeta of Zeta in a plan of 1");
    }

    public class RootReadingBuild : PipelineBuild
    {
        public Target Describe => _ => _.Description($"declared in {RootDirectory}");
    }

    [Fact]
    public void Targets_are_described_in_the_root_they_are_declared_for()
    {
        var root = Path.Combine(Path.GetTempPath(), "some-repository");
        PipelineBuild.DescribeTargets(new RootReadingBuild(), root).Single().Description.Should().Be($"declared in {root}");
    }

    [Fact]
    public async Task Plan_prints_the_order_and_writes_a_mermaid_graph_without_running()
    {
        using var h = new Harness();
        (await h.RunAsync<LinearBuild>("Publish", "--plan", "--skip", "Pack")).Should().Be(0);
        h.BuildAs<LinearBuild>().Ran.Should().BeEmpty();
        h.Output.Should().Contain("1. Restore").And.Contain("5. Publish   (invoked)").And.Contain("Pack   (skipped: via --skip)");
        var graph = File.ReadAllText(Path.Combine(h.Root, ".nuke", "temp", "plan.mmd"));
        graph.Should().StartWith("graph LR").And.Contain("Compile --> Test").And.Contain("Pack:::skipped");
    }
}
