using LlmStack.Credentials;
using LlmStack.Pipeline;

/// <summary>Credentials: the secrets files against real rules and against the running services; creation; rotation.</summary>
interface ICredentials : IHazEnvironment
{
    [Parameter("ValidateCredentials: treat every finding as an error, also in development and testing")]
    bool Strict => TryGetValue<bool?>(() => Strict) ?? false;

    [Parameter("RotateSecret: the secret to rotate (a name under the schema's secrets)")]
    string? Secret => TryGetValue(() => Secret);

    CredentialOperations Credentials { get; }

    CredentialOperations NewCredentials() => new(Session, Log);

    Target ValidateCredentials => _ => _
        .Description("Check the environment's secrets: present, long enough, not weak or a placeholder, not the account name, not simple, not reused or shared with another environment; the file 0600, yours, git-ignored; the running services use them (postgres accepts the password). Errors in staging and production, warnings elsewhere unless --strict; --json; never shows a value.")
        .Executes(ct => Credentials.ValidateAsync(Strict, ct));

    Target SetupSecrets => _ => _
        .Description("Create the environment's missing secrets (CSPRNG, 0600, git-ignored); existing ones are never changed; prints the names created.")
        .After<ISchema>(x => x.ValidateSchema)
        .ProceedAfterFailure()
        .Executes(ct => Credentials.SetupAsync(ct));

    Target RotateSecret => _ => _
        .Description("Rotate one secret (--secret NAME) through the change gate: a new value applied to the running services (postgres: ALTER ROLE), the file updated with the old value kept in <environment>.history, the services recreated and proven to use it (the old password refused); any failure puts the old value back everywhere.")
        .Requires(() => Secret)
        .Executes(ct => Credentials.RotateAsync(nameof(RotateSecret), Secret!, ct));
}
