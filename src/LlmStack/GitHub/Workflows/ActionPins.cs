namespace LlmStack.GitHub.Workflows;

/// <summary>
/// The one table of third-party actions the generated workflows use, each pinned to a full commit SHA (a tag can be
/// moved; a commit cannot) with its release tag as a comment. Each SHA is the commit of that release tag, as published by
/// the action's repository. To update: change the SHA and version here and run ./build.sh GenerateWorkflows.
/// </summary>
public static class ActionPins
{
    public const string Checkout = "actions/checkout";
    public const string SetupDotnet = "actions/setup-dotnet";
    public const string Cache = "actions/cache";
    public const string UploadArtifact = "actions/upload-artifact";
    public const string DownloadArtifact = "actions/download-artifact";
    public const string UploadSarif = "github/codeql-action/upload-sarif";

    public static readonly IReadOnlyDictionary<string, (string Sha, string Version)> Table = new Dictionary<string, (string, string)>(StringComparer.Ordinal)
    {
        [Checkout] = ("11bd71901bbe5b1630ceea73d27597364c9af683", "v4.2.2"),
        [SetupDotnet] = ("67a3573c9a986a3f9c594539f4ab511d57bb3ce9", "v4.3.1"),
        [Cache] = ("5a3ec84eff668545956fd18022155c47e93e2684", "v4.2.3"),
        [UploadArtifact] = ("ea165f8d65b6e75b540449e92b4886f43607fa02", "v4.6.2"),
        [DownloadArtifact] = ("d3f86a106a0bac45b974a628896c90dbdf5c8093", "v4.3.0"),
        [UploadSarif] = ("5d4e8d1aca955e8d8589aabd499c5cae939e33c7", "v4.31.9"),
    };

    /// <summary><c>owner/repo[/path]@sha</c>; an action without a pin is an error naming this table.</summary>
    public static string Reference(string action) =>
        Table.TryGetValue(action, out var pin)
            ? $"{action}@{pin.Sha}"
            : throw new Pipeline.PipelineException($"action {action} has no pin: add its release's commit SHA to ActionPins.Table (src/LlmStack/GitHub/Workflows/ActionPins.cs)");
}
