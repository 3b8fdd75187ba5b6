using System.Globalization;
using LlmStack.Backup;
using LlmStack.Engine;
using LlmStack.Pipeline;

namespace LlmStack.Retention;

/// <summary>Files under a path of a volume older (by modification time) than <see cref="Days"/>.</summary>
public sealed record FileRetention(string Service, string Volume, string Path, int Days)
{
    public string Resource => $"{Service}/{Volume}:{(Path is "" or "." ? "/" : Path)}";
}

/// <summary>Model directories under a path of a volume (the Hugging Face cache) not used for <see cref="Days"/>.</summary>
public sealed record ModelRetention(string Service, string Volume, string Path, int Days, IReadOnlyList<string> InUse)
{
    public string Resource => $"{Service}/{Volume}:{(Path is "" or "." ? "/" : Path)}";
}

/// <summary>One model directory: when any of its files was last read or written, and its size.</summary>
public sealed record ModelDirectory(string Name, DateTimeOffset LastUsed, long Kilobytes);

/// <summary>A model directory's fate: removed, or kept and why.</summary>
public sealed record ModelDecision(ModelDirectory Directory, bool Keep, string Reason);

/// <summary>
/// Which model directories go: those whose newest access or change is before the cutoff, never one holding a model in
/// use (its age says nothing: a model loaded once at start is read again only at the next start).
/// </summary>
public static class ModelPlanner
{
    /// <summary>The directory names a model id can have: the Hugging Face cache's <c>models--org--name</c>, and a local path's last segment.</summary>
    public static IReadOnlySet<string> DirectoryNames(string model)
    {
        var trimmed = model.Trim().TrimEnd('/');
        var names = new HashSet<string>(StringComparer.Ordinal) { "models--" + trimmed.Replace("/", "--", StringComparison.Ordinal) };
        var last = trimmed[(trimmed.LastIndexOf('/') + 1)..];
        if (last.Length > 0)
        {
            names.Add(last);
        }

        return names;
    }

    /// <summary>The values of <c>--model X</c> and <c>--model=X</c> in a command line.</summary>
    public static IEnumerable<string> ModelArguments(IReadOnlyList<string> command)
    {
        for (var i = 0; i < command.Count; i++)
        {
            if (command[i] == "--model" && i + 1 < command.Count)
            {
                yield return command[i + 1];
            }
            else if (command[i].StartsWith("--model=", StringComparison.Ordinal))
            {
                yield return command[i]["--model=".Length..];
            }
        }
    }

    public static IReadOnlyList<ModelDecision> Plan(IReadOnlyList<ModelDirectory> directories, IReadOnlyCollection<string> inUse, DateTimeOffset cutoff)
    {
        var protectedNames = inUse.ToDictionary(m => m, DirectoryNames);
        return directories.OrderBy(d => d.Name, StringComparer.Ordinal).Select(d =>
        {
            var model = protectedNames.FirstOrDefault(p => p.Value.Contains(d.Name)).Key;
            return model is not null
                ? new ModelDecision(d, true, $"in use: {model}")
                : d.LastUsed >= cutoff
                    ? new ModelDecision(d, true, $"used {d.LastUsed.UtcDateTime:yyyy-MM-dd HH:mm}Z")
                    : new ModelDecision(d, false, $"not used since {d.LastUsed.UtcDateTime:yyyy-MM-dd HH:mm}Z");
        }).ToList();
    }
}

/// <summary>
/// Data retention in volumes, always through a helper container that mounts the volume (never <c>docker exec</c> into
/// a service, never the host's paths): files by age under a path, and whole model directories by last use.
/// </summary>
public sealed class VolumeRetention(BackupContext context)
{
    /// <summary>The helper's mount point; configured paths are below it.</summary>
    private const string Root = "/volume";

    // $1 directory, $2 minutes, $3 "1" to delete. Prints "<files> <bytes>" of files older than $2 minutes.
    private const string FilesScript =
        "[ -d \"$1\" ] || { echo missing; exit 0; }; "
        + "find \"$1\" -type f -mmin +\"$2\" -exec sh -c 'for f; do s=$(stat -c %s \"$f\") || continue; "
        + "if [ \"$0\" = 1 ]; then rm -f -- \"$f\" || continue; fi; echo \"$s\"; done' \"$3\" {} + "
        + "| awk '{n++; b+=$1} END {printf \"%d %d\\n\", n, b}'";

    // Sets t to the last use of directory $d: the newest read or write of any of its files, or change of its
    // directories and links (a directory's access time moves whenever it is listed, so not that).
    private const string LastUsed =
        "t=$({ find \"$d\" -type f -exec stat -c '%X %Y' {} +; find \"$d\" ! -type f -exec stat -c '%Y %Y' {} +; } "
        + "| awk '{if ($1 > m) m = $1; if ($2 > m) m = $2} END {print m + 0}'); ";

