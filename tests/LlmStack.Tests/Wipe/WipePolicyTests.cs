using LlmStack.Pipeline;
using LlmStack.Schema;
using LlmStack.Wipe;

namespace LlmStack.Tests.Wipe;

/// <summary>
/// Which targets are wipes and of what, the environment a wipe target sets (and the three refusals), and when a wipe or
/// a cleanup takes a BackupFull first — from the schema's environments and stacks.
/// </summary>
public sealed class WipePolicyTests
{
    private static readonly SchemaFile Schema = new(Repository.Root, "schemas/compose-schema.yaml");

    private static readonly WipePolicy Policy = WipePolicy.Of(() => Schema);

    /// <summary>A question the decision must not ask (it would load a configuration, or the schema, for nothing).</summary>
    private static T Never<T>() => throw new InvalidOperationException("asked although the decision did not need it");

    private static WipeRun Run(string[] invoked, string[]? planned = null, string[]? skipped = null, bool dryRun = false) =>
        new(invoked, planned ?? invoked, skipped ?? [], dryRun);

    [Theory]
    [InlineData("WipeDevelopment", WipeKind.Environment, "development")]
    [InlineData("WipeDev", WipeKind.Environment, "development")]
    [InlineData("WipeStaging", WipeKind.Environment, "staging")]
    [InlineData("WipeProduction", WipeKind.Environment, "production")]
    [InlineData("WipeProd", WipeKind.Environment, "production")]
    [InlineData("WipeTesting", WipeKind.Environment, "testing")]
    [InlineData("WipeEnvironment", WipeKind.Environment, null)]
    [InlineData("Reset", WipeKind.Environment, null)]
    [InlineData("WipeNuclear", WipeKind.Nuclear, null)]
    [InlineData("WipeCore", WipeKind.Stack, "core")]
    [InlineData("WipeAi", WipeKind.Stack, "ai")]
    [InlineData("WipeTestingStack", WipeKind.Stack, "testing")]
    [InlineData("WipeDb", WipeKind.Data, DataTypes.Db)]
    [InlineData("WipeTestResults", WipeKind.Data, DataTypes.TestResults)]
    public void Each_wipe_target_is_known_by_the_names_the_schema_gives(string target, WipeKind kind, string? of)
    {
        Policy.Wipe(target).Should().Be(new WipeTarget(target, kind, of));
    }

    [Theory]
    [InlineData("WipeDev", "WipeDevelopment", false)]
    [InlineData("WipeProd", "WipeProduction", true)]
    [InlineData("WipeProduction", null, true)]
    [InlineData("WipeStaging", null, true)]
    [InlineData("WipeTesting", null, false)]
    [InlineData("WipeEnvironment", null, false)]
    [InlineData("WipeCore", null, false)]
    public void A_short_form_names_the_wipe_it_stands_for_and_staging_and_production_are_always_backed_up(string target, string? aliasOf, bool always)
    {
        var wipe = Policy.Wipe(target)!;
        wipe.AliasOf.Should().Be(aliasOf);
        wipe.AlwaysBackedUp.Should().Be(always, "the description of a whole wipe says so");
    }

