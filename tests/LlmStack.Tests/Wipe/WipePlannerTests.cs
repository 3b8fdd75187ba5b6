using LlmStack.ChangeControl;
using LlmStack.Compose;
using LlmStack.Schema;
using LlmStack.Wipe;

namespace LlmStack.Tests.Wipe;

/// <summary>
/// The wipes' plans over a fake inventory and the schema's testing environment: what goes (in order), what is kept and
/// why, what is refused — selected by labels, never by names.
/// </summary>
public sealed class WipePlannerTests
{
    private static readonly ResolvedEnvironment Testing = new SchemaFile(Repository.Root, "schemas/compose-schema.yaml").Resolve("testing");

    private static string Volume(string key) => Testing.Volumes.Single(v => v.Key == key).Name;

    private static Dictionary<string, string> Ours(string? service = null, string? stack = null)
    {
        var labels = new Dictionary<string, string> { [Names.ComposeProject] = Testing.Project, [Names.Environment] = Testing.Name };
        if (service is not null)
        {
            labels[Names.Service] = service;
        }

        if ((stack ?? Testing.Services.SingleOrDefault(s => s.Name == service)?.Stack) is { } owner)
        {
            labels[Names.Stack] = owner;
        }

        return labels;
    }

    private static WipeContainer Service(string service, bool running = true) =>
        new("id-" + service, $"{Testing.Project}-{service}-1", running ? "running" : "exited", running, Ours(service));

    private static readonly WipeContainer Helper = new("id-helper", $"{Testing.Project}-helper-1", "exited", false, Ours());

    private static readonly WipeContainer Foreign = new("id-foreign", "other-app-postgres", "running", true, new Dictionary<string, string> { [Names.ComposeProject] = "otherproj" });

    [Fact]
    public async Task A_stack_wipe_removes_its_containers_dependents_first_and_our_leftover_helpers_then_the_volumes_only_it_mounts_then_its_network()
    {
        // allure_history also mounted by another stack: an environment wipe removes it, a stack wipe keeps it.
        var environment = Testing with
        {
            Volumes = Testing.Volumes.Select(v => v.Key == "allure_history" ? v with { Stacks = ["testing", "monitoring"] } : v).ToList(),
        };
        var inventory = new FakeInventory
        {
            Stacks = { ["testing"] = [Service("allure-results"), Service("allure-cli", running: false)] },
            Volumes = { [Volume("allure_results")] = Ours() },
            Mounters = { [Volume("allure_results")] = [Service("allure-results"), Helper] },
            Sizes = { [Volume("allure_results")] = 3 << 20 },
            Networks = [new WipeNetwork("n1", $"{Testing.Project}_testing", "10.81.5.0/24", Ours(stack: "testing")),
                new WipeNetwork("n2", "multimodal-shared", null, new Dictionary<string, string>())],
        };

        var plan = await WipePlanner.StackAsync(environment, "testing", inventory, CancellationToken.None);

        plan.Summary.Should().Be("wipe stack testing (its containers, volumes and network)");
        plan.Containers.Select(c => c.Name).Should().Equal(Helper.Name, $"{Testing.Project}-allure-cli-1", $"{Testing.Project}-allure-results-1");
        plan.Containers.Select(WipePlan.Why).Should().Equal("helper (exited)", "service allure-cli (exited)", "service allure-results (running)");
        plan.Volumes.Should().Equal(new VolumeRemoval(Volume("allure_results"), "holds test_results", 3 << 20));
        plan.Networks.Select(n => (n.Name, WipePlan.Why(n))).Should().Equal(($"{Testing.Project}_testing", "testing network"));
        plan.Kept.Should().Equal(new KeptResource(ChangeKind.Volume, Volume("allure_history"), "also mounted by stack monitoring: an environment wipe removes it"));
        inventory.SizesAsked.Should().ContainSingle("one helper measures every volume that goes").Which.Should().Equal(Volume("allure_results"));
        plan.Refusals.Should().BeEmpty();
    }

