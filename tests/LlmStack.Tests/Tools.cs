namespace LlmStack.Tests;

/// <summary>External tools some tests need; a missing tool fails the test with how to install it (never skips).</summary>
internal static class Tools
{
    public static string Require(string name, string install)
    {
        foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':'))
        {
            var candidate = Path.Combine(directory, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException($"{name} is not installed: {install} (bash .ci/run installs it)");
    }

    /// <summary>The compose-spec JSON schema shipped by npm dclint (installed by the TestTools target).</summary>
    public static string ComposeJsonSchema()
    {
        var path = Environment.GetEnvironmentVariable("LLMSTACK_COMPOSE_JSON_SCHEMA")
            ?? LlmStack.TestSupport.TestToolFiles.ComposeJsonSchema(Repository.Root);
        return File.Exists(path)
            ? path
            : throw new InvalidOperationException($"{path} is missing: run ./build.sh TestTools (npm install dclint)");
    }

    /// <summary>The SARIF 2.1.0 JSON schema shipped by npm @microsoft/jest-sarif (installed by the TestTools target).</summary>
    public static string SarifJsonSchema()
    {
        var path = LlmStack.TestSupport.TestToolFiles.SarifSchema(Repository.Root);
        return File.Exists(path)
            ? path
            : throw new InvalidOperationException($"{path} is missing: run ./build.sh TestTools (npm install @microsoft/jest-sarif)");
    }
}
