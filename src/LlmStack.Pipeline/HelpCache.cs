using System.Security.Cryptography;
using System.Text;

namespace LlmStack.Pipeline;

/// <summary>
/// The text of <c>--help</c>, kept in <c>.nuke/temp/help.cache</c> under a key of everything it is made from: the build
/// program's assemblies (name, size, time), the parameter files, the variables with the build's prefix, the arguments and
/// the files the build names as help inputs (its value sets' sources). A warm <c>--help</c> is then a few <c>stat</c>
/// calls and one read: no reflection over the targets, no value set.
/// </summary>
internal static class HelpCache
{
    private const string FileName = "help.cache";

    public static string Key(Type build, string root, IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string> variables, string prefix, IEnumerable<string> inputs)
    {
        var text = new StringBuilder();
        text.Append(typeof(HelpCache).Assembly.ManifestModule.ModuleVersionId).Append('\n');
        text.Append(build.FullName).Append('|').Append(build.Assembly.ManifestModule.ModuleVersionId).Append('\n');
        text.AppendJoin('\u0001', arguments).Append('\n');
        foreach (var (name, value) in variables.Where(v => v.Key.StartsWith(prefix + "_", StringComparison.OrdinalIgnoreCase)).OrderBy(v => v.Key, StringComparer.Ordinal))
        {
            text.Append(name).Append('=').Append(value).Append('\n');
        }

        var files = Directory.EnumerateFiles(AppContext.BaseDirectory, "*.dll")
            .Concat(Directory.Exists(Path.Combine(root, ".nuke")) ? Directory.EnumerateFiles(Path.Combine(root, ".nuke"), "parameters*.json") : [])
            .Concat(inputs)
            .Order(StringComparer.Ordinal);
        foreach (var file in files)
        {
            var info = new FileInfo(file);
            text.Append(file).Append('|').Append(info.Exists ? $"{info.Length}|{info.LastWriteTimeUtc.Ticks}" : "-").Append('\n');
        }

        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    /// <summary>Writes the cached help when its key matches; false when there is none or it is stale.</summary>
    public static bool TryWrite(string temporaryDirectory, string key, TextWriter output)
    {
        var path = Path.Combine(temporaryDirectory, FileName);
        try
        {
            using var reader = new StreamReader(path);
            if (reader.ReadLine() != key)
            {
                return false;
            }

            output.Write(reader.ReadToEnd());
            return true;
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Keeps the help text for the next run (written aside, then moved; a failure to write is no failure of help).</summary>
    public static void Save(string temporaryDirectory, string key, string text)
    {
        try
        {
            Directory.CreateDirectory(temporaryDirectory);
            var path = Path.Combine(temporaryDirectory, FileName);
            var partial = $"{path}.{Environment.ProcessId}.partial";
            File.WriteAllText(partial, key + "\n" + text);
            File.Move(partial, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }
}
