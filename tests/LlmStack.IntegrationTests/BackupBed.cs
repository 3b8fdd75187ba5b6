using System.Diagnostics;
using System.Text.Json;

namespace LlmStack.IntegrationTests;

/// <summary>
/// What a backup test class works in: a directory of its own with the local tier, the backup configuration pointed at
/// it (edited by the class), the build run with that configuration, shell and SQL in the containers of the lane's
/// environment (<see cref="TestLane"/>), the list of backups and restic's own view of the repository.
/// </summary>
public sealed class BackupBed : IDisposable
{
    public BackupBed(DockerFixture docker, string name, TestLane? lane = null)
    {
        Docker = docker;
        Lane = lane ?? TestLane.Main;
        Work = Path.Combine(Path.GetTempPath(), $"llmstack-it-{name}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Work);
        Configure(config => config);
    }

    public DockerFixture Docker { get; }

    public TestLane Lane { get; }

    public string Work { get; }

    public string ConfigFile => Path.Combine(Work, "backup-strategies.yaml");

    /// <summary>The lane environment's repository on the local tier.</summary>
    public string Repository => Path.Combine(Work, "tier", Lane.Environment);

    public string KeyFile => Lane.SecretFile(Docker.Root, "backup-key");

    public string Postgres => Lane.Container("postgres");

    public string Redis => Lane.Container("redis");

    public string Qdrant => Lane.Container("qdrant");

    public string Minio => Lane.Container("minio");

    /// <summary>The build with this bed's configuration, in the lane's environment.</summary>
    public TestRun Build => Lane.Run(Docker.Root) with { Arguments = [.. Lane.Arguments(Docker.Root), "--backup-config", ConfigFile] };

    /// <summary>The shipped configuration with the local tier in <see cref="Work"/>, then <paramref name="edit"/>, then the lane's environment as testing's.</summary>
    public void Configure(Func<string, string> edit)
    {
        var config = File.ReadAllText(Path.Combine(Docker.Root, "configs", "backup-strategies.yaml"))
            .Replace("    path: backups", $"    path: {Path.Combine(Work, "tier")}", StringComparison.Ordinal);
        File.WriteAllText(ConfigFile, Lane.WithEnvironment(edit(config)));
    }

    /// <summary>The configuration's volume_reader set to <paramref name="reader"/> (auto, host, helper).</summary>
    public void ReadVolumesWith(string reader) =>
        Configure(config => config.Replace("volume_reader: auto", $"volume_reader: {reader}", StringComparison.Ordinal));

    public void Dispose()
    {
        if (Directory.Exists(Work))
        {
            Directory.Delete(Work, recursive: true);
        }
    }

    public async Task<string> Sh(string container, string script)
    {
        var (code, output) = await Docker.ExecAsync(container, "sh", "-c", script);
        code.Should().Be(0, output);
        return output;
    }

    public Task<string> Sql(string sql, string database = "multimodal") =>
        Sh(Postgres, $"psql -U multimodal -d {database} -AtX -v ON_ERROR_STOP=1 -c \"{sql}\"");

    /// <summary>A volume's tree as a test compares it: every entry's path, mode, owner and size, every file's sha256, every link's target.</summary>
    /// <remarks>The top directory is left out: a file snapshot holds what is in the volume, not the volume's own directory.</remarks>
    public Task<string> Tree(string container, string directory) => Sh(container,
        $"cd {directory} && find . -mindepth 1 ! -type d -exec stat -c '%n %a %u:%g %s' {{}} \\; | sort && find . -mindepth 1 -type d -exec stat -c '%n %a %u:%g' {{}} \\; | sort"
        + " && find . -type f -exec sha256sum {} \\; | sort && find . -type l -exec sh -c 'echo \"$1 -> $(readlink \"$1\")\"' _ {} \\; | sort");

    /// <summary>BackupList --json, which must succeed.</summary>
    public async Task<List<JsonElement>> ListAsync(TestRun? build = null)
    {
        var list = await (build ?? Build).RunAsync("BackupList", "--json");
        list.ExitCode.Should().Be(0, list.ToString());
        return JsonDocument.Parse(list.StandardOutput).RootElement.EnumerateArray().ToList();
    }

    /// <summary>restic itself on the repository (the key from its file unless <paramref name="key"/>), without a lock.</summary>
    public async Task<IReadOnlyList<string>> ResticAsync(IReadOnlyList<string> arguments, string? key = null)
    {
        var environment = new Dictionary<string, string> { ["RESTIC_REPOSITORY"] = Repository, ["RESTIC_PASSWORD"] = key ?? (await File.ReadAllTextAsync(KeyFile)).Trim() };
        var result = await LlmStack.Pipeline.ProcessRunner.RunCheckedAsync("restic", [.. arguments], "/", null, CancellationToken.None, environment);
        return result.Output;
    }

    /// <summary>Every snapshot of the repository as restic lists it (<c>snapshots --json</c>).</summary>
    public async Task<List<JsonElement>> SnapshotsAsync(string? key = null) =>
        JsonDocument.Parse(string.Concat(await ResticAsync(["snapshots", "--json", "--no-lock"], key))).RootElement.EnumerateArray().ToList();

    public static string? Tag(JsonElement snapshot, string key) =>
        snapshot.GetProperty("tags").EnumerateArray().Select(t => t.GetString()!).FirstOrDefault(t => t.StartsWith(key + "=", StringComparison.Ordinal))?[(key.Length + 1)..];

    /// <summary>Every container of the lane's environment's core stack runs and none is paused.</summary>
    public async Task AssertEverythingRunsAsync()
    {
        foreach (var container in await Docker.ContainersAsync(Lane.Environment, "core"))
        {
            var state = (await Docker.Docker.Containers.InspectContainerAsync(container.ID)).State!;
            state.Running.Should().BeTrue($"{container.Names[0]} runs again");
            state.Paused.Should().BeFalse($"{container.Names[0]} is not left paused");
        }
    }

    /// <summary>The lane's environment's helper containers (of any run).</summary>
    public async Task<IList<Docker.DotNet.Models.ContainerListResponse>> HelpersAsync() =>
        await Docker.Docker.Containers.ListContainersAsync(new Docker.DotNet.Models.ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>>
            {
                ["label"] = new Dictionary<string, bool> { [Compose.Names.Helper] = true, [$"{Compose.Names.Environment}={Lane.Environment}"] = true },
            },
        });

    /// <summary>Whether a restic process runs with <paramref name="directory"/> as its working directory (the host reader).</summary>
    public static bool ResticRunsIn(string directory) =>
        Process.GetProcessesByName("restic").Any(p =>
        {
            try
            {
                return new DirectoryInfo($"/proc/{p.Id}/cwd").ResolveLinkTarget(returnFinalTarget: true)?.FullName == directory;
            }
            catch (IOException)
            {
                return false;
            }
            catch (UnauthorizedAccessException)
            {
                return false;
            }
            finally
            {
                p.Dispose();
            }
        });
}
