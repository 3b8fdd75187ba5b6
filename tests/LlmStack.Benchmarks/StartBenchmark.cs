using System.Diagnostics;
using System.Net;
using Docker.DotNet.Models;
using LlmStack.Compose;
using LlmStack.Engine;
using LlmStack.Lifecycle;
using LlmStack.Pipeline;
using LlmStack.Schema;
using LlmStack.Security;
using LlmStack.Tooling;
using Serilog;

namespace LlmStack.Benchmarks;

/// <summary>
/// StartCore to all-ready, against <c>docker-compose up -d</c> of our generated core file plus waiting until Docker
/// reports every service healthy; same fixture images, fresh volumes each run. Runs in a project of its own
/// (<c>llmstack-benchmark</c>: the testing environment's core on its own subnets and host ports shifted by
/// 30000), so it never touches a real environment.
/// </summary>
public static class StartBenchmark
{
    public const string Project = "llmstack-benchmark";
    public const string EnvironmentName = "benchmark";

    public static async Task<(Timing LlmStack, Timing Compose)> RunAsync(SchemaFile schema, string imageMapPath, int runs, string secretsDirectory, SecretMasker masker, ILogger log, CancellationToken cancellationToken)
    {
        await TestTools.RequireDockerComposeAsync(schema.RootDirectory, cancellationToken);

        var map = ImageMap.Load(imageMapPath, schema.RootDirectory);
        var environment = Derive(schema.Resolve("testing"), map);
        using var engine = await DockerEngine.ConnectAsync(null, log, cancellationToken);
        var secrets = SecretStore.LoadOrGenerate(schema.RootDirectory, secretsDirectory, EnvironmentName, schema.Load().Secrets, masker, log);
        var composeFile = WriteComposeFile(environment, schema.RootDirectory);
        var operations = new StackOperations(engine, environment, schema.RootDirectory, Serilog.Core.Logger.None);
        var ours = new List<TimeSpan>();
        var theirs = new List<TimeSpan>();
        try
        {
            for (var run = 1; run <= runs; run++)
            {
                // Alternate which goes first, so neither always meets a warmer engine.
                foreach (var which in run % 2 == 1 ? new[] { "llmstack", "compose" } : ["compose", "llmstack"])
                {
                    await CleanAsync(engine, cancellationToken);
                    var stopwatch = Stopwatch.StartNew();
                    if (which == "llmstack")
                    {
                        await operations.StartAsync("core", secrets, ImageMap.None, null, cancellationToken);
                        ours.Add(stopwatch.Elapsed);
                    }
                    else
                    {
                        await ProcessRunner.RunCheckedAsync(
                            "docker-compose",
                            ["--env-file", secrets.Path, "-p", Project, "-f", composeFile, "up", "-d"],
                            schema.RootDirectory,
                            null,
                            cancellationToken);
                        await WaitDockerHealthyAsync(engine, environment.Services.Count(s => s.Stack == "core"), cancellationToken);
                        theirs.Add(stopwatch.Elapsed);
                    }

                    log.Information("Run {Run}: {Which} {Seconds:0.00} s", run, which, stopwatch.Elapsed.TotalSeconds);
                }
            }
        }
        finally
        {
            await CleanAsync(engine, CancellationToken.None);
        }

        return (new Timing("LlmStack StartCore", ours), new Timing("docker-compose up -d + wait healthy", theirs));
    }

    /// <summary>
    /// The benchmark project made ready for a data benchmark: the testing environment derived into it, its secrets,
    /// an emptied work directory under artifacts/benchmark/<paramref name="name"/>, and the engine. Dispose it to close the engine.
    /// </summary>
    internal static async Task<BenchmarkBed> BedAsync(SchemaFile schema, string imageMapPath, string secretsDirectory, string name, SecretMasker masker, ILogger log, CancellationToken cancellationToken)
    {
        var root = schema.RootDirectory;
        var map = ImageMap.Load(imageMapPath, root);
        var environment = Derive(schema.Resolve("testing"), map);
        var secrets = SecretStore.LoadOrGenerate(root, secretsDirectory, EnvironmentName, schema.Load().Secrets, masker, log);
        var work = Path.Combine(root, "artifacts", "benchmark", name);
        if (Directory.Exists(work))
        {
            Directory.Delete(work, recursive: true);
        }

        Directory.CreateDirectory(work);
        return new BenchmarkBed(schema, map, environment, secrets, work, await DockerEngine.ConnectAsync(null, log, cancellationToken));
    }