    // $1 directory. Prints "<last used epoch> <KiB> <name>" per model directory (not the hidden ones: .locks).
    private const string ModelsScript =
        "[ -d \"$1\" ] || { echo missing; exit 0; }; cd \"$1\" || exit 2; "
        + "for d in *; do [ -d \"$d\" ] && [ ! -L \"$d\" ] || continue; "
        + LastUsed
        + "k=$(du -sk \"$d\" | cut -f1); echo \"$t $k $d\"; done";

    // $1 directory, $2 cutoff epoch, then the names. Removes each whose last use is still before the cutoff.
    private const string RemoveModelsScript =
        "cd \"$1\" || exit 2; c=$2; shift 2; for d; do [ -d \"$d\" ] || continue; "
        + LastUsed
        + "if [ \"$t\" -lt \"$c\" ]; then rm -rf -- \"$d\" && echo \"removed $d\"; else echo \"used $d\"; fi; done";

    /// <summary>Whether the volume exists (and is ours: one that is not is an error, never touched).</summary>
    public async Task<bool> ExistsAsync(string volume, CancellationToken cancellationToken) =>
        await context.OwnedVolumeAsync(volume, cancellationToken) is not null;

    /// <summary>Files due now (count, bytes), or null when the path does not exist.</summary>
    public Task<(long Files, long Bytes)?> CountFilesAsync(FileRetention files, CancellationToken cancellationToken) =>
        FilesAsync(files, apply: false, cancellationToken);

    /// <summary>Deletes the files due now; what was deleted.</summary>
    public async Task<(long Files, long Bytes)> DeleteFilesAsync(FileRetention files, CancellationToken cancellationToken) =>
        await FilesAsync(files, apply: true, cancellationToken) ?? (0, 0);

    private async Task<(long Files, long Bytes)?> FilesAsync(FileRetention files, bool apply, CancellationToken cancellationToken)
    {
        var output = await RunAsync(files.Service, files.Volume, apply ? "retention-files" : "retention-files-count", FilesScript,
            [Under(files.Path), (files.Days * 1440L).ToString(CultureInfo.InvariantCulture), apply ? "1" : "0"], readOnly: !apply, cancellationToken);
        if (output.Trim() == "missing")
        {
            return null;
        }

        var parts = output.Trim().Split(' ');
        return (long.Parse(parts[0], CultureInfo.InvariantCulture), long.Parse(parts[1], CultureInfo.InvariantCulture));
    }

    /// <summary>The model directories under the path, or null when it does not exist.</summary>
    public async Task<IReadOnlyList<ModelDirectory>?> ModelsAsync(ModelRetention models, CancellationToken cancellationToken)
    {
        var output = await RunAsync(models.Service, models.Volume, "retention-models", ModelsScript, [Under(models.Path)], readOnly: true, cancellationToken);
        if (output.Trim() == "missing")
        {
            return null;
        }

        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ', 3))
            .Select(p => new ModelDirectory(p[2], DateTimeOffset.FromUnixTimeSeconds(long.Parse(p[0], CultureInfo.InvariantCulture)), long.Parse(p[1], CultureInfo.InvariantCulture)))
            .ToList();
    }

    /// <summary>Removes these model directories, each only if still unused since <paramref name="cutoff"/>; the ones removed.</summary>
    public async Task<IReadOnlyList<string>> RemoveModelsAsync(ModelRetention models, IReadOnlyList<string> names, DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        var output = await RunAsync(models.Service, models.Volume, "retention-models", RemoveModelsScript,
            [Under(models.Path), cutoff.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture), .. names], readOnly: false, cancellationToken);
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("removed ", StringComparison.Ordinal)).Select(l => l[8..]).ToList();
    }

    private static string Under(string path) => path is "" or "." ? Root : $"{Root}/{path.Trim('/')}";

    private async Task<string> RunAsync(string service, string volume, string purpose, string script, IReadOnlyList<string> arguments, bool readOnly, CancellationToken cancellationToken)
    {
        var name = await context.OwnedVolumeAsync(volume, cancellationToken)
                   ?? throw new PipelineException($"volume {volume} of {service} does not exist (its stack has never run)");
        var result = await context.Helpers.RunAsync(new HelperSpec
        {
            Purpose = purpose,
            Image = context.HelperImage,
            Entrypoint = ["/bin/sh", "-c"],
            Command = [script, "retention", .. arguments],
            Mounts = [new HelperMount(name, Root, readOnly)],
            Timeout = TimeSpan.FromHours(2),
        }, cancellationToken);
        return result.ExitCode == 0
            ? result.Output
            : throw new PipelineException($"{purpose} in volume {volume} failed (exit {result.ExitCode}): {result.Errors.LastOrDefault() ?? result.Output.Trim()}");
    }
}