    [Fact]
    public async Task A_data_wipe_takes_the_volumes_that_hold_the_type_and_never_one_that_is_not_ours_declared_unwipeable_or_mounted_by_a_stranger()
    {
        var environment = Testing with
        {
            Volumes = Testing.Volumes.Select(v => v.Key == "redis_data" ? v with { Wipeable = false } : v).ToList(),
        };
        var inventory = new FakeInventory
        {
            Volumes =
            {
                [Volume("redis_data")] = Ours(),
                [Volume("multimodal_cache")] = new Dictionary<string, string>(), // our exact name, but unlabelled
                [Volume("n8n_monitoring_cache")] = Ours(),
            },
            Mounters =
            {
                [Volume("redis_data")] = [Service("redis")],
                [Volume("n8n_monitoring_cache")] = [Service("n8n-monitoring"), Foreign],
            },
        };

        var plan = await WipePlanner.DataAsync(environment, DataTypes.Cache, inventory, CancellationToken.None);

        plan.Summary.Should().Be("wipe the cache volumes (redis_data, multimodal_cache, n8n_monitoring_cache), then start what was running again");
        plan.Volumes.Should().BeEmpty();
        plan.Kept.Select(k => (k.Resource, k.Why)).Should().Equal(
            (Volume("redis_data"), "declared wipe: false in the schema"),
            (Volume("multimodal_cache"), "not LlmStack's for testing (labels differ): never touched"),
            (Volume("n8n_monitoring_cache"), "also mounted by other-app-postgres, which is not LlmStack's for testing: refused"));
        plan.Refusals.Should().Equal($"volume {Volume("n8n_monitoring_cache")} also mounted by other-app-postgres, which is not LlmStack's for testing: refused");
        plan.Containers.Select(c => c.Name).Should().BeEquivalentTo([$"{Testing.Project}-n8n-monitoring-1", $"{Testing.Project}-redis-1"], "our containers that mount them go (a stranger's never)");
        plan.RunningStacks.Should().BeEquivalentTo(["ui", "core"], "what was running is started again");
        inventory.SizesAsked.Should().BeEmpty("nothing goes, nothing is measured");
    }

    [Fact]
    public async Task A_data_type_no_volume_holds_is_said_and_nothing_goes()
    {
        var plan = await WipePlanner.DataAsync(Testing with { Volumes = Testing.Volumes.Where(v => v.Holds != DataTypes.Logs).ToList() }, DataTypes.Logs, new FakeInventory(), CancellationToken.None);

        plan.Containers.Should().BeEmpty();
        plan.Kept.Should().Equal(new KeptResource(ChangeKind.Volume, "-", "no volume of environment testing holds logs (schema: volumes.<name>.holds)"));
        plan.Summary.Should().Be("wipe the logs volumes (none), then start what was running again");
    }

    [Fact]
    public async Task An_environment_wipe_takes_everything_with_its_labels_also_what_the_schema_no_longer_names_and_keeps_the_secrets_unless_asked()
    {
        var inventory = new FakeInventory
        {
            All = [Service("postgres"), Helper, Service("nginx")],
            Listed = [Volume("postgres_data"), $"{Testing.Project}_old_data"],
            Volumes = { [Volume("postgres_data")] = Ours(), [$"{Testing.Project}_old_data"] = Ours() },
            Networks = [new WipeNetwork("n1", $"{Testing.Project}_core", null, Ours())],
        };

        var kept = await WipePlanner.EnvironmentAsync(Testing, inventory, "secrets/testing.env", secretsExist: true, wipeSecrets: false, CancellationToken.None);
        kept.Containers.Select(c => c.Name).Should().Equal(Helper.Name, $"{Testing.Project}-nginx-1", $"{Testing.Project}-postgres-1");
        kept.Volumes.Select(v => (v.Name, v.Why, v.Size)).Should().Equal((Volume("postgres_data"), "holds db", null), ($"{Testing.Project}_old_data", "ours, no longer in the schema", null));
        kept.Networks.Select(n => WipePlan.Why(n)).Should().Equal("environment network");
        kept.Secrets.Should().BeNull();
        kept.Kept.Should().Equal(new KeptResource(ChangeKind.Secrets, "secrets/testing.env", "kept (--wipe-secrets removes them): a new start initialises its databases with the same passwords"));

        var wiped = await WipePlanner.EnvironmentAsync(Testing, inventory, "secrets/testing.env", secretsExist: true, wipeSecrets: true, CancellationToken.None);
        wiped.Secrets.Should().Be("secrets/testing.env");
        wiped.Kept.Should().BeEmpty();
        (await WipePlanner.EnvironmentAsync(Testing, inventory, "secrets/testing.env", secretsExist: false, wipeSecrets: true, CancellationToken.None)).Secrets.Should().BeNull();
    }

