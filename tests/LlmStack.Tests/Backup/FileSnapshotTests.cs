using System.Text;
using LlmStack.Backup;
using LlmStack.Lifecycle;

namespace LlmStack.Tests.Backup;

/// <summary>
/// The pieces of file snapshots that need no engine: a manifest in a snapshot tag (the catalog in one listing), a volume
/// part's layout, the parent a volume's backup is compared with, restic's summary counts, and tree listings compared in
/// bounded memory.
/// </summary>
public sealed class FileSnapshotTests
{
    private static BackupSetManifest Manifest(string set = "20261206T030000Z-0a1b", int members = 2) => new(
        set, "testing", "multimodal-testing", "local", BackupTrigger.BackupFull, DateTimeOffset.ParseExact(set[..16], "yyyyMMdd'T'HHmmss'Z'", null, System.Globalization.DateTimeStyles.AssumeUniversal),
        new DateTimeOffset(2026, 12, 6, 3, 0, 9, TimeSpan.Zero), "1.0.0", SetStatus.Complete,
        Enumerable.Range(0, members).Select(i => new MemberResult("qdrant", BackupMethod.Volume, BackupType.Volume, $"volume_{i}", MemberStatus.Ok, null,
            [new BackupPart($"volume_{i}", $"{i:x8}", "/", 1 << 30, 1 << 20, 4.5) { Layout = PartLayout.Files }],
            new Dictionary<string, long> { ["files"] = 670, ["directories"] = 2 })).ToList());

    private static ResticSnapshot Snapshot(string id, DateTimeOffset time, params string[] tags) => new(id, id[..8], time, ["/data"], tags, "multimodal-testing");

    [Fact]
    public void A_manifest_round_trips_through_its_tag_which_has_no_comma_for_restic_to_split_on()
    {
        var manifest = Manifest();
        var tag = manifest.ToTag();

        tag.Should().StartWith(BackupTags.ManifestTag).And.NotContain(",");
        BackupSetManifest.FromTag(tag!).ToJson().Should().Be(manifest.ToJson());
        BackupTags.Set("testing", manifest.Set, "1.0.0", manifest.Trigger, manifest.Status, tag).Should().Contain(tag);
    }

    [Fact]
    public void A_manifest_too_long_for_a_command_line_has_no_tag_and_is_read_from_its_file()
    {
        var huge = Manifest(members: 1) with { Members = Manifest(members: 1).Members.Select(m => m with { Error = RandomText(200_000) }).ToList() };

        huge.ToTag().Should().BeNull();
        BackupTags.Set("testing", huge.Set, "1.0.0", huge.Trigger, huge.Status, huge.ToTag()).Should().NotContain(t => t.StartsWith(BackupTags.ManifestTag, StringComparison.Ordinal));
    }

