using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text;
using Docker.DotNet.Models;
using Docker.DotNet;
using LlmStack.Compose;
using LlmStack.Engine;
using LlmStack.Lifecycle;
using LlmStack.Pipeline;
using LlmStack.Reporting;
using LlmStack.Schema;
using Serilog;

namespace LlmStack.Backup;

/// <summary>One proof of a restore test, of a member of a set.</summary>
public sealed record RestoreTestCheck(string Member, string Check, bool Ok, string Detail)
{
    /// <summary>The set the member was restored from.</summary>
    public string Set { get; init; } = string.Empty;
}

/// <summary>
/// The outcome of a restore test, written as Markdown and JSON under the state directory's artifacts/restore-test/ and named by <paramref name="Set"/>, the
/// newest of the <paramref name="Sets"/> its members came from.
/// </summary>
public sealed record RestoreTestReport(
    string Environment, string Set, IReadOnlyList<string> Sets, string TestEnvironment, string Project, DateTimeOffset Started, double Seconds, bool Passed, IReadOnlyList<RestoreTestCheck> Checks);

/// <summary>
/// <c>RestoreTest</c>: a backup set restored into throwaway containers from the same images (resolved for the test
/// environment, mapped like every image), in a compose project and an internal network of their own, no published
/// ports, labelled, and always removed afterwards — after a pass, a failure or Ctrl-C. The data is then proven equal
/// to the backup: postgres — the restored database dumped again and compared with the dump inside the backup (dump →
/// restore → dump), plus row counts; redis — the key count and a digest of every key's value against the digest taken
/// at backup time; volumes — restic's <c>restore --verify</c> reads every restored file back against the snapshot, and
/// every entry's type, mode, owner and size is compared with the snapshot's listing (a set whose volume is a tar: the
/// restored files' sha256 against the listing recorded at backup time). Listings are compared as streams, in bounded memory.
/// </summary>
/// <param name="root">The repository root (bind mounts of the services' definitions).</param>
/// <param name="reports">Where the reports go, <c>&lt;environment&gt;/&lt;set&gt;.md|json</c> (the state directory's <c>artifacts/restore-test</c>).</param>
public sealed class RestoreTester(BackupContext source, ResolvedEnvironment testEnvironment, Func<string, string> imageOf, string root, string reports, ILogger log)
{

    public string Project => $"llmstack-restoretest-{source.Environment.Name}";

    /// <summary>Restores each chosen member (each from its own set) into the throwaway project and proves it equal.</summary>
    public async Task<RestoreTestReport> RunAsync(IReadOnlyList<ChosenMember> chosen, CancellationToken cancellationToken)
    {
        var started = DateTimeOffset.UtcNow;
        var members = chosen.Where(c => c.Member.Method != BackupMethod.Config).ToList();
        var throwaway = Derive(members.Select(c => c.Member).ToList());
        var engine = source.Engine;
        var scope = Scope.Of(throwaway);
        var checks = new List<RestoreTestCheck>();
        await CleanAsync(engine, scope, CancellationToken.None); // leftovers of a test that was killed
        try
        {
            await CreateAsync(throwaway, cancellationToken);
            var context = source with
            {
                Environment = throwaway,
                Lifecycle = new ServiceLifecycle(engine, throwaway, log),
                Helpers = new HelperContainers(engine, scope, log),
            };
            var runner = new RestoreRunner(context, reports, verify: true);
            foreach (var (entry, member) in members)
            {
                var set = entry.Manifest.Set;
                try
                {
                    await runner.RestoreAsync(new RestoreTarget(entry.Manifest, member), cancellationToken);
                    checks.Add(new RestoreTestCheck(member.Key, "restore and its check", true, "restored; counts as in the backup") { Set = set });
                    checks.AddRange((await ProveAsync(context, member, cancellationToken)).Select(c => c with { Set = set }));
                }
                catch (Exception e) when (e is PipelineException or DockerApiException or IOException && !cancellationToken.IsCancellationRequested)
                {
                    checks.Add(new RestoreTestCheck(member.Key, "restore", false, e.Message.Split('\n')[0]) { Set = set });
                }
            }
        }
        finally
        {
            await CleanAsync(engine, scope, CancellationToken.None);
        }

        var sets = members.Select(c => c.Entry).DistinctBy(e => e.Manifest.Set).OrderBy(e => e.Manifest.Started).ToList();
        var report = new RestoreTestReport(
            source.Environment.Name, sets.Count == 0 ? "none" : sets[^1].Manifest.Set, sets.Select(e => e.Manifest.Set).ToList(), testEnvironment.Name, Project, started,
            (DateTimeOffset.UtcNow - started).TotalSeconds, checks.All(c => c.Ok) && checks.Count > 0, checks);
        Write(report);
        if (report.Passed)
        {
            await source.Repository.TagAsync(sets.Select(e => e.SnapshotId).ToList(), [$"verified={DateTime.UtcNow:yyyy-MM-dd}", $"restore-tested={DateTime.UtcNow:yyyy-MM-dd}"], cancellationToken);
        }

        return report;
    }

