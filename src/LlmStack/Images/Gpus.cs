using System.Globalization;
using Docker.DotNet.Models;
using LlmStack.Engine;
using LlmStack.Pipeline;
using LlmStack.Reporting;
using LlmStack.Schema;

namespace LlmStack.Images;

/// <summary>One GPU as <c>nvidia-smi</c> lists it.</summary>
public sealed record GpuDevice(string Index, string Name, long MemoryMiB, string Driver, string Uuid);

/// <summary>
/// What the host offers containers in GPUs: the engine's runtimes and default runtime and its CDI devices (<c>docker
/// info</c>; engines before API 1.49 list no CDI devices), and the GPUs <c>nvidia-smi</c> lists (null: it is not installed
/// or failed, <see cref="NvidiaSmi"/> says which).
/// </summary>
public sealed record GpuHost(IReadOnlyList<string> Runtimes, string DefaultRuntime, IReadOnlyList<string> CdiDevices, IReadOnlyList<GpuDevice>? Gpus, string NvidiaSmi)
{
    /// <summary>
    /// An NVIDIA runtime is registered with the engine (the NVIDIA Container Toolkit's <c>nvidia-ctk runtime configure
    /// --runtime=docker</c>), or the engine lists NVIDIA CDI devices: what a container's GPU request needs.
    /// </summary>
    public bool HasGpuRuntime =>
        Runtimes.Any(IsNvidia) || IsNvidia(DefaultRuntime) || CdiDevices.Any(d => d.StartsWith("nvidia.com/gpu", StringComparison.OrdinalIgnoreCase));

    public string RuntimesText => Runtimes.Count == 0 ? "none" : string.Join(", ", Runtimes);

    private static bool IsNvidia(string runtime) => runtime.Contains("nvidia", StringComparison.OrdinalIgnoreCase);

    /// <summary>The host as <c>docker info</c> and <c>nvidia-smi</c> describe it.</summary>
    public static GpuHost From(SystemInfoResponse info, IReadOnlyList<GpuDevice>? gpus, string nvidiaSmi) => new(
        (info.Runtimes?.Keys ?? []).Order(StringComparer.Ordinal).ToList(),
        info.DefaultRuntime ?? string.Empty,
        (info.DiscoveredDevices ?? []).Select(d => d.ID).Where(id => id.Length > 0).ToList(),
        gpus,
        nvidiaSmi);

    /// <summary>
    /// <c>docker info</c> of the engine and <c>nvidia-smi --query-gpu</c> on this host (the engine's host when it is
    /// local: a remote engine's GPUs are not seen, and the device check is then left to the engine).
    /// </summary>
    public static async Task<GpuHost> ReadAsync(DockerEngine engine, CancellationToken cancellationToken)
    {
        var info = await engine.CallAsync(ct => engine.Client.System.GetSystemInfoAsync(ct), cancellationToken);
        var (gpus, smi) = await NvidiaSmiAsync(cancellationToken);
        return From(info, gpus, smi);
    }

    /// <summary>The query LlmStack runs: index, name, total memory (MiB), driver version and UUID, as CSV without units.</summary>
    public static readonly string[] NvidiaSmiArguments = ["--query-gpu=index,name,memory.total,driver_version,uuid", "--format=csv,noheader,nounits"];

    private static async Task<(IReadOnlyList<GpuDevice>?, string)> NvidiaSmiAsync(CancellationToken cancellationToken)
    {
        var program = (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, "nvidia-smi"))
            .FirstOrDefault(File.Exists);
        if (program is null)
        {
            return (null, "nvidia-smi not found on PATH (no NVIDIA driver on this host)");
        }

        var result = await ProcessRunner.RunAsync(program, NvidiaSmiArguments, Directory.GetCurrentDirectory(), null, cancellationToken);
        return result.ExitCode == 0
            ? (ParseNvidiaSmi(result.Output), program)
            : (null, $"{program} failed (exit {result.ExitCode}): {result.Output.FirstOrDefault() ?? string.Empty}".TrimEnd(' ', ':'));
    }

    /// <summary>The lines of <see cref="NvidiaSmiArguments"/>' output.</summary>
    public static IReadOnlyList<GpuDevice> ParseNvidiaSmi(IEnumerable<string> lines) => lines
        .Select(l => l.Split(',', StringSplitOptions.TrimEntries))
        .Where(f => f.Length >= 5)
        .Select(f => new GpuDevice(f[0], f[1], long.TryParse(f[2], NumberStyles.Integer, CultureInfo.InvariantCulture, out var mib) ? mib : 0, f[3], f[4]))
        .ToList();
}

