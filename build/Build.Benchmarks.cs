using LlmStack.Benchmarks;
using LlmStack.Pipeline;

partial class Build
{
    [Parameter("Timed runs per benchmark (default: 10 for BenchmarkStartup, 5 for BenchmarkStartCore)")]
    readonly int? Runs;

    Target BenchmarkStartup => _ => _
        .Description("Median of warm './build.sh --help' against 'dotnet run --project build -- --help' (figures for the README; nothing asserted).")
        .Executes(async ct =>
        {
            var fast = await CommandBenchmark.MeasureCommandAsync("./build.sh --help", Path.Combine(RootDirectory, "build.sh"), ["--help"], RootDirectory, Runs ?? 10, 2, ct);
            var slow = await CommandBenchmark.MeasureCommandAsync("dotnet run --project build -- --help", "dotnet", ["run", "--project", "build", "--", "--help"], RootDirectory, Runs ?? 10, 1, ct);
            Log.Information("{Fast}", fast.ToString());
            Log.Information("{Slow}", slow.ToString());
            ReportSummary("build.sh", $"{fast.Median.TotalSeconds:0.000}s");
            ReportSummary("dotnet run", $"{slow.Median.TotalSeconds:0.000}s");
        });

    Target BenchmarkStartCore => _ => _
        .Description("StartCore to all-healthy against docker-compose up -d of the generated core file plus waiting for healthy, same fixture images, in a project of its own (--runs, default 5).")
        .DependsOn(FixtureImages)
        .Executes(async ct =>
        {
            var (ours, compose) = await StartBenchmark.RunAsync(SchemaFile, "tests/fixtures/image-map.yaml", Runs ?? 5, SecretsDir, Secrets, Log, ct);
            Log.Information("{Ours}", ours.ToString());
            Log.Information("{Compose}", compose.ToString());
            ReportSummary("LlmStack", $"{ours.Median.TotalSeconds:0.00}s");
            ReportSummary("compose", $"{compose.Median.TotalSeconds:0.00}s");
            ReportSummary("ratio", $"{ours.Median.TotalSeconds / compose.Median.TotalSeconds:0.00}");
        });

    [Parameter("BenchmarkBackup, BenchmarkTiers: MiB of mixed data in the benchmark volume")]
    readonly int VolumeMib = 1024;

    [Parameter("BenchmarkBackup: MiB of the benchmark postgres database")]
    readonly int DatabaseMib = 1024;

    Target BenchmarkBackup => _ => _
        .Description("Backup figures for the README (nothing asserted): a mixed-data volume through LlmStack/restic against tar|zstd|openssl and tar -czf, first, unchanged and 7 runs with 1 % change, peak RSS; postgres against pg_dump -Fc. In a project of its own.")
        .DependsOn(FixtureImages)
        .Executes(async ct =>
        {
            var figures = await BackupBenchmark.RunAsync(SchemaFile, "tests/fixtures/image-map.yaml", SecretsDir, VolumeMib, DatabaseMib, Secrets, Log, ct);
            ReportSummary("Figures", figures.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
        });

    Target BenchmarkTiers => _ => _
        .Description("Tier and restore-test figures for the README (nothing asserted): a backup set with a --volume-mib volume copied to a remote (rclone serve restic) and a cloud tier (s3rver, TLS) with restic copy, first and unchanged, against rclone sync of the repository to the same S3; RestoreTest of the set against a plain restic restore. In a project of its own, servers on 127.0.0.1.")
        .DependsOn(FixtureImages, TestTools)
        .Executes(async ct =>
        {
            var figures = await TierBenchmark.RunAsync(SchemaFile, "tests/fixtures/image-map.yaml", SecretsDir, VolumeMib, Secrets, Log, ct);
            ReportSummary("Figures", figures.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
        });

    [Parameter("BenchmarkRetentionCleanup: backup sets on the tier before the cleanup")]
    readonly int CleanupSets = 200;

    Target BenchmarkRetentionCleanup => _ => _
        .Description("Cleanup figures for the README (nothing asserted): a tier with --cleanup-sets real backup sets cleaned to the newest 20 by LlmStack (catalog, plan, one forget, prune) against restic forget --keep-last --prune on a copy. In a project of its own.")
        .DependsOn(FixtureImages)
        .Executes(async ct =>
        {
            var figures = await RetentionCleanupBenchmark.RunAsync(SchemaFile, "tests/fixtures/image-map.yaml", SecretsDir, CleanupSets, Secrets, Log, ct);
            ReportSummary("Figures", figures.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
        });

    [Parameter("BenchmarkRetention: backups in the planned history")]
    readonly int HistorySize = 100_000;

    Target BenchmarkRetention => _ => _
        .Description("Retention planner figures for the README (nothing asserted): a GFS policy over --history-size hourly backups, median of --runs (default 5).")
        .Executes(() =>
        {
            foreach (var timing in RetentionBenchmark.Run(HistorySize, Runs ?? 5))
            {
                Log.Information("{Timing}", timing.ToString());
                ReportSummary(timing.Name, $"{timing.Median.TotalMilliseconds:0} ms");
            }
        });

    [Parameter("BenchmarkSecurityScan: files in the generated tree")]
    readonly int ScanFiles = 10_000;

    [Parameter("BenchmarkSecurityScan: MB of text in the generated tree")]
    readonly int ScanMegabytes = 100;

    Target BenchmarkSecurityScan => _ => _
        .Description("Secret scan figures for the README (nothing asserted): ValidateSecurity's scanner against secretlint (recommended preset) on this repository and on a generated tree of --scan-files files / --scan-megabytes MB under .nuke/temp with planted made-up secrets; wall time (median of --runs, default 3, after a warm-up) and findings.")
        .DependsOn(TestTools)
        .Executes(async ct =>
        {
            foreach (var figure in await SecretScanBenchmark.RunAsync(RootDirectory, ScanFiles, ScanMegabytes, Runs ?? 3, Log, ct))
            {
                ReportSummary($"{figure.Tree}, {figure.Scanner}", $"{figure.Time.Median.TotalSeconds:0.00}s, {figure.Findings} finding(s)");
            }
        });
}