    private static string RandomText(int length) => Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(length))[..length];

    [Fact]
    public void A_volume_part_says_it_is_a_file_tree_and_a_part_written_before_has_no_layout_in_its_json()
    {
        var json = Manifest().ToJson();
        json.Should().Contain("\"layout\": \"files\"");
        BackupSetManifest.FromJson(json).Members[0].Tree!.Snapshot.Should().Be("00000000");

        var stream = new BackupPart("db-x.dump", "1a2b3c4d", "/postgres/full/db-x.dump", 1, 1, 0.1);
        System.Text.Json.JsonSerializer.Serialize(stream, LlmStack.Reporting.JsonDefaults.Document).Should().NotContain("layout");
        stream.IsFiles.Should().BeFalse();
        new MemberResult("qdrant", BackupMethod.Volume, BackupType.Volume, "q", MemberStatus.Ok, null, [stream with { Name = "q.tar" }], null).Tree.Should().BeNull("a volume written as a tar");
    }

    [Fact]
    public async Task The_catalog_reads_every_set_from_one_listing_when_the_manifests_are_tags()
    {
        var older = Manifest("20261205T030000Z-0001");
        var newer = Manifest("20261206T030000Z-0002");
        var listing = new[]
        {
            Snapshot("bbbbbbbbbbbbbbbb", newer.Started, [.. BackupTags.Set("testing", newer.Set, "1.0.0", newer.Trigger, newer.Status, newer.ToTag()), "verified=2026-12-06"]),
            Snapshot("cccccccccccccccc", newer.Started, [.. BackupTags.Member("testing", newer.Set, "1.0.0", "qdrant", BackupType.Volume, "volume_0", "vm/1")]),
            Snapshot("aaaaaaaaaaaaaaaa", older.Started, [.. BackupTags.Set("testing", older.Set, "1.0.0", older.Trigger, older.Status, older.ToTag())]),
        };
        var cache = Path.Combine(Path.GetTempPath(), $"llmstack-catalog-{Guid.NewGuid():N}");

        // A repository nobody can open: the catalog must not need restic for these sets.
        var repository = new ResticRepository(new ResolvedTier("local", TierKind.Local, "/nonexistent/repository"), "testing",
            new BackupKey(null, "unused", "test"), cache, Serilog.Core.Logger.None);
        var entries = await new BackupCatalog(repository, cache).EntriesAsync(listing, CancellationToken.None);

        entries.Select(e => e.Manifest.Set).Should().Equal(older.Set, newer.Set);
        entries[1].SnapshotId.Should().Be("bbbbbbbbbbbbbbbb");
        entries[1].Verified.Should().Be("2026-12-06");
        entries[1].Manifest.ToJson().Should().Be(newer.ToJson());
        Directory.Exists(cache).Should().BeFalse("nothing is cached for a set whose manifest is a tag");
    }

    [Fact]
    public void A_volume_is_compared_with_its_newest_file_snapshot_of_the_same_host_environment_service_and_volume_in_a_set_with_a_manifest()
    {
        var member = new BackupMember("qdrant", BackupMethod.Volume, BackupType.Volume, "qdrant_data", "multimodal-testing_qdrant_data", ["qdrant"], SuspendMode.Pause);
        var day = new DateTimeOffset(2026, 12, 1, 3, 0, 0, TimeSpan.Zero);
        string[] Tags(string part, string service = "qdrant", string environment = "testing") =>
            [.. BackupTags.Member(environment, "s", "1.0.0", service, BackupType.Volume, part, "vm/1")];
        var listing = new List<ResticSnapshot>
        {
            Snapshot("1111111111111111", day, Tags("qdrant_data")),
            Snapshot("2222222222222222", day.AddDays(1), Tags("qdrant_data")),
            Snapshot("3333333333333333", day.AddDays(2), Tags("qdrant_data.tar")), // a tar: not a tree to compare with
            Snapshot("4444444444444444", day.AddDays(3), Tags("qdrant_data", environment: "staging")),
            Snapshot("5555555555555555", day.AddDays(4), Tags("minio_data", service: "minio")),
            Snapshot("6666666666666666", day.AddDays(5), Tags("qdrant_data")) with { Hostname = "another-project" },
            // A member of a set that never got its manifest (a killed run): the sweep forgets it, so it is never a parent.
            Snapshot("7777777777777777", day.AddDays(6), [.. BackupTags.Member("testing", "orphan", "1.0.0", "qdrant", BackupType.Volume, "qdrant_data", "vm/2")]),
            Snapshot("8888888888888888", day.AddDays(1), [BackupTags.Marker, "kind=set", "env=testing", "set=s"]),
        };

        BackupRunner.ParentOf(listing, "multimodal-testing", "testing", member).Should().Be("2222222222222222");
        BackupRunner.ParentOf([], "multimodal-testing", "testing", member).Should().BeNull();
        BackupRunner.ParentOf(listing, "multimodal-testing", "testing", member with { Volume = null, Method = BackupMethod.Postgres }).Should().BeNull();
    }

    [Fact]
    public void Restics_summary_gives_the_files_new_changed_and_unmodified_and_the_directories()
    {
        var output = new BackupOutput(null);
        output.Line("reading repository password from stdin");
        output.Line("""{"message_type":"status","percent_done":0.5,"total_files":3,"bytes_done":10}""");
        output.Line("""{"message_type":"summary","files_new":1,"files_changed":2,"files_unmodified":667,"dirs_new":0,"dirs_changed":1,"dirs_unmodified":1,"data_added":2048,"total_files_processed":670,"total_bytes_processed":1073741824,"total_duration":0.29,"snapshot_id":"ae8b11e9"}""");

        var summary = output.Summary!;
        summary.SnapshotId.Should().Be("ae8b11e9");
        (summary.FilesNew, summary.FilesChanged, summary.FilesUnmodified, summary.Files, summary.Directories).Should().Be((1L, 2L, 667L, 670L, 2L));
        summary.BytesProcessed.Should().Be(1073741824);
    }

    [Fact]
    public void Bytes_become_lines_whatever_the_chunks()
    {
        var lines = new List<string>();
        var writer = new LineWriter(lines.Add);
        foreach (var chunk in new[] { "first li", "ne\nsecond\r\n", "", "thi", "rd" })
        {
            writer.Write(Encoding.UTF8.GetBytes(chunk));
        }

        writer.Finish();
        lines.Should().Equal("first line", "second", "third");
    }

    [Fact]
    public void A_restic_node_and_busybox_stat_give_the_same_line_for_the_same_entry()
    {
        // Go's FileMode: directory 1<<31, symlink 1<<27, setgid 1<<22; st_mode in hex from stat -c %f.
        TreeComparison.Line(new ResticNode("dir", "/collections", 0, 0, (1L << 31) | 0x1c0))
            .Should().Be(TreeComparison.FromStat("41c0 0 0 4096 ./collections")).And.Be("d 0700 0 0 0 collections");
        TreeComparison.Line(new ResticNode("file", "/collections/docs/config.json", 1000, 1000, 0x1a0) { Size = 30 })
            .Should().Be(TreeComparison.FromStat("81a0 1000 1000 30 ./collections/docs/config.json"));
        TreeComparison.Line(new ResticNode("symlink", "/current", 0, 0, (1L << 27) | 0x1ff))
            .Should().Be(TreeComparison.FromStat("a1ff 0 0 28 ./current"), "a link's size is not compared");
        TreeComparison.Line(new ResticNode("dir", "/shared", 0, 50, (1L << 31) | (1L << 22) | 0x1fd))
            .Should().Be(TreeComparison.FromStat("45fd 0 50 4096 ./shared")).And.Be("d 2775 0 50 0 shared");
        TreeComparison.Line(new ResticNode("file", "/a b.txt", 0, 0, 0x1a4) { Size = 5 }).Should().Be(TreeComparison.FromStat("81a4 0 0 5 ./a b.txt"), "spaces in names survive");
        TreeComparison.FromStat("not a stat line").Should().BeNull();
    }

    private static Func<Action<string>, CancellationToken, Task> Lines(IEnumerable<string> lines) => (line, _) =>
    {
        foreach (var l in lines)
        {
            line(l);
        }

        return Task.CompletedTask;
    };

    [Fact]
    public async Task Equal_listings_in_any_order_are_equal_and_a_difference_names_the_entry()
    {
        var backup = Enumerable.Range(0, 5000).Select(i => $"f 0644 0 0 {i} dir/file-{i}").ToList();
        var restored = backup.AsEnumerable().Reverse().ToList();

        var same = await TreeComparison.CompareAsync(Lines(backup), Lines(restored), TreeComparison.PathOfLine, CancellationToken.None);
        same.Equal.Should().BeTrue();
        (same.Expected, same.Actual).Should().Be((5000L, 5000L));

        restored[1234] = "f 0600 0 0 3765 dir/file-3765";
        var changed = await TreeComparison.CompareAsync(Lines(backup), Lines(restored), TreeComparison.PathOfLine, CancellationToken.None);
        changed.Equal.Should().BeFalse();
        changed.Difference.Should().Contain("in the backup, not as restored: f 0644 0 0 3765 dir/file-3765").And.Contain("restored instead: f 0600 0 0 3765 dir/file-3765");

        var extra = await TreeComparison.CompareAsync(Lines(backup), Lines([.. backup, "d 0755 0 0 0 new"]), TreeComparison.PathOfLine, CancellationToken.None);
        extra.Difference.Should().Be("5000 entries in the backup, 5001 restored; restored, not in the backup: d 0755 0 0 0 new");
    }
}
