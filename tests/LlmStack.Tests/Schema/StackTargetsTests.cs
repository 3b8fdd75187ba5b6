using LlmStack.Schema;

namespace LlmStack.Tests.Schema;

public class StackTargetsTests
{
    private static readonly SchemaOutline Outline = new SchemaFile(Repository.Root, "schemas/compose-schema.yaml").Outline();

    [Fact]
    public void The_outline_cache_reads_back_what_it_wrote_and_refuses_another_form()
    {
        var read = OutlineText.Read(OutlineText.Write(Outline));
        read.Should().NotBeNull();
        read!.Environments.Should().Equal(Outline.Environments);
        read.Stacks.Select(s => (s.Name, string.Join(',', s.DependsOn))).Should().Equal(Outline.Stacks.Select(s => (s.Name, string.Join(',', s.DependsOn))));
        read.Stacks.Should().Contain(s => s.DependsOn.Count > 1, "a stack with several dependencies round-trips");
        OutlineText.Read(["{\"environments\":[\"testing\"]}"]).Should().BeNull("a cache of the JSON form is made again");
    }

    [Fact]
    public void An_outline_cache_of_another_form_is_made_again_from_the_schema()
    {
        var root = Repository.TempDirectory("outline");
        Directory.CreateDirectory(Path.Combine(root, "schemas"));
        File.Copy(Repository.DefaultSchema, Path.Combine(root, "schemas", "compose-schema.yaml"));
        var schema = Path.Combine(root, "schemas", "compose-schema.yaml");
        var info = new FileInfo(schema);
        Directory.CreateDirectory(Path.Combine(root, ".nuke", "temp"));
        File.WriteAllLines(Path.Combine(root, ".nuke", "temp", "schema-outline.cache"), [$"{schema}|{info.Length}|{info.LastWriteTimeUtc.Ticks}", "stack only-this"]);
        new SchemaFile(root, "schemas/compose-schema.yaml").Outline().Stacks.Select(s => s.Name).Should().Equal(["only-this"], "a cache of the right key is read");
        File.WriteAllLines(Path.Combine(root, ".nuke", "temp", "schema-outline.cache"), [$"{schema}|{info.Length}|{info.LastWriteTimeUtc.Ticks}", "{\"stacks\":[]}"]);
        new SchemaFile(root, "schemas/compose-schema.yaml").Outline().Stacks.Select(s => s.Name).Should().Equal(Outline.Stacks.Select(s => s.Name));
    }

    [Fact]
    public void The_outline_is_the_schemas_environments_and_stack_graph()
    {
        var schema = new SchemaFile(Repository.Root, "schemas/compose-schema.yaml").Load();
        Outline.Environments.Should().Equal(schema.Environments.Keys);
        Outline.Stacks.Select(s => s.Name).Should().Equal(schema.Stacks.Keys);
        foreach (var (name, stack) in schema.Stacks)
        {
            Outline.DependenciesOf(name).Should().Equal(stack.DependsOn ?? []);
        }
    }

    [Theory]
    [InlineData("Start", "core", "StartCore")]
    [InlineData("Stop", "ui", "StopUi")]
    [InlineData("Status", "monitoring", "StatusMonitoring")]
    public void Target_names_come_from_the_verb_and_the_stack(string verb, string stack, string target)
    {
        StackTargets.Name(verb, stack).Should().Be(target);
        StackTargets.StackOf(target, verb, Outline).Should().Be(stack);
    }

    [Fact]
    public void Dependencies_and_dependents_follow_the_schemas_graph()
    {
        StackTargets.OfDependencies("Start", "ai", Outline).Should().Equal("StartCore", "StartInference");
        StackTargets.OfDependents("Stop", "inference", Outline).Should().BeEquivalentTo("StopAi", "StopUi");
        StackTargets.All("Start", Outline).Should().Equal("StartCore", "StartInference", "StartAi", "StartUi", "StartTesting", "StartMonitoring");
    }

    [Fact]
    public void The_stacks_of_a_runs_targets_are_those_whose_verb_target_is_planned()
    {
        StackTargets.StacksOf(["CheckGpu", "StartCore", "StartInference", "StatusAi", "RebuildAi"], StackTargets.Start, Outline).Should().Equal("core", "inference");
        StackTargets.StacksOf(["StartCore", "RebuildAi"], StackTargets.Rebuild, Outline).Should().Equal("ai");
        StackTargets.StacksOf([], StackTargets.Start, Outline).Should().BeEmpty();
    }

    [Fact]
    public void A_target_for_no_stack_is_one_line()
    {
        var act = () => StackTargets.StackOf("StartRag", "Start", Outline);
        act.Should().Throw<SchemaException>().WithMessage("target StartRag is for no stack of the schema (stacks: core, inference, ai, ui, testing, monitoring)*");
    }
}