    [Fact]
    public void Stack_wipes_are_read_from_the_outline_without_parsing_the_whole_schema()
    {
        var directory = Repository.TempDirectory("wipe-outline");
        try
        {
            // A schema that binds to nothing valid: its outline (environments, stacks) is still what the names need.
            File.WriteAllText(Path.Combine(directory, "schema.yaml"), "environments:\n  testing: {}\nstacks:\n  core: {depends_on: []}\n  testing: {depends_on: [core]}\nservices: 7\n");
            var policy = WipePolicy.Of(() => new SchemaFile(directory, "schema.yaml"));
            policy.Wipe("WipeTestingStack").Should().Be(new WipeTarget("WipeTestingStack", WipeKind.Stack, "testing"));
            policy.Wipe("WipeTesting").Should().Be(new WipeTarget("WipeTesting", WipeKind.Environment, "testing"));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Theory]
    [InlineData("StartCore")]
    [InlineData("BackupFull")]
    [InlineData("RetentionCleanup")]
    [InlineData("WipeNothing")]
    public void Other_targets_are_no_wipes(string target) => Policy.Wipe(target).Should().BeNull();

    [Fact]
    public void An_environment_wipe_sets_the_runs_environment_and_otherwise_environment_or_development_does()
    {
        Policy.Environment(["WipeStaging"], null).Should().Be("staging");
        Policy.Environment(["WipeProd", "WipeProduction"], "production").Should().Be("production", "the same environment twice is one environment");
        Policy.Environment(["WipeDb"], "testing").Should().Be("testing");
        Policy.Environment(["StartCore"], null).Should().Be("development");
    }

    [Theory]
    [InlineData(new[] { "WipeProd" }, "testing", "WipeProd wipes production, but --environment says testing: drop --environment")]
    [InlineData(new[] { "WipeStaging", "WipeTesting" }, null, "wipe targets of different environments (staging, testing) in one run: wipe one environment per run")]
    [InlineData(new[] { "WipeNuclear" }, "testing", "WipeNuclear wipes every environment of the project: drop --environment")]
    [InlineData(new[] { "WipeNuclear", "WipeDev" }, null, "WipeNuclear wipes every environment of the project: drop the other wipe targets")]
    public void Contradicting_environments_are_refused_in_one_line(string[] invoked, string? argument, string error)
    {
        var refuse = () => Policy.Environment(invoked, argument);
        refuse.Should().Throw<PipelineException>().WithMessage(error);
    }

    [Fact]
    public void The_runs_environment_reads_no_schema_unless_a_target_may_be_an_environments_wipe()
    {
        // ReportFailure must still work when the schema is what failed.
        var unreadable = new WipePolicy(Never<IReadOnlyCollection<string>>, Never<IReadOnlyCollection<string>>);
        unreadable.Environment(["ReportFailure", "Reset"], "staging").Should().Be("staging");
        new WipePolicy(() => ["development", "testing"], Never<IReadOnlyCollection<string>>).Environment(["WipeTesting"], null)
            .Should().Be("testing", "the stacks are not needed to find an environment's wipe");
    }

    [Theory]
    [InlineData("WipeStaging", "staging", true)]
    [InlineData("WipeProd", "production", true)]
    [InlineData("WipeEnvironment", "production", true)]
    [InlineData("Reset", "staging", true)]
    [InlineData("WipeNuclear", "staging", true)]
    [InlineData("WipeEnvironment", "development", false)]
    [InlineData("WipeDb", "production", false)]
    [InlineData("WipeCore", "staging", false)]
    public void A_whole_wipe_of_staging_or_production_always_takes_a_backup_every_other_one_when_backup_before_wipe_says_so(string target, string environment, bool always)
    {
        Policy.TakesBackup(target, new WipeSubject(() => environment, () => false)).Should().Be(always);
        Policy.TakesBackup(target, new WipeSubject(() => environment, () => true)).Should().BeTrue();
        if (always)
        {
            Policy.TakesBackup(target, new WipeSubject(() => environment, Never<bool>)).Should().BeTrue("backup_before_wipe is not even read");
        }
    }

    [Fact]
    public void BackupFull_runs_when_asked_for_before_a_cleanup_that_wants_one_or_before_a_wipe_that_takes_one_never_in_a_dry_run()
    {
        var production = new WipeSubject(() => "production", () => false);
        var development = new WipeSubject(() => "development", () => false);
        var alwaysBefore = new WipeSubject(() => "development", () => true);

        Policy.BackupFullWanted(Run(["BackupFull"]), Never<bool>, new WipeSubject(Never<string>, Never<bool>)).Should().BeTrue("asked for");
        Policy.BackupFullWanted(Run(["RetentionCleanup"], ["BackupFull", "RetentionCleanup"]), () => true, development).Should().BeTrue();
        Policy.BackupFullWanted(Run(["RetentionCleanup"], ["BackupFull", "RetentionCleanup"]), () => false, development).Should().BeFalse();
        Policy.BackupFullWanted(Run(["WipeProd"], ["BackupFull", "WipeProd"]), Never<bool>, production).Should().BeTrue();
        Policy.BackupFullWanted(Run(["WipeDb"], ["BackupFull", "WipeDb"]), Never<bool>, production).Should().BeFalse("a data wipe only with backup_before_wipe");
        Policy.BackupFullWanted(Run(["WipeDb"], ["BackupFull", "WipeDb"]), Never<bool>, alwaysBefore).Should().BeTrue();
        Policy.BackupFullWanted(Run(["WipeProd"], ["BackupFull", "WipeProd"], dryRun: true), Never<bool>, production).Should().BeFalse("the table is all a dry run shows");
        Policy.BackupFullWanted(Run(["WipeNuclear"], ["BackupBeforeNuclear", "WipeNuclear"]), Never<bool>, alwaysBefore).Should().BeFalse("WipeNuclear has its own backups");
        WipePolicy.BackupBeforeNuclearWanted(Run(["WipeNuclear"], ["BackupBeforeNuclear", "WipeNuclear"])).Should().BeTrue();
        WipePolicy.BackupBeforeNuclearWanted(Run(["WipeNuclear"], ["BackupBeforeNuclear", "WipeNuclear"], dryRun: true)).Should().BeFalse();
    }

    [Fact]
    public void A_wipes_own_backup_is_a_pre_wipe_safety_copy_and_one_asked_for_is_not()
    {
        var production = new WipeSubject(() => "production", () => false);
        Policy.BackupFullTrigger(Run(["WipeProd"], ["BackupFull", "WipeProd"]), production).Should().Be(LlmStack.Backup.BackupTrigger.PreWipe);
        Policy.BackupFullTrigger(Run(["BackupFull", "WipeProd"], ["BackupFull", "WipeProd"]), production).Should().Be(LlmStack.Backup.BackupTrigger.BackupFull);
        Policy.BackupFullTrigger(Run(["RetentionCleanup"], ["BackupFull", "RetentionCleanup"]), production).Should().Be(LlmStack.Backup.BackupTrigger.BackupFull);
    }

    [Fact]
    public void A_backup_skipped_on_purpose_is_named_only_where_the_wipe_would_have_taken_one()
    {
        var nuclear = Run(["WipeNuclear"], ["BackupBeforeNuclear", "WipeNuclear"], skipped: ["BackupBeforeNuclear"]);
        Policy.SkippedBackup("WipeNuclear", nuclear, new WipeSubject(() => "staging", Never<bool>)).Should().Be("BackupBeforeNuclear");
        Policy.SkippedBackup("WipeNuclear", nuclear, new WipeSubject(() => "testing", () => false)).Should().BeNull("testing's wipe takes no backup");
        Policy.SkippedBackup("WipeProd", Run(["WipeProd"], ["BackupFull", "WipeProd"], skipped: ["BackupFull"]), new WipeSubject(() => "production", Never<bool>)).Should().Be("BackupFull");
        Policy.SkippedBackup("WipeProd", Run(["WipeProd"], ["BackupFull", "WipeProd"]), new WipeSubject(Never<string>, Never<bool>)).Should().BeNull("not skipped");
    }
}
