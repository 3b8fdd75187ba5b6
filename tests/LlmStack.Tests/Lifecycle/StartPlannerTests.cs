using LlmStack.Compose;
using LlmStack.Engine;
using LlmStack.Lifecycle;
using LlmStack.Schema;

namespace LlmStack.Tests.Lifecycle;

using Desired = IReadOnlyDictionary<string, IReadOnlyDictionary<string, IReadOnlyList<ContainerPlan>>>;

/// <summary>The one decision of what Start does, over an engine in memory: every kind of step, and what it names.</summary>
public class StartPlannerTests
{
    internal static readonly ResolvedEnvironment Testing = new SchemaFile(Repository.Root, "schemas/compose-schema.yaml").Resolve("testing");

    /// <summary>The testing environment with only its core stack enabled (four services, one network, four volumes).</summary>
    internal static readonly ResolvedEnvironment Core = Only(Testing, "core");

    internal const string PostgresValue = "made-up-postgres-value";

    internal static string? Secret(string name) => name == "POSTGRES_PASSWORD" ? PostgresValue : $"secret-of-{name}-0a1b2c3d4e";

    internal static string Image(string image) => "fixture/" + image.Replace(':', '-') + ":1";

    internal static ResolvedEnvironment Only(ResolvedEnvironment environment, params string[] stacks) => environment with
    {
        Stacks = environment.Stacks.Where(s => stacks.Contains(s.Name)).ToList(),
        Services = environment.Services.Where(s => stacks.Contains(s.Stack)).ToList(),
        Networks = environment.Networks.Where(n => stacks.Contains(n.Stack)).ToList(),
        Volumes = environment.Volumes.Where(v => v.Stacks.Any(stacks.Contains)).ToList(),
    };

    internal static ResolvedEnvironment With(ResolvedEnvironment environment, string service, Func<ResolvedService, ResolvedService> change) =>
        environment with { Services = environment.Services.Select(s => s.Name == service ? change(s) : s).ToList() };

    internal static Desired DesiredOf(ResolvedEnvironment environment, Func<string, string?>? secrets = null) =>
        environment.Stacks.ToDictionary(s => s.Name, s => ContainerSpecs.ForStack(environment, s.Name, Image, secrets ?? Secret, Repository.Root), StringComparer.Ordinal);

    internal static Task<EnvironmentPlan> PlanAsync(ResolvedEnvironment environment, IEngineState engine, Func<string, string?>? secrets = null) =>
        StartPlanner.EnvironmentAsync(environment, DesiredOf(environment, secrets), engine, CancellationToken.None);

    internal static FakeEngineState Converged(ResolvedEnvironment? environment = null) => FakeEngineState.Converged(environment ?? Core, DesiredOf(environment ?? Core));

    private static string Name(string service, int number = 1) => Names.Container(Core.Project, service, number);

    private static ContainerStep Step(EnvironmentPlan plan, string service, int number = 1) => plan.Containers.Single(c => c.Name == Name(service, number));

    [Fact]
    public async Task A_converged_environment_has_every_replica_unchanged_and_no_changes()
    {
        var plan = await PlanAsync(Core, Converged());

        plan.Containers.Should().HaveCount(4).And.OnlyContain(c => c.Action == ContainerAction.Unchanged);
        plan.HasChanges.Should().BeFalse();
        plan.Problems.Should().BeEmpty();
        plan.Pulls.Should().BeEmpty();
        plan.Stacks.Single().Networks.Should().OnlyContain(n => n.Action == ResourceAction.Unchanged);
    }

    [Fact]
    public async Task An_empty_engine_creates_every_replica_network_and_volume_and_pulls_every_image()
    {
        var plan = await PlanAsync(Core, new FakeEngineState());

        plan.Containers.Select(c => (c.Name, c.Action)).Should().BeEquivalentTo(
            new[] { "minio", "postgres", "qdrant", "redis" }.Select(s => (Name(s), ContainerAction.Create)));
        plan.Stacks.Single().Networks.Single().Action.Should().Be(ResourceAction.Create);
        plan.Stacks.Single().Volumes.Select(v => v.Action).Should().HaveCount(4).And.OnlyContain(a => a == ResourceAction.Create);
        plan.Pulls.Select(p => p.Image).Should().BeEquivalentTo(Core.Services.Select(s => Image(s.Image)));
        Step(plan, "redis").Differences.Should().ContainSingle(d => d.Aspect == Aspect.Image && d.Detail!.Contains("pulled first"));
        plan.HasChanges.Should().BeTrue();
    }