    private static WipeService SwarmService(string service, ulong replicas = 1, params string[] secrets) =>
        new("svc-" + service, $"{Testing.Project}_{service}", Ours(service), replicas, secrets);

    /// <summary>A task's container of a swarm service: our labels (the service's task template) and Docker's service id.</summary>
    private static WipeContainer TaskOf(string service, int slot = 1)
    {
        var labels = Ours(service, service == "echo" ? "core" : null);
        labels[Names.SwarmServiceId] = "svc-" + service;
        return new($"task-{service}-{slot}", $"{Testing.Project}_{service}.{slot}.x{slot}", "running", true, labels);
    }

    private static WipeSecret SwarmSecret(string id, string secret) =>
        new(id, $"{Testing.Project}_{secret}_{id}", new Dictionary<string, string>(Ours()) { [Names.Secret] = secret });

    [Fact]
    public async Task On_a_swarm_an_environment_wipe_removes_the_services_first_with_their_tasks_and_then_volumes_networks_and_our_swarm_secrets_never_a_strangers()
    {
        var foreignService = new WipeService("svc-foreign", "someone-elses", new Dictionary<string, string> { [Names.ComposeProject] = "otherproj" }, 1, []);
        var foreignSecret = new WipeSecret("sec-foreign", "someone-elses-secret", new Dictionary<string, string>());
        var inventory = new FakeInventory
        {
            All = [TaskOf("postgres"), TaskOf("echo", 1), TaskOf("echo", 2), Helper],
            SwarmServices = [SwarmService("postgres", 1, "sec-1"), SwarmService("redis", 0), foreignService],
            Secrets = [SwarmSecret("sec-1", "POSTGRES_PASSWORD"), SwarmSecret("sec-old", "POSTGRES_PASSWORD"), foreignSecret],
            Listed = [Volume("postgres_data")],
            Volumes = { [Volume("postgres_data")] = Ours() },
            Mounters = { [Volume("postgres_data")] = [TaskOf("postgres")] },
            Networks = [new WipeNetwork("n1", $"{Testing.Project}_core", "10.83.1.0/24", Ours(stack: "core"))],
        };

        var plan = await WipePlanner.EnvironmentAsync(Testing, inventory, "secrets/testing.env", secretsExist: false, wipeSecrets: false, CancellationToken.None);

        plan.Services.Select(s => s.Name).Should().Equal([$"{Testing.Project}_redis", $"{Testing.Project}_postgres"], "dependents first (redis after postgres in the service order), never a service without our labels");
        plan.Services.Select(WipePlan.Why).Should().Contain("swarm service postgres (1 replica(s)); its tasks' containers go with it");
        plan.Containers.Select(c => c.Name).Should().Equal([Helper.Name, $"{Testing.Project}_echo.1.x1", $"{Testing.Project}_echo.2.x2"],
            "a task whose service is not listed (none of ours) is removed as a container; the postgres task goes with its service");
        plan.Volumes.Select(v => v.Name).Should().Equal(Volume("postgres_data"));
        plan.Refusals.Should().BeEmpty("the task's container that mounts the volume is ours");
        plan.SwarmSecrets.Select(s => s.Id).Should().Equal(["sec-1", "sec-old"], "every Swarm secret of ours (ordered by name), never another's");
        plan.SwarmSecrets.Select(WipePlan.Why).Should().AllBe("Swarm secret of POSTGRES_PASSWORD (the secrets file keeps the value)");
        plan.RunningStacks.Should().BeEquivalentTo(["core"]);
    }

