using LlmStack.Testing;

namespace LlmStack.Tests.Testing;

/// <summary>CheckDocs against the repository's own build.schema.json and docs.</summary>
public sealed class DocsCheckTests
{
    private static readonly BuildVocabulary Vocabulary = BuildVocabulary.Read(Path.Combine(Repository.Root, ".nuke", "build.schema.json"));

    [Fact]
    public void The_repository_docs_pass()
    {
        DocsCheck.Run(Repository.Root, Vocabulary).Failure.Should().BeNull();
    }

    [Fact]
    public void A_line_naming_a_target_that_does_not_exist_fails_with_file_line_and_the_closest_name()
    {
        var problems = DocsCheck.Check("docs/X.md", "intro\n```bash\n./build.sh StartCoer --environment testing   # start\n```\n", Vocabulary);
        problems.Should().Equal("docs/X.md:3: `./build.sh StartCoer --environment testing`: StartCoer is no target (did you mean 'StartCore'?)");
    }

    [Fact]
    public void Unknown_parameters_and_values_outside_a_parameters_set_fail_and_placeholders_pass()
    {
        DocsCheck.Check("R.md", "`./build.sh StatusCore --enviroment testing`", Vocabulary).Should().ContainSingle().Which.Should().Contain("--enviroment is no parameter (did you mean '--environment'?)");
        DocsCheck.Check("R.md", "`./build.sh StatusCore --environment qa`", Vocabulary).Should().ContainSingle().Which.Should().Contain("'qa' is not a value of --environment (allowed: ");
        DocsCheck.Check("R.md", "`./build.sh BackupFull --skip BackupVerfy`", Vocabulary).Should().ContainSingle().Which.Should().Contain("'BackupVerfy' is not a value of --skip");
        DocsCheck.Check("R.md", "./build.sh <Target> [<Target> ...] [--parameter value ...]\n`./build.sh Start<Stack> --environment <env> --service X`\n`./build.sh Plan --json --against FILE`", Vocabulary)
            .Should().BeEmpty();
        DocsCheck.Check("R.md", "`./build.sh generate-compose --image-map tests/fixtures/image-map.yaml --verbosity verbose`", Vocabulary).Should().BeEmpty("names ignore case and dashes");
    }

    [Fact]
    public void Every_table_of_keys_in_the_repository_docs_is_checked_and_passes()
    {
        var checkedKeys = 0;
        foreach (var (file, model) in DocsKeyTables.Models)
        {
            var (keys, problems) = DocsKeyTables.Check($"docs/{file}", File.ReadAllText(Path.Combine(Repository.Root, "docs", file)), model);
            problems.Should().BeEmpty();
            keys.Should().BePositive($"docs/{file} has a table of keys");
            checkedKeys += keys;
        }

        checkedKeys.Should().BeGreaterThan(80, "the tables of SCHEMA.md, BACKUP.md and RETENTION.md list that many keys");
    }

    [Fact]
    public void A_made_up_key_in_a_doc_table_fails_naming_file_line_the_key_and_the_closest_one()
    {
        var backup = File.ReadAllText(Path.Combine(Repository.Root, "docs", "BACKUP.md")).Replace("| `tiers.<name>.catalog` |", "| `tiers.<name>.catalogue` |", StringComparison.Ordinal);
        var line = backup.Split('\n').ToList().FindIndex(l => l.Contains("`tiers.<name>.catalogue`", StringComparison.Ordinal)) + 1;
        line.Should().BePositive();

        var (_, problems) = DocsKeyTables.Check("docs/BACKUP.md", backup, DocsKeyTables.Models["BACKUP.md"]);

        problems.Should().Equal($"docs/BACKUP.md:{line}: `tiers.<name>.catalogue`: no key 'catalogue' in tiers.<name> of configs/backup-strategies.yaml (did you mean 'catalog'?)");
    }

    [Fact]
    public void A_key_of_a_section_is_checked_against_that_part_of_the_model()
    {
        const string Doc = """
            ## Services

            | Key | Type | Notes |
            |---|---|---|
            | `image` | string | Required. |
            | `user`, `working_dir`, `shm_sise` | string | As in compose. |
            | `holds` | string | A volume's key, not a service's. |

            ```
            | Key | Meaning |
            |---|---|
            | `not_checked_in_a_code_block` | |
            ```
            """;
        var (keys, problems) = DocsKeyTables.Check("docs/SCHEMA.md", Doc, DocsKeyTables.Models["SCHEMA.md"]);

        keys.Should().Be(5);
        problems.Should().Equal(
            "docs/SCHEMA.md:6: `shm_sise`: no key 'shm_sise' in services.<name> of the schema (did you mean 'shm_size'?)",
            "docs/SCHEMA.md:7: `holds`: no key 'holds' in services.<name> of the schema" + problems[1][problems[1].IndexOf(" (", StringComparison.Ordinal)..]);
    }

    [Fact]
    public void Paths_through_maps_and_lists_and_sibling_keys_resolve_and_wrong_shapes_are_named()
    {
        var retention = DocsKeyTables.Models["RETENTION.md"];
        string Table(params string[] rows) => "| Key | Meaning |\n|---|---|\n" + string.Join('\n', rows.Select(r => $"| {r} | x |")) + "\n";

        var (keys, problems) = DocsKeyTables.Check("R.md", Table("`services.<service>.tables[].table`, `.date_column`", "`policies.<name>.keep_last`, `keep_hourly`", "`tiers.<tier>`"), retention);
        problems.Should().BeEmpty();
        keys.Should().Be(5);
        DocsKeyTables.Check("R.md", Table("`services.tables`"), retention).Problems.Should().Equal(
            "R.md:3: `services.tables`: 'tables': services of configs/retention-policies.yaml is a map of names (write <name>)");
        DocsKeyTables.Check("R.md", Table("`services.<service>.tables.table`"), retention).Problems.Should().Equal(
            "R.md:3: `services.<service>.tables.table`: 'table': services.<service>.tables of configs/retention-policies.yaml is a list (write [] after it)");
        DocsKeyTables.Check("R.md", Table("`prune.schedule.cron`"), retention).Problems.Should().Equal(
            "R.md:3: `prune.schedule.cron`: 'cron': prune.schedule of configs/retention-policies.yaml is a value, it has no keys");
        DocsKeyTables.Check("docs/OTHER.md", Table("`anything`"), null).Problems.Should().ContainSingle()
            .Which.Should().StartWith("docs/OTHER.md:1: a table of keys, but CheckDocs knows no configuration of OTHER.md");
    }

    [Fact]
    public void CheckDocs_fails_on_a_made_up_key_in_the_docs_of_a_copy_of_the_repository()
    {
        var root = Repository.TempDirectory("docs-check");
        try
        {
            Directory.CreateDirectory(Path.Combine(root, "docs"));
            File.Copy(Path.Combine(Repository.Root, "README.md"), Path.Combine(root, "README.md"));
            foreach (var file in Directory.GetFiles(Path.Combine(Repository.Root, "docs"), "*.md"))
            {
                File.Copy(file, Path.Combine(root, "docs", Path.GetFileName(file)));
            }

            var schema = Path.Combine(root, "docs", "SCHEMA.md");
            File.WriteAllText(schema, File.ReadAllText(schema).Replace("| `replicas` | integer |", "| `replica_count` | integer |", StringComparison.Ordinal));

            var report = DocsCheck.Run(root, Vocabulary);

            report.Failure.Should().Contain("docs/SCHEMA.md:").And.Contain("`replica_count`: no key 'replica_count' in services.<name> of the schema");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
