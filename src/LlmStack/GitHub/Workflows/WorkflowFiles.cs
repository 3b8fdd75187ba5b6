using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using LlmStack.Pipeline;

namespace LlmStack.GitHub.Workflows;

/// <summary>
/// The generated files under <c>.github/</c>: every declared workflow plus <c>.github/actionlint.yaml</c> (our runner
/// labels). GenerateWorkflows writes them, CheckWorkflows compares, and the start of a local run warns when they are stale.
/// A file is ours when its first line is <see cref="WorkflowWriter.Header"/>; nothing else is ever deleted.
/// </summary>
public static class WorkflowFiles
{
    public const string WorkflowsDirectory = ".github/workflows";

    public const string ActionlintConfig = ".github/actionlint.yaml";

    /// <summary>Every generated file (path relative to the repository root, '/'-separated) and its content.</summary>
    public static SortedDictionary<string, string> Render(IEnumerable<Workflow> workflows, WorkflowSources sources)
    {
        var files = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var workflow in workflows)
        {
            var path = $"{WorkflowsDirectory}/{workflow.FileName}";
            if (!files.TryAdd(path, WorkflowWriter.Write(workflow)))
            {
                throw new PipelineException($"two workflows are declared as {workflow.FileName} in build/IWorkflows.cs: give each its own file name");
            }
        }

        var config = new StringBuilder()
            .Append(WorkflowWriter.Header).Append('\n')
            .Append("# actionlint's configuration: the labels of our self-hosted runners (docs/GITOPS.md).\n")
            .Append("self-hosted-runner:\n  labels:\n");
        foreach (var label in sources.CustomLabels())
        {
            config.Append("    - ").Append(label).Append('\n');
        }

        files[ActionlintConfig] = config.ToString();
        return files;
    }

    /// <summary>Writes what differs, removes generated files no declaration makes any more; returns the paths changed.</summary>
    public static IReadOnlyList<string> Write(string root, IReadOnlyDictionary<string, string> files)
    {
        var changed = Reporting.GeneratedFiles.WriteChanged(root, files);
        foreach (var stale in Owned(root).Where(p => !files.ContainsKey(p)))
        {
            File.Delete(Path.Combine(root, stale));
            changed.Add(stale);
        }

        return changed;
    }

    /// <summary>
    /// Renders into a temporary directory and compares it with the files under <paramref name="root"/>: one line naming
    /// every differing, missing and extra (generated, no longer declared) file, or null when they agree.
    /// </summary>
    public static string? Compare(string root, IReadOnlyDictionary<string, string> files)
    {
        var temporary = Path.Combine(Path.GetTempPath(), $"llmstack-workflows-{Guid.NewGuid():N}");
        try
        {
            Write(temporary, files);
            var differing = new List<string>();
            var missing = new List<string>();
            foreach (var path in files.Keys)
            {
                var committed = Path.Combine(root, path);
                if (!File.Exists(committed))
                {
                    missing.Add(path);
                }
                else if (!File.ReadAllBytes(committed).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(temporary, path))))
                {
                    differing.Add(path);
                }
            }

            var extra = Owned(root).Where(p => !files.ContainsKey(p)).ToList();
            if (differing.Count + missing.Count + extra.Count == 0)
            {
                return null;
            }

            var parts = new List<string>();
            if (differing.Count > 0)
            {
                parts.Add($"differ: {string.Join(", ", differing)}");
            }

            if (missing.Count > 0)
            {
                parts.Add($"missing: {string.Join(", ", missing)}");
            }

            if (extra.Count > 0)
            {
                parts.Add($"extra: {string.Join(", ", extra)}");
            }

            return $"the generated GitHub workflows are out of date ({string.Join("; ", parts)}): run ./build.sh GenerateWorkflows and commit .github/";
        }
        finally
        {
            if (Directory.Exists(temporary))
            {
                Directory.Delete(temporary, recursive: true);
            }
        }
    }

    /// <summary>The generated files present under <paramref name="root"/> (identified by their header line).</summary>
    public static IReadOnlyList<string> Owned(string root)
    {
        var directory = Path.Combine(root, WorkflowsDirectory);
        var candidates = Directory.Exists(directory)
            ? Directory.EnumerateFiles(directory).Where(f => f.EndsWith(".yml", StringComparison.Ordinal) || f.EndsWith(".yaml", StringComparison.Ordinal))
            : [];
        return candidates.Append(Path.Combine(root, ActionlintConfig))
            .Where(f => File.Exists(f) && FirstLine(f) == WorkflowWriter.Header)
            .Select(f => Path.GetRelativePath(root, f).Replace('\\', '/'))
            .Order(StringComparer.Ordinal)
            .ToList();
    }

    private static string? FirstLine(string file)
    {
        using var reader = new StreamReader(file);
        return reader.ReadLine();
    }

    /// <summary>A content hash of the rendered files: what GenerateWorkflows would write.</summary>
    public static string Hash(IReadOnlyDictionary<string, string> files)
    {
        var text = string.Concat(files.Select(f => $"{f.Key}\n{f.Value.Length}\n{f.Value}"));
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
    }
}