    [Fact]
    public async Task On_a_swarm_a_stack_wipe_removes_its_and_its_dependents_services_and_only_the_swarm_secrets_no_remaining_service_uses()
    {
        var inventory = new FakeInventory
        {
            Stacks = { ["core"] = [TaskOf("postgres")] },
            SwarmServices = [SwarmService("postgres", 1, "sec-pg"), SwarmService("grafana", 1, "sec-shared"), SwarmService("n8n", 1, "sec-shared")],
            Secrets = [SwarmSecret("sec-pg", "POSTGRES_PASSWORD"), SwarmSecret("sec-shared", "N8N_PASSWORD"), SwarmSecret("sec-unused", "OLD")],
            Volumes = { [Volume("postgres_data")] = Ours() },
            Mounters = { [Volume("postgres_data")] = [TaskOf("postgres")] },
        };

        var plan = await WipePlanner.StackAsync(Testing, "monitoring", inventory, CancellationToken.None);
        plan.Services.Select(s => s.Service).Should().Equal("grafana");
        plan.SwarmSecrets.Select(s => s.Id).Should().Equal(["sec-unused"], "n8n (stack ui) still uses the shared one");

        var core = await WipePlanner.StackAsync(Testing, "core", inventory, CancellationToken.None);
        core.Services.Select(s => s.Service).Should().Contain(["postgres", "grafana", "n8n"], "the stacks that depend on core go too");
        core.Services.Select(s => s.Service).Last().Should().Be("postgres", "what the others depend on goes last");
        core.Containers.Should().BeEmpty("the task's container goes with its service");
        core.SwarmSecrets.Select(s => s.Id).Should().BeEquivalentTo(["sec-pg", "sec-shared", "sec-unused"]);
        core.Summary.Should().StartWith("wipe stack core (its services and those of ");
    }

    [Fact]
    public async Task On_a_swarm_a_data_wipe_removes_the_services_whose_tasks_mount_the_volumes_and_starts_their_stacks_again()
    {
        var inventory = new FakeInventory
        {
            SwarmServices = [SwarmService("redis", 1), SwarmService("postgres", 1)],
            Volumes = { [Volume("postgres_data")] = Ours() },
            Mounters = { [Volume("postgres_data")] = [TaskOf("postgres")] },
        };

        var plan = await WipePlanner.DataAsync(Testing, DataTypes.Db, inventory, CancellationToken.None);
        plan.Services.Select(s => s.Service).Should().Equal("postgres");
        plan.Containers.Should().BeEmpty();
        plan.Volumes.Select(v => v.Name).Should().Contain(Volume("postgres_data"));
        plan.SwarmSecrets.Should().BeEmpty("the services started again use them");
        plan.RunningStacks.Should().Equal("core");
    }

    [Fact]
    public async Task On_a_swarm_a_volume_whose_service_runs_on_another_node_is_refused_naming_the_node_in_every_wipe_that_would_take_it()
    {
        // postgres runs on the worker: its node-local volume there is out of this engine's reach. redis runs here, and the
        // echo service runs on the worker with no volume.
        var inventory = new FakeInventory
        {
            SwarmServices =
            [
                SwarmService("postgres", 1) with { Volumes = [Volume("postgres_data")], OtherNodes = ["gpu-worker-1"] },
                SwarmService("redis", 1) with { Volumes = [Volume("redis_data")] },
                SwarmService("echo", 3) with { OtherNodes = ["gpu-worker-1"] },
            ],
            Listed = [Volume("redis_data")],
            Volumes = { [Volume("redis_data")] = Ours() },
            Mounters = { [Volume("redis_data")] = [TaskOf("redis")] },
        };
        var refusal = $"volume {Volume("postgres_data")} on swarm node gpu-worker-1, where service postgres's tasks run or ran: out of this engine's reach; "
                      + "wipe it with --docker-host set to gpu-worker-1's engine";

        var data = await WipePlanner.DataAsync(Testing, DataTypes.Db, inventory, CancellationToken.None);
        data.Refusals.Should().Equal(refusal);
        data.Kept.Should().Contain(k => k.Resource == Volume("postgres_data") && k.Why.StartsWith("on swarm node gpu-worker-1", StringComparison.Ordinal));
        data.Volumes.Should().BeEmpty("no copy of it is on this engine");

        var environment = await WipePlanner.EnvironmentAsync(Testing, inventory, "secrets/testing.env", secretsExist: false, wipeSecrets: false, CancellationToken.None);
        environment.Refusals.Should().Equal(refusal);
        environment.Volumes.Select(v => v.Name).Should().Equal([Volume("redis_data")], "the copy on this engine is wiped as usual");
        environment.Services.Select(s => s.Service).Should().Contain("postgres", "the service itself is the swarm's, removed from any manager");

        (await WipePlanner.StackAsync(Testing, "core", inventory, CancellationToken.None)).Refusals.Should().Equal(refusal);
        (await WipePlanner.DataAsync(Testing, DataTypes.Cache, inventory, CancellationToken.None)).Refusals.Should().BeEmpty("redis runs here; postgres holds no cache");
        (await WipePlanner.StackAsync(Testing, "monitoring", inventory, CancellationToken.None)).Refusals.Should().BeEmpty("the stack mounts no volume of postgres");
    }

