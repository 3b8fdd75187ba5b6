namespace LlmStack.Security.Credentials;

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
