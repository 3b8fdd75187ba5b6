using System.Text.RegularExpressions;
using LlmStack.Backup;

namespace LlmStack.Tests.Backup;

/// <summary>The docs show backup set ids in the one format the tool writes, so they cannot drift from it again.</summary>
public sealed partial class DocumentedSetIdsTests
{
    [GeneratedRegex(@"^\d{8}T\d{6}Z-[0-9a-f]{4}$")]
    private static partial Regex SetId();

    /// <summary>Anything that starts like a set id: a date of this century, then (after T, _ or -) a time, and a suffix.</summary>
    [GeneratedRegex(@"(?<![\w-])20\d{6}[T_-]?\d{4,6}Z?(?:-[0-9A-Za-z]+)?")]
    private static partial Regex LooksLikeSetId();

    [Fact]
    public void The_format_is_the_one_BackupSetManifest_writes() =>
        SetId().IsMatch(BackupSetManifest.NewSetId(new DateTimeOffset(2026, 11, 29, 20, 15, 0, TimeSpan.FromHours(1)))).Should().BeTrue();

    [Fact]
    public void Every_set_id_in_the_readme_and_the_docs_is_in_the_format_the_tool_writes()
    {
        var files = Directory.GetFiles(Path.Combine(Repository.Root, "docs"), "*.md").Append(Path.Combine(Repository.Root, "README.md"));
        var found = files
            .SelectMany(file => File.ReadAllLines(file).SelectMany((line, i) =>
                LooksLikeSetId().Matches(line).Select(m => (Where: $"{Path.GetRelativePath(Repository.Root, file)}:{i + 1}", Id: m.Value))))
            .ToList();

        found.Should().NotBeEmpty("the docs show set ids (BACKUP.md, OPERATIONS.md)");
        found.Where(f => !SetId().IsMatch(f.Id)).Select(f => $"{f.Where}: {f.Id}").Should().BeEmpty("a set id is yyyyMMddTHHmmssZ-xxxx, e.g. 20261129T201500Z-3fa2");
    }
}
