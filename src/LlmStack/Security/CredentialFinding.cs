namespace LlmStack.Security;

/// <summary>
/// How bad a finding is: an error fails ValidateCredentials, a warning does not. Written as <c>error</c> and
/// <c>warning</c>, in the table (<see cref="CredentialLevels.Word"/>) and in <c>--json</c> (JsonDefaults' camelCase enums).
/// </summary>
public enum CredentialLevel
{
    Error,
    Warning,
}

public static class CredentialLevels
{
    /// <summary>The word shown for a level: <c>error</c>, <c>warning</c>.</summary>
    public static string Word(this CredentialLevel level) => level switch
    {
        CredentialLevel.Error => "error",
        CredentialLevel.Warning => "warning",
        _ => throw new ArgumentOutOfRangeException(nameof(level), level, null),
    };
}

/// <summary>One finding of ValidateCredentials: the secret (never its value), the rule, how bad, and what to do.</summary>
public sealed record CredentialFinding(string Environment, string Secret, string Rule, CredentialLevel Level, string Detail);

/// <summary>What ValidateCredentials learns about a secrets file besides its values: mode, owner and git status.</summary>
/// <param name="Mode">The file's mode bits; null where the platform has none (Windows).</param>
/// <param name="OwnerUid">The file's owner (uid); null when it could not be read.</param>
/// <param name="UserUid">The running user (uid); null when it could not be read.</param>
/// <param name="NotIgnored">git says the file is not ignored (false also when git could not tell).</param>
/// <param name="Tracked">git tracks the file (it is committed).</param>
public sealed record SecretsFileFacts(UnixFileMode? Mode, string? OwnerUid, string? UserUid, bool NotIgnored, bool Tracked);
