using LlmStack.Pipeline;
using LlmStack.Security;
using LlmStack.Credentials;

/// <summary>Credentials: the secrets files against real rules and against the running services; creation; rotation.</summary>
partial class Build
{
    [Parameter("ValidateCredentials: treat every finding as an error, also in development and testing")]
    readonly bool Strict;

    [Parameter("RotateSecret: the secret to rotate (a name under the schema's secrets)")]
    readonly string? Secret;

    CredentialOperations? _credentials;

    CredentialOperations Credentials => _credentials ??= new CredentialOperations(Stacks, Log);

    Target ValidateCredentials => _ => _
        .Description("Check the environment's secrets: present, long enough, not weak or a placeholder, not the account name, not simple, not reused or shared with another environment; the file 0600, yours, git-ignored; the running services use them (postgres accepts the password). Errors in staging and production, warnings elsewhere unless --strict; --json; never shows a value.")
        .Executes(ct => Credentials.ValidateAsync(Strict, ct));

    Target SetupSecrets => _ => _
        .Description("Create the environment's missing secrets (CSPRNG, 0600, git-ignored); existing ones are never changed; prints the names created.")
        .Executes(ct => Credentials.SetupAsync(ct));

    Target RotateSecret => _ => _
        .Description("Rotate one secret (--secret NAME) through the change gate: a new value applied to the running services (postgres: ALTER ROLE), the file updated with the old value kept in <environment>.history, the services recreated and proven to use it (the old password refused); any failure puts the old value back everywhere.")
        .Requires(() => Secret)
        .Executes(ct => Credentials.RotateAsync(nameof(RotateSecret), Secret!, ct));
}
