using System.Text;

namespace LlmStack.Pipeline;

/// <summary>
/// The text of <c>--help</c>, kept in <c>.nuke/temp/help.cache</c> under a key of everything it is made from: the build
/// program's assemblies (name, size, time), the parameter files, the variables with the build's prefix, the arguments and
/// the files the build names as help inputs (its value sets' sources). A warm <c>--help</c> is then a few <c>stat</c>
/// calls and one read: no reflection over the targets, no value set. The key is a hash (variables may hold secrets, which
/// must not land in the file), and a non-cryptographic one: a cache key needs no collision resistance against an attacker,
/// and the cryptography library (OpenSSL, loaded on first use) would cost a warm --help more than everything else it does.
/// </summary>
internal static class HelpCache
{
    private const string FileName = "help.cache";

    public static string Key(Type build, string root, IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string> variables, string prefix, IEnumerable<string> inputs)
    {
        // Plain loops and sorts: LINQ over these element types is not precompiled and would be compiled at start-up.
        // The build program's assemblies are keyed by their files (size and time), which covers their module ids.
        var text = new StringBuilder();
        text.Append(build.FullName).Append('\n');
        foreach (var argument in arguments)
        {
            text.Append(argument).Append('\u0001');
        }

        text.Append('\n');
        var lines = new List<string>();
        foreach (var (name, value) in variables)
        {
            if (name.StartsWith(prefix + "_", StringComparison.OrdinalIgnoreCase))
            {
                lines.Add(name + "=" + value);
            }
        }

        var files = new List<string>(Directory.GetFiles(AppContext.BaseDirectory, "*.dll"));
        var nuke = Path.Combine(root, ".nuke");
        if (Directory.Exists(nuke))
        {
            files.AddRange(Directory.GetFiles(nuke, "parameters*.json"));
        }

        files.AddRange(inputs);
        foreach (var file in files)
        {
            var info = new FileInfo(file);
            lines.Add(file + "|" + (info.Exists ? $"{info.Length}|{info.LastWriteTimeUtc.Ticks}" : "-"));
        }

        lines.Sort(StringComparer.Ordinal);
        foreach (var line in lines)
        {
            text.Append(line).Append('\n');
        }

        return Fnv1a(text.ToString());
    }

    /// <summary>FNV-1a, 64 bits, over the UTF-16 code units; as hex.</summary>
    internal static string Fnv1a(string text)
    {
        const ulong offset = 14695981039346656037UL;
        const ulong prime = 1099511628211UL;
        var hash = offset;
        foreach (var c in text)
        {
            hash = (hash ^ (byte)c) * prime;
            hash = (hash ^ (byte)(c >> 8)) * prime;
        }

        return hash.ToString("x16", System.Globalization.CultureInfo.InvariantCulture);
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
