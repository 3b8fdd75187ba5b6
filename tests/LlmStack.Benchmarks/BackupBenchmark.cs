using System.Diagnostics;
using System.Globalization;
using LlmStack.Backup;
using LlmStack.Engine;
using LlmStack.Lifecycle;
using LlmStack.Pipeline;
using LlmStack.Schema;
using LlmStack.Security;
using LlmStack.Sessions;
using Serilog;
using YamlDotNet.RepresentationModel;

namespace LlmStack.Benchmarks;

/// <summary>One figure of a data benchmark: seconds (a median when several runs), bytes, the peak RSS of the process measured.</summary>
public sealed record BackupFigure(string What, double Seconds, long? Bytes, long? PeakRss)
{
    /// <summary>The peak RSS of restic's processes during the runs, when sampled.</summary>
    public long? ResticPeakRss { get; init; }

    public override string ToString()
    {
        var bytes = Bytes is { } b ? $", {BackupProgress.Size(b)}" : string.Empty;
        var cli = PeakRss is { } r ? $", CLI peak RSS {BackupProgress.Size(r)}" : string.Empty;
        var restic = ResticPeakRss is { } p && p > 0 ? $", restic peak RSS {BackupProgress.Size(p)}" : string.Empty;
        return string.Create(CultureInfo.InvariantCulture, $"{What}: {Seconds:0.00} s{bytes}{cli}{restic}");
    }
}

/// <summary>
/// Backup figures for the README, never assertions, side by side in one run. Each LlmStack row is the build program
/// itself (<c>BackupService</c>, <c>Restore</c>, <c>BackupList</c>) run as a user runs it, in an environment of a schema
/// copy (<c>benchmark</c>, project <c>llmstack-benchmark</c>, never a real environment), its peak RSS read from
/// <c>/proc/&lt;pid&gt;/status</c> (VmHWM) while it runs; each row is the median of <c>runs</c>, every first run into a
/// fresh repository, the page cache warmed first. Beside them: the floors (<c>tar | zstd | openssl</c>, bare
/// <c>restic backup</c> of the same files, bare <c>restic restore</c>), postgres against <c>pg_dump -Fc</c> (and
/// <c>-Z0</c>) alone and the transports a dump can take out of a container, and the catalog of <c>catalogSets</c> sets.
/// </summary>
public static class BackupBenchmark
{
    private const string Environment = StartBenchmark.EnvironmentName;

