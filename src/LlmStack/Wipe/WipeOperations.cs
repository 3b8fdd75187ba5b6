using Docker.DotNet.Models;
using Docker.DotNet;
using LlmStack.Backup;
using LlmStack.ChangeControl;
using LlmStack.Compose;
using LlmStack.Engine;
using LlmStack.Pipeline;
using LlmStack.Schema;
using LlmStack.Security;
using Serilog;

namespace LlmStack.Wipe;

/// <summary>
/// The bodies of the wipe targets. Everything is selected by LlmStack's labels for this project and environment (never
/// by a name), shown in the change gate's table (every container, volume with its size, and network), and removed
/// one audited change at a time: containers first (dependents before what they depend on), then volumes, then networks.
/// A volume LlmStack does not own, one declared <c>wipe: false</c>, or one a container that is not ours also mounts is
/// never removed; the last is a refusal named at the end (non-zero exit).
/// </summary>
public sealed class WipeOperations(EnvironmentSession session, string helperImage, ILogger log)
{
    private ResolvedEnvironment Environment => session.Environment;

    /// <summary>
    /// When the backup a wipe would take first was skipped on purpose (<c>--skip</c>): a line on the environment's
    /// newest backup set for the confirmation, or null when that environment's wipe takes no backup anyway.
    /// </summary>
    public Func<EnvironmentSession, CancellationToken, Task<string?>>? SkippedBackup { get; init; }

    private Scope Scope => Scope.Of(Environment);

    /// <summary>
    /// Wipe&lt;Stack&gt;: the stack's containers and those of the stacks that depend on it (removed first, as Stop
    /// does), the volumes only this stack mounts, and its network.
    /// </summary>
    public async Task WipeStackAsync(string target, string stack, CancellationToken cancellationToken)
    {
        Environment.Stack(stack);
        var stacks = Environment.Dependents(stack).Select(s => s.Name).Append(stack).Distinct().ToList();
        var refusals = new List<string>();
        await session.ChangeAsync(target, async ct =>
        {
            var engine = await session.EngineAsync(ct);
            var containers = new List<ContainerListResponse>();
            foreach (var name in stacks)
            {
                containers.AddRange(await engine.ServiceContainersAsync(Scope, ct, stack: name));
            }

            var kept = new List<KeptResource>();
            var volumes = Environment.Volumes.Where(v => v.Stacks.Contains(stack)).ToList();
            foreach (var shared in volumes.Where(v => v.Stacks.Any(s => s != stack)).ToList())
            {
                kept.Add(new KeptResource(ChangeKind.Volume, shared.Name, $"also mounted by stack {string.Join(", ", shared.Stacks.Where(s => s != stack))}: an environment wipe removes it"));
                volumes.Remove(shared);
            }

            // Our other containers that mount those volumes (a helper a killed run left) go before them too.
            foreach (var user in await OwnedMountersAsync(engine, volumes.Select(v => v.Name), ct))
            {
                if (containers.All(c => c.ID != user.ID))
                {
                    containers.Add(user);
                }
            }

            var changes = await ContainerChangesAsync(containers, ct);
            changes.AddRange(await VolumeChangesAsync(engine, volumes.Select(v => (v.Name, (ResolvedVolume?)v)).ToList(), kept, refusals, ct));
            changes.AddRange(await NetworkChangesAsync(engine, Scope.Filter(stack), ct));
            return new ChangePlan($"wipe stack {stack} (its containers{(stacks.Count > 1 ? $" and those of {string.Join(", ", stacks.Where(s => s != stack))}" : string.Empty)}, volumes and network)", changes, kept)
            {
                Notices = await NoticesAsync([session], ct),
            };
        }, cancellationToken);
        Refused(target, refusals);
    }

