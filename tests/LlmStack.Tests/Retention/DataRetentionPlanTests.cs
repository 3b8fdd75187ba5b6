using LlmStack.ChangeControl;
using LlmStack.Pipeline;
using LlmStack.Retention;

namespace LlmStack.Tests.Retention;

/// <summary>
/// The data-retention plan inside the services, built from fake probes: rows (deleted, archived first, none due, no
/// table), key TTLs, files and model directories, what stays and why, and the problems named at the end.
/// </summary>
public sealed class DataRetentionPlanTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);

    private static readonly string[] Services = ["postgres", "redis", "vllm", "multimodal-worker"];

    private static RetentionConfig Config() => new()
    {
        Environments = { ["testing"] = new EnvironmentRetentionDefinition { DataRetentionDays = 3 } },
        Services =
        {
            ["postgres"] = new ServiceRetentionDefinition
            {
                Tables =
                [
                    new TableRetentionDefinition { Table = "logs", DateColumn = "created_at" },
                    new TableRetentionDefinition { Table = "sessions", DateColumn = "last_seen", Days = 1 },
                    new TableRetentionDefinition { Table = "audit_logs", DateColumn = "at", Days = 90, Strategy = TableRetention.ArchiveThenDelete },
                    new TableRetentionDefinition { Table = "gone", DateColumn = "at" },
                ],
            },
            ["redis"] = new ServiceRetentionDefinition
            {
                ExpireKeys = [new KeyRetentionDefinition { Pattern = "embedding:*", Days = 7, Databases = [0, 3] }, new KeyRetentionDefinition { Pattern = "model:*" }],
            },
            ["vllm"] = new ServiceRetentionDefinition { Models = new ModelRetentionDefinition { Volume = "vllm_cache", Path = "huggingface/hub", Days = 30 } },
            ["multimodal-worker"] = new ServiceRetentionDefinition { Files = [new FileRetentionDefinition { Volume = "multimodal_cache", Days = 14 }] },
            ["n8n"] = new ServiceRetentionDefinition { Files = [new FileRetentionDefinition { Volume = "n8n_data" }] },
        },
    };

    private static Task<DataRetentionPlan> PlanAsync(FakeProbes probes, string? only = null) =>
        DataRetentionPlanner.PlanAsync(Config(), "testing", Services, only, probes, Now, CancellationToken.None);

    private static FakeProbes Probes() => new()
    {
        Rows = { ["logs"] = 12, ["sessions"] = 0, ["audit_logs"] = 3, ["gone"] = null },
        Keys = { [("embedding:*", 0)] = new KeyPass(0, 5, 2), [("model:*", 0)] = new KeyPass(0, 4, 0) },
        Volumes = { ["vllm_cache"] = true, ["multimodal_cache"] = false },
        Models = [new ModelDirectory("models--org--served", Now.AddDays(-90), 1024), new ModelDirectory("models--org--old", Now.AddDays(-40), 2048), new ModelDirectory("models--org--new", Now.AddDays(-1), 1)],
        InUse = ["org/served"],
    };

    [Fact]
    public async Task Rows_due_are_deleted_or_archived_first_and_tables_with_nothing_due_or_none_at_all_are_kept_with_why()
    {
        var plan = await PlanAsync(Probes(), "postgres");

        var rows = plan.Changes.Cast<RowsChange>().ToList();
        rows.Select(r => (r.Resource, r.Action, r.Detail)).Should().Equal(
            ("postgres/multimodal.logs", ChangeAction.Delete, "12 row(s)"),
            ("postgres/multimodal.audit_logs", ChangeAction.ArchiveAndDelete, "3 row(s)"));
        rows[0].Table.Days.Should().Be(3, "the environment's data_retention_days is the default");
        rows[0].Cutoff.Should().Be(Now.AddDays(-3));
        rows[0].Why.Should().Be("created_at older than 3 d (before 2026-11-27 12:00:00Z)");
        rows[1].Why.Should().EndWith("; archived to the backup repository first");
        plan.Kept.Select(k => (k.Kind, k.Resource, k.Why)).Should().Equal(
            (ChangeKind.Table, "postgres/multimodal.sessions", "no row with last_seen older than 1 d (before 2026-11-29 12:00:00Z)"),
            (ChangeKind.Table, "postgres/multimodal.gone", "does not exist: nothing to do"));
        plan.Problems.Should().BeEmpty();
    }

    [Fact]
    public async Task Keys_get_a_TTL_only_where_due_and_a_database_the_server_lacks_is_a_problem()
    {
        var plan = await PlanAsync(Probes(), "redis");

        plan.Changes.Should().ContainSingle().Which.Should().BeOfType<KeysChange>().Which.Should().Match<KeysChange>(k =>
            k.Resource == "redis/db0:embedding:*" && k.Detail == "2 of 5 key(s)" && k.Keys.Days == 7 && k.Database == 0 && k.Action == ChangeAction.Expire);
        plan.Kept.Should().ContainSingle().Which.Should().Be(new KeptResource(ChangeKind.Keys, "redis/db0:model:*", "every matching key has a TTL of 3 d or less") { Detail = "4 key(s)" });
        plan.Problems.Should().Equal("redis/db3:embedding:*: redis has databases 0 to 0 only");
    }

    [Fact]
    public async Task Old_model_directories_go_whole_but_never_the_one_in_use_and_a_missing_volume_is_nothing_to_do()
    {
        var plan = await PlanAsync(Probes());

        plan.Changes.OfType<ModelChange>().Should().ContainSingle().Which.Should().Match<ModelChange>(m =>
            m.Directory == "models--org--old" && m.Resource == "vllm/vllm_cache:huggingface/hub/models--org--old" && m.Cutoff == Now.AddDays(-30) && m.Detail == "2.0 MiB");
        plan.Kept.Should().Contain(new KeptResource(ChangeKind.Model, "vllm/vllm_cache:huggingface/hub/models--org--served", "in use: org/served") { Detail = "1.0 MiB" });
        plan.Kept.Should().Contain(k => k.Resource == "vllm/vllm_cache:huggingface/hub/models--org--new" && k.Why.StartsWith("used ", StringComparison.Ordinal));
        plan.Kept.Should().Contain(new KeptResource(ChangeKind.Files, "multimodal-worker/multimodal_cache:/", "the volume does not exist (its stack has never run): nothing to do"));
        plan.Kept.Should().Contain(new KeptResource(ChangeKind.Service, "n8n", "not part of environment testing: nothing to do"));
    }

    [Fact]
    public async Task A_service_that_cannot_be_reached_is_a_problem_in_one_line_and_the_others_are_still_planned()
    {
        var probes = Probes();
        probes.Unreachable.Add("postgres");

        var plan = await PlanAsync(probes);

        plan.Problems.Should().Equal("postgres: service postgres is not running: start its stack", "redis/db3:embedding:*: redis has databases 0 to 0 only");
        plan.Changes.Should().NotContain(c => c is RowsChange);
        plan.Changes.OfType<KeysChange>().Should().ContainSingle();
        plan.Changes.OfType<ModelChange>().Should().ContainSingle();
    }

    private sealed class FakeProbes : IDataProbes, ITableProbe, IKeyProbe
    {
        public Dictionary<string, long?> Rows { get; } = new();

        public Dictionary<(string Pattern, int Database), KeyPass> Keys { get; } = new();

        public Dictionary<string, bool> Volumes { get; } = new();

        public List<ModelDirectory> Models { get; init; } = [];

        public List<string> InUse { get; init; } = [];

        public HashSet<string> Unreachable { get; } = [];

        public string Database => "multimodal";

        public Task<ITableProbe> TablesAsync(string service, string? database, CancellationToken cancellationToken) => Reach<ITableProbe>(service);

        public Task<IKeyProbe> KeysAsync(string service, CancellationToken cancellationToken) => Reach<IKeyProbe>(service);

        private Task<T> Reach<T>(string service) where T : class =>
            Unreachable.Contains(service) ? throw new PipelineException($"service {service} is not running: start its stack\n(details)") : Task.FromResult((T)(object)this);

        public Task<long?> CountAsync(TableRetention table, DateTimeOffset cutoff, CancellationToken cancellationToken) => Task.FromResult(Rows[table.Table]);

        public Task<int> DatabasesAsync(CancellationToken cancellationToken) => Task.FromResult(1);

        public Task<KeyPass> CountAsync(KeyRetention keys, int database, CancellationToken cancellationToken) => Task.FromResult(Keys[(keys.Pattern, database)]);

        public Task<bool> VolumeExistsAsync(string volume, CancellationToken cancellationToken) => Task.FromResult(Volumes[volume]);

        public Task<(long Files, long Bytes)?> CountFilesAsync(FileRetention files, CancellationToken cancellationToken) => Task.FromResult<(long, long)?>((1, 1));

        public Task<IReadOnlyList<ModelDirectory>?> ModelsAsync(ModelRetention models, CancellationToken cancellationToken) =>
            Task.FromResult<IReadOnlyList<ModelDirectory>?>(Models);

        public Task<IReadOnlyList<string>> ModelsInUseAsync(string service, CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<string>>(InUse);
    }
}
