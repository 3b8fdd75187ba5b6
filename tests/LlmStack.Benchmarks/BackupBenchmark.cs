using System.Diagnostics;
using System.Globalization;
using Docker.DotNet.Models;
using LlmStack.Backup;
using LlmStack.Engine;
using LlmStack.Lifecycle;
using LlmStack.Pipeline;
using LlmStack.Schema;
using LlmStack.Security;
using LlmStack.Sessions;
using Serilog;

namespace LlmStack.Benchmarks;

/// <summary>One figure of the backup benchmark.</summary>
public sealed record BackupFigure(string What, double Seconds, long? Bytes, long? PeakRss)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{What}: {Seconds:0.00} s{(Bytes is { } b ? $", {BackupProgress.Size(b)}" : string.Empty)}{(PeakRss is { } r ? $", peak RSS {BackupProgress.Size(r)}" : string.Empty)}");
}

/// <summary>
/// Backup figures for the README, never assertions: a volume of mixed data (40 % random files, 60 % JSON-log-like
/// text) backed up by LlmStack (restic) against <c>tar | zstd -T0 -3 | openssl enc -aes-256-ctr</c> and <c>tar -czf</c>,
/// first and unchanged runs, the repository after seven runs with 1 % of the files changed each time, peak RSS of
/// LlmStack and restic; and a postgres database of about a gigabyte against <c>pg_dump -Fc</c> alone. Runs in the
/// benchmark project (<c>llmstack-benchmark</c>), never a real environment.
/// </summary>
public static class BackupBenchmark
{
    public static async Task<IReadOnlyList<BackupFigure>> RunAsync(
        SchemaFile schema, string imageMapPath, string secretsDirectory, int volumeMiB, int databaseMiB, SecretMasker masker, ILogger log, CancellationToken cancellationToken)
    {
        using var bed = await StartBenchmark.BedAsync(schema, imageMapPath, secretsDirectory, "backup", masker, log, cancellationToken);
        var (engine, work) = (bed.Engine, bed.Work);
        var figures = new List<BackupFigure>();
        try
        {
            await bed.StartCoreAsync(cancellationToken);
            var context = await ContextAsync(bed, log);
            var volume = context.Plan.Members.Single(m => m.Volume == "qdrant_data");
            var mountpoint = (await engine.Client.Volumes.InspectAsync(volume.VolumeName!, cancellationToken)).Mountpoint;

            log.Information("Filling {Volume} with {Size} MiB of mixed data", volume.VolumeName, volumeMiB);
            await FillAsync(context, volume.VolumeName!, volumeMiB, cancellationToken);
            var runner = new BackupRunner(context);

            figures.Add(await MeasureAsync("LlmStack volume backup (restic), first run", () => runner.RunAsync(BackupTrigger.Of("benchmark"), [volume], cancellationToken), context, cancellationToken));
            figures.Add(await MeasureAsync("LlmStack volume backup (restic), unchanged second run", () => runner.RunAsync(BackupTrigger.Of("benchmark"), [volume], cancellationToken), context, cancellationToken));
            var key = Path.Combine(work, "openssl.key");
            await File.WriteAllTextAsync(key, Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)), cancellationToken);
            var zst = Path.Combine(work, "volume.tar.zst.enc");
            figures.Add(await ShellAsync("tar | zstd -T0 -3 | openssl enc -aes-256-ctr",
                $"tar -C '{mountpoint}' -cf - . | zstd -q -T0 -3 | openssl enc -aes-256-ctr -pbkdf2 -pass file:'{key}' > '{zst}'", zst, work, cancellationToken));
            var tgz = Path.Combine(work, "volume.tgz");
            figures.Add(await ShellAsync("tar -czf (what the old scripts would do)", $"tar -czf '{tgz}' -C '{mountpoint}' .", tgz, work, cancellationToken));

            for (var day = 2; day <= 7; day++)
            {
                await ChangeOnePercentAsync(context, volume.VolumeName!, day, cancellationToken);
                await runner.RunAsync(BackupTrigger.Of("benchmark"), [volume], cancellationToken);
            }

            var repositorySize = await context.Repository.SizeAsync(cancellationToken);
            figures.Add(new BackupFigure("restic repository after 7 runs with 1 % of the files changed each", 0, repositorySize, null));
            figures.Add(new BackupFigure("7 × the tar.zst archive (one per run)", 0, 7 * new FileInfo(zst).Length, null));
            File.Delete(zst);
            File.Delete(tgz);

