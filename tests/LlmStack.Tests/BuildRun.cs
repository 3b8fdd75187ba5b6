using LlmStack.Pipeline;

namespace LlmStack.Tests;

/// <summary>Runs the build program in-process (the build class is internal to it: made by reflection, run through the engine's entry).</summary>
internal static class BuildRun
{
    public static async Task<(int Code, string Output)> RunAsync(string root, params string[] arguments)
    {
        var output = new StringWriter();
        var code = await RunAsync(root, output, output, arguments);
        return (code, output.ToString());
    }

    /// <summary>A run with environment variables of its own (besides the log directory): what GitHub Actions sets, say.</summary>
    public static async Task<(int Code, string Output)> RunWithAsync(string root, IReadOnlyDictionary<string, string> variables, params string[] arguments)
    {
        var output = new StringWriter();
        var code = await RunAsync(root, output, output, arguments, variables);
        return (code, output.ToString());
    }

    /// <summary>A run with standard output and standard error kept apart.</summary>
    public static async Task<(int Code, string StandardOutput, string StandardError)> RunSeparatedAsync(string root, params string[] arguments)
    {
        var (output, error) = (new StringWriter(), new StringWriter());
        var code = await RunAsync(root, output, error, arguments);
        return (code, output.ToString(), error.ToString());
    }

    /// <summary>A run that <paramref name="cancellation"/> stops as Ctrl-C would (a target that serves until then).</summary>
    public static async Task<(int Code, string Output)> RunUntilAsync(string root, CancellationToken cancellation, params string[] arguments)
    {
        var output = new StringWriter();
        var code = await RunAsync(root, TextWriter.Synchronized(output), TextWriter.Synchronized(output), arguments, cancellation: cancellation);
        return (code, output.ToString());
    }

    private static async Task<int> RunAsync(string root, TextWriter output, TextWriter error, string[] arguments, IReadOnlyDictionary<string, string>? variables = null, CancellationToken cancellation = default)
    {
        var build = (PipelineBuild)Activator.CreateInstance(Type.GetType("Build, _build", throwOnError: true)!)!;
        return await PipelineRunner.RunAsync(build, new RunOptions
        {
            Arguments = [.. arguments, "--root", root],
            Output = output,
            Error = error,
            CancellationToken = cancellation,
            EnvironmentVariables = new Dictionary<string, string>(variables ?? new Dictionary<string, string>()) { ["LLMSTACK_LOG_DIRECTORY"] = Path.Combine(root, ".nuke", "temp") },
        });
    }

    /// <summary>A scratch copy of the repository's inputs (schema, configurations, SQL, workflows) to run the build in.</summary>
    public static string ScratchRoot(string name)
    {
        var root = Repository.TempDirectory(name);
        foreach (var directory in new[] { "schemas", "configs", "sql", ".github" })
        {
            Copy(Path.Combine(Repository.Root, directory), Path.Combine(root, directory));
        }

        Directory.CreateDirectory(Path.Combine(root, ".nuke"));
        File.Copy(Path.Combine(Repository.Root, "LlmStack.sln"), Path.Combine(root, "LlmStack.sln"));
        return root;
    }

    private static void Copy(string from, string to)
    {
        if (!Directory.Exists(from))
        {
            return;
        }

        foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }
}
