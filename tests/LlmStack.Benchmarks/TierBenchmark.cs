using System.Diagnostics;
using LlmStack.Backup;
using LlmStack.Engine;
using LlmStack.Pipeline;
using LlmStack.Schema;
using LlmStack.Security;
using Serilog;

namespace LlmStack.Benchmarks;

/// <summary>
/// Tier and restore-test figures for the README, never assertions: a backup set with a volume of mixed data copied
/// from the local tier to a remote tier (restic REST server: <c>rclone serve restic</c>) and a cloud tier (s3rver over
/// TLS) with <c>restic copy</c>, first and unchanged, against <c>rclone sync</c> of the repository directory to the same
/// S3 server (what a user would do instead: ship the encrypted repository as files); then <c>RestoreTest</c> of the set
/// against a plain <c>restic restore</c> of its snapshots into a directory (no containers, nothing proven). Runs in the
/// benchmark project (<c>llmstack-benchmark</c>), never a real environment; the servers listen on 127.0.0.1.
/// </summary>
public static class TierBenchmark
{
    public static async Task<IReadOnlyList<BackupFigure>> RunAsync(
        SchemaFile schema, string imageMapPath, string secretsDirectory, int volumeMiB, SecretMasker masker, ILogger log, CancellationToken cancellationToken)
    {
        using var bed = await StartBenchmark.BedAsync(schema, imageMapPath, secretsDirectory, "tiers", masker, log, cancellationToken);
        var (root, work, environment, map) = (bed.Root, bed.Work, bed.Environment, bed.Map);
        var credentials = Path.Combine(Path.GetFullPath(secretsDirectory, root), "benchmark-s3.env");
        SecretStore.WritePrivate(credentials, TierServers.CredentialsFile);
        var figures = new List<BackupFigure>();
        await using var servers = await TierServers.StartAsync(root, cancellationToken);
        try
        {
            await bed.StartCoreAsync(cancellationToken);
            var tiers = new Dictionary<string, TierDefinition>
            {
                ["remote"] = new() { Kind = TierKind.Remote.Word(), Repository = $"rest:{servers.RestUrl}/benchmark" },
                ["cloud"] = new() { Kind = TierKind.Cloud.Word(), Repository = $"s3:{servers.S3Url}/{TierServers.Bucket}/benchmark", Credentials = Path.GetFileName(credentials), CaFile = servers.CaFile },
            };
            var context = await BackupBenchmark.ContextAsync(bed, log, tiers, secretsDirectory, masker);
            var volume = context.Plan.Members.Single(m => m.Volume == "qdrant_data");
            log.Information("Filling {Volume} with {Size} MiB of mixed data", volume.VolumeName, volumeMiB);
            await BackupBenchmark.FillAsync(context.Helpers, context.HelperImage, volume.VolumeName!, volumeMiB, cancellationToken);

            var stopwatch = Stopwatch.StartNew();
            var manifest = (await new BackupRunner(context).RunAsync(BackupTrigger.Of("benchmark"), context.Plan.Members.Where(m => m.Method != BackupMethod.Config).ToList(), cancellationToken)).Manifest;
            figures.Add(new BackupFigure($"backup set of the core stack to the local tier ({manifest.Members.Count(m => m.Succeeded)} members)", stopwatch.Elapsed.TotalSeconds, manifest.Members.Sum(m => m.Bytes), null));
            var entries = await context.Catalog.EntriesAsync(cancellationToken);
            var local = await context.Repository.SizeAsync(cancellationToken);
            figures.Add(new BackupFigure("local tier repository", 0, local, null));

            foreach (var tier in context.Tiers.Others)
            {
                var only = new BackupTiers(context.Repository, [tier], context.Tiers.Open, Path.Combine(work, "manifests"), log);
                foreach (var run in new[] { "first", "unchanged" })
                {
                    stopwatch.Restart();
                    var result = (await only.CopyAsync(entries, cancellationToken)).Single();
                    var elapsed = stopwatch.Elapsed.TotalSeconds;
                    if (!result.Ok)
                    {
                        throw new PipelineException($"copy to {tier.Name} failed: {result.Outcome}");
                    }

                    figures.Add(new BackupFigure($"restic copy to the {tier.Name} tier ({tier.Repository.Split(':')[0]}), {run}: {result.Outcome}", elapsed,
                        run == "first" ? await context.Tiers.Open(tier).SizeAsync(cancellationToken) : null, null));
                }
            }

            foreach (var run in new[] { "first", "unchanged" })
            {
                stopwatch.Restart();
                await RcloneAsync(["sync", context.Plan.Primary.Repository, $":s3:{TierServers.Bucket}/rclone-sync"], servers, work, log, cancellationToken);
                var elapsed = stopwatch.Elapsed.TotalSeconds;
                var size = await RcloneAsync(["size", "--json", $":s3:{TierServers.Bucket}/rclone-sync"], servers, work, log, cancellationToken);
                var bytes = System.Text.Json.JsonDocument.Parse(size.Output.Last(l => l.StartsWith('{'))).RootElement.GetProperty("bytes").GetInt64();
                figures.Add(new BackupFigure($"rclone sync of the local repository directory to the same S3 server, {run}", elapsed, bytes, null));
            }

            stopwatch.Restart();
            var report = await new RestoreTester(context, environment, image => image, root, Path.Combine(work, "restore-test"), log).RunAsync(BackupSelection.OfSet(entries[^1]), cancellationToken);
            figures.Add(new BackupFigure($"RestoreTest of the set: {(report.Passed ? "passed" : "FAILED")}, {report.Checks.Count} checks (throwaway containers, dump → restore → dump, key digest, sha256 of every file)", stopwatch.Elapsed.TotalSeconds, null, null));
            var target = Path.Combine(work, "restore");
            stopwatch.Restart();
            foreach (var snapshot in manifest.Members.Where(m => m.Succeeded).SelectMany(m => m.Parts).Select(p => p.Snapshot).Distinct(StringComparer.Ordinal))
            {
                await context.Repository.RestoreAsync(snapshot, Path.Combine(target, snapshot), cancellationToken);
            }

            figures.Add(new BackupFigure("restic restore of the set's snapshots into a directory (nothing started, nothing compared)", stopwatch.Elapsed.TotalSeconds, null, null));
            Directory.Delete(target, recursive: true);
        }
        finally
        {
            await StartBenchmark.CleanAsync(bed.Engine, CancellationToken.None);
            File.Delete(credentials);
        }

        foreach (var figure in figures)
        {
            log.Information("{Figure}", figure.ToString());
        }

        return figures;
    }

    /// <summary>rclone to the S3 server as an on-the-fly remote; its keys and CA through rclone's environment variables, never the command line.</summary>
    private static Task<ProcessResult> RcloneAsync(IReadOnlyList<string> arguments, TierServers servers, string work, ILogger log, CancellationToken cancellationToken) =>
        ProcessRunner.RunCheckedAsync("rclone", arguments, work, line => log.Debug("rclone: {Line}", line), cancellationToken, new Dictionary<string, string>
        {
            ["RCLONE_S3_PROVIDER"] = "Other",
            ["RCLONE_S3_ENDPOINT"] = servers.S3Url,
            ["RCLONE_S3_ACCESS_KEY_ID"] = TierServers.AccessKey,
            ["RCLONE_S3_SECRET_ACCESS_KEY"] = TierServers.AccessKey,
            ["RCLONE_S3_FORCE_PATH_STYLE"] = "true",
            ["RCLONE_CA_CERT"] = servers.CaFile,
            ["AWS_CA_BUNDLE"] = string.Empty, // the AWS SDK in rclone refuses a bundle of its own next to rclone's transport
        });
}