    /// <summary>The members' services as the test environment defines them, renamed into the throwaway project: no ports, one internal network, no dependencies.</summary>
    private ResolvedEnvironment Derive(IReadOnlyList<MemberResult> members)
    {
        var services = members.Select(m => m.Service).Distinct().ToHashSet(StringComparer.Ordinal);
        var network = $"{Project}_restoretest";
        return testEnvironment with
        {
            Name = $"{source.Environment.Name}-restoretest",
            Project = Project,
            Stacks = testEnvironment.Stacks.Where(s => s.Services.Any(services.Contains)).ToList(),
            Networks = testEnvironment.Networks.Select(n => n with { Name = network }).ToList(),
            Volumes = testEnvironment.Volumes.Select(v => v with { Name = $"{Project}_{v.Key}" }).ToList(),
            Services = testEnvironment.Services.Where(s => services.Contains(s.Name)).Select(s => s with
            {
                Image = imageOf(s.Image),
                Ports = [],
                DependsOn = [],
                Networks = [s.Stack],
                Replicas = 1,
                ContainerName = null,
            }).ToList(),
        };
    }

    private async Task CreateAsync(ResolvedEnvironment throwaway, CancellationToken cancellationToken)
    {
        var engine = source.Engine;
        var scope = Scope.Of(throwaway);
        var network = throwaway.Networks[0].Name;
        await engine.Client.Networks.CreateNetworkAsync(
            new NetworksCreateParameters { Name = network, Internal = true, Labels = Labels.Network(throwaway.Project, throwaway.Name, "restoretest") },
            cancellationToken);
        foreach (var volume in throwaway.Volumes.Where(v => throwaway.Services.Any(s => s.Volumes.Any(m => m.Kind == MountKind.Volume && m.Source == v.Key))))
        {
            var labels = Labels.Volume(throwaway.Project, throwaway.Name, volume.Stacks[0], volume.Key);
            await engine.Client.Volumes.CreateAsync(new VolumesCreateParameters { Name = volume.Name, Driver = volume.Driver, Labels = labels }, cancellationToken);
        }

        // Only services whose data is restored into a running server need to run; volumes are filled by helpers.
        foreach (var service in throwaway.Services.Where(s => source.Plan.Members.Any(m => m.Service == s.Name && m.Method is BackupMethod.Postgres or BackupMethod.Redis)))
        {
            var plan = ContainerSpecs.Build(throwaway, service, 1, service.Image, source.Secrets, root);
            var created = await engine.Client.Containers.CreateContainerAsync(plan.Create, cancellationToken);
            await engine.Client.Containers.StartContainerAsync(created.ID, new ContainerStartParameters(), cancellationToken);
            await LlmStack.Engine.Health.WaitReadyAsync(engine, created.ID, plan.Name, service, log, cancellationToken);
            log.Information("Throwaway {Container} is ready ({Image})", plan.Name, service.Image);
        }
    }

