using System.Globalization;
using LlmStack.Benchmarks;
using LlmStack.Pipeline;

/// <summary>Figures for the README (nothing asserted); the benchmarks are tests/LlmStack.Benchmarks.</summary>
interface IBenchmarks : IHazEnvironment, ITests
{
    const string ImageMapFile = "tests/fixtures/image-map.yaml";

    [Parameter("BenchmarkStartup, BenchmarkStartCore, BenchmarkRetention, BenchmarkSecurityScan, BenchmarkBackup: timed runs (default 10, 5, 5, 3 and 3)")]
    int? Runs => TryGetValue(() => Runs);

    [Parameter("BenchmarkBackup, BenchmarkTiers: MiB of mixed data in the benchmark volume")]
    int VolumeMib => TryGetValue<int?>(() => VolumeMib) ?? 1024;

    [Parameter("BenchmarkBackup: MiB of the benchmark postgres database")]
    int DatabaseMib => TryGetValue<int?>(() => DatabaseMib) ?? 1024;

    [Parameter("BenchmarkBackup: backup sets for the cold and warm BackupList")]
    int CatalogSets => TryGetValue<int?>(() => CatalogSets) ?? 200;

    [Parameter("BenchmarkBackup: small files in the volume whose backup shows the CLI's memory with many files")]
    int SmallFiles => TryGetValue<int?>(() => SmallFiles) ?? 200_000;

    [Parameter("BenchmarkRetentionCleanup: backup sets on the tier before the cleanup")]
    int CleanupSets => TryGetValue<int?>(() => CleanupSets) ?? 200;

    [Parameter("BenchmarkRetention: backups in the planned history")]
    int HistorySize => TryGetValue<int?>(() => HistorySize) ?? 100_000;

    [Parameter("BenchmarkSecurityScan: files in the generated tree")]
    int ScanFiles => TryGetValue<int?>(() => ScanFiles) ?? 10_000;

    [Parameter("BenchmarkSecurityScan: MB of text in the generated tree")]
    int ScanMegabytes => TryGetValue<int?>(() => ScanMegabytes) ?? 100;

    Target BenchmarkStartup => _ => _
        .Description("Medians of warm runs (--runs, default 10) of a .NET hello world, the build program alone (--help), './build.sh --help' and './build.sh ValidateSchema --plan', each with its ratio to the hello world (figures for the README; nothing asserted).")
        .Executes(async ct =>
        {
            foreach (var figure in await StartupBenchmark.RunAsync(RootDirectory, System.Environment.ProcessPath!, Runs ?? 10, Log, ct))
            {
                Log.Information("{Figure}", figure.ToString());
                ReportSummary(figure.Timing.Name, string.Create(CultureInfo.InvariantCulture, $"{figure.Timing.Median.TotalSeconds:0.000}s ({figure.RatioToHelloWorld:0.0}x)"));
            }
        });

    Target BenchmarkStartCore => _ => _
        .Description("StartCore to all-healthy against docker-compose up -d of the generated core file plus waiting for healthy, same fixture images, in a project of its own (--runs, default 5).")
        .DependsOn(FixtureImages)
        .Executes(async ct =>
        {
            var (ours, compose) = await StartBenchmark.RunAsync(SchemaFile, ImageMapFile, Runs ?? 5, State.Secrets, Secrets, Log, ct);
            Log.Information("{Ours}", ours.ToString());
            Log.Information("{Compose}", compose.ToString());
            ReportSummary("LlmStack", $"{ours.Median.TotalSeconds:0.00}s");
            ReportSummary("compose", $"{compose.Median.TotalSeconds:0.00}s");
            ReportSummary("ratio", $"{ours.Median.TotalSeconds / compose.Median.TotalSeconds:0.00}");
        });

    Target BenchmarkBackup => _ => _
        .Description("Backup figures for the README (nothing asserted), medians of --runs (default 3), the CLI's own peak RSS: a --volume-mib volume by BackupService (restic on the host and in its helper) first, unchanged and after 1 % changed, against tar|zstd|openssl and bare restic backup; Restore against bare restic restore; --small-files files; postgres against pg_dump -Fc and -Z0 alone and the transports out of a container; BackupList of --catalog-sets sets cold and warm. In an environment of its own.")
        .DependsOn(FixtureImages)
        .Executes(async ct => ReportFigures(await BackupBenchmark.RunAsync(SchemaFile, ImageMapFile, System.Environment.ProcessPath!, VolumeMib, DatabaseMib, Runs ?? 3, CatalogSets, SmallFiles, Log, ct)));

    Target BenchmarkTiers => _ => _
        .Description("Tier and restore-test figures for the README (nothing asserted): a backup set with a --volume-mib volume copied to a remote (rclone serve restic) and a cloud tier (s3rver, TLS) with restic copy, first and unchanged, against rclone sync of the repository to the same S3; RestoreTest of the set against a plain restic restore. In a project of its own, servers on 127.0.0.1.")
        .DependsOn(FixtureImages, TestTools)
        .Executes(async ct => ReportFigures(await TierBenchmark.RunAsync(SchemaFile, ImageMapFile, State.Secrets, VolumeMib, Secrets, Log, ct)));

    Target BenchmarkRetentionCleanup => _ => _
        .Description("Cleanup figures for the README (nothing asserted): a tier with --cleanup-sets real backup sets cleaned to the newest 20 by LlmStack (catalog, plan, one forget, prune) against restic forget --keep-last --prune on a copy. In a project of its own.")
        .DependsOn(FixtureImages)
        .Executes(async ct => ReportFigures(await RetentionCleanupBenchmark.RunAsync(SchemaFile, ImageMapFile, State.Secrets, CleanupSets, Secrets, Log, ct)));

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

    void ReportFigures<T>(IReadOnlyCollection<T> figures) => ReportSummary("Figures", figures.Count.ToString(CultureInfo.InvariantCulture));
}
