using Docker.DotNet.Models;
using LlmStack.Compose;
using LlmStack.Engine;
using LlmStack.Schema;

namespace LlmStack.Tests.Engine;

/// <summary>The per-aspect digests: each part of the create call lands in exactly one aspect, and no value is readable from them.</summary>
public class ConfigDigestsTests
{
    private static readonly ResolvedEnvironment Testing = new SchemaFile(Repository.Root, "schemas/compose-schema.yaml").Resolve("testing");

    private static ContainerPlan Postgres() =>
        ContainerSpecs.Build(Testing, Testing.Service("postgres"), 1, "fixture/postgres:1", n => $"value-of-{n}-5e6f7a8b", Repository.Root);

    private static ConfigDigests Digests(ContainerPlan plan) => ConfigDigests.Of(plan.Create, plan.Networks, Testing.Project);

    public static TheoryData<string, Aspect> Changes() => new()
    {
        { "image", Aspect.Image },
        { "cmd", Aspect.Command },
        { "entrypoint", Aspect.Entrypoint },
        { "env", Aspect.Environment },
        { "label", Aspect.Labels },
        { "exposed", Aspect.Ports },
        { "binding", Aspect.Ports },
        { "mount", Aspect.Mounts },
        { "endpoint", Aspect.Networks },
        { "cpus", Aspect.Resources },
        { "memory", Aspect.Resources },
        { "reservation", Aspect.Resources },
        { "shm", Aspect.Resources },
        { "gpu", Aspect.Resources },
        { "healthcheck", Aspect.Settings },
        { "restart", Aspect.Settings },
        { "user", Aspect.Settings },
        { "workdir", Aspect.Settings },
        { "stop", Aspect.Settings },
    };

    [Theory]
    [MemberData(nameof(Changes))]
    public void A_change_to_one_part_of_the_create_call_changes_only_its_aspect(string change, Aspect aspect)
    {
        var plan = Postgres();
        var before = Digests(plan);
        var create = plan.Create;
        Action apply = change switch
        {
            "image" => () => create.Image = "fixture/postgres:2",
            "cmd" => () => create.Cmd = ["postgres", "-c", "fsync=off"],
            "entrypoint" => () => create.Entrypoint = ["/bin/sh"],
            "env" => () => create.Env = [.. create.Env!, "EXTRA=1"],
            "label" => () => create.Labels!["team"] = "db",
            "exposed" => () => create.ExposedPorts!["9999/tcp"] = default,
            "binding" => () => create.HostConfig!.PortBindings!["5432/tcp"][0].HostPort = "25432",
            "mount" => () => create.HostConfig!.Mounts![0].ReadOnly = true,
            "endpoint" => () => create.NetworkingConfig!.EndpointsConfig!.Single().Value.Aliases = ["db"],
            "cpus" => () => create.HostConfig!.NanoCPUs = 500_000_000,
            "memory" => () => create.HostConfig!.Memory = 1L << 30,
            "reservation" => () => create.HostConfig!.MemoryReservation = 1L << 29,
            "shm" => () => create.HostConfig!.ShmSize = 1L << 28,
            "gpu" => () => create.HostConfig!.DeviceRequests = [new DeviceRequest { Driver = "nvidia", Count = 1 }],
            "healthcheck" => () => create.Healthcheck!.Retries = 9,
            "restart" => () => create.HostConfig!.RestartPolicy = new RestartPolicy { Name = RestartPolicyKind.No },
            "user" => () => create.User = "999",
            "workdir" => () => create.WorkingDir = "/srv",
            "stop" => () => create.StopTimeout = TimeSpan.FromSeconds(99),
            _ => throw new ArgumentOutOfRangeException(nameof(change)),
        };
        apply();

        var after = Digests(plan);
        after.Aspects.Where(a => a.Value != before.Aspects[a.Key]).Select(a => a.Key).Should().Equal(aspect);
    }

    [Fact]
    public void The_networks_joined_after_create_are_the_networks_aspect()
    {
        var plan = Postgres();
        ConfigDigests.Of(plan.Create, [.. plan.Networks, "another"], Testing.Project).Aspects
            .Where(a => a.Value != Digests(plan).Aspects[a.Key]).Select(a => a.Key).Should().Equal(Aspect.Networks);
    }

    [Fact]
    public void Each_variable_has_its_own_digest_salted_by_the_project_and_the_label_holds_no_value()
    {
        var plan = Postgres();
        var digests = Digests(plan);
        digests.Environment.Keys.Should().BeEquivalentTo(Testing.Service("postgres").Environment.Select(e => e.Key));
        var label = plan.Create.Labels[Names.ConfigDigests];
        label.Should().NotContain("value-of-POSTGRES_PASSWORD").And.Contain("env:POSTGRES_PASSWORD");

        var parsed = ConfigDigests.Parse(label)!;
        parsed.Aspects.Should().BeEquivalentTo(plan.Digests.Aspects).And.HaveCount(10, "every aspect of a container");
        parsed.Environment.Should().BeEquivalentTo(plan.Digests.Environment).And.BeEquivalentTo(digests.Environment);
        ConfigDigests.Of(plan.Create, plan.Networks, "another-project").Environment["POSTGRES_DB"].Should().NotBe(digests.Environment["POSTGRES_DB"]);
    }

    [Fact]
    public void The_digest_label_is_no_part_of_the_config_hash_so_older_containers_stay_unchanged()
    {
        var plan = Postgres();
        plan.Create.Labels.Should().ContainKey(Names.ConfigDigests).And.ContainKey(Names.ConfigHash);

        // The hash of the call without both definition labels, as containers made before the digests were hashed.
        var create = plan.Create;
        create.Labels!.Remove(Names.ConfigDigests);
        create.Labels.Remove(Names.ConfigHash);
        var networks = plan.Networks;
        var json = System.Text.Json.JsonSerializer.Serialize(new { create, networks });
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(json)))[..32].Should().Be(plan.ConfigHash);
        ConfigDigests.Parse(null).Should().BeNull();
        ConfigDigests.Parse("not json").Should().BeNull();
    }
}