/// <summary>What one service asks of the GPUs: a count (-1: all) or device ids.</summary>
public sealed record GpuRequest(string Service, string Stack, int Count, IReadOnlyList<string> DeviceIds)
{
    public override string ToString() => DeviceIds.Count > 0
        ? $"{Service} (device ids {string.Join(", ", DeviceIds)})"
        : $"{Service} ({(Count < 0 ? "all GPUs" : Count.ToString(CultureInfo.InvariantCulture) + " GPU(s)")})";

    /// <summary>The GPU requests of an environment's services (of <paramref name="stacks"/> only, when given); none with gpu: false.</summary>
    public static IReadOnlyList<GpuRequest> Of(ResolvedEnvironment environment, IReadOnlyCollection<string>? stacks = null) => environment.Services
        .Where(s => s.Gpu is not null && (stacks is null || stacks.Contains(s.Stack)))
        .Select(s => new GpuRequest(s.Name, s.Stack, s.Gpu!.Count, s.Gpu.DeviceIds))
        .ToList();
}

public enum GpuVerdictKind
{
    /// <summary>Nothing asks for a GPU (gpu: false, or no GPU service enabled).</summary>
    NotNeeded,

    /// <summary>The engine has a GPU runtime and the host what is asked for (as far as nvidia-smi tells).</summary>
    Ready,

    /// <summary>GPU services, and no GPU runtime in the engine.</summary>
    NoRuntime,

    /// <summary>Device ids asked for that the host does not have, or more GPUs than it has.</summary>
    MissingDevices,
}

/// <summary>Whether an environment's GPU services can run on this host, and why not.</summary>
public sealed record GpuVerdict(string Environment, bool Gpu, IReadOnlyList<GpuRequest> Requests, GpuVerdictKind Kind, string Text)
{
    public bool Refused => Kind is GpuVerdictKind.NoRuntime or GpuVerdictKind.MissingDevices;

    /// <summary>The verdict for an environment's services (those of <paramref name="stacks"/>, when given) on a host.</summary>
    public static GpuVerdict Judge(GpuHost host, ResolvedEnvironment environment, IReadOnlyCollection<string>? stacks = null)
    {
        var requests = GpuRequest.Of(environment, stacks);
        GpuVerdict Verdict(GpuVerdictKind kind, string text) => new(environment.Name, environment.Gpu, requests, kind, text);

        if (requests.Count == 0)
        {
            return Verdict(GpuVerdictKind.NotNeeded, environment.Gpu ? "no GPU service enabled" : "gpu: false: every GPU request is dropped");
        }

        var asking = string.Join(", ", requests);
        if (!host.HasGpuRuntime)
        {
            return Verdict(GpuVerdictKind.NoRuntime,
                $"{asking} ask(s) for GPUs (gpu: true), but the engine has no GPU runtime (runtimes: {host.RuntimesText}): use an environment with gpu: false on this host, or install the NVIDIA Container Toolkit and register its runtime with Docker (nvidia-ctk runtime configure --runtime=docker)");
        }

        if (host.Gpus is { } gpus)
        {
            var known = gpus.SelectMany(g => new[] { g.Index, g.Uuid }).ToHashSet(StringComparer.Ordinal);
            var missing = requests.SelectMany(r => r.DeviceIds.Where(id => !known.Contains(id)).Select(id => (r.Service, Id: id))).ToList();
            if (missing.Count > 0)
            {
                return Verdict(GpuVerdictKind.MissingDevices,
                    $"device id(s) {string.Join(", ", missing.Select(m => $"{m.Id} ({m.Service})"))} asked for, but the host has GPU(s) {(gpus.Count == 0 ? "none" : string.Join(", ", gpus.Select(g => g.Index)))}: change the service's gpu: device_ids, or run it on a host with those GPUs");
            }

            var tooMany = requests.Where(r => r.DeviceIds.Count == 0 && (r.Count > gpus.Count || (r.Count < 0 && gpus.Count == 0))).ToList();
            if (tooMany.Count > 0)
            {
                return Verdict(GpuVerdictKind.MissingDevices,
                    $"{string.Join(", ", tooMany)} ask(s) for more GPUs than the host has ({gpus.Count}): lower gpu: count, or run it on a host with more GPUs");
            }

            return Verdict(GpuVerdictKind.Ready, $"{asking}: the engine has a GPU runtime and the host {gpus.Count} GPU(s)");
        }

        return Verdict(GpuVerdictKind.Ready, $"{asking}: the engine has a GPU runtime ({host.NvidiaSmi}: the devices are the engine's to check)");
    }

