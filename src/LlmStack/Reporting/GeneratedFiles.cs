namespace LlmStack.Reporting;

/// <summary>Files LlmStack generates and commits (workflows, monitoring): written only where the content differs.</summary>
public static class GeneratedFiles
{
    /// <summary>Writes each file whose content differs (creating its directory); returns the paths written, relative to <paramref name="root"/>.</summary>
    public static List<string> WriteChanged(string root, IReadOnlyDictionary<string, string> files)
    {
        var changed = new List<string>();
        foreach (var (path, content) in files)
        {
            var full = Path.Combine(root, path);
            if (File.Exists(full) && File.ReadAllText(full) == content)
            {
                continue;
            }

            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            File.WriteAllText(full, content);
            changed.Add(path);
        }

        return changed;
    }
}
