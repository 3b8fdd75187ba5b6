using LlmStack.Pipeline;

/// <summary>Where targets put what they make: artifacts/ (git-ignored).</summary>
interface IHazArtifacts : IPipelineBuild
{
    string ArtifactsDirectory => Path.Combine(RootDirectory, "artifacts");
}