    [Fact]
    public async Task A_missing_image_of_a_service_with_a_build_context_is_built_not_pulled()
    {
        var built = With(Core, "redis", s => s with { Build = new ResolvedBuild { Context = "services/redis", ContextPath = "/nonexistent/services/redis" } });

        var plan = await PlanAsync(built, new FakeEngineState());

        plan.Pulls.Single(p => p.Services.Contains("redis")).Built.Should().BeTrue();
        plan.Pulls.Where(p => !p.Services.Contains("redis")).Should().OnlyContain(p => !p.Built);
        Step(plan, "redis").Differences.Should().ContainSingle(d => d.Aspect == Aspect.Image && d.Detail!.EndsWith("not present here: built first", StringComparison.Ordinal));
        var gate = LlmStack.Deploy.DeployReport.Changes(plan, new LlmStack.Deploy.DeployReport.Appliers(_ => _ => Task.FromResult<string?>(null), _ => _ => Task.FromResult<string?>(null), _ => _ => Task.FromResult<string?>(null), _ => _ => Task.FromResult<string?>(null)));
        gate.Changes.Single(c => c.Resource == Image(Core.Service("redis").Image)).Action.Should().Be(LlmStack.ChangeControl.ChangeAction.Build);
        gate.Changes.Where(c => c.Kind == LlmStack.ChangeControl.ChangeKind.Image && c.Resource != Image(Core.Service("redis").Image)).Should().OnlyContain(c => c.Action == LlmStack.ChangeControl.ChangeAction.Pull);
    }

    [Fact]
    public async Task A_changed_variable_recreates_only_that_service_naming_the_variable_added()
    {
        var changed = With(Core, "redis", s => s with { Environment = [.. s.Environment, new("LLMSTACK_CHANGED", "1")] });

        var plan = await PlanAsync(changed, Converged());

        var redis = Step(plan, "redis");
        redis.Action.Should().Be(ContainerAction.Recreate);
        redis.Why.Should().Be("definition changed");
        redis.Differences.Should().ContainSingle().Which.Should().BeEquivalentTo(
            new Difference(Aspect.Environment) { Keys = [new KeyDifference("LLMSTACK_CHANGED", KeyChange.Added)] });
        plan.Containers.Where(c => c != redis).Should().OnlyContain(c => c.Action == ContainerAction.Unchanged);
    }

    [Fact]
    public async Task A_changed_secret_is_named_by_its_variable_only()
    {
        var plan = await PlanAsync(Core, Converged(), name => name == "POSTGRES_PASSWORD" ? "rotated-value-99aa88bb" : Secret(name));

        var postgres = Step(plan, "postgres");
        postgres.Action.Should().Be(ContainerAction.Recreate);
        postgres.Differences.Should().ContainSingle().Which.Keys.Should().Equal(new KeyDifference("POSTGRES_PASSWORD", KeyChange.Changed));
        PlanText.Of(postgres.Differences).Should().Be("environment: POSTGRES_PASSWORD (changed)");
    }

    [Fact]
    public async Task A_removed_variable_and_changed_command_ports_and_resources_are_each_named()
    {
        var changed = With(Core, "minio", s => s with
        {
            Environment = s.Environment.Where(e => e.Key != "MINIO_PROMETHEUS_AUTH_TYPE").ToList(),
            Command = ["server", "/elsewhere"],
            Ports = [],
            Resources = new ResolvedResources { MemoryLimit = 1L << 30 },
        });

        var minio = Step(await PlanAsync(changed, Converged()), "minio");

        minio.Action.Should().Be(ContainerAction.Recreate);
        minio.Differences.Select(d => d.Aspect).Should().BeEquivalentTo([Aspect.Command, Aspect.Environment, Aspect.Ports, Aspect.Resources]);
        minio.Differences.Single(d => d.Aspect == Aspect.Environment).Keys.Should().Equal(new KeyDifference("MINIO_PROMETHEUS_AUTH_TYPE", KeyChange.Removed));
    }

