using System.Diagnostics;
using LlmStack.Backup;
using LlmStack.Pipeline;
using LlmStack.Retention;
using LlmStack.Schema;
using LlmStack.Security;
using Serilog;

namespace LlmStack.Benchmarks;

/// <summary>
/// Cleanup figures for the README, never assertions: a tier with <c>sets</c> real backup sets (redis, one member each,
/// plus the manifest), cleaned to the newest 20 by LlmStack (the catalog read cold and warm, the plan, one
/// <c>restic forget</c> of the planned sets' snapshots, <c>prune</c>) against what a user would run instead on a copy
/// of the same repository: <c>restic forget --keep-last 40 --group-by host --prune</c> (two snapshots per set). Runs in
/// the benchmark project (<c>llmstack-benchmark</c>), never a real environment.
/// </summary>
public static class RetentionCleanupBenchmark
{
    private const int Keep = 20;

    public static async Task<IReadOnlyList<BackupFigure>> RunAsync(
        SchemaFile schema, string imageMapPath, string secretsDirectory, int sets, SecretMasker masker, ILogger log, CancellationToken cancellationToken)
    {
        using var bed = await StartBenchmark.BedAsync(schema, imageMapPath, secretsDirectory, "retention", masker, log, cancellationToken);
        var password = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24));
        var figures = new List<BackupFigure>();
        try
        {
            await bed.StartCoreAsync(cancellationToken);
            var context = await BackupBenchmark.ContextAsync(bed, log, key: new BackupKey(null, password, "benchmark key"));
            var redis = context.Plan.Members.Single(m => m.Service == "redis");
            log.Information("Making {Sets} backup sets of redis", sets);
            var stopwatch = Stopwatch.StartNew();
            for (var i = 0; i < sets; i++)
            {
                await new BackupRunner(context).RunAsync(BackupTrigger.Of("benchmark"), [redis], cancellationToken);
            }

            figures.Add(new BackupFigure($"{sets} backup sets of redis made (the bed)", stopwatch.Elapsed.TotalSeconds, await context.Repository.SizeAsync(cancellationToken), null));
            var primary = context.Plan.Primary.Repository;
            var copy = primary + "-restic";
            await ProcessRunner.RunCheckedAsync("cp", ["-a", primary, copy], "/", null, cancellationToken);

            Directory.Delete(context.ManifestCache, recursive: true);
            stopwatch.Restart();
            var entries = await context.Catalog.EntriesAsync(cancellationToken);
            figures.Add(new BackupFigure($"LlmStack: catalog of {entries.Count} sets read cold (each manifest once)", stopwatch.Elapsed.TotalSeconds, null, null));
            stopwatch.Restart();
            var total = Stopwatch.StartNew();
            entries = await context.Catalog.EntriesAsync(cancellationToken);
            var plan = BackupRetention.Plan(entries, new RetentionPolicy { Last = Keep }, new RetentionSafety(1), DateTimeOffset.Now, TimeZoneInfo.Local);
            figures.Add(new BackupFigure($"LlmStack: catalog warm and plan (keep-last {Keep}: remove {plan.Count(s => !s.Keep)} sets)", stopwatch.Elapsed.TotalSeconds, null, null));
            stopwatch.Restart();
            var forgotten = await RetentionChanges.ForgetSetsAsync(context.Repository, StartBenchmark.EnvironmentName, plan.Where(s => !s.Keep).Select(s => s.Set).ToHashSet(), cancellationToken);
            figures.Add(new BackupFigure($"LlmStack: one restic forget of the planned sets ({forgotten.Values.Sum()} snapshots)", stopwatch.Elapsed.TotalSeconds, null, null));
            stopwatch.Restart();
            await context.Repository.PruneAsync("5%", cancellationToken);
            figures.Add(new BackupFigure("LlmStack: restic prune --max-unused 5%", stopwatch.Elapsed.TotalSeconds, await context.Repository.SizeAsync(cancellationToken), null));
            figures.Add(new BackupFigure("LlmStack: cleanup in all (warm catalog, plan, forget, prune)", total.Elapsed.TotalSeconds, null, null));

            stopwatch.Restart();
            await ProcessRunner.RunCheckedAsync("restic",
                ["-r", copy, "--cache-dir", Path.Combine(bed.Work, "restic-cache-copy"), "forget", "--keep-last", (2 * Keep).ToString(System.Globalization.CultureInfo.InvariantCulture), "--group-by", "host", "--prune", "--max-unused", "5%"],
                "/", null, cancellationToken, new Dictionary<string, string> { ["RESTIC_PASSWORD"] = password });
            figures.Add(new BackupFigure($"restic forget --keep-last {2 * Keep} --group-by host --prune on a copy", stopwatch.Elapsed.TotalSeconds, null, null));
        }
        finally
        {
            await StartBenchmark.CleanAsync(bed.Engine, CancellationToken.None);
        }

        foreach (var figure in figures)
        {
            log.Information("{Figure}", figure.ToString());
        }

        return figures;
    }
}
