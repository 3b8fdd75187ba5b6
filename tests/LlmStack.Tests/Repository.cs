namespace LlmStack.Tests;

/// <summary>Paths of the repository the tests run from.</summary>
internal static class Repository
{
    public static string Root { get; } = Find();

    public static string DefaultSchema => Path.Combine(Root, "schemas", "compose-schema.yaml");

    public static string TempDirectory(string name)
    {
        var path = Path.Combine(Path.GetTempPath(), $"llmstack-{name}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(path);
        return path;
    }

    private static string Find()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (Directory.Exists(Path.Combine(directory.FullName, ".nuke")) && File.Exists(Path.Combine(directory.FullName, "LlmStack.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("repository root (with .nuke/ and LlmStack.sln) not found above " + AppContext.BaseDirectory);
    }
}
