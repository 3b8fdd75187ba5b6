using System.Text.RegularExpressions;
using LlmStack.Compose;
using LlmStack.Pipeline;

namespace LlmStack.IntegrationTests;

/// <summary>
/// Wipes on the real engine, among foreign look-alikes the old wipes removed (volumes otherproj_postgres_data,
/// latest_test_db, hf_models, an unlabelled volume with one of our exact names, containers other-app-postgres and
/// my-redis-cache, network multimodal-shared): they survive every wipe; the dry run changes nothing.
/// </summary>
[Collection(TestLane.MainCollection)]
[Trait("Category", "Integration")]
public sealed class WipeTests(RunningCore core) : IClassFixture<RunningCore>, IAsyncLifetime
{
    private static readonly string Postgres = TestNames.Container("postgres");

    /// <summary>The look-alike of our vllm_cache: our exact name, none of our labels.</summary>
    private static readonly string UnlabelledVllmCache = TestNames.Volume("vllm_cache");

    private static readonly string[] ForeignVolumes = ["otherproj_postgres_data", "latest_test_db", "hf_models", UnlabelledVllmCache];
    private static readonly string[] ForeignContainers = ["other-app-postgres", "my-redis-cache"];

    private DockerFixture Docker => core.Docker;

    private static async Task<string> DockerCliAsync(params string[] arguments)
    {
        var result = await ProcessRunner.RunCheckedAsync("docker", arguments, "/", null, CancellationToken.None);
        return string.Join('\n', result.Output).Trim();
    }

    public async Task InitializeAsync()
    {
        foreach (var volume in ForeignVolumes)
        {
            await DockerCliAsync("volume", "create", volume);
        }

        await DockerCliAsync("network", "create", "multimodal-shared");
        foreach (var container in ForeignContainers)
        {
            await DockerCliAsync("run", "-d", "--name", container, "--network", "multimodal-shared", "-v", "otherproj_postgres_data:/data", "llmstack-fixture/standin:1");
        }
    }

    public async Task DisposeAsync()
    {
        await ProcessRunner.RunAsync("docker", ["rm", "-f", .. ForeignContainers, "it-intruder", "it-leftover-helper"], "/", null, CancellationToken.None);
        await ProcessRunner.RunAsync("docker", ["volume", "rm", .. ForeignVolumes], "/", null, CancellationToken.None);
        await ProcessRunner.RunAsync("docker", ["network", "rm", "multimodal-shared"], "/", null, CancellationToken.None);
    }

    private TestRun Build => new(Docker.Root);

    /// <summary>Every container, volume and network on the engine, with its state (but the second lane's, which runs beside: <see cref="TestLane.Owns"/>).</summary>
    private static async Task<string> EngineStateAsync() =>
        string.Join('\n', (await DockerCliAsync("ps", "-a", "--format", "{{.Names}} {{.ID}} {{.State}}") + "\n"
            + await DockerCliAsync("volume", "ls", "--format", "{{.Name}}") + "\n"
            + await DockerCliAsync("network", "ls", "--format", "{{.Name}} {{.ID}}")).Split('\n').Where(line => !TestLane.Second.Owns(line.Split(' ')[0])));

    private async Task ForeignSurviveAsync()
    {
        var volumes = await DockerCliAsync("volume", "ls", "--format", "{{.Name}}");
        volumes.Split('\n').Should().Contain(ForeignVolumes);
        var running = await DockerCliAsync("ps", "--format", "{{.Names}}");
        running.Split('\n').Should().Contain(ForeignContainers);
        (await DockerCliAsync("network", "ls", "--format", "{{.Name}}")).Split('\n').Should().Contain("multimodal-shared");
    }

