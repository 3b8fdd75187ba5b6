using System.Text.Json;
using LlmStack.Backup;
using LlmStack.Reporting;
using static LlmStack.Tests.Backup.BackupFixtures;
using static LlmStack.Tests.Backup.BackupSelectionTests;

namespace LlmStack.Tests.Backup;

/// <summary>BackupList's rows from the tiers' inventory (fakes of the catalog and the tiers), and its table and document.</summary>
public sealed class BackupListTests
{
    [Fact]
    public async Task A_row_per_member_that_succeeded_per_service_newest_first_with_the_tiers_that_hold_its_set_and_where_it_was_verified()
    {
        var catalog = new FakeCatalog(
            Set("A", 0, "BackupFull", Member("postgres", "full"), Member("qdrant", "volume", "qdrant_data"), Member("redis", "rdb", status: MemberStatus.Failed)),
            Set("B", 1, "BackupService", Member("postgres", "schema")),
            Set("P", 2, "pre-restore", Member("postgres", "full"), Member("minio", "volume", "minio_data", MemberStatus.Skipped)));
        var tiers = new FakeTiers(Local).Holding(Remote, "A").Unreadable(Tape, "tape tier unreadable").Verified("local", "A", "2026-11-29").Verified("remote", "A", "2026-11-30");

        var inventory = await BackupList.InventoryAsync(catalog, tiers, CancellationToken.None);
        var rows = BackupList.Rows(inventory);

        rows.Select(r => (r.Service, r.Type, r.Set, r.Trigger.Text, string.Join(",", r.Tiers))).Should().Equal(
            ("postgres", BackupType.Full, "P", "pre-restore", "local"),
            ("postgres", BackupType.Schema, "B", "BackupService", "local"),
            ("postgres", BackupType.Full, "A", "BackupFull", "local,remote"),
            ("qdrant (qdrant_data)", BackupType.Volume, "A", "BackupFull", "local,remote"));
        rows.Should().NotContain(r => r.Service.StartsWith("redis", StringComparison.Ordinal) || r.Service.StartsWith("minio", StringComparison.Ordinal), "failed and skipped members have no backup");
        rows[2].Verified.Should().Equal(new Dictionary<string, string> { ["local"] = "2026-11-29", ["remote"] = "2026-11-30" });
        rows[2].SetStatus.Should().Be(SetStatus.Failed);
        rows[0].Verified.Should().BeEmpty();
        rows[0].Bytes.Should().Be(10);

        var text = new StringWriter();
        ReportWriter.Text(text).Write(BackupList.Report(rows));
        var lines = text.ToString().Split('\n').Select(l => l.TrimEnd()).ToList();
        lines[0].Should().MatchRegex("^SERVICE +TYPE +TIME \\(UTC\\) +SET +SET STATUS +SIZE +ADDED +TRIGGER +TIERS +VERIFIED$");
        lines.Should().Contain(l => l.StartsWith("postgres", StringComparison.Ordinal) && l.Contains(" full ") && l.Contains("2026-11-29 03:00:00") && l.Contains(" failed ")
                                    && l.Contains(" BackupFull ") && l.EndsWith("local,remote  2026-11-30 (local,remote)", StringComparison.Ordinal));

        var json = JsonSerializer.Serialize(BackupList.Report(rows).Document, JsonDefaults.Document);
        using var document = JsonDocument.Parse(json);
        var first = document.RootElement[2];
        first.GetProperty("service").GetString().Should().Be("postgres");
        first.GetProperty("type").GetString().Should().Be("full");
        first.GetProperty("setStatus").GetString().Should().Be("failed");
        first.GetProperty("trigger").GetString().Should().Be("BackupFull");
        first.GetProperty("tiers").EnumerateArray().Select(t => t.GetString()).Should().Equal("local", "remote");
        first.GetProperty("verified").GetProperty("remote").GetString().Should().Be("2026-11-30");
        document.RootElement[1].GetProperty("type").GetString().Should().Be("schema");
    }

    [Fact]
    public void Without_sets_there_are_no_rows()
    {
        BackupList.Rows([new TierInventory(Local, [], null), new TierInventory(Remote, null, "unreachable")]).Should().BeEmpty();
    }
}
