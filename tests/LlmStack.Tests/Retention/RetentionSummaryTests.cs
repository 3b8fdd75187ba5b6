using LlmStack.ChangeControl;
using LlmStack.Retention;

namespace LlmStack.Tests.Retention;

public class RetentionSummaryTests
{
    private static PlannedChange Change(ChangeKind kind, ChangeAction action) => new(kind, "x", action, "why", _ => Task.FromResult<string?>(null));

    [Fact]
    public void Each_change_counts_once_under_its_own_kind()
    {
        // A model directory removed is other data, never a backup set (it was counted as both).
        var changes = new[]
        {
            Change(ChangeKind.BackupSet, ChangeAction.Forget),
            Change(ChangeKind.BackupSet, ChangeAction.Forget),
            Change(ChangeKind.TapeExport, ChangeAction.Remove),
            Change(ChangeKind.OrphanedMembers, ChangeAction.Forget),
            Change(ChangeKind.Repository, ChangeAction.Prune),
            Change(ChangeKind.Rows, ChangeAction.ArchiveAndDelete),
            Change(ChangeKind.Model, ChangeAction.Remove),
            Change(ChangeKind.Files, ChangeAction.Delete),
            Change(ChangeKind.Keys, ChangeAction.Expire),
        };

        RetentionSummary.Of(changes).Should().Be(
            "remove 3 backup set(s), the orphaned members of 1 set(s) and old rows of 1 table(s), 3 other data item(s) by the retention policies");
    }

    [Fact]
    public void Only_model_removals_are_no_backup_sets()
    {
        RetentionSummary.Of([Change(ChangeKind.Model, ChangeAction.Remove), Change(ChangeKind.Model, ChangeAction.Remove)])
            .Should().StartWith("remove 0 backup set(s)").And.Contain("2 other data item(s)");
    }
}
