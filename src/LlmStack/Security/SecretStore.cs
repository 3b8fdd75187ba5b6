using System.Security.Cryptography;
using LlmStack.Pipeline;
using LlmStack.Schema;
using LlmStack.Security;
using Serilog;

namespace LlmStack.Security;

/// <summary>
/// <c>&lt;secrets directory&gt;/&lt;environment&gt;.env</c> (default <c>secrets/</c>, or <c>--secrets-dir</c>): the values
/// of the schema's secrets for one environment, as <c>NAME=value</c> lines (compose's --env-file format). The directory
/// is 0700 and the file 0600, both git-ignored. Missing secrets are generated with a CSPRNG; existing values are never
/// overwritten, and a file that exists but cannot be read is an error, never replaced. Every value is registered with
/// the run's masker, so none reaches a log or the console.
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

    /// <summary>The names this load generated (empty when every secret existed).</summary>
    public IReadOnlyList<string> Created { get; private init; } = [];

    public const string DefaultDirectory = "secrets";

    /// <summary>The secrets file of an environment; <paramref name="directory"/> is relative to the repository root unless absolute.</summary>
    public static string FileFor(string rootDirectory, string directory, string environment) =>
        System.IO.Path.Combine(System.IO.Path.GetFullPath(directory, rootDirectory), $"{environment}.env");

    /// <summary>Reads the environment's secrets, generating (and writing) the missing ones.</summary>
    public static SecretStore LoadOrGenerate(
        string rootDirectory, string directory, string environment, IReadOnlyDictionary<string, SecretDefinition> definitions, SecretMasker masker, ILogger log)
    {
        var path = FileFor(rootDirectory, directory, environment);
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
            log.Information("Generated {Count} secret(s) into {File}: {Names}", missing.Count, Display(rootDirectory, path), string.Join(", ", missing));
        }
        else if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())
        {
            var mode = File.GetUnixFileMode(path);
            if ((mode & (UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite)) != 0)
            {
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
                log.Warning("{File} was readable by others: set to 0600", Display(rootDirectory, path));
            }
        }

        return new SecretStore(path, values) { Created = missing };
    }

    /// <summary>A new value: CSPRNG characters after the prefix, drawn again in the (rare) case ValidateCredentials' rules would flag them.</summary>
    internal static string Generate(SecretDefinition definition)
    {
        var charset = definition.Charset == "hex" ? Hex : Alphanumeric;
        string body;
        do
        {
            body = RandomNumberGenerator.GetString(charset, definition.Length ?? 32);
        }
        while (CredentialRules.WeakReason(body) is not null || CredentialRules.SimpleReason(body) is not null);

        return (definition.Prefix ?? string.Empty) + body;
    }

    private static string Display(string root, string path)
    {
        var relative = System.IO.Path.GetRelativePath(root, path);
        return relative.StartsWith("..", StringComparison.Ordinal) ? path : relative;
    }

    /// <summary>Registers the file's values with <paramref name="masker"/>, so text that carries one is masked (the file is only read).</summary>
    public static void Mask(string path, SecretMasker masker)
    {
        foreach (var value in Read(path).Values)
        {
            masker.Register(value);
        }
    }

    /// <summary>
    /// The file's values; empty only when nothing at all is at <paramref name="path"/>. Anything else that cannot be read
    /// as a file (a directory, a dangling link, no permission) is one clear error, and nothing is written. A name set twice
    /// is an error naming both lines (never a value): which one a reader took would depend on the reader.
    /// </summary>
    public static Dictionary<string, string> Read(string path)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        var info = new FileInfo(path);
        if (info.LinkTarget is { } target && info.ResolveLinkTarget(returnFinalTarget: true) is not { Exists: true })
        {
            throw new PipelineException($"secrets file {path} is a link to {target}, which does not exist: fix the link (LlmStack never replaces a secrets file)");
        }

        if (Directory.Exists(path))
        {
            throw new PipelineException($"secrets file {path} is a directory: move it away (LlmStack never replaces a secrets file)");
        }

        if (!File.Exists(path))
        {
            return values;
        }

        List<string> lines;
        try
        {
            lines = File.ReadAllLines(path).ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new PipelineException($"secrets file {path} cannot be read ({e.Message.Split('\n')[0]}): fix its permissions (LlmStack never replaces a secrets file)");
        }

        var number = 0;
        var lineOf = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var line in lines)
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

            var name = text[..equals].Trim();
            if (lineOf.TryGetValue(name, out var first))
            {
                throw new PipelineException($"{path}:{number}: {name} is set twice, on lines {first} and {number}: keep one of them (the values are not shown)");
            }

            lineOf[name] = number;
            values[name] = text[(equals + 1)..];
        }

        return values;
    }

    /// <summary>Writes a file only its owner can read (0600 on Unix), replacing one that exists.</summary>
    public static void WritePrivate(string path, string content)
    {
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            if (File.Exists(path))
            {
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
        }

        using var writer = new StreamWriter(path, System.Text.Encoding.UTF8, options);
        writer.Write(content);
    }

    /// <summary>Sets one secret in the file (every other line kept), atomically.</summary>
    public static void Update(string path, string name, string value)
    {
        var values = Read(path);
        values[name] = value;
        Write(path, values);
    }

    /// <summary>The file that keeps rotated-out values: <c>&lt;environment&gt;.history</c> beside the secrets file (0600, git-ignored with it).</summary>
    public static string HistoryFor(string path) => System.IO.Path.ChangeExtension(path, ".history");

    /// <summary>Appends a previous value to the history file (created 0600).</summary>
    public static void AppendHistory(string path, string name, string previous, DateTimeOffset time)
    {
        var options = new FileStreamOptions { Mode = FileMode.Append, Access = FileAccess.Write };
        if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using var writer = new StreamWriter(new FileStream(HistoryFor(path), options));
        writer.Write($"# rotated out {time.UtcDateTime:yyyy-MM-ddTHH:mm:ssZ}\n{name}={previous}\n");
    }

    /// <summary>Writes atomically: a 0600 temporary file beside it, then a rename.</summary>
    private static void Write(string path, Dictionary<string, string> values)
    {
        var directory = System.IO.Path.GetDirectoryName(path)!;
        var temporary = path + ".tmp";
        var owner = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        if (!Directory.Exists(directory))
        {
            // A directory we create is ours to lock down; one the user made (--secrets-dir) keeps its mode.
            Directory.CreateDirectory(directory);
            if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())
            {
                File.SetUnixFileMode(directory, owner | UnixFileMode.UserExecute);
            }
        }

        var content = "# LlmStack secrets: generated once, changed only by RotateSecret. Keep private (mode 0600, git-ignored).\n"
            + string.Concat(values.Select(kv => $"{kv.Key}={kv.Value}\n"));
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())
        {
            options.UnixCreateMode = owner;
        }

        try
        {
            using (var stream = new FileStream(temporary, options))
            using (var writer = new StreamWriter(stream))
            {
                writer.Write(content);
            }

            File.Move(temporary, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try
            {
                File.Delete(temporary);
            }
            catch (Exception cleanup) when (cleanup is IOException or UnauthorizedAccessException)
            {
            }

            throw new PipelineException($"cannot write secrets file {path}: {e.Message.Split('\n')[0]}");
        }
    }
}