    private async Task<IReadOnlyList<RestoreTestCheck>> ProveAsync(BackupContext context, MemberResult member, CancellationToken cancellationToken)
    {
        switch (member.Method)
        {
            case BackupMethod.Postgres:
            {
                var checks = new List<RestoreTestCheck>();
                var (id, name) = await context.RunningContainerAsync(member.Service, cancellationToken);
                var user = context.ServiceVariable(member.Service, "POSTGRES_USER") ?? "postgres";
                foreach (var part in member.Parts.Where(p => p.Source is not null && member.Type == BackupType.Full))
                {
                    var fromBackup = await SqlDigestAsync(context, id, ["pg_restore", "-f", "-"], part, cancellationToken);
                    var fromRestore = await SqlDigestAsync(context, id, ["pg_dump", "-U", user, "-d", part.Source!], null, cancellationToken);
                    checks.Add(new RestoreTestCheck(member.Key, $"dump of database {part.Source} after the restore = the dump in the backup", fromBackup == fromRestore,
                        fromBackup == fromRestore ? $"sha256 {fromBackup[..16]}…" : $"restored {fromRestore[..16]}… ≠ backup {fromBackup[..16]}… in {name}"));
                }

                return checks;
            }

            case BackupMethod.Redis:
            {
                var (id, name) = await context.RunningContainerAsync(member.Service, cancellationToken);
                var (keys, digest) = await new RedisCli(context.Engine, id, name).DigestAsync(cancellationToken);
                if (member.Digest is null)
                {
                    return [new RestoreTestCheck(member.Key, "key digest", true, $"{keys} key(s); no digest was recorded at backup time (writes during the backup), counts checked only")];
                }

                var expected = member.Digest;
                var actual = $"{keys}:{digest}";
                return [new RestoreTestCheck(member.Key, "key count and digest of every value", expected == actual,
                    expected == actual ? $"{keys} key(s), digest {digest[..12]}…" : $"restored {actual}, backup {expected}")];
            }

            case BackupMethod.Volume:
            {
                var volume = context.Environment.Volumes.First(v => v.Key == member.Volume).Name;
                if (member.Tree is not null || member.IsEmptyVolume)
                {
                    var tree = member.Tree;
                    // Content: restic's restore --verify read every restored file back against the snapshot. Here: every
                    // entry's type, mode, owner and size as restored, against the snapshot's own listing.
                    var outcome = await TreeComparison.CompareAsync(
                        (line, ct) => tree is null ? Task.CompletedTask : context.Repository.ListAsync(tree.Snapshot, node => line(TreeComparison.Line(node)), ct),
                        (line, ct) => ListVolumeAsync(context, volume, TreeComparison.StatCommand, stat =>
                        {
                            if (TreeComparison.FromStat(stat) is { } entry)
                            {
                                line(entry);
                            }
                        }, ct),
                        TreeComparison.PathOfLine,
                        cancellationToken);
                    return [new RestoreTestCheck(member.Key, "every entry (type, mode, owner, size) against the snapshot's listing; content verified by restic", outcome.Equal,
                        outcome.Difference ?? string.Create(CultureInfo.InvariantCulture, $"{outcome.Actual} entries as in the snapshot, every file read back"))];
                }

                var listingPart = member.Parts.FirstOrDefault(p => p.Name.EndsWith(".sha256", StringComparison.Ordinal));
                if (listingPart is null)
                {
                    return [new RestoreTestCheck(member.Key, "sha256 of every file", false, "the backup has no sha256 listing (made before LlmStack recorded one): take a new backup")];
                }

                // A set written as a tar: the sha256 listing recorded while the tar went into restic, against the restored files.
                var hashed = await TreeComparison.CompareAsync(
                    (line, ct) => context.Repository.DumpAsync(listingPart.Snapshot, listingPart.Path, async (s, c) =>
                    {
                        var lines = new LineWriter(l =>
                        {
                            if (l.Length > 0 && !l.StartsWith('#'))
                            {
                                line(l);
                            }
                        });
                        await s.CopyToAsync(lines, c);
                        lines.Finish();
                    }, ct),
                    (line, ct) => ListVolumeAsync(context, volume, "find . -type f -exec sha256sum {} +", line, ct),
                    TreeComparison.PathOfSha256,
                    cancellationToken);
                return [new RestoreTestCheck(member.Key, "sha256 of every file against the backup's listing", hashed.Equal,
                    hashed.Difference ?? string.Create(CultureInfo.InvariantCulture, $"{hashed.Actual} file(s) as in the listing"))];
            }

            default:
                return [];
        }
    }

    /// <summary>Each line <paramref name="command"/> prints in the volume's top directory (a helper mounting it read-only), handed over as it comes.</summary>
    private static async Task ListVolumeAsync(BackupContext context, string volume, string command, Action<string> line, CancellationToken cancellationToken)
    {
        var lines = new LineWriter(line);
        var result = await context.Helpers.RunAsync(
            new HelperSpec
            {
                Purpose = "restore-test-list",
                Image = context.HelperImage,
                Entrypoint = ["/bin/sh", "-c"],
                Command = [command],
                Mounts = [new HelperMount(volume, "/volume")],
                WorkingDirectory = "/volume",
                Stdout = lines,
            },
            cancellationToken);
        lines.Finish();
        if (result.ExitCode != 0)
        {
            throw new PipelineException($"listing volume {volume} failed (exit {result.ExitCode}): {result.Errors.LastOrDefault() ?? "no error output"}");
        }
    }

