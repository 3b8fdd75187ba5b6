using System.Security.Cryptography;
using LlmStack.Pipeline;
using LlmStack.Schema;
using Serilog;

namespace LlmStack.Security;

/// <summary>
/// <c>secrets/&lt;environment&gt;.env</c>: the values of the schema's secrets for one environment, as
/// <c>NAME=value</c> lines (compose's --env-file format). The directory is 0700 and the file 0600, both
/// git-ignored. Missing secrets are generated with a CSPRNG; existing values are never overwritten. Every value
/// is registered with the run's masker, so none reaches a log or the console.
/// </summary>
public sealed class SecretStore
{
    private const string Alphanumeric = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    private const string Hex = "0123456789abcdef";

    private readonly Dictionary<string, string> _values;

    private SecretStore(string path, Dictionary<string, string> values)
    {
        Path = path;
        _values = values;
    }

    public string Path { get; }

    public IReadOnlyCollection<string> Names => _values.Keys;

    public string? Get(string name) => _values.GetValueOrDefault(name);

    public static string FileFor(string rootDirectory, string environment) =>
        System.IO.Path.Combine(rootDirectory, "secrets", $"{environment}.env");

    /// <summary>Reads the environment's secrets, generating (and writing) the missing ones.</summary>
    public static SecretStore LoadOrGenerate(string rootDirectory, string environment, IReadOnlyDictionary<string, SecretDefinition> definitions, SecretMasker masker, ILogger log)
    {
        var path = FileFor(rootDirectory, environment);
        var values = Read(path);
        foreach (var value in values.Values)
        {
            masker.Register(value);
        }

        var missing = definitions.Keys.Where(name => !values.ContainsKey(name)).ToList();
        if (missing.Count > 0)
        {
            foreach (var name in missing)
            {
                values[name] = Generate(definitions[name]);
                masker.Register(values[name]);
            }

            Write(path, values);
            log.Information("Generated {Count} secret(s) into {File}: {Names}", missing.Count, System.IO.Path.GetRelativePath(rootDirectory, path), string.Join(", ", missing));
        }
        else if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())
        {
            var mode = File.GetUnixFileMode(path);
            if ((mode & (UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite)) != 0)
            {
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
                log.Warning("{File} was readable by others: set to 0600", System.IO.Path.GetRelativePath(rootDirectory, path));
            }
        }

        return new SecretStore(path, values);
    }

    internal static string Generate(SecretDefinition definition)
    {
        var charset = definition.Charset == "hex" ? Hex : Alphanumeric;
        return (definition.Prefix ?? string.Empty) + RandomNumberGenerator.GetString(charset, definition.Length ?? 32);
    }

    private static Dictionary<string, string> Read(string path)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!File.Exists(path))
        {
            return values;
        }

        var number = 0;
        foreach (var line in File.ReadLines(path))
        {
            number++;
            var text = line.Trim();
            if (text.Length == 0 || text.StartsWith('#'))
            {
                continue;
            }

            var equals = text.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                throw new PipelineException($"{path}:{number}: expected NAME=value (the value is not shown)");
            }

            values[text[..equals].Trim()] = text[(equals + 1)..];
        }

        return values;
    }

    /// <summary>Writes atomically: a 0600 temporary file beside it, then a rename.</summary>
    private static void Write(string path, Dictionary<string, string> values)
    {
        var directory = System.IO.Path.GetDirectoryName(path)!;
        Directory.CreateDirectory(directory);
        var temporary = path + ".tmp";
        var owner = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())
        {
            File.SetUnixFileMode(directory, owner | UnixFileMode.UserExecute);
        }

        var content = "# LlmStack secrets: generated once, never overwritten. Keep private (mode 0600, git-ignored).\n"
            + string.Concat(values.Select(kv => $"{kv.Key}={kv.Value}\n"));
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())
        {
            options.UnixCreateMode = owner;
        }

        using (var stream = new FileStream(temporary, options))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(content);
        }

        File.Move(temporary, path, overwrite: true);
    }
}