    /// <summary>
    /// WipeDb, WipeCache, …: the environment's volumes that hold <paramref name="dataType"/>. The containers that mount
    /// them are removed first; afterwards the stacks that were running are started again (new, empty volumes), health-gated.
    /// </summary>
    public async Task WipeDataAsync(string target, string dataType, CancellationToken cancellationToken)
    {
        var refusals = new List<string>();
        var running = new List<string>();
        var outcome = await session.ChangeAsync(target, async ct =>
        {
            var engine = await session.EngineAsync(ct);
            var kept = new List<KeptResource>();
            var volumes = Environment.Volumes.Where(v => v.Holds == dataType).ToList();
            var users = await OwnedMountersAsync(engine, volumes.Select(v => v.Name), ct);
            running.Clear();
            running.AddRange(users.Where(c => c.RunState() == ContainerRunState.Running && c.Labels.Value(Names.Service) is not null).Select(c => c.Labels.Value(Names.Stack)!).Distinct());
            var changes = await ContainerChangesAsync(users, ct);
            changes.AddRange(await VolumeChangesAsync(engine, volumes.Select(v => (v.Name, (ResolvedVolume?)v)).ToList(), kept, refusals, ct));
            if (volumes.Count == 0)
            {
                kept.Add(new KeptResource(ChangeKind.Volume, "-", $"no volume of environment {Environment.Name} holds {dataType} (schema: volumes.<name>.holds)"));
            }

            return new ChangePlan($"wipe the {dataType} volumes ({string.Join(", ", volumes.Select(v => v.Key).DefaultIfEmpty("none"))}), then start what was running again", changes, kept)
            {
                Notices = await NoticesAsync([session], ct),
            };
        }, cancellationToken);

        if (outcome == GateOutcome.Applied)
        {
            foreach (var stack in Environment.Stacks.Select(s => s.Name).Where(running.Contains))
            {
                await session.StartAsync(stack, cancellationToken);
            }
        }

        Refused(target, refusals);
    }

    /// <summary>
    /// Wipe&lt;Environment&gt;: every container (helpers included), volume and network with this environment's labels,
    /// whether or not the schema still names it; the secrets file only with <paramref name="wipeSecrets"/>.
    /// </summary>
    public async Task<GateOutcome> WipeEnvironmentAsync(string target, bool wipeSecrets, CancellationToken cancellationToken)
    {
        var refusals = new List<string>();
        var outcome = await session.ChangeAsync(target, async ct =>
        {
            var kept = new List<KeptResource>();
            var changes = await EverythingAsync(kept, refusals, wipeSecrets, ct);
            return new ChangePlan($"wipe everything of environment {Environment.Name}", changes, kept)
            {
                Notices = await NoticesAsync([session], ct),
            };
        }, cancellationToken);
        Refused(target, refusals);
        return outcome;
    }

    /// <summary>The schema's project: what WipeNuclear spans and its phrase names.</summary>
    private string Project => session.Options.Schema.Load().Project!.Name!;

    /// <summary>What the nuclear gate and its early --confirm check name as the scope.</summary>
    private string NuclearScope => $"project {Project}";

    /// <summary>The phrase that confirms WipeNuclear: it names the project, so it cannot be typed by habit.</summary>
    public static string NuclearPhrase(string project) => $"wipe {project} everywhere";

    /// <summary>
    /// WipeNuclear: everything of every environment of the schema's project (each selected by its own labels, so
    /// nothing of another project and nothing unlabelled), in one gate holding every environment's lock, confirmed by
    /// typing <see cref="NuclearPhrase"/>. Secrets kept unless <paramref name="wipeSecrets"/>.
    /// </summary>
    public async Task<GateOutcome> WipeNuclearAsync(string target, bool wipeSecrets, CancellationToken cancellationToken)
    {
        var sessions = session.AllEnvironments();
        var wipes = sessions.Select(s => s == session ? this : new WipeOperations(s, helperImage, log)).ToList();
        var refusals = new List<string>();
        var outcome = await session.ChangeAcrossAsync(target, sessions, NuclearScope, NuclearPhrase(Project), async ct =>
        {
            var kept = new List<KeptResource>();
            var changes = new List<PlannedChange>();
            foreach (var wipe in wipes)
            {
                changes.AddRange(await wipe.EverythingAsync(kept, refusals, wipeSecrets, ct));
            }

            var environments = changes.Select(c => c.Environment!).Distinct().ToList();
            return new ChangePlan($"wipe everything of environment{(environments.Count == 1 ? string.Empty : "s")} {string.Join(", ", environments)}", changes, kept)
            {
                Notices = await NoticesAsync(sessions.Where(s => environments.Contains(s.Environment.Name)).ToList(), ct),
            };
        }, cancellationToken);
        Refused(target, refusals);
        return outcome;
    }