            log.Information("Filling postgres with a database of about {Size} MiB", databaseMiB);
            await FillDatabaseAsync(context, databaseMiB, cancellationToken);
            var postgres = context.Plan.Members.Single(m => m.Service == "postgres");
            figures.Add(await MeasureAsync("LlmStack postgres backup (pg_dump -Fc per database + globals → restic)", () => runner.RunAsync(BackupTrigger.Of("benchmark"), [postgres], cancellationToken), context, cancellationToken));
            var (id, _) = await context.RunningContainerAsync("postgres", cancellationToken);
            var stopwatch = Stopwatch.StartNew();
            var dump = await Exec.RunAsync(engine, id, ["sh", "-c", "pg_dump -U multimodal -Fc -d multimodal | wc -c"], cancellationToken);
            figures.Add(new BackupFigure("pg_dump -Fc alone (to nothing)", stopwatch.Elapsed.TotalSeconds, long.Parse(dump.Output.Trim(), CultureInfo.InvariantCulture), null));
        }
        finally
        {
            await StartBenchmark.CleanAsync(engine, CancellationToken.None);
        }

        foreach (var figure in figures)
        {
            log.Information("{Figure}", figure.ToString());
        }

        return figures;
    }

    /// <summary>
    /// A backup context for the benchmark project: a local first tier under <paramref name="work"/>, then the
    /// <paramref name="others"/> tiers (their credentials files in <paramref name="secretsDirectory"/>); a throwaway key.
    /// </summary>
    internal static async Task<BackupContext> ContextAsync(
        BenchmarkBed bed, ILogger log, IReadOnlyDictionary<string, TierDefinition>? others = null, string secretsDirectory = "secrets", SecretMasker? masker = null, BackupKey? key = null)
    {
        var (schema, environment, engine, secrets, work, map) = (bed.Schema, bed.Environment, bed.Engine, bed.Secrets, bed.Work, bed.Map);
        var root = schema.RootDirectory;
        var config = BackupConfigLoader.LoadValid(Path.Combine(root, BackupConfigLoader.DefaultPath), BackupConfigLoader.DefaultPath, schema.Load());
        config.Tiers["benchmark"] = new TierDefinition { Kind = "local", Path = Path.Combine(work, "repositories") };
        foreach (var (name, tier) in others ?? new Dictionary<string, TierDefinition>())
        {
            config.Tiers[name] = tier;
        }

        config.Environments[StartBenchmark.EnvironmentName] = new EnvironmentBackupDefinition { Schedule = "0 0 * * *", Tiers = ["benchmark", .. (others?.Keys ?? [])] };
        var plan = BackupPlanner.Plan(config, environment, StatePaths.Of(root, null, secretsDirectory));
        key ??= new BackupKey(null, Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24)), "benchmark key");
        ResticRepository Open(ResolvedTier tier) => new(
            tier, StartBenchmark.EnvironmentName, key, Path.Combine(work, "restic-cache"), log, BackupKeys.TierCredentials(tier, masker ?? new SecretMasker()));
        var repository = Open(plan.Primary);
        await repository.OpenAsync(CancellationToken.None);
        return new BackupContext(
            engine, environment, plan, repository, new BackupTiers(repository, plan.Tiers.Skip(1).ToList(), Open, Path.Combine(work, "manifests"), log),
            new ServiceLifecycle(engine, environment, log), new HelperContainers(engine, Scope.Of(environment), log),
            map.Apply("busybox:1.36"), secrets.Get, [], Path.Combine(work, "manifests"), new BackupProgress(null, Serilog.Core.Logger.None), log);
    }

    /// <summary>Times a backup, sampling the peak RSS of restic processes and reporting this process's own peak.</summary>
    private static async Task<BackupFigure> MeasureAsync(string what, Func<Task<BackupSetManifest>> backup, BackupContext context, CancellationToken cancellationToken)
    {
        using var sampling = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var resticPeak = 0L;
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                resticPeak = Math.Max(resticPeak, PeakOf("restic"));
                try
                {
                    await Task.Delay(50, sampling.Token);
                }
                catch (OperationCanceledException)
                {
                }
            }
        }, CancellationToken.None);
        var stopwatch = Stopwatch.StartNew();
        var manifest = await backup();
        var elapsed = stopwatch.Elapsed;
        await sampling.CancelAsync();
        await sampler;
        using var self = Process.GetCurrentProcess();
        context.Log.Information("{What}: LlmStack peak RSS {Ours}, restic peak RSS {Restic}", what, BackupProgress.Size(self.PeakWorkingSet64), BackupProgress.Size(resticPeak));
        return new BackupFigure($"{what} [restic peak RSS {BackupProgress.Size(resticPeak)}; LlmStack {BackupProgress.Size(self.PeakWorkingSet64)}]",
            elapsed.TotalSeconds, manifest.Members.Sum(m => m.Added), null);
    }

    /// <summary>The highest VmHWM of running processes with this name.</summary>
    private static long PeakOf(string name)
    {
        var peak = 0L;
        foreach (var process in Process.GetProcessesByName(name))
        {
            try
            {
                var line = File.ReadLines($"/proc/{process.Id}/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
                if (line is not null)
                {
                    peak = Math.Max(peak, long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024);
                }
            }
            catch (IOException)
            {
            }
            finally
            {
                process.Dispose();
            }
        }

        return peak;
    }

    private static async Task<BackupFigure> ShellAsync(string what, string script, string output, string work, CancellationToken cancellationToken)
    {
        var stopwatch = Stopwatch.StartNew();
        await ProcessRunner.RunCheckedAsync("sh", ["-c", script], work, null, cancellationToken);
        return new BackupFigure(what, stopwatch.Elapsed.TotalSeconds, new FileInfo(output).Length, null);
    }

    /// <summary>40 % random files (1 KiB to 16 MiB), 60 % JSON-log-like text in 1 MiB files, written by a helper container.</summary>
    internal static async Task FillAsync(BackupContext context, string volume, int mib, CancellationToken cancellationToken)
    {
        var script = """
            set -e
            cd /volume
            mkdir -p random text
            budget=$((RANDOM_MIB * 1024)); i=0; size=1
            while [ $budget -gt 0 ]; do
              i=$((i + 1)); size=$(( (size * 7 + i) % 16384 + 1 ))
              [ $size -gt $budget ] && size=$budget
              head -c $((size * 1024)) /dev/urandom > random/blob-$i.bin
              budget=$((budget - size))
            done
            n=0
            while [ $n -lt $TEXT_MIB ]; do
              n=$((n + 1))
              seq $((n * 100000)) $((n * 100000 + 14000)) | sed 's/.*/{"ts":"2026-11-29T12:00:&Z","level":"info","service":"retrieval-proxy","msg":"served request &","path":"\/v1\/search","ms":&}/' | head -c 1048576 > text/log-$n.jsonl
            done
            """;
        var result = await context.Helpers.RunAsync(
            new HelperSpec
            {
                Purpose = "benchmark-fill",
                Image = context.HelperImage,
                Entrypoint = ["/bin/sh", "-c"],
                Command = [script],
                Mounts = [new HelperMount(volume, "/volume", ReadOnly: false)],
                Environment = [$"RANDOM_MIB={mib * 4 / 10}", $"TEXT_MIB={mib - (mib * 4 / 10)}"],
            },
            cancellationToken);
        if (result.ExitCode != 0)
        {
            throw new PipelineException($"filling the benchmark volume failed: {result.Errors.LastOrDefault()}");
        }
    }

    /// <summary>Rewrites 1 % of the files (random ones with new random bytes, text ones with new lines).</summary>
    private static async Task ChangeOnePercentAsync(BackupContext context, string volume, int day, CancellationToken cancellationToken)
    {
        var result = await context.Helpers.RunAsync(
            new HelperSpec
            {
                Purpose = "benchmark-change",
                Image = context.HelperImage,
                Entrypoint = ["/bin/sh", "-c"],
                Command = ["set -e; cd /volume; total=$(find . -type f | wc -l); every=$((100)); k=0; for f in $(find . -type f | sort); do k=$((k + 1)); "
                           + "if [ $(( (k + DAY) % every )) -eq 0 ]; then s=$(wc -c < \"$f\"); head -c \"$s\" /dev/urandom > \"$f\"; fi; done"],
                Mounts = [new HelperMount(volume, "/volume", ReadOnly: false)],
                Environment = [$"DAY={day}"],
            },
            cancellationToken);
        if (result.ExitCode != 0)
        {
            throw new PipelineException($"changing the benchmark volume failed: {result.Errors.LastOrDefault()}");
        }
    }

    private static async Task FillDatabaseAsync(BackupContext context, int mib, CancellationToken cancellationToken)
    {
        var (id, name) = await context.RunningContainerAsync("postgres", cancellationToken);
        var rows = (long)mib * 1024 * 1024 / 260;
        var sql = $"CREATE TABLE IF NOT EXISTS big (id bigint primary key, body text); TRUNCATE big; "
                  + $"INSERT INTO big SELECT g, md5(g::text) || repeat(md5((g * 7)::text), 7) FROM generate_series(1, {rows}) g;";
        var result = await Exec.RunAsync(context.Engine, id, ["psql", "-U", "multimodal", "-d", "multimodal", "-q", "-c", sql], cancellationToken);
        if (result.ExitCode != 0)
        {
            throw BackupContext.Failed("filling the benchmark database", name, result);
        }
    }
}