    /// <summary>
    /// The one line a run's Start refuses with, before anything is created: the targets, the environment's gpu:, the
    /// services and the way out.
    /// </summary>
    public string Refusal(string targets) => $"{targets} need(s) GPUs in environment {Environment} (gpu: {(Gpu ? "true" : "false")}): {Text}";
}

/// <summary>DetectGpu's report: the host, then a verdict per environment of the schema; fails when the run's environment is refused.</summary>
public static class GpuReport
{
    public sealed record Document(GpuHostDocument Host, IReadOnlyList<GpuEnvironmentDocument> Environments);

    public sealed record GpuHostDocument(bool GpuRuntime, IReadOnlyList<string> Runtimes, string DefaultRuntime, IReadOnlyList<string> CdiDevices, IReadOnlyList<GpuDevice>? Gpus, string NvidiaSmi);

    public sealed record GpuEnvironmentDocument(string Environment, bool Gpu, IReadOnlyList<string> Requests, GpuVerdictKind Verdict, string Detail);

    public static Report Of(GpuHost host, IReadOnlyList<GpuVerdict> verdicts, string environment)
    {
        var report = new Report
        {
            Document = new Document(
                new GpuHostDocument(host.HasGpuRuntime, host.Runtimes, host.DefaultRuntime, host.CdiDevices, host.Gpus, host.NvidiaSmi),
                verdicts.Select(v => new GpuEnvironmentDocument(v.Environment, v.Gpu, v.Requests.Select(r => r.ToString()).ToList(), v.Kind, v.Text)).ToList()),
        };
        report.Line($"Engine: GPU runtime {(host.HasGpuRuntime ? "yes" : "no")}; runtimes {host.RuntimesText} (default {host.DefaultRuntime}); CDI devices {(host.CdiDevices.Count == 0 ? "none" : string.Join(", ", host.CdiDevices))}");
        if (host.Gpus is { } gpus)
        {
            var table = new TextTable("GPU", "Name", "Memory", "Driver", "UUID");
            foreach (var gpu in gpus)
            {
                table.Add(gpu.Index, gpu.Name, ByteSize.Format(gpu.MemoryMiB << 20), gpu.Driver, gpu.Uuid);
            }

            report.Line($"Host: {gpus.Count} GPU(s) (nvidia-smi)").TableIfAny(table);
        }
        else
        {
            report.Line($"Host: {host.NvidiaSmi}");
        }

        var environments = new TextTable("Environment", "gpu:", "Asks for", "Verdict", "Detail");
        foreach (var verdict in verdicts)
        {
            environments.Add(verdict.Environment, verdict.Gpu ? "true" : "false", verdict.Requests.Count == 0 ? "-" : string.Join(", ", verdict.Requests),
                Word(verdict.Kind), verdict.Kind == GpuVerdictKind.NotNeeded ? verdict.Text : verdict.Refused ? "refused: see below" : "ok");
        }

        report.Line().Table(environments);
        foreach (var verdict in verdicts.Where(v => v.Refused))
        {
            report.Line($"{verdict.Environment}: {verdict.Text}");
        }

        if (verdicts.FirstOrDefault(v => v.Environment == environment) is { Refused: true } refused)
        {
            report.Failure = $"environment {environment} cannot run its GPU services on this host: {refused.Text}";
        }

        return report;
    }

    /// <summary>The verdict as the table and --json say it.</summary>
    public static string Word(GpuVerdictKind kind) => kind switch
    {
        GpuVerdictKind.NotNeeded => "not needed",
        GpuVerdictKind.Ready => "ready",
        GpuVerdictKind.NoRuntime => "no GPU runtime",
        _ => "missing devices",
    };
}