    /// <summary>
    /// Before WipeNuclear: a BackupFull of each environment whose wipe takes one (<paramref name="wanted"/>) and that
    /// has a volume of ours on this engine (no backups of nothing); the first failure stops it, so nothing is wiped.
    /// </summary>
    public async Task BackupEverywhereAsync(string wipeTarget, Func<EnvironmentSession, bool> wanted, Func<EnvironmentSession, BackupOperations> backups, BackupTrigger trigger, CancellationToken cancellationToken)
    {
        // A --confirm that is not the phrase fails the wipe anyway: say so before spending time on backups.
        Confirmation.CheckTarget(wipeTarget, NuclearScope, session.Options.Gate.Confirm, NuclearPhrase(Project));
        foreach (var each in session.AllEnvironments())
        {
            var name = each.Environment.Name;
            if (!wanted(each))
            {
                log.Information("{Environment}: its wipe takes no backup first (backup_before_wipe is off)", name);
                continue;
            }

            var engine = await each.EngineAsync(cancellationToken);
            var volumes = await engine.CallAsync(ct => engine.Client.Volumes.ListAsync(new VolumesListParameters { Filters = Scope.Of(each.Environment).Filter() }, ct), cancellationToken);
            if (volumes.Volumes is not { Count: > 0 })
            {
                log.Information("{Environment}: no volume of it on this engine, nothing to back up", name);
                continue;
            }

            log.Information("{Environment}: backing up before the wipe", name);
            await backups(each).FullAsync(trigger, cancellationToken);
        }
    }

    /// <summary>The changes that remove everything of this environment (each naming it for the audit), secrets last.</summary>
    private async Task<List<PlannedChange>> EverythingAsync(List<KeptResource> kept, List<string> refusals, bool wipeSecrets, CancellationToken cancellationToken)
    {
        var engine = await session.EngineAsync(cancellationToken);
        var containers = await engine.CallAsync(c => engine.Client.Containers.ListContainersAsync(new ContainersListParameters { All = true, Filters = Scope.Filter() }, c), cancellationToken);
        var changes = await ContainerChangesAsync(containers.ToList(), cancellationToken);
        var volumes = await engine.CallAsync(c => engine.Client.Volumes.ListAsync(new VolumesListParameters { Filters = Scope.Filter() }, c), cancellationToken);
        changes.AddRange(await VolumeChangesAsync(engine, (volumes.Volumes ?? []).Select(v => (v.Name, Environment.Volumes.FirstOrDefault(r => r.Name == v.Name))).ToList(), kept, refusals, cancellationToken));
        changes.AddRange(await NetworkChangesAsync(engine, Scope.Filter(), cancellationToken));
        var secrets = session.SecretsPath;
        if (File.Exists(secrets))
        {
            if (wipeSecrets)
            {
                changes.Add(new PlannedChange(ChangeKind.Secrets, secrets, ChangeAction.Remove, "--wipe-secrets: the next start generates new ones", _ =>
                {
                    File.Delete(secrets);
                    return Task.FromResult<string?>(null);
                }));
            }
            else
            {
                kept.Add(new KeptResource(ChangeKind.Secrets, secrets, "kept (--wipe-secrets removes them): a new start initialises its databases with the same passwords"));
            }
        }

        return changes.Select(c => c with { Environment = Environment.Name }).ToList();
    }

    /// <summary>The skipped-backup lines of the environments concerned (none when no backup was skipped).</summary>
    private async Task<IReadOnlyList<string>> NoticesAsync(IReadOnlyList<EnvironmentSession> sessions, CancellationToken cancellationToken)
    {
        var notices = new List<string>();
        if (SkippedBackup is null)
        {
            return notices;
        }

        foreach (var each in sessions)
        {
            if (await SkippedBackup(each, cancellationToken) is { } notice)
            {
                notices.Add(notice);
            }
        }

        return notices;
    }