    /// <summary>A SQL dump (from the backup through pg_restore, or of the restored database through pg_dump), without its time stamps and session keys, hashed.</summary>
    private static async Task<string> SqlDigestAsync(BackupContext context, string id, IReadOnlyList<string> command, BackupPart? part, CancellationToken cancellationToken)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var normalizer = new SqlNormalizer(hash);
        Exec.Result? result = null;
        if (part is null)
        {
            result = await Exec.StreamAsync(context.Engine, id, command, cancellationToken, stdout: normalizer);
        }
        else
        {
            await context.Repository.DumpAsync(part.Snapshot, part.Path, async (dump, ct) =>
                result = await Exec.StreamAsync(context.Engine, id, command, ct, stdin: (input, c) => dump.CopyToAsync(input, c), stdout: normalizer), cancellationToken);
        }

        normalizer.Finish();
        return result!.ExitCode == 0
            ? Convert.ToHexStringLower(hash.GetHashAndReset())
            : throw new PipelineException($"{command[0]} failed (exit {result.ExitCode}): {result.ErrorLines.LastOrDefault()}");
    }

    private void Write(RestoreTestReport report)
    {
        var directory = Path.Combine(reports, report.Environment);
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, $"{report.Set}.json"), JsonSerializer.Serialize(report, JsonDefaults.Document));
        File.WriteAllText(Path.Combine(directory, $"{report.Set}.md"), Markdown(report));
        log.Information("Restore test report: {File}", Path.Combine(directory, $"{report.Set}.md"));
    }

    public static string Markdown(RestoreTestReport report)
    {
        var text = new StringBuilder();
        text.AppendLine($"# Restore test of {report.Environment}, set {report.Set}: {(report.Passed ? "passed" : "FAILED")}");
        text.AppendLine();
        text.AppendLine($"Restored into throwaway containers of project `{report.Project}` (images and settings of `{report.TestEnvironment}`) on {report.Started:yyyy-MM-dd HH:mm:ss}Z, {report.Seconds:0.0} s;"
                        + $" members from set(s) {string.Join(", ", report.Sets)}.");
        text.AppendLine();
        text.AppendLine("| Member | Set | Check | Result | Detail |");
        text.AppendLine("|---|---|---|---|---|");
        foreach (var check in report.Checks)
        {
            text.AppendLine($"| {check.Member} | {check.Set} | {check.Check} | {(check.Ok ? "ok" : "**failed**")} | {check.Detail.Replace("|", "\\|", StringComparison.Ordinal)} |");
        }

        return text.ToString();
    }

    /// <summary>Removes the throwaway project's containers, network and volumes (by its labels; never anything else).</summary>
    private static async Task CleanAsync(DockerEngine engine, Scope scope, CancellationToken cancellationToken)
    {
        foreach (var container in await engine.Client.Containers.ListContainersAsync(new ContainersListParameters { All = true, Filters = scope.Filter() }, cancellationToken))
        {
            await engine.Client.Containers.RemoveContainerAsync(container.ID, new ContainerRemoveParameters { Force = true }, cancellationToken);
        }

        foreach (var network in await engine.Client.Networks.ListNetworksAsync(new NetworksListParameters { Filters = scope.Filter() }, cancellationToken))
        {
            await engine.Client.Networks.DeleteNetworkAsync(network.ID, cancellationToken);
        }

        foreach (var volume in (await engine.Client.Volumes.ListAsync(new VolumesListParameters { Filters = scope.Filter() }, cancellationToken)).Volumes ?? [])
        {
            await engine.Client.Volumes.RemoveAsync(volume.Name, force: true, cancellationToken);
        }
    }

    /// <summary>Hashes SQL text line by line, leaving out what differs between two dumps of the same data (time stamps, \restrict keys).</summary>
    private sealed class SqlNormalizer(IncrementalHash hash) : WriteOnlyStream
    {
        private readonly List<byte> _line = [];

        public override void Write(byte[] buffer, int offset, int count)
        {
            for (var i = offset; i < offset + count; i++)
            {
                _line.Add(buffer[i]);
                if (buffer[i] == (byte)'\n')
                {
                    Line();
                }
            }
        }

        public void Finish()
        {
            if (_line.Count > 0)
            {
                Line();
            }
        }

        private void Line()
        {
            var text = Encoding.UTF8.GetString(_line.ToArray());
            _line.Clear();
            if (text.StartsWith("-- Dumped", StringComparison.Ordinal) || text.StartsWith("-- Started on", StringComparison.Ordinal)
                || text.StartsWith("-- Completed on", StringComparison.Ordinal) || text.StartsWith("\\restrict", StringComparison.Ordinal)
                || text.StartsWith("\\unrestrict", StringComparison.Ordinal))
            {
                return;
            }

            hash.AppendData(Encoding.UTF8.GetBytes(text));
        }
    }
}