    [Fact]
    public async Task A_changed_mount_label_entrypoint_and_stop_grace_period_are_each_named()
    {
        var changed = With(Core, "qdrant", s => s with
        {
            Volumes = [.. s.Volumes.Select(v => v with { Target = "/data/moved" })],
            Labels = [new("team", "search")],
            StopGracePeriod = TimeSpan.FromSeconds(99),
            Entrypoint = ["/bin/sh", "-c"],
        });

        var qdrant = Step(await PlanAsync(changed, Converged()), "qdrant");

        qdrant.Differences.Select(d => d.Aspect).Should().BeEquivalentTo([Aspect.Entrypoint, Aspect.Labels, Aspect.Mounts, Aspect.Settings]);
    }

    [Fact]
    public async Task A_retagged_image_recreates_naming_the_ids_and_another_image_names_both()
    {
        var engine = Converged();
        var redis = Image("redis:7-alpine");
        engine.Images[redis] = "sha256:" + new string('b', 64);

        var retagged = Step(await PlanAsync(Core, engine), "redis");
        retagged.Action.Should().Be(ContainerAction.Recreate);
        retagged.Why.Should().Be("image changed");
        retagged.Differences.Should().ContainSingle().Which.Detail.Should().Be($"{redis}: id {FakeEngineState.IdOf(redis)[7..19]} → {new string('b', 12)}");

        var other = With(Core, "redis", s => s with { Image = "redis:8-alpine" });
        var before = Converged();
        before.Images[Image("redis:8-alpine")] = "sha256:" + new string('c', 64);
        var moved = Step(await PlanAsync(other, before), "redis");
        moved.Differences.Should().Contain(d => d.Aspect == Aspect.Image && d.Detail == $"{redis} → {Image("redis:8-alpine")}");
        moved.Differences.Should().Contain(d => d.Aspect == Aspect.Labels, "the schema's image is a label");
    }

    [Fact]
    public async Task A_container_made_before_per_aspect_digests_says_so_and_one_with_them_unchanged_is_kept()
    {
        var engine = Converged();
        var old = engine.Container(Name("redis"));
        var labels = old.Labels.Where(l => l.Key != Names.ConfigDigests).ToDictionary(l => l.Key, l => l.Value);
        labels[Names.ConfigHash] = "0123456789abcdef0123456789abcdef";
        engine.Replace(old with { Labels = labels });

        var redis = Step(await PlanAsync(Core, engine), "redis");
        redis.Action.Should().Be(ContainerAction.Recreate);
        redis.Why.Should().Be(StartPlanner.MadeBeforeDigests);
        redis.Differences.Should().BeEmpty();

        var unchanged = engine.Container(Name("postgres"));
        engine.Replace(unchanged with { Labels = unchanged.Labels.Where(l => l.Key != Names.ConfigDigests).ToDictionary(l => l.Key, l => l.Value) });
        Step(await PlanAsync(Core, engine), "postgres").Action.Should().Be(ContainerAction.Unchanged, "the config hash alone decides");
    }

    [Theory]
    [InlineData(ContainerRunState.Exited, ContainerAction.Start, "exited")]
    [InlineData(ContainerRunState.Created, ContainerAction.Start, "created")]
    [InlineData(ContainerRunState.Paused, ContainerAction.Unpause, "paused")]
    public async Task An_unchanged_replica_that_is_not_running_is_started_or_unpaused(ContainerRunState state, ContainerAction action, string why)
    {
        var engine = Converged();
        engine.Replace(engine.Container(Name("qdrant")) with { State = state });

        var qdrant = Step(await PlanAsync(Core, engine), "qdrant");

        qdrant.Action.Should().Be(action);
        qdrant.Why.Should().Be(why);
        (await PlanAsync(Core, engine)).HasChanges.Should().BeTrue();
    }