    /// <summary>
    /// Reset: the environment's wipe (secrets always kept), then every enabled stack started again in order, health-gated,
    /// so the new databases are initialised with the passwords the secrets file holds. A dry run or a wipe that was not
    /// applied starts nothing.
    /// </summary>
    public async Task ResetAsync(string target, CancellationToken cancellationToken)
    {
        var outcome = await WipeEnvironmentAsync(target, wipeSecrets: false, cancellationToken);
        var stacks = Environment.Stacks.Select(s => s.Name).ToList();
        if (outcome == GateOutcome.DryRun)
        {
            log.Information("Dry run: {Target} would then start {Stacks}", target, string.Join(", ", stacks));
            return;
        }

        foreach (var stack in stacks)
        {
            await session.StartAsync(stack, cancellationToken);
        }
    }

    /// <summary>One change per container, dependents before what they depend on (helpers and unknown services first).</summary>
    private async Task<List<PlannedChange>> ContainerChangesAsync(IReadOnlyList<ContainerListResponse> containers, CancellationToken cancellationToken)
    {
        var lifecycle = await session.LifecycleAsync(cancellationToken);
        var order = Environment.Services.Select((s, i) => (s.Name, i)).ToDictionary(x => x.Name, x => x.i, StringComparer.Ordinal);
        return containers
            .OrderByDescending(c => c.Labels.Value(Names.Service) is { } service && order.TryGetValue(service, out var index) ? index : int.MaxValue)
            .ThenBy(c => c.Names[0], StringComparer.Ordinal)
            .Select(c => new PlannedChange(ChangeKind.Container, c.Names[0].TrimStart('/'), ChangeAction.Remove, c.Labels.Value(Names.Service) is { } service ? $"service {service} ({c.State})" : $"helper ({c.State})", async ct =>
            {
                await lifecycle.StopAsync([c], remove: true, "removed", ct);
                return null;
            }))
            .ToList();
    }

    /// <summary>
    /// One change per volume that exists, is ours and may be wiped; the others are kept with the reason, and a volume a
    /// container that is not ours mounts is refused (named at the end).
    /// </summary>
    private async Task<List<PlannedChange>> VolumeChangesAsync(DockerEngine engine, IReadOnlyList<(string Name, ResolvedVolume? Resolved)> volumes, List<KeptResource> kept, List<string> refusals, CancellationToken cancellationToken)
    {
        var removable = new List<(string Name, ResolvedVolume? Resolved)>();
        foreach (var (name, resolved) in volumes)
        {
            VolumeResponse found;
            try
            {
                found = await engine.CallAsync(ct => engine.Client.Volumes.InspectAsync(name, ct), cancellationToken);
            }
            catch (DockerApiException e) when (e.StatusCode == System.Net.HttpStatusCode.NotFound)
            {
                continue;
            }

            if (!Scope.Owns(found.Labels))
            {
                kept.Add(new KeptResource(ChangeKind.Volume, name, $"not LlmStack's for {Environment.Name} (labels differ): never touched"));
                continue;
            }

            if (resolved is { Wipeable: false })
            {
                kept.Add(new KeptResource(ChangeKind.Volume, name, "declared wipe: false in the schema"));
                continue;
            }

            var foreign = (await ContainersMountingAsync(engine, name, cancellationToken)).Where(c => !Scope.Owns(c.Labels)).Select(c => c.Names[0].TrimStart('/')).ToList();
            if (foreign.Count > 0)
            {
                var why = $"also mounted by {string.Join(", ", foreign)}, which is not LlmStack's for {Environment.Name}: refused";
                kept.Add(new KeptResource(ChangeKind.Volume, name, why));
                refusals.Add($"volume {name} {why}");
                continue;
            }

            removable.Add((name, resolved));
        }

        var sizes = await SizesAsync(removable.Select(v => v.Name).ToList(), cancellationToken);
        return removable.Select(v => new PlannedChange(ChangeKind.Volume, v.Name, ChangeAction.Remove, v.Resolved is null ? "ours, no longer in the schema" : $"holds {v.Resolved.Holds}", async ct =>
        {
            await engine.CallAsync(c => engine.Client.Volumes.RemoveAsync(v.Name, force: false, c), ct);
            return null;
        })
        {
            Detail = sizes.TryGetValue(v.Name, out var size) ? BackupProgress.Size(size) : "size unknown",
        }).ToList();
    }

