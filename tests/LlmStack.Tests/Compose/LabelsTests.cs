using LlmStack.Compose;
using LlmStack.Engine;
using LlmStack.Schema;

namespace LlmStack.Tests.Compose;

public class LabelsTests
{
    private static readonly ResolvedEnvironment Testing = new SchemaFile(Repository.Root, "schemas/compose-schema.yaml").Resolve("testing");

    [Fact]
    public void Every_resource_kind_carries_the_compose_project_and_ours_so_the_scope_owns_it()
    {
        var scope = Scope.Of(Testing);
        var all = new[]
        {
            Labels.ServiceContainer(Testing, Testing.Service("postgres"), 1),
            Labels.Network(Testing.Project, Testing.Name, "core"),
            Labels.Volume(Testing.Project, Testing.Name, "core", "postgres_data"),
            Labels.Helper(Testing.Project, Testing.Name, "volume-backup", "host/1"),
        };

        all.Should().OnlyContain(l => scope.Owns(l) && l[Names.Managed] == "true");
        all[0].Should().Contain(Names.ComposeService, "postgres").And.Contain(Names.ComposeContainerNumber, "1").And.Contain(Names.Service, "postgres").And.Contain(Names.Stack, "core");
        all[1].Should().Contain(Names.ComposeNetwork, "core");
        all[2].Should().Contain(Names.ComposeVolume, "postgres_data").And.Contain(Names.Volume, "postgres_data");
        all[3].Should().Contain(Names.Helper, "volume-backup").And.NotContainKey(Names.Service, "service queries never see a helper").And.NotContainKey(Names.Stack);
    }

    [Fact]
    public void The_compose_files_carry_our_part_of_the_same_labels()
    {
        foreach (var (key, value) in Labels.Ours(Testing.Name, "core", "postgres"))
        {
            Labels.ServiceContainer(Testing, Testing.Service("postgres"), 1).Should().Contain(key, value);
        }

        foreach (var (key, value) in Labels.Ours(Testing.Name, "core"))
        {
            Labels.Network(Testing.Project, Testing.Name, "core").Should().Contain(key, value);
            Labels.Volume(Testing.Project, Testing.Name, "core", "postgres_data").Should().Contain(key, value);
        }
    }
}