    [Fact]
    public async Task A_replica_cut_off_its_network_or_on_another_of_ours_is_repaired()
    {
        var environment = Only(Testing, "core", "inference");
        var engine = Converged(environment);
        var litellm = Names.Container(environment.Project, "litellm", 1);
        var core = environment.NetworkOf("core").Name;
        var inference = environment.NetworkOf("inference").Name;
        engine.Replace(engine.Container(litellm) with { Networks = [inference] });
        var postgres = Names.Container(environment.Project, "postgres", 1);
        engine.Replace(engine.Container(postgres) with { Networks = [core, inference, "someone-elses"] });

        var plan = await PlanAsync(environment, engine);

        var cutOff = plan.Containers.Single(c => c.Name == litellm);
        cutOff.Action.Should().Be(ContainerAction.Repair);
        cutOff.Attach.Should().Equal(core);
        cutOff.Why.Should().Be($"not attached to network {core}");
        var extra = plan.Containers.Single(c => c.Name == postgres);
        extra.Action.Should().Be(ContainerAction.Repair);
        extra.Detach.Should().Equal([inference], "a network that is not ours is never touched");
    }

    [Fact]
    public async Task A_service_gone_from_the_stack_and_replicas_beyond_the_count_are_removed_and_new_replicas_created()
    {
        var three = With(Core, "minio", s => s with { Replicas = 3, Ports = [] });
        var engine = Converged(three);
        var gone = FakeEngineState.Made(DesiredOf(Core)["core"]["redis"][0]) with { Id = "id-gone", Name = Name("cache") };
        engine.Containers.Add(gone with { Labels = new Dictionary<string, string>(gone.Labels) { [Names.Service] = "cache" } });

        var one = With(Core, "minio", s => s with { Replicas = 1, Ports = [] });
        var plan = await PlanAsync(one, engine);

        plan.Containers.Where(c => c.Action == ContainerAction.Remove).Select(c => (c.Name, c.Why)).Should().BeEquivalentTo(new[]
        {
            (Name("cache"), "service cache is not in stack core"),
            (Name("minio", 2), "replica 2 beyond the 1 the schema asks for"),
            (Name("minio", 3), "replica 3 beyond the 1 the schema asks for"),
        });
        Step(plan, "minio", 3).Differences.Should().ContainSingle().Which.Detail.Should().Be("3 → 1");
        Step(plan, "minio").Action.Should().Be(ContainerAction.Unchanged);

        var up = await PlanAsync(three, Converged(one));
        Step(up, "minio", 2).Action.Should().Be(ContainerAction.Create);
        Step(up, "minio", 2).Differences.Should().ContainSingle(d => d.Aspect == Aspect.Replicas).Which.Detail.Should().Be("1 → 3");
    }

    [Fact]
    public async Task The_containers_of_a_stack_the_environment_no_longer_has_are_removed_and_its_network_and_volumes_orphaned_not_removed()
    {
        var environment = Only(Testing, "core", "inference");
        var plan = await PlanAsync(Core, Converged(environment));

        plan.Removed.Select(c => c.Name).Should().BeEquivalentTo(environment.Services.Where(s => s.Stack == "inference").Select(s => Names.Container(Core.Project, s.Name, 1)));
        plan.Removed.Should().OnlyContain(c => c.Action == ContainerAction.Remove && c.Why == "stack inference is not in environment testing");
        plan.OrphanedNetworks.Select(n => n.Name).Should().Equal(environment.NetworkOf("inference").Name);
        plan.OrphanedVolumes.Select(v => v.Name).Should().BeEquivalentTo(environment.Volumes.Except(Core.Volumes).Select(v => v.Name));
        plan.HasChanges.Should().BeTrue();
    }

    [Fact]
    public async Task Orphaned_networks_and_volumes_alone_are_no_change()
    {
        var engine = Converged();
        engine.Networks.Add(new NetworkState("net-old", Core.Project + "_legacy", Labels.Network(Core.Project, Core.Name, "legacy"), ["10.83.9.0/24"], 0));
        engine.Volumes.Add(new VolumeState(Core.Project + "_legacy_data", Labels.Volume(Core.Project, Core.Name, "legacy", "legacy_data")));

        var plan = await PlanAsync(Core, engine);

        plan.OrphanedNetworks.Should().ContainSingle().Which.Action.Should().Be(ResourceAction.Orphaned);
        plan.OrphanedVolumes.Should().ContainSingle().Which.Why.Should().Contain("its data stays");
        plan.HasChanges.Should().BeFalse("nothing removes an orphaned network or volume");
    }