/// <summary>
/// The start-of-run check that the committed workflows still match the declarations. It keeps a stamp in
/// <c>.nuke/temp/workflows.stamp</c>: a cheap key (the build program's module id and the size and time of the
/// configurations and the generated files) with the verdict and the hash of the generated content. While the key is
/// unchanged, a run only stats a few files; when it changed, the workflows are rendered in memory once and compared.
/// </summary>
public static class WorkflowStaleness
{
    private sealed record Stamp(string Key, string Hash, bool Stale);

    public static string StampPath(string root) => Path.Combine(root, ".nuke", "temp", "workflows.stamp");

    /// <summary>The cheap key of everything the generated files depend on.</summary>
    public static string Key(string root, Guid buildModule, IEnumerable<string> inputs)
    {
        var builder = new StringBuilder().Append(buildModule).Append('\n');
        foreach (var file in inputs.Select(i => Path.GetFullPath(i, root)).Concat(GeneratedCandidates(root)).Distinct(StringComparer.Ordinal))
        {
            var info = new FileInfo(file);
            builder.Append(file).Append(' ').Append(info.Exists ? $"{info.Length} {info.LastWriteTimeUtc.Ticks}" : "-").Append('\n');
        }

        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(builder.ToString())));
    }

    /// <summary>
    /// True when the committed files differ from what <paramref name="render"/> makes; <paramref name="render"/> is only
    /// called when the key changed since the last check.
    /// </summary>
    public static bool IsStale(string root, string key, Func<IReadOnlyDictionary<string, string>> render)
    {
        var path = StampPath(root);
        if (File.Exists(path))
        {
            try
            {
                if (JsonSerializer.Deserialize<Stamp>(File.ReadAllText(path)) is { } stamp && stamp.Key == key)
                {
                    return stamp.Stale;
                }
            }
            catch (JsonException)
            {
                // A damaged stamp is checked again.
            }
        }

        var files = render();
        var stale = WorkflowFiles.Compare(root, files) is not null;
        Record(root, key, files, stale);
        return stale;
    }

    /// <summary>Writes the stamp (GenerateWorkflows calls it after writing, with the key of the new files).</summary>
    public static void Record(string root, string key, IReadOnlyDictionary<string, string> files, bool stale)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(StampPath(root))!);
        File.WriteAllText(StampPath(root), JsonSerializer.Serialize(new Stamp(key, WorkflowFiles.Hash(files), stale)));
    }

    private static IEnumerable<string> GeneratedCandidates(string root)
    {
        var directory = Path.Combine(root, WorkflowFiles.WorkflowsDirectory);
        var files = Directory.Exists(directory) ? Directory.EnumerateFiles(directory).Order(StringComparer.Ordinal) : Enumerable.Empty<string>();
        return files.Append(Path.Combine(root, WorkflowFiles.ActionlintConfig));
    }
}
