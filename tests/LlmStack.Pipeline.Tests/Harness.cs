using LlmStack.Pipeline;

namespace LlmStack.Pipeline.Tests;

/// <summary>Runs a build in a scratch root with captured output and a controlled environment.</summary>
internal sealed class Harness : IDisposable
{
    public Harness()
    {
        Root = Path.Combine(Path.GetTempPath(), "llmstack-pipeline-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.Combine(Root, ".nuke"));
    }

    public string Root { get; }

    public Dictionary<string, string> Environment { get; } = new();

    public PipelineBuild? Build { get; private set; }

    public string Output { get; private set; } = string.Empty;

    public string Error { get; private set; } = string.Empty;

    public void WriteParameters(string json, string? profile = null) =>
        File.WriteAllText(Path.Combine(Root, ".nuke", profile is null ? "parameters.json" : $"parameters.{profile}.json"), json);

    public async Task<int> RunAsync<T>(params string[] args) where T : PipelineBuild, new()
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await PipelineRunner.RunAsync<T>(new RunOptions
        {
            Arguments = args,
            Output = output,
            Error = error,
            EnvironmentVariables = Environment,
            WorkingDirectory = Root,
            Created = b => Build = b,
        });
        Output = output.ToString();
        Error = error.ToString();
        return code;
    }

    public T BuildAs<T>() where T : PipelineBuild => (T)Build!;

    public ExecutionStatus StatusOf(string target) => Build!.ExecutionPlan.Single(t => t.Name == target).Status;

    public IReadOnlyList<string> PlanNames => Build!.ExecutionPlan.Select(t => t.Name).ToList();

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>A build that records the order targets ran in.</summary>
public abstract class RecordingBuild : PipelineBuild
{
    public List<string> Ran { get; } = [];

    protected ITargetDefinition Record(ITargetDefinition definition, string name) => definition.Executes(() => Ran.Add(name));
}