    private async Task<List<PlannedChange>> NetworkChangesAsync(DockerEngine engine, IDictionary<string, IDictionary<string, bool>> filter, CancellationToken cancellationToken)
    {
        var networks = await engine.CallAsync(ct => engine.Client.Networks.ListNetworksAsync(new NetworksListParameters { Filters = filter }, ct), cancellationToken);
        return networks.Where(n => Scope.Owns(n.Labels)).OrderBy(n => n.Name, StringComparer.Ordinal).Select(n => new PlannedChange(ChangeKind.Network, n.Name, ChangeAction.Remove, $"{n.Labels.Value(Names.Stack) ?? "environment"} network", async ct =>
        {
            var detail = await engine.CallAsync(c => engine.Client.Networks.InspectNetworkAsync(n.ID, c), ct);
            if (detail.Containers is { Count: > 0 } users)
            {
                throw new ChangeSkippedException($"still used by {string.Join(", ", users.Values.Select(u => u.Name))}");
            }

            await engine.CallAsync(c => engine.Client.Networks.DeleteNetworkAsync(n.ID, c), ct);
            return null;
        })
        {
            Detail = n.IPAM?.Config?.FirstOrDefault()?.Subnet,
        }).ToList();
    }

    /// <summary>Our containers (services and helpers, all states) that mount any of the volumes.</summary>
    private async Task<List<ContainerListResponse>> OwnedMountersAsync(DockerEngine engine, IEnumerable<string> volumes, CancellationToken cancellationToken)
    {
        var users = new Dictionary<string, ContainerListResponse>(StringComparer.Ordinal);
        foreach (var volume in volumes)
        {
            foreach (var container in await ContainersMountingAsync(engine, volume, cancellationToken))
            {
                if (Scope.Owns(container.Labels))
                {
                    users[container.ID] = container;
                }
            }
        }

        return users.Values.ToList();
    }

    /// <summary>Every container (all states, anyone's) that mounts the volume: Docker's own volume filter.</summary>
    private static async Task<IList<ContainerListResponse>> ContainersMountingAsync(DockerEngine engine, string volume, CancellationToken cancellationToken) =>
        await engine.CallAsync(ct => engine.Client.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["volume"] = new Dictionary<string, bool> { [volume] = true } },
        }, ct), cancellationToken);

    /// <summary>
    /// The volumes' sizes, from one helper container that mounts them all read-only (<c>du</c>); the engine's own disk
    /// usage does not reach this client on every API version. Unknown (absent) when the helper cannot run.
    /// </summary>
    private async Task<Dictionary<string, long>> SizesAsync(IReadOnlyList<string> volumes, CancellationToken cancellationToken)
    {
        var sizes = new Dictionary<string, long>(StringComparer.Ordinal);
        if (volumes.Count == 0)
        {
            return sizes;
        }

        var helpers = await session.HelpersAsync(cancellationToken);
        var result = await helpers.RunAsync(new HelperSpec
        {
            Purpose = "wipe-size",
            Image = session.MapImage(helperImage),
            Entrypoint = ["/bin/sh", "-c"],
            Command = ["cd /v && du -sk -- *"],
            Mounts = volumes.Select((v, i) => new HelperMount(v, $"/v/{i}")).ToList(),
        }, cancellationToken);
        foreach (var line in result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = line.Split('\t');
            if (parts.Length == 2 && long.TryParse(parts[0], out var kib) && int.TryParse(parts[1], out var index) && index < volumes.Count)
            {
                sizes[volumes[index]] = kib * 1024;
            }
        }

        if (result.ExitCode != 0)
        {
            log.Warning("Volume sizes incomplete: du exited {Exit}", result.ExitCode);
        }

        return sizes;
    }

    private static void Refused(string target, IReadOnlyList<string> refusals)
    {
        if (refusals.Count > 0)
        {
            throw new PipelineException($"{target}: {string.Join("; ", refusals)}");
        }
    }
}
