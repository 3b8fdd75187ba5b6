using LlmStack.Schema;
using Serilog;

namespace LlmStack.Compose;

public static class ComposeCommands
{
    /// <summary>Generates the compose files and the swarm stack file of every environment under <c>&lt;output&gt;/&lt;environment&gt;/</c>.</summary>
    public static IReadOnlyList<string> GenerateAll(SchemaFile schema, string outputDirectory, ILogger log)
    {
        var files = new List<string>();
        foreach (var environment in schema.Load().Environments.Keys)
        {
            var resolved = schema.Resolve(environment);
            var directory = Path.Combine(outputDirectory, environment);
            var written = ComposeGenerator.Write(resolved, schema.RootDirectory, directory, SwarmEnvironment.Of(schema.Load(), resolved));
            log.Information(
                "{Environment}: {Count} files in {Directory} (project {Project}; stacks {Stacks})",
                environment, written.Count, Path.GetRelativePath(schema.RootDirectory, directory), resolved.Project, string.Join(", ", resolved.Stacks.Select(s => s.Name)));
            files.AddRange(written);
        }

        return files;
    }
}