    [Fact]
    public async Task Foreign_resources_with_our_names_and_a_subnet_in_use_are_problems_an_unused_one_is_recreated()
    {
        var engine = Converged();
        var network = Core.NetworkOf("core");
        engine.Networks.Clear();
        engine.Networks.Add(new NetworkState("foreign", network.Name, new Dictionary<string, string>(), [network.Subnet.ToString()], 0));
        var volume = Core.Volumes.First();
        engine.Volumes.RemoveAll(v => v.Name == volume.Name);
        engine.Volumes.Add(new VolumeState(volume.Name, new Dictionary<string, string> { ["owner"] = "someone" }));

        var plan = await PlanAsync(Core, engine);
        plan.Problems.Should().BeEquivalentTo(
            $"network '{network.Name}' exists but is not LlmStack's for testing (labels differ): rename or remove it, or change the project name",
            $"volume '{volume.Name}' exists but is not LlmStack's for testing (labels differ): LlmStack will not use data it does not own");
        engine.AskedNetworks.Should().Contain(network.Name, "a foreign network is found by the schema's name");

        engine.Networks.Clear();
        engine.Networks.Add(new NetworkState("old", network.Name, Labels.Network(Core.Project, Core.Name, "core"), ["10.99.1.0/24"], 0));
        engine.Volumes.RemoveAll(v => v.Name == volume.Name);
        var unused = await PlanAsync(Core, engine);
        unused.Problems.Should().BeEmpty();
        unused.Stacks.Single().Networks.Single().Should().Match<NetworkStep>(n => n.Action == ResourceAction.Recreate && n.Why == $"subnet 10.99.1.0/24 differs from the schema's {network.Subnet}");

        engine.Networks[0] = engine.Networks[0] with { Containers = 2 };
        (await PlanAsync(Core, engine)).Problems.Should().ContainSingle().Which.Should().Contain("containers use it: run StopCore, then start again");
    }

    [Fact]
    public async Task Start_of_one_stack_needs_the_networks_of_the_stacks_it_depends_on_an_environment_plan_creates_them_first()
    {
        var environment = Only(Testing, "core", "inference");
        var desired = DesiredOf(environment);

        var alone = await StartPlanner.StackAsync(environment, "inference", desired["inference"], new FakeEngineState(), CancellationToken.None);
        alone.Problems.Should().Equal($"network '{environment.NetworkOf("core").Name}' of stack core does not exist: run StartCore first");

        var whole = await StartPlanner.EnvironmentAsync(environment, desired, new FakeEngineState(), CancellationToken.None);
        whole.Problems.Should().BeEmpty();
        whole.Stacks.Select(s => s.Stack).Should().Equal("core", "inference");
    }

    [Fact]
    public async Task Replicas_are_planned_level_by_level_after_the_removals()
    {
        var environment = Only(Testing, "core", "inference");
        var engine = new FakeEngineState();
        var plan = await PlanAsync(environment, engine);

        var inference = plan.Stacks.Single(s => s.Stack == "inference").Containers;
        inference.Select(c => c.Service).Should().Equal("vllm", "litellm");
        inference.Select(c => c.Level).Should().BeInAscendingOrder();
    }

    [Fact]
    public async Task A_secret_value_is_in_no_step_and_in_no_digest()
    {
        var plan = await PlanAsync(Core, Converged(), name => name == "POSTGRES_PASSWORD" ? "rotated-value-99aa88bb" : Secret(name));

        var json = System.Text.Json.JsonSerializer.Serialize(plan.Containers, LlmStack.Reporting.JsonDefaults.Document);
        json.Should().Contain("POSTGRES_PASSWORD").And.NotContain(PostgresValue).And.NotContain("rotated-value-99aa88bb");
        DesiredOf(Core)["core"]["postgres"][0].Create.Labels[Names.ConfigDigests].Should().NotContain(PostgresValue);
    }
}