    private sealed class FakeInventory : IWipeInventory
    {
        public List<WipeService> SwarmServices { get; init; } = [];

        public List<WipeSecret> Secrets { get; init; } = [];

        public Task<IReadOnlyList<WipeService>> ServicesAsync(CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<WipeService>>(SwarmServices);

        public Task<IReadOnlyList<WipeSecret>> SwarmSecretsAsync(CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<WipeSecret>>(Secrets);

        public Dictionary<string, List<WipeContainer>> Stacks { get; } = new();

        public List<WipeContainer> All { get; init; } = [];

        /// <summary>The volumes with the environment's labels, as Docker's filtered list gives them.</summary>
        public List<string> Listed { get; init; } = [];

        /// <summary>Every volume that exists, with its labels.</summary>
        public Dictionary<string, Dictionary<string, string>> Volumes { get; } = new();

        public Dictionary<string, List<WipeContainer>> Mounters { get; } = new();

        public List<WipeNetwork> Networks { get; init; } = [];

        public Dictionary<string, long> Sizes { get; } = new();

        public List<List<string>> SizesAsked { get; } = [];

        public Task<IReadOnlyList<WipeContainer>> ServiceContainersAsync(string stack, CancellationToken cancellationToken) =>
            Task.FromResult<IReadOnlyList<WipeContainer>>(Stacks.GetValueOrDefault(stack) ?? []);

        public Task<IReadOnlyList<WipeContainer>> ContainersAsync(CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<WipeContainer>>(All);

        public Task<IReadOnlyList<string>> VolumesAsync(CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<string>>(Listed);

        public Task<WipeVolume?> VolumeAsync(string name, CancellationToken cancellationToken) =>
            Task.FromResult(Volumes.TryGetValue(name, out var labels) ? new WipeVolume(name, labels) : null);

        public Task<IReadOnlyList<WipeContainer>> MountersAsync(string volume, CancellationToken cancellationToken) =>
            Task.FromResult<IReadOnlyList<WipeContainer>>(Mounters.GetValueOrDefault(volume) ?? []);

        public Task<IReadOnlyList<WipeNetwork>> NetworksAsync(string? stack, CancellationToken cancellationToken) =>
            Task.FromResult<IReadOnlyList<WipeNetwork>>(Networks.Where(n => stack is null || n.Stack == stack || n.Labels is not { Count: > 0 }).ToList());

        public Task<IReadOnlyDictionary<string, long>> SizesAsync(IReadOnlyList<string> volumes, CancellationToken cancellationToken)
        {
            if (volumes.Count > 0)
            {
                SizesAsked.Add([.. volumes]);
            }

            return Task.FromResult<IReadOnlyDictionary<string, long>>(volumes.Where(Sizes.ContainsKey).ToDictionary(v => v, v => Sizes[v]));
        }
    }
}
