using System.Security.Cryptography;
using LlmStack.Pipeline;
using LlmStack.Security;
using LlmStack.Sessions;
using Serilog;

namespace LlmStack.Backup;

/// <summary>
/// The key of an environment's backup repositories. In order: a value from the environment (<c>LLMSTACK_BACKUP_KEY</c>,
/// for CI runners), a key file (<c>--backup-key-file</c>, then <c>key.file</c> of the configuration), else
/// <c>&lt;secrets dir&gt;/&lt;environment&gt;.backup-key</c>, generated with a CSPRNG (0600) when the repository does not
/// exist yet. Losing the key loses the backups: restic cannot open a repository without it.
/// </summary>
public static class BackupKeys
{
    private const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    public static string DefaultFile(StatePaths paths, string environment) => paths.SecretsFile($"{environment}.backup-key");

    /// <param name="file">--backup-key-file; relative to the state directory, as <paramref name="configFile"/> (<c>key.file</c>) is.</param>
    public static BackupKey Resolve(
        string? value, string? file, string? configFile, StatePaths paths, string environment, bool repositoryExists, SecretMasker masker, ILogger log)
    {
        if (!string.IsNullOrEmpty(value))
        {
            masker.Register(value);
            return new BackupKey(null, value, "LLMSTACK_BACKUP_KEY");
        }

        if (!string.IsNullOrWhiteSpace(file ?? configFile))
        {
            var path = paths.Resolve((file ?? configFile)!);
            if (!File.Exists(path))
            {
                throw new PipelineException($"backup key file {path} does not exist: restore it from your copy (without it the backups cannot be read)");
            }

            Register(path, masker);
            return new BackupKey(path, null, path);
        }

        var generated = DefaultFile(paths, environment);
        if (File.Exists(generated))
        {
            Register(generated, masker);
            return new BackupKey(generated, null, generated);
        }

        if (repositoryExists)
        {
            throw new PipelineException(
                $"the backup key of {environment} is missing ({generated}) but its repository exists: restore the key file from your copy, or pass --backup-key-file");
        }

        Directory.CreateDirectory(Path.GetDirectoryName(generated)!);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        var key = RandomNumberGenerator.GetString(Alphabet, 48);
        masker.Register(key);
        using (var writer = new StreamWriter(new FileStream(generated, options)))
        {
            writer.Write(key);
        }

        log.Warning("Generated the backup key of {Environment} into {File}: keep a copy somewhere else (docs/BACKUP.md); without it the backups cannot be read", environment, generated);
        return new BackupKey(generated, null, generated);
    }

    /// <summary>
    /// A cloud tier's credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, optionally AWS_DEFAULT_REGION) from its file
    /// in the secrets directory, masked everywhere, passed to restic through its environment. Null for other tiers.
    /// </summary>
    public static IReadOnlyDictionary<string, string>? TierCredentials(ResolvedTier tier, SecretMasker masker)
    {
        if (tier.CredentialsFile is not { } file)
        {
            return null;
        }

        if (!File.Exists(file))
        {
            throw new PipelineException($"tier {tier.Name}: credentials file {file} does not exist: create it (mode 0600) with AWS_ACCESS_KEY_ID=… and AWS_SECRET_ACCESS_KEY=…");
        }

        var values = Security.SecretStore.Read(file);
        foreach (var required in new[] { "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY" }.Where(r => !values.ContainsKey(r)))
        {
            throw new PipelineException($"tier {tier.Name}: {file} has no {required}");
        }

        foreach (var value in values.Values)
        {
            masker.Register(value);
        }

        return values.Where(kv => kv.Key.StartsWith("AWS_", StringComparison.Ordinal)).ToDictionary(kv => kv.Key, kv => kv.Value);
    }

    private static void Register(string path, SecretMasker masker)
    {
        try
        {
            masker.Register(File.ReadAllText(path).Trim());
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new PipelineException($"backup key file {path} cannot be read: {e.Message}");
        }
    }
}