    public static async Task<IReadOnlyList<BackupFigure>> RunAsync(
        SchemaFile schema, string imageMapPath, string program, int volumeMiB, int databaseMiB, int runs, int catalogSets, int smallFiles, ILogger log, CancellationToken cancellationToken)
    {
        var root = schema.RootDirectory;
        var work = Path.Combine(root, "artifacts", "benchmark", "backup");
        if (Directory.Exists(work))
        {
            Directory.Delete(work, recursive: true);
        }

        Directory.CreateDirectory(work);
        var copy = WriteSchema(schema, work);
        var environment = new SchemaFile(root, copy).Resolve(Environment);
        var key = Path.Combine(work, "backup.key");
        await File.WriteAllTextAsync(key, Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24)), cancellationToken);
        var password = (await File.ReadAllTextAsync(key, cancellationToken)).Trim();
        var cli = new Cli(program, root, work, copy, WriteRetention(root, work), imageMapPath, key, log);
        using var engine = await DockerEngine.ConnectAsync(null, log, cancellationToken);
        var helpers = new HelperContainers(engine, Scope.Of(environment), log);
        var standin = ImageMap.Load(imageMapPath, root).Apply("busybox:1.36");
        var figures = new List<BackupFigure>();
        void Add(BackupFigure figure)
        {
            log.Information("{Figure}", figure.ToString());
            figures.Add(figure);
        }

        try
        {
            await StartBenchmark.CleanAsync(engine, CancellationToken.None);
            await cli.RunAsync(["StartCore"], cancellationToken);
            var volume = environment.Volumes.Single(v => v.Key == "qdrant_data").Name;
            var mountpoint = (await engine.Client.Volumes.InspectAsync(volume, cancellationToken)).Mountpoint;
            log.Information("Filling {Volume} with {Size} MiB of mixed data", volume, volumeMiB);
            await FillAsync(helpers, standin, volume, volumeMiB, cancellationToken);
            await WarmAsync(mountpoint, cancellationToken);
            var files = Directory.EnumerateFiles(mountpoint, "*", SearchOption.AllDirectories).Count();
            var what = string.Create(CultureInfo.InvariantCulture, $"{volumeMiB} MiB volume of {files} files");

            // The floors.
            var tar = Path.Combine(work, "volume.tar.zst.enc");
            Add(await MedianAsync($"tar | zstd -T0 -3 | openssl enc -aes-256-ctr of the {what}", runs, async () =>
            {
                await ProcessRunner.RunCheckedAsync("sh", ["-c", $"tar -C '{mountpoint}' -cf - . | zstd -q -T0 -3 | openssl enc -aes-256-ctr -pbkdf2 -pass file:'{key}' > '{tar}'"], work, null, cancellationToken);
                return new FileInfo(tar).Length;
            }));
            File.Delete(tar);
            var bare = Path.Combine(work, "bare");
            Add(await MedianAsync($"bare restic backup of the {what} (fresh repository each run)", runs, async () =>
            {
                await FreshRepositoryAsync(bare, password, work, cancellationToken);
                await Restic(bare, password, work, ["backup", "--host", "bare", "-q", "."], mountpoint, cancellationToken);
                return DirectorySize(bare);
            }));

            // LlmStack: restic on this host at the mountpoint, and in the restic helper.
            foreach (var reader in new[] { "host", "helper" })
            {
                cli.Configure(reader, Path.Combine(work, $"tier-{reader}"));
                Add(await cli.MedianAsync($"LlmStack BackupService of the {what}, first run, volume_reader {reader} (fresh repository each run)", runs,
                    () => DeleteDirectory(Path.Combine(work, $"tier-{reader}")), ["BackupService", "--service", "qdrant"], cancellationToken));
                Add(await cli.MedianAsync($"LlmStack BackupService, unchanged re-run, volume_reader {reader}", runs, null, ["BackupService", "--service", "qdrant"], cancellationToken));
                var day = 0;
                Add(await cli.MedianAsync($"LlmStack BackupService after 1 % of the files changed, volume_reader {reader}", runs,
                    () => ChangeOnePercentAsync(helpers, standin, volume, ++day, cancellationToken).GetAwaiter().GetResult(), ["BackupService", "--service", "qdrant"], cancellationToken));
            }

            // Restore of the volume against bare restic restore of the same snapshot into an empty directory.
            cli.Configure("host", Path.Combine(work, "tier-host"));
            Add(await cli.MedianAsync("LlmStack Restore --service qdrant (safety backup, qdrant stopped, volume emptied, restic restore, counted, started)", runs, null,
                ["Restore", "--service", "qdrant", "--confirm", Environment], cancellationToken));
            var target = Path.Combine(work, "restored");
            Add(await MedianAsync("bare restic restore latest of the volume into an empty directory", runs, async () =>
            {
                DeleteDirectory(target);
                await Restic(Path.Combine(work, "tier-host", Environment), password, work, ["restore", "latest", "--host", environment.Project, "--tag", "part=qdrant_data", "--target", target, "-q"], work, cancellationToken);
                return DirectorySize(target);
            }));
            Directory.Delete(target, recursive: true);

            // 200 000 small files: what the CLI's memory does when restic reads a great many files.
            log.Information("Filling {Volume} with {Files} small files", volume, smallFiles);
            await FillSmallFilesAsync(helpers, standin, volume, smallFiles, cancellationToken);
            await WarmAsync(mountpoint, cancellationToken);
            cli.Configure("host", Path.Combine(work, "tier-small"));
            Add(await cli.MedianAsync(string.Create(CultureInfo.InvariantCulture, $"LlmStack BackupService of {smallFiles} small files, first run (fresh repository)"), 1,
                null, ["BackupService", "--service", "qdrant"], cancellationToken));
            Add(await cli.MedianAsync(string.Create(CultureInfo.InvariantCulture, $"LlmStack BackupService of {smallFiles} small files, unchanged re-run"), 1,
                null, ["BackupService", "--service", "qdrant"], cancellationToken));
            await ClearAsync(helpers, standin, volume, cancellationToken);

            // PostgreSQL.
            log.Information("Filling postgres with a database of about {Size} MiB", databaseMiB);
            var (postgres, image) = await FillDatabaseAsync(engine, environment, databaseMiB, cancellationToken);
            await PostgresAsync(engine, helpers, postgres, image, work, password, runs, cli, Add, log, cancellationToken);

            // The catalog: catalogSets sets (made in this process, as BackupService makes them), then BackupList cold
            // (no manifest cache, no restic cache) and warm.
            var catalogTier = Path.Combine(work, "tier-catalog");
            cli.Configure("host", catalogTier);
            log.Information("Making {Sets} backup sets of redis", catalogSets);
            await MakeSetsAsync(schema, imageMapPath, environment, engine, work, catalogTier, key, catalogSets, log, cancellationToken);
            Add(await cli.MedianAsync(string.Create(CultureInfo.InvariantCulture, $"LlmStack BackupList of {catalogSets} sets, cold (no manifest cache, no restic cache)"), runs,
                cli.ForgetCaches, ["BackupList"], cancellationToken));
            Add(await cli.MedianAsync(string.Create(CultureInfo.InvariantCulture, $"LlmStack BackupList of {catalogSets} sets, warm"), runs, null, ["BackupList"], cancellationToken));
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

    /// <summary>The default schema with a <c>benchmark</c> environment: the testing environment's, in project llmstack-benchmark, on subnets and host ports of its own.</summary>
    /// <summary>The retention configuration with the benchmark environment (the testing environment's settings): every environment must have some.</summary>
    private static string WriteRetention(string root, string work)
    {
        var stream = new YamlStream();
        using (var reader = new StreamReader(Path.Combine(root, LlmStack.Retention.RetentionConfigLoader.DefaultPath)))
        {
            stream.Load(reader);
        }

        var environments = (YamlMappingNode)((YamlMappingNode)stream.Documents[0].RootNode).Children[new YamlScalarNode("environments")];
        environments.Children[new YamlScalarNode(Environment)] = environments.Children[new YamlScalarNode("testing")];
        var path = Path.Combine(work, "retention-policies.yaml");
        using var writer = new StreamWriter(path);
        stream.Save(writer, assignAnchors: false);
        return path;
    }

    private static string WriteSchema(SchemaFile schema, string work)
    {
        var stream = new YamlStream();
        using (var reader = new StreamReader(schema.FullPath))
        {
            stream.Load(reader);
        }

        var document = (YamlMappingNode)stream.Documents[0].RootNode;
        var environments = (YamlMappingNode)document.Children[new YamlScalarNode("environments")];
        var clone = new YamlStream();
        var text = new StringWriter();
        new YamlStream(new YamlDocument(environments.Children[new YamlScalarNode("testing")])).Save(text, assignAnchors: false);
        clone.Load(new StringReader(text.ToString()));
        var benchmark = (YamlMappingNode)clone.Documents[0].RootNode;
        benchmark.Children[new YamlScalarNode("description")] = new YamlScalarNode("BenchmarkBackup's environment (the testing environment's services)");
        benchmark.Children[new YamlScalarNode("project")] = new YamlScalarNode(StartBenchmark.Project);
        foreach (var (name, value) in ((YamlMappingNode)benchmark.Children[new YamlScalarNode("variables")]).Children.ToList())
        {
            if (((YamlScalarNode)name).Value!.EndsWith("_PORT", StringComparison.Ordinal) && int.TryParse(((YamlScalarNode)value).Value, out var port))
            {
                ((YamlMappingNode)benchmark.Children[new YamlScalarNode("variables")]).Children[name] = new YamlScalarNode((port + 20000).ToString(CultureInfo.InvariantCulture));
            }
        }

        var networks = (YamlMappingNode)benchmark.Children[new YamlScalarNode("networks")];
        var index = 0;
        foreach (var name in networks.Children.Keys.ToList())
        {
            index++;
            networks.Children[name] = new YamlMappingNode(
                new YamlScalarNode("subnet"), new YamlScalarNode($"10.254.{index}.0/24"), new YamlScalarNode("gateway"), new YamlScalarNode($"10.254.{index}.1"));
        }

        environments.Children[new YamlScalarNode(Environment)] = benchmark;
        var path = Path.Combine(work, "schema.yaml");
        using (var writer = new StreamWriter(path))
        {
            stream.Save(writer, assignAnchors: false);
        }

        return path;
    }

    /// <summary>The build program as a user runs it, in the benchmark environment: timed, its peak RSS and restic's sampled.</summary>
    private sealed class Cli(string program, string root, string work, string schema, string retention, string imageMap, string key, ILogger log)
    {
        private string Config => Path.Combine(work, "backup-strategies.yaml");

        private string State => Path.Combine(work, "state");

        /// <summary>A configuration whose first tier is <paramref name="tier"/> and whose volumes are read the <paramref name="reader"/> way.</summary>
        public void Configure(string reader, string tier)
        {
            var text = File.ReadAllText(Path.Combine(root, BackupConfigLoader.DefaultPath))
                .Replace("    path: backups", $"    path: {tier}", StringComparison.Ordinal)
                .Replace("volume_reader: auto", $"volume_reader: {reader}", StringComparison.Ordinal)
                .Replace("environments:\n", $"environments:\n  {Environment}:\n    schedule: \"0 5 * * *\"\n    tiers: [local]\n", StringComparison.Ordinal);
            File.WriteAllText(Config, text);
        }

        /// <summary>Deletes the per-machine caches: the manifests read from files and restic's own.</summary>
        public void ForgetCaches()
        {
            foreach (var cache in new[] { Path.Combine(State, ".nuke", "temp", "backup-manifests"), Path.Combine(root, ".nuke", "temp", "restic-cache") })
            {
                if (Directory.Exists(cache))
                {
                    Directory.Delete(cache, recursive: true);
                }
            }
        }

        public async Task<(TimeSpan Elapsed, long Peak, long ResticPeak)> RunAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken)
        {
            var start = new ProcessStartInfo(program)
            {
                WorkingDirectory = root,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                RedirectStandardInput = true,
            };
            foreach (var argument in arguments.Concat(["--environment", Environment, "--schema", schema, "--backup-config", Config, "--image-map", imageMap,
                         "--backup-key-file", key, "--state-dir", State, "--retention-config", retention]))
            {
                start.ArgumentList.Add(argument);
            }

            start.Environment["LLMSTACK_LOG_DIRECTORY"] = Path.Combine(work, "logs");
            var output = new System.Text.StringBuilder();
            var stopwatch = Stopwatch.StartNew();
            using var process = Process.Start(start)!;
            process.StandardInput.Close();
            var reading = Task.WhenAll(process.StandardOutput.ReadToEndAsync(cancellationToken).ContinueWith(t => { lock (output) { output.Append(t.Result); } }, TaskScheduler.Default),
                process.StandardError.ReadToEndAsync(cancellationToken).ContinueWith(t => { lock (output) { output.Append(t.Result); } }, TaskScheduler.Default));
            long peak = 0, resticPeak = 0;
            while (!process.HasExited)
            {
                peak = Math.Max(peak, VmHwm(process.Id));
                resticPeak = Math.Max(resticPeak, PeakOf("restic"));
                await Task.Delay(10, cancellationToken);
            }

            await process.WaitForExitAsync(cancellationToken);
            var elapsed = stopwatch.Elapsed;
            await reading;
            if (process.ExitCode != 0)
            {
                var tail = string.Join('\n', output.ToString().Split('\n').TakeLast(30));
                throw new PipelineException($"{string.Join(' ', arguments)} failed in the benchmark environment (exit {process.ExitCode}):\n{tail}");
            }

            log.Debug("{Arguments}: {Seconds:0.00} s, peak RSS {Peak}", string.Join(' ', arguments), elapsed.TotalSeconds, BackupProgress.Size(peak));
            return (elapsed, peak, resticPeak);
        }

        /// <summary>The median of <paramref name="runs"/> runs, each after <paramref name="before"/>; the highest peaks of all; the repository's size after the last.</summary>
        public async Task<BackupFigure> MedianAsync(string what, int runs, Action? before, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
        {
            var times = new List<double>();
            long peak = 0, resticPeak = 0;
            for (var i = 0; i < runs; i++)
            {
                before?.Invoke();
                var (elapsed, runPeak, runRestic) = await RunAsync(arguments, cancellationToken);
                times.Add(elapsed.TotalSeconds);
                peak = Math.Max(peak, runPeak);
                resticPeak = Math.Max(resticPeak, runRestic);
            }

            var tier = File.ReadAllLines(Config).Select(l => l.Trim()).First(l => l.StartsWith("path: ", StringComparison.Ordinal))["path: ".Length..];
            return new BackupFigure(what, Median(times), DirectorySize(Path.Combine(tier, Environment)), peak) { ResticPeakRss = resticPeak };
        }
    }

    private static async Task<BackupFigure> MedianAsync(string what, int runs, Func<Task<long>> run)
    {
        var times = new List<double>();
        long bytes = 0;
        long resticPeak = 0;
        for (var i = 0; i < runs; i++)
        {
            using var sampling = new CancellationTokenSource();
            var sampler = Task.Run(async () =>
            {
                while (!sampling.IsCancellationRequested)
                {
                    resticPeak = Math.Max(resticPeak, PeakOf("restic"));
                    await Task.Delay(10, CancellationToken.None);
                }
            }, CancellationToken.None);
            var stopwatch = Stopwatch.StartNew();
            bytes = await run();
            times.Add(stopwatch.Elapsed.TotalSeconds);
            await sampling.CancelAsync();
            await sampler;
        }

        return new BackupFigure(what, Median(times), bytes, null) { ResticPeakRss = resticPeak };
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }

    private static async Task FreshRepositoryAsync(string repository, string password, string work, CancellationToken cancellationToken)
    {
        if (Directory.Exists(repository))
        {
            Directory.Delete(repository, recursive: true);
        }

        await Restic(repository, password, work, ["init", "-q"], work, cancellationToken);
    }

    private static Task Restic(string repository, string password, string work, IReadOnlyList<string> arguments, string directory, CancellationToken cancellationToken) =>
        ProcessRunner.RunCheckedAsync("restic", arguments, directory, null, cancellationToken, new Dictionary<string, string>
        {
            ["RESTIC_REPOSITORY"] = repository, ["RESTIC_PASSWORD"] = password, ["RESTIC_CACHE_DIR"] = Path.Combine(work, "restic-cache-bare"),
        });

    private static long DirectorySize(string directory) =>
        Directory.Exists(directory) ? Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length) : 0;

    /// <summary>Reads every file once, so each variant finds the data in the page cache.</summary>
    private static async Task WarmAsync(string directory, CancellationToken cancellationToken)
    {
        var buffer = new byte[1 << 20];
        foreach (var file in Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories))
        {
            await using var stream = File.OpenRead(file);
            while (await stream.ReadAsync(buffer, cancellationToken) > 0)
            {
            }
        }
    }

    /// <summary>VmHWM (the peak resident set) of a process, in bytes; 0 when it is gone.</summary>
    private static long VmHwm(int pid)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
            return line is null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    }

    /// <summary>The highest VmHWM of running processes with this name.</summary>
    private static long PeakOf(string name)
    {
        var peak = 0L;
        foreach (var process in Process.GetProcessesByName(name))
        {
            peak = Math.Max(peak, VmHwm(process.Id));
            process.Dispose();
        }

        return peak;
    }

    private static async Task RunHelperAsync(HelperContainers helpers, string image, string volume, string what, string script, IReadOnlyList<string> environment, CancellationToken cancellationToken)
    {
        var result = await helpers.RunAsync(
            new HelperSpec
            {
                Purpose = "benchmark-" + what,
                Image = image,
                Entrypoint = ["/bin/sh", "-c"],
                Command = [script],
                Mounts = [new HelperMount(volume, "/volume", ReadOnly: false)],
                Environment = environment,
            },
            cancellationToken);
        if (result.ExitCode != 0)
        {
            throw new PipelineException($"{what} of the benchmark volume failed: {result.Errors.LastOrDefault()}");
        }
    }

    /// <summary>40 % random files (1 KiB to 16 MiB), 60 % JSON-log-like text in 600 KiB files (about 1,000 files per GiB), written by a helper container.</summary>
    internal static Task FillAsync(HelperContainers helpers, string image, string volume, int mib, CancellationToken cancellationToken) =>
        RunHelperAsync(helpers, image, volume, "fill", """
            set -e
            cd /volume
            rm -rf ./* && mkdir -p random text
            budget=$((RANDOM_MIB * 1024)); i=0; size=1
            while [ $budget -gt 0 ]; do
              i=$((i + 1)); size=$(( (size * 7 + i) % 16384 + 1 ))
              [ $size -gt $budget ] && size=$budget
              head -c $((size * 1024)) /dev/urandom > random/blob-$i.bin
              budget=$((budget - size))
            done
            n=0
            while [ $((n * 600)) -lt $((TEXT_MIB * 1024)) ]; do
              n=$((n + 1))
              seq $((n * 100000)) $((n * 100000 + 8400)) | sed 's/.*/{"ts":"2026-11-29T12:00:&Z","level":"info","service":"retrieval-proxy","msg":"served request &","path":"\/v1\/search","ms":&}/' | head -c 614400 > text/log-$n.jsonl
            done
            """, [$"RANDOM_MIB={mib * 4 / 10}", $"TEXT_MIB={mib - (mib * 4 / 10)}"], cancellationToken);

    /// <summary>Rewrites 1 % of the files (random ones with new random bytes, text ones with new lines).</summary>
    private static Task ChangeOnePercentAsync(HelperContainers helpers, string image, string volume, int day, CancellationToken cancellationToken) =>
        RunHelperAsync(helpers, image, volume, "change",
            "set -e; cd /volume; k=0; for f in $(find . -type f | sort); do k=$((k + 1)); "
            + "if [ $(( (k + DAY) % 100 )) -eq 0 ]; then s=$(wc -c < \"$f\"); head -c \"$s\" /dev/urandom > \"$f\"; fi; done",
            [$"DAY={day}"], cancellationToken);

    /// <summary><paramref name="files"/> files of 100 to 1,100 bytes in 1,000 directories (awk writes them: no process per file).</summary>
    private static Task FillSmallFilesAsync(HelperContainers helpers, string image, string volume, int files, CancellationToken cancellationToken) =>
        RunHelperAsync(helpers, image, volume, "small-files",
            "set -e; cd /volume; rm -rf ./*; i=0; while [ $i -lt 1000 ]; do mkdir d$i; i=$((i + 1)); done; "
            + "awk -v n=\"$FILES\" 'BEGIN { srand(7); for (i = 0; i < n; i++) { f = sprintf(\"d%d/f%06d.json\", i % 1000, i); s = \"\"; "
            + "k = 100 + int(rand() * 1000); while (length(s) < k) s = s sprintf(\"%08x\", int(rand() * 4294967295)); print s > f; close(f) } }'",
            [$"FILES={files}"], cancellationToken);

    private static Task ClearAsync(HelperContainers helpers, string image, string volume, CancellationToken cancellationToken) =>
        RunHelperAsync(helpers, image, volume, "clear", "rm -rf /volume/*", [], cancellationToken);

    /// <summary>A table of about <paramref name="mib"/> MiB in the benchmark's postgres; its container and image.</summary>
    private static async Task<(string Id, string Image)> FillDatabaseAsync(DockerEngine engine, ResolvedEnvironment environment, int mib, CancellationToken cancellationToken)
    {
        var (id, name) = await engine.RunningContainerAsync(environment, "postgres", "to fill it", cancellationToken);
        var rows = (long)mib * 1024 * 1024 / 260;
        var sql = $"CREATE TABLE IF NOT EXISTS big (id bigint primary key, body text); TRUNCATE big; "
                  + $"INSERT INTO big SELECT g, md5(g::text) || repeat(md5((g * 7)::text), 7) FROM generate_series(1, {rows}) g;";
        var result = await Exec.RunAsync(engine, id, ["psql", "-U", "multimodal", "-d", "multimodal", "-q", "-c", sql], cancellationToken);
        if (result.ExitCode != 0)
        {
            throw new PipelineException($"filling the benchmark database in {name} failed: {result.ErrorLines.LastOrDefault()}");
        }

        return (id, (await engine.Client.Containers.InspectContainerAsync(id, cancellationToken)).Image);
    }

    /// <summary>
    /// Where a dump's time goes: pg_dump alone (its own compression and <c>-Z0</c>), the same uncompressed dump out of the
    /// container four ways (the exec API's attached stream, <c>docker exec</c> on the command line, a helper's attached
    /// stream, a helper writing into a FIFO on this host), and into restic: the old way (exec API, <c>-Fc</c>, restic
    /// compressing again), <c>-Fc</c> with <c>--compression off</c>, and LlmStack's (<c>-Z0</c> through the FIFO, restic compressing).
    /// </summary>
    private static async Task PostgresAsync(
        DockerEngine engine, HelperContainers helpers, string id, string image, string work, string password, int runs, Cli cli, Action<BackupFigure> add, ILogger log, CancellationToken cancellationToken)
    {
        string[] Dump(bool compressed) => ["pg_dump", "-U", "multimodal", "-Fc", .. compressed ? Array.Empty<string>() : ["-Z0"], "-d", "multimodal"];
        string[] OverTcp(bool compressed) => ["pg_dump", "-h", "127.0.0.1", "-U", "multimodal", "-Fc", .. compressed ? Array.Empty<string>() : ["-Z0"], "-d", "multimodal"];
        async Task<long> Inside(bool compressed)
        {
            var result = await Exec.RunAsync(engine, id, ["sh", "-c", string.Join(' ', Dump(compressed)) + " | wc -c"], cancellationToken);
            return long.Parse(result.Output.Trim(), CultureInfo.InvariantCulture);
        }

        add(await MedianAsync("pg_dump -Fc alone, in the container, to nothing (its own zlib compression)", runs, () => Inside(compressed: true)));
        add(await MedianAsync("pg_dump -Fc -Z0 alone, in the container, to nothing", runs, () => Inside(compressed: false)));
        add(await MedianAsync("pg_dump -Z0 out through the exec API's attached stream (the old transport)", 1, async () =>
        {
            var counter = new CountingStream();
            await Exec.StreamAsync(engine, id, Dump(compressed: false), cancellationToken, stdout: counter);
            return counter.Count;
        }));
        add(await MedianAsync("pg_dump -Z0 out through docker exec on the command line", 1, async () =>
        {
            var result = await ProcessRunner.RunCheckedAsync("sh", ["-c", $"docker exec {id} {string.Join(' ', Dump(compressed: false))} | wc -c"], work, null, cancellationToken);
            return long.Parse(result.Output.Last().Trim(), CultureInfo.InvariantCulture);
        }));
        var spec = new HelperSpec { Purpose = "benchmark-dump", Image = image, Entrypoint = ["pg_dump"], Command = OverTcp(compressed: false)[1..], NetworkOfContainer = id };
        add(await MedianAsync("pg_dump -Z0 in a helper on the database's network, out through its attached stream", 1, async () =>
        {
            var counter = new CountingStream();
            await helpers.RunAsync(spec with { Stdout = counter }, cancellationToken);
            return counter.Count;
        }));
        var fifo = Path.Combine(work, "fifo");
        Directory.CreateDirectory(fifo);
        add(await MedianAsync("pg_dump -Z0 in a helper on the database's network, out through a FIFO on this host", 1, async () =>
        {
            File.Delete(Path.Combine(fifo, "dump"));
            await ProcessRunner.RunCheckedAsync("mkfifo", [Path.Combine(fifo, "dump")], work, null, cancellationToken);
            var helper = helpers.RunAsync(spec with { Entrypoint = ["/bin/sh", "-c"], Command = ["exec \"$@\" > /out/dump", "dump", .. OverTcp(compressed: false)], Mounts = [HelperMount.Bind(fifo, "/out", readOnly: false)] }, cancellationToken);
            var counter = new CountingStream();
            await using (var reader = new FileStream(Path.Combine(fifo, "dump"), FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1))
            {
                await reader.CopyToAsync(counter, 1 << 20, cancellationToken);
            }

            await helper;
            return counter.Count;
        }));

        var old = Path.Combine(work, "postgres-old");
        add(await MedianAsync("the old way: pg_dump -Fc through the exec API into restic backup --stdin (restic compresses again), fresh repository", runs, async () =>
        {
            await FreshRepositoryAsync(old, password, work, cancellationToken);
            var repository = new ResticRepository(new ResolvedTier("old", TierKind.Local, old), Environment, new BackupKey(null, password, "benchmark"), Path.Combine(work, "restic-cache-bare"), log);
            await repository.BackupStreamAsync("/postgres/full/db-multimodal.dump", ["benchmark"], "old", async (stdin, ct) =>
                await Exec.StreamAsync(engine, id, Dump(compressed: true), ct, stdout: stdin), null, cancellationToken);
            return DirectorySize(old);
        }));
        var off = Path.Combine(work, "postgres-off");
        add(await MedianAsync("pg_dump -Fc in a helper through a FIFO into restic backup --stdin --compression off, fresh repository", runs, async () =>
        {
            await FreshRepositoryAsync(off, password, work, cancellationToken);
            File.Delete(Path.Combine(fifo, "dump"));
            await ProcessRunner.RunCheckedAsync("mkfifo", [Path.Combine(fifo, "dump")], work, null, cancellationToken);
            var helper = helpers.RunAsync(spec with { Entrypoint = ["/bin/sh", "-c"], Command = ["exec \"$@\" > /out/dump", "dump", .. OverTcp(compressed: true)], Mounts = [HelperMount.Bind(fifo, "/out", readOnly: false)] }, cancellationToken);
            await ProcessRunner.RunCheckedAsync("sh", ["-c", $"restic backup -q --stdin --stdin-filename db.dump --compression off < '{Path.Combine(fifo, "dump")}'"], work, null, cancellationToken,
                new Dictionary<string, string> { ["RESTIC_REPOSITORY"] = off, ["RESTIC_PASSWORD"] = password, ["RESTIC_CACHE_DIR"] = Path.Combine(work, "restic-cache-bare") });
            await helper;
            return DirectorySize(off);
        }));
        cli.Configure("host", Path.Combine(work, "tier-postgres"));
        add(await cli.MedianAsync("LlmStack BackupService --service postgres (globals, pg_dump -Z0 in a helper through a FIFO, restic compresses), fresh repository each run", runs,
            () => DeleteDirectory(Path.Combine(work, "tier-postgres")), ["BackupService", "--service", "postgres"], cancellationToken));
        add(await cli.MedianAsync("LlmStack BackupService --service postgres, unchanged re-run (what a night with no writes adds)", runs, null, ["BackupService", "--service", "postgres"], cancellationToken));
    }

    /// <summary><paramref name="sets"/> sets of redis (each its member and its manifest) in the repository of <paramref name="tier"/>, through the runner BackupService uses.</summary>
    private static async Task MakeSetsAsync(
        SchemaFile schema, string imageMap, ResolvedEnvironment environment, DockerEngine engine, string work, string tier, string key, int sets, ILogger log, CancellationToken cancellationToken)
    {
        var root = schema.RootDirectory;
        var secrets = SecretStore.LoadOrGenerate(root, Path.Combine(work, "state", "secrets"), Environment, schema.Load().Secrets, new SecretMasker(), log);
        // The default schema checks the configuration (which has no benchmark environment); the environment is the copy's.
        var bed = new BenchmarkBed(schema, ImageMap.Load(imageMap, root), environment, secrets, work, engine);
        var context = await ContextAsync(bed, log, key: new BackupKey(key, null, "benchmark key"), tier: tier);
        var redis = context.Plan.Members.Single(m => m.Service == "redis");
        for (var i = 0; i < sets; i++)
        {
            await new BackupRunner(context).RunAsync(BackupTrigger.BackupService, [redis], cancellationToken);
        }
    }

    private static void DeleteDirectory(string directory)
    {
        if (Directory.Exists(directory))
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>Counts what is written to it.</summary>
    private sealed class CountingStream : WriteOnlyStream
    {
        public long Count { get; private set; }

        public override void Write(byte[] buffer, int offset, int count) => Count += count;

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            Count += count;
            return Task.CompletedTask;
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Count += buffer.Length;
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>
    /// A backup context for the benchmark project (BenchmarkTiers, BenchmarkRetentionCleanup): a local first tier under
    /// the bed's work directory, then the <paramref name="others"/> tiers (their credentials files in
    /// <paramref name="secretsDirectory"/>); a throwaway key.
    /// </summary>
    /// <param name="tier">The first tier's path (default <c>repositories</c> in the work directory): the repository is <c>&lt;tier&gt;/benchmark</c>.</param>
    internal static async Task<BackupContext> ContextAsync(
        BenchmarkBed bed, ILogger log, IReadOnlyDictionary<string, TierDefinition>? others = null, string secretsDirectory = "secrets", SecretMasker? masker = null, BackupKey? key = null,
        string? tier = null)
    {
        var (schema, environment, engine, secrets, work, map) = (bed.Schema, bed.Environment, bed.Engine, bed.Secrets, bed.Work, bed.Map);
        var root = schema.RootDirectory;
        var config = BackupConfigLoader.LoadValid(Path.Combine(root, BackupConfigLoader.DefaultPath), BackupConfigLoader.DefaultPath, schema.Load());
        config.Tiers["benchmark"] = new TierDefinition { Kind = "local", Path = tier ?? Path.Combine(work, "repositories") };
        foreach (var (name, other) in others ?? new Dictionary<string, TierDefinition>())
        {
            config.Tiers[name] = other;
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
            map.Apply("busybox:1.36"), secrets.Get, [], Path.Combine(work, "manifests"), new BackupProgress(null, Serilog.Core.Logger.None), log)
        {
            ResticImage = map.Apply(BackupConfigLoader.DefaultResticImage),
            ScratchDirectory = Path.Combine(work, "streams"),
        };
    }
}