    [Fact]
    public async Task WipeDb_dry_run_changes_nothing_then_empties_the_database_and_brings_it_back_healthy_and_foreign_resources_survive()
    {
        (await Build.RunAsync("StartCore")).ExitCode.Should().Be(0);
        var (exit, output) = await Docker.ExecAsync(Postgres, "psql", "-U", "multimodal", "-d", "multimodal", "-c", "CREATE TABLE it_wipe_marker (id int)");
        exit.Should().Be(0, output);
        var before = await EngineStateAsync();

        var dry = await Build.RunAsync("WipeDb", "--dry-run");
        dry.ExitCode.Should().Be(0, dry.ToString());
        dry.Output.Should().Contain(TestNames.Volume("postgres_data")).And.Contain(TestNames.Volume("qdrant_data")).And.Contain(Postgres)
            .And.NotContain("otherproj_postgres_data").And.NotContain("latest_test_db").And.NotContain("other-app-postgres");
        (await EngineStateAsync()).Should().Be(before, "a dry run changes nothing");

        var wipe = await Build.RunAsync("WipeDb", "--confirm", "testing");
        wipe.ExitCode.Should().Be(0, wipe.ToString());
        (exit, output) = await Docker.ExecAsync(Postgres, "psql", "-U", "multimodal", "-d", "multimodal", "-Atc", "SELECT count(*) FROM pg_tables WHERE tablename = 'it_wipe_marker'");
        exit.Should().Be(0, output);
        output.Trim().Should().Be("0", "the database volume was emptied and initialised again");
        wipe.Output.Should().Contain("Stack core of testing is up", "the stack comes back, health-gated (LlmStack probes itself, so Docker may still say starting)");
        var health = await DockerCliAsync("inspect", "--format", "{{.State.Status}}", Postgres);
        health.Should().Be("running");
        await ForeignSurviveAsync();

        // The unlabelled volume with our exact name: listed, never touched.
        var models = await Build.RunAsync("WipeModels", "--dry-run");
        models.ExitCode.Should().Be(0, models.ToString());
        models.Output.Should().MatchRegex($@"{Regex.Escape(UnlabelledVllmCache)}\s.*keep\s+not LlmStack's for testing");
        File.ReadLines(Path.Combine(Docker.Root, "audit", "audit.jsonl")).Should().Contain(l => l.Contains("\"target\":\"WipeDb\"", StringComparison.Ordinal) && l.Contains(TestNames.Volume("postgres_data"), StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_volume_a_foreign_container_mounts_is_refused_and_named()
    {
        var redisData = TestNames.Volume("redis_data");
        (await Build.RunAsync("StartCore")).ExitCode.Should().Be(0);
        await DockerCliAsync("run", "-d", "--name", "it-intruder", "-v", $"{redisData}:/data", "llmstack-fixture/standin:1");
        var wipe = await Build.RunAsync("WipeCache", "--confirm", "testing");
        wipe.ExitCode.Should().Be(1, wipe.ToString());
        wipe.Output.Should().Contain(redisData).And.Contain("also mounted by it-intruder");
        (await DockerCliAsync("volume", "ls", "--format", "{{.Name}}")).Split('\n').Should().Contain(redisData);
        await DockerCliAsync("rm", "-f", "it-intruder");

        // A helper of ours that a killed run left on the volume is removed before it, so the wipe goes through.
        var volumeBefore = await DockerCliAsync("volume", "inspect", "--format", "{{.CreatedAt}}", redisData);
        await DockerCliAsync("create", "--name", "it-leftover-helper", "--label", $"{Names.ComposeProject}={TestNames.Project()}", "--label", $"{Names.Environment}=testing",
            "--label", $"{Names.Helper}=volume-backup", "-v", $"{redisData}:/data", "llmstack-fixture/standin:1");
        var again = await Build.RunAsync("WipeCache", "--confirm", "testing");
        again.ExitCode.Should().Be(0, again.ToString());
        again.Output.Should().MatchRegex(@"it-leftover-helper\s.*remove\s+helper");
        (await DockerCliAsync("ps", "-a", "--format", "{{.Names}}")).Split('\n').Should().NotContain("it-leftover-helper");
        (await DockerCliAsync("volume", "inspect", "--format", "{{.CreatedAt}}", redisData)).Should().NotBe(volumeBefore, "the volume was removed and redis started on a new one");
    }

    [Fact]
    public async Task WipeEnvironment_removes_everything_of_the_environment_and_nothing_else()
    {
        (await Build.RunAsync("StartCore")).ExitCode.Should().Be(0);
        var wipe = await Build.RunAsync("WipeEnvironment", "--confirm", "testing");
        wipe.ExitCode.Should().Be(0, wipe.ToString());
        wipe.Output.Should().Contain(TestNames.Volume("postgres_data")).And.Contain("secrets").And.NotContain(UnlabelledVllmCache, "an unlabelled volume is not even seen");
        (await Docker.ContainersAsync("testing")).Should().BeEmpty();
        var volumes = (await DockerCliAsync("volume", "ls", "--format", "{{.Name}}")).Split('\n');
        volumes.Should().NotContain([TestNames.Volume("postgres_data"), TestNames.Volume("redis_data")]);
        (await DockerCliAsync("network", "ls", "-q", "--filter", $"label={Names.Environment}=testing")).Should().BeEmpty();
        (await DockerCliAsync("volume", "ls", "-q", "--filter", $"label={Names.Environment}=testing")).Should().BeEmpty();
        await ForeignSurviveAsync();
        File.Exists(Path.Combine(Docker.Root, "secrets", "testing.env")).Should().BeTrue("secrets are kept without --wipe-secrets");
    }

    [Fact]
    public async Task A_wipe_that_asks_for_a_backup_first_removes_nothing_when_the_backup_fails()
    {
        (await Build.RunAsync("StartCore")).ExitCode.Should().Be(0);
        var config = Path.Combine(Path.GetTempPath(), $"llmstack-it-wipe-{Guid.NewGuid():N}.yaml");
        var backup = (await File.ReadAllTextAsync(Path.Combine(Docker.Root, "configs", "backup-strategies.yaml")))
            .Replace("    path: backups", "    path: /proc/llmstack-no-such-place", StringComparison.Ordinal)
            .Replace("    schedule: \"0 4 * * *\"\n    tiers: [local]", "    schedule: \"0 4 * * *\"\n    tiers: [local]\n    backup_before_wipe: true", StringComparison.Ordinal);
        backup.Should().Contain("backup_before_wipe: true");
        await File.WriteAllTextAsync(config, backup);
        try
        {
            var before = await EngineStateAsync();
            var wipe = await Build.RunAsync("WipeEnvironment", "--confirm", "testing", "--backup-config", config);
            wipe.ExitCode.Should().NotBe(0, wipe.ToString());
            wipe.Output.Should().MatchRegex(@"BackupFull\s+Failed").And.MatchRegex(@"WipeEnvironment\s+NotRun");
            (await EngineStateAsync()).Should().Be(before, "nothing is removed when the backup before it fails");

            var production = await Build.RunAsync("WipeProd", "--dry-run", "--backup-config", config);
            production.Output.Should().Contain("WipeProd wipes production, but --environment says testing");

            // WipeProd takes BackupFull first whatever the configuration says; when it fails, the wipe never runs.
            var prod = await (Build with { Environment = null, Arguments = ["--backup-config", config] }).RunAsync("WipeProd", "--confirm", "production");
            prod.ExitCode.Should().NotBe(0, prod.ToString());
            prod.Output.Should().MatchRegex(@"BackupFull\s+Failed").And.MatchRegex(@"WipeProd\s+NotRun");
            (await EngineStateAsync()).Should().Be(before);
        }
        finally
        {
            File.Delete(config);
        }
    }

    [Fact]
    public async Task Reset_comes_back_with_the_same_secrets_and_the_new_database_accepts_them()
    {
        // Reset starts every stack: the unlabelled look-alike of our vllm_cache would (rightly) stop StartInference.
        await DockerCliAsync("volume", "rm", UnlabelledVllmCache);
        try
        {
            await ResetAsync();
        }
        finally
        {
            await Docker.CleanAsync("testing");
        }
    }

    private async Task ResetAsync()
    {
        (await Build.RunAsync("StartCore")).ExitCode.Should().Be(0);
        var secretsFile = Path.Combine(Docker.Root, "secrets", "testing.env");
        var secrets = await File.ReadAllTextAsync(secretsFile);
        var (exit, output) = await Docker.ExecAsync(Postgres, "psql", "-U", "multimodal", "-d", "multimodal", "-c", "CREATE TABLE it_reset_marker (id int)");
        exit.Should().Be(0, output);

        var reset = await Build.RunAsync("Reset", "--confirm", "testing");
        reset.ExitCode.Should().Be(0, reset.ToString());
        reset.Output.Should().Contain("Stack core of testing is up");
        (await File.ReadAllTextAsync(secretsFile)).Should().Be(secrets, "Reset never regenerates secrets");
        (exit, output) = await Docker.ExecAsync(Postgres, "psql", "-U", "multimodal", "-d", "multimodal", "-Atc", "SELECT count(*) FROM pg_tables WHERE tablename = 'it_reset_marker'");
        exit.Should().Be(0, output);
        output.Trim().Should().Be("0", "the database was wiped and initialised again");

        // Over the network (loopback is trusted; the network address needs scram) with the password the container got
        // from the secrets file (read inside, never on a command line).
        const string address = "\"$(hostname -i | cut -d' ' -f1)\"";
        (exit, output) = await Docker.ExecAsync(Postgres, "sh", "-c", $"PGPASSWORD=\"$POSTGRES_PASSWORD\" psql -h {address} -U multimodal -d multimodal -Atc 'SELECT 1'");
        exit.Should().Be(0, output);
        (exit, output) = await Docker.ExecAsync(Postgres, "sh", "-c", $"PGPASSWORD=wrong psql -h {address} -U multimodal -d multimodal -Atc 'SELECT 1'");
        exit.Should().NotBe(0, "a wrong password is refused, so the right one was really checked");
    }

    /// <summary>One environment's containers (id, state), volumes and networks, by its labels.</summary>
    private static async Task<string> EnvironmentStateAsync(string environment) =>
        await DockerCliAsync("ps", "-a", "--filter", $"label={Names.Environment}={environment}", "--format", "{{.Names}} {{.ID}} {{.State}}") + "\n"
        + await DockerCliAsync("volume", "ls", "--filter", $"label={Names.Environment}={environment}", "--format", "{{.Name}}") + "\n"
        + await DockerCliAsync("network", "ls", "--filter", $"label={Names.Environment}={environment}", "--format", "{{.Name}} {{.ID}}");

    [Fact]
    public async Task Wiping_testing_leaves_development_running_beside_it_and_WipeNuclear_takes_every_environment_of_the_project_and_nothing_else()
    {
        var work = Path.Combine(Path.GetTempPath(), $"llmstack-it-nuclear-{Guid.NewGuid():N}");
        Directory.CreateDirectory(work);
        try
        {
            await NuclearAsync(work);
        }
        finally
        {
            await Docker.CleanAsync("development");
            Directory.Delete(work, recursive: true);
        }
    }

    private async Task NuclearAsync(string work)
    {
        var devPostgres = TestNames.Container("postgres", "development");
        var devPostgresData = TestNames.Volume("postgres_data", "development");
        var inDevelopment = Build with { Environment = "development" };

        (await Build.RunAsync("StartCore")).ExitCode.Should().Be(0);
        var devStart = await inDevelopment.RunAsync("StartCore");
        devStart.ExitCode.Should().Be(0, devStart.ToString());
        var (exit, output) = await Docker.ExecAsync(devPostgres, "psql", "-U", "multimodal", "-d", "multimodal", "-c", "CREATE TABLE it_dev_marker (id int)");
        exit.Should().Be(0, output);
        var development = await EnvironmentStateAsync("development");
        development.Should().Contain(devPostgres).And.Contain(devPostgresData);

        // The testing environment's wipe: development, side by side on the same engine, is untouched.
        var testing = await Build.RunAsync("WipeTesting", "--confirm", "testing");
        testing.ExitCode.Should().Be(0, testing.ToString());
        testing.Output.Should().NotContain(TestNames.Project("development"));
        (await Docker.ContainersAsync("testing")).Should().BeEmpty();
        (await EnvironmentStateAsync("development")).Should().Be(development, "a testing wipe changes nothing of development");
        (exit, output) = await Docker.ExecAsync(devPostgres, "psql", "-U", "multimodal", "-d", "multimodal", "-Atc", "SELECT count(*) FROM pg_tables WHERE tablename = 'it_dev_marker'");
        output.Trim().Should().Be("1", "development's database still has its data");
        await ForeignSurviveAsync();

        // Development's wipes take a backup first (backup_before_wipe), into a tier of this test.
        (await Build.RunAsync("StartCore")).ExitCode.Should().Be(0);
        var config = Path.Combine(work, "backup-strategies.yaml");
        var backup = (await File.ReadAllTextAsync(Path.Combine(Docker.Root, "configs", "backup-strategies.yaml")))
            .Replace("    path: backups", $"    path: {Path.Combine(work, "tier")}", StringComparison.Ordinal)
            .Replace("  development:\n    schedule: \"0 2 * * *\"\n    tiers: [local]", "  development:\n    schedule: \"0 2 * * *\"\n    tiers: [local]\n    backup_before_wipe: true", StringComparison.Ordinal);
        backup.Should().Contain("backup_before_wipe: true");
        await File.WriteAllTextAsync(config, backup);
        var everyEnvironment = Build with { Environment = null, Arguments = ["--backup-config", config] };

        var before = await EngineStateAsync();
        var wrong = await everyEnvironment.RunAsync("WipeNuclear", "--confirm", "testing");
        wrong.ExitCode.Should().NotBe(0, wrong.ToString());
        wrong.Output.Should().Contain($"--confirm testing is not \"wipe {TestNames.ProjectName} everywhere\"");
        var scoped = await everyEnvironment.RunAsync("WipeNuclear", "--environment", "testing", "--dry-run");
        scoped.ExitCode.Should().NotBe(0, scoped.ToString());
        scoped.Output.Should().Contain("WipeNuclear wipes every environment of the project: drop --environment");

        var dry = await everyEnvironment.RunAsync("WipeNuclear", "--dry-run");
        dry.ExitCode.Should().Be(0, dry.ToString());
        dry.Output.Should().Contain(devPostgresData).And.Contain(TestNames.Volume("postgres_data")).And.Contain(devPostgres)
            .And.NotContain("otherproj_postgres_data").And.NotContain("hf_models").And.NotContain("other-app-postgres").And.NotContain(UnlabelledVllmCache);
        dry.Output.Should().MatchRegex(@"BackupBeforeNuclear\s+Skipped", "a dry run takes no backup");
        (await EngineStateAsync()).Should().Be(before, "neither a wrong phrase nor a dry run changes anything");

        // Skipping the backup on purpose: the confirmation says how old the newest backup of development is.
        var first = await inDevelopment.RunAsync("BackupFull", "--backup-config", config);
        first.ExitCode.Should().Be(0, first.ToString());
        var skipped = await everyEnvironment.RunAsync("WipeNuclear", "--dry-run", "--skip", "BackupBeforeNuclear");
        skipped.ExitCode.Should().Be(0, skipped.ToString());
        skipped.Output.Should().MatchRegex(@"! BackupBeforeNuclear skipped \(--skip\): the newest backup set of development is \S+, \d+[sm]\S* old \(trigger BackupFull, tier local\)")
            .And.NotContain("backup set of testing", "testing's wipe takes no backup");

        var nuclear = await everyEnvironment.RunAsync("WipeNuclear", "--confirm", $"wipe {TestNames.ProjectName} everywhere");
        nuclear.ExitCode.Should().Be(0, nuclear.ToString());
        nuclear.Output.Should().Contain("development: backing up before the wipe").And.Contain("testing: its wipe takes no backup first");
        foreach (var environment in new[] { "development", "testing" })
        {
            (await EnvironmentStateAsync(environment)).Trim().Should().BeEmpty($"nothing of {environment} is left");
        }

        await ForeignSurviveAsync();
        (await DockerCliAsync("volume", "ls", "--format", "{{.Name}}")).Split('\n').Should().Contain(UnlabelledVllmCache, "an unlabelled volume with our name is not ours");
        File.Exists(Path.Combine(Docker.Root, "secrets", "development.env")).Should().BeTrue("secrets are kept without --wipe-secrets");
        var sets = await inDevelopment.RunAsync("BackupList", "--json", "--backup-config", config);
        sets.ExitCode.Should().Be(0, sets.ToString());
        sets.Output.Should().Contain("\"trigger\": \"pre-wipe\"", "development was backed up before the wipe, as a safety copy");
        File.ReadLines(Path.Combine(Docker.Root, "audit", "audit.jsonl")).Should().Contain(l =>
            l.Contains("\"target\":\"WipeNuclear\"", StringComparison.Ordinal) && l.Contains("\"environment\":\"development\"", StringComparison.Ordinal) && l.Contains(devPostgresData, StringComparison.Ordinal));
    }
}