    /// <summary>The testing environment's services under the benchmark project: own subnets, host ports + 30000, images mapped.</summary>
    internal static ResolvedEnvironment Derive(ResolvedEnvironment testing, ImageMap map) => testing with
    {
        Name = EnvironmentName,
        Project = Project,
        Networks = testing.Networks.Select((n, i) => n with
        {
            Name = $"{Project}_{n.Stack}",
            Subnet = IPNetwork.Parse($"10.254.{i + 1}.0/24"),
            Gateway = IPAddress.Parse($"10.254.{i + 1}.1"),
        }).ToList(),
        Volumes = testing.Volumes.Select(v => v with { Name = $"{Project}_{v.Key}" }).ToList(),
        Services = testing.Services.Select(s => s with
        {
            Image = map.Apply(s.Image),
            Ports = s.Ports.Select(p => p with { HostPort = p.HostPort + 30000 }).ToList(),
        }).ToList(),
    };

    private static string WriteComposeFile(ResolvedEnvironment environment, string root)
    {
        var directory = Path.Combine(root, "artifacts", "benchmark");
        Directory.CreateDirectory(directory);
        var file = Path.Combine(directory, "core.yml");
        // Compose v1 predates the top-level name: (the project is passed with -p).
        var text = string.Join('\n', ComposeGenerator.Render(environment, ["core"], root, directory).Split('\n').Where(l => !l.StartsWith("name:", StringComparison.Ordinal)));
        File.WriteAllText(file, text);
        return file;
    }

    private static async Task WaitDockerHealthyAsync(DockerEngine engine, int expected, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow.AddMinutes(3);
        while (true)
        {
            var containers = await engine.Client.Containers.ListContainersAsync(new ContainersListParameters { Filters = Filter() }, cancellationToken);
            var healthy = 0;
            foreach (var container in containers)
            {
                var state = (await engine.Client.Containers.InspectContainerAsync(container.ID, cancellationToken)).State;
                if (state is { Running: true } && (state.Health is null || state.Health.Status == "healthy"))
                {
                    healthy++;
                }
            }

            if (containers.Count == expected && healthy == expected)
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new PipelineException($"docker-compose's services did not all become healthy within 3 minutes ({healthy}/{expected})");
            }

            await Task.Delay(250, cancellationToken);
        }
    }

    /// <summary>Removes everything of the benchmark project (by its compose project label; nothing else carries it).</summary>
    internal static async Task CleanAsync(DockerEngine engine, CancellationToken cancellationToken)
    {
        foreach (var container in await engine.Client.Containers.ListContainersAsync(new ContainersListParameters { All = true, Filters = Filter() }, cancellationToken))
        {
            await engine.Client.Containers.RemoveContainerAsync(container.ID, new ContainerRemoveParameters { Force = true }, cancellationToken);
        }

        foreach (var network in await engine.Client.Networks.ListNetworksAsync(new NetworksListParameters { Filters = Filter() }, cancellationToken))
        {
            await engine.Client.Networks.DeleteNetworkAsync(network.ID, cancellationToken);
        }

        foreach (var volume in (await engine.Client.Volumes.ListAsync(new VolumesListParameters { Filters = Filter() }, cancellationToken)).Volumes ?? [])
        {
            await engine.Client.Volumes.RemoveAsync(volume.Name, true, cancellationToken);
        }
    }

    private static IDictionary<string, IDictionary<string, bool>> Filter() =>
        new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"{Names.ComposeProject}={Project}"] = true } };
}

/// <summary>What a data benchmark works in: the benchmark project's environment, its secrets and work directory, the engine.</summary>
internal sealed record BenchmarkBed(SchemaFile Schema, ImageMap Map, ResolvedEnvironment Environment, SecretStore Secrets, string Work, DockerEngine Engine) : IDisposable
{
    public string Root => Schema.RootDirectory;

    /// <summary>Removes whatever an earlier run left in the benchmark project, then starts its core stack.</summary>
    public async Task StartCoreAsync(CancellationToken cancellationToken)
    {
        await StartBenchmark.CleanAsync(Engine, CancellationToken.None);
        await new StackOperations(Engine, Environment, Root, Serilog.Core.Logger.None).StartAsync("core", Secrets, ImageMap.None, null, cancellationToken);
    }

    public void Dispose() => Engine.Dispose();
}
