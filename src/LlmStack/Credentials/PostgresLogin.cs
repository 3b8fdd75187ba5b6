using LlmStack.Engine;
using LlmStack.Pipeline;

namespace LlmStack.Credentials;

/// <summary>
/// A PostgreSQL login, checked and changed inside the server's own container. Passwords travel in the exec's
/// environment (never on a command line); the check connects to the container's network address, because its local
/// socket trusts every user and would accept any password.
/// </summary>
public static class PostgresLogin
{
    private const string Check = "exec psql -h \"$(hostname -i | cut -d' ' -f1)\" -U \"$1\" -d postgres -AtXc 'SELECT 1'";

    /// <summary>Whether the server accepts <paramref name="account"/> with <paramref name="password"/>; an error that is not a refusal throws.</summary>
    public static async Task<bool> AcceptsAsync(DockerEngine engine, string container, string account, string password, CancellationToken cancellationToken)
    {
        var result = await Exec.StreamAsync(engine, container, ["sh", "-c", Check, "sh", account], cancellationToken,
            environment: [$"PGPASSWORD={password}", "PGCONNECT_TIMEOUT=5"]);
        if (result.ExitCode == 0 && result.Output.Trim() == "1")
        {
            return true;
        }

        if (result.Error.Contains("password authentication failed", StringComparison.Ordinal))
        {
            return false;
        }

        throw new PipelineException($"cannot check the PostgreSQL login of {account} in {container.TrimStart('/')}: {result.ErrorLines.FirstOrDefault() ?? $"psql exited {result.ExitCode}"}");
    }

    /// <summary>
    /// <c>ALTER ROLE … PASSWORD</c> over the local socket; the value reaches the server through psql's <c>\getenv</c>
    /// (PostgreSQL 15 and later), so it is on no command line and in no statement text psql echoes.
    /// </summary>
    public static async Task SetPasswordAsync(DockerEngine engine, string container, string account, string password, CancellationToken cancellationToken)
    {
        const string script = "\\getenv llmstack_password LLMSTACK_NEW_PASSWORD\nALTER ROLE :\"account\" PASSWORD :'llmstack_password';\n";
        var result = await Exec.StreamAsync(engine, container, ["psql", "-U", account, "-d", "postgres", "-AtX", "-v", "ON_ERROR_STOP=1", "-v", $"account={account}", "-f", "-"], cancellationToken,
            stdin: async (input, ct) => await input.WriteAsync(System.Text.Encoding.UTF8.GetBytes(script), ct),
            environment: [$"LLMSTACK_NEW_PASSWORD={password}"]);
        if (result.ExitCode != 0)
        {
            throw new PipelineException($"ALTER ROLE {account} failed in {container.TrimStart('/')}: {result.ErrorLines.FirstOrDefault() ?? $"psql exited {result.ExitCode}"}");
        }
    }
}
