using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace LlmStack.Tests;

/// <summary>
/// What the build program is compiled from: no test project and nothing test-only (tests/LlmStack.TestSupport), and every
/// project it compiles among the inputs that build.sh and build.ps1 hash — otherwise a change there would leave the
/// bootstrap running a stale program.
/// </summary>
public partial class BuildProgramTests
{
    /// <summary>The build project and every project it references, transitively, as repository-relative directories.</summary>
    private static IReadOnlyList<string> Closure()
    {
        var seen = new List<string>();
        void Visit(string project)
        {
            var directory = Path.GetRelativePath(Repository.Root, Path.GetDirectoryName(project)!).Replace('\\', '/');
            if (seen.Contains(directory))
            {
                return;
            }

            seen.Add(directory);
            foreach (var reference in XDocument.Load(project).Descendants("ProjectReference"))
            {
                Visit(Path.GetFullPath(reference.Attribute("Include")!.Value.Replace('\\', '/'), Path.GetDirectoryName(project)!));
            }
        }

        Visit(Path.Combine(Repository.Root, "build", "_build.csproj"));
        return seen;
    }

    [GeneratedRegex(@"^INPUTS=\((?<items>[^)]*)\)", RegexOptions.Multiline)]
    private static partial Regex ShInputs();

    [GeneratedRegex(@"^\$Inputs = @\((?<items>[^)]*)\)", RegexOptions.Multiline)]
    private static partial Regex Ps1Inputs();

    private static IReadOnlyList<string> Inputs(string file, Regex pattern)
    {
        var match = pattern.Match(File.ReadAllText(Path.Combine(Repository.Root, file)));
        match.Success.Should().BeTrue($"{file} declares its inputs");
        return match.Groups["items"].Value.Split([' ', ','], StringSplitOptions.RemoveEmptyEntries).Select(i => i.Trim('\'')).ToList();
    }

    [Fact]
    public void The_build_program_compiles_the_engine_the_domain_and_the_benchmarks_and_nothing_test_only()
    {
        var closure = Closure();
        closure.Should().BeEquivalentTo("build", "src/LlmStack.Pipeline", "src/LlmStack", "tests/LlmStack.Benchmarks");
        foreach (var directory in closure)
        {
            var project = Directory.GetFiles(Path.Combine(Repository.Root, directory), "*.csproj").Single();
            File.ReadAllText(project).Should().NotContain("<IsTestProject>true</IsTestProject>", $"{directory} is compiled into the build program")
                .And.NotContain("LlmStack.TestSupport", "what only the tests use never ships in the build program");
        }
    }

    [Fact]
    public void Both_bootstraps_hash_every_project_the_build_program_compiles()
    {
        var sh = Inputs("build.sh", ShInputs());
        var ps1 = Inputs("build.ps1", Ps1Inputs());
        ps1.Should().Equal(sh, "build.sh and build.ps1 share the stamp, so they hash the same inputs");
        sh.Should().Contain(["build", "src", "global.json", "Directory.Build.props", "Directory.Packages.props", "nuget.config"]);
        foreach (var directory in Closure())
        {
            sh.Should().Contain(i => directory == i || directory.StartsWith(i + "/", StringComparison.Ordinal),
                $"{directory} is compiled into the build program, so a change there must rebuild it");
        }
    }
}
