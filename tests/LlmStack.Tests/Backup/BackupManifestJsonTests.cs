using System.Text.Json;
using LlmStack.Backup;
using LlmStack.Reporting;

namespace LlmStack.Tests.Backup;

/// <summary>
/// The typed manifest keeps the words on disk: manifests live in users' restic repositories (and tape exports), so a
/// manifest the untyped code wrote reads into the enums and is written back byte for byte.
/// </summary>
public sealed class BackupManifestJsonTests
{
    /// <summary>Written by the code before the enums (BackupSetManifest.ToJson of string fields), unchanged.</summary>
    private const string WrittenBefore = """
{
  "set": "20261129T030000Z-3fa2",
  "environment": "staging",
  "project": "multimodal-staging",
  "tier": "local",
  "trigger": "pre-restore",
  "started": "2026-11-29T03:00:00+00:00",
  "finished": "2026-11-29T03:00:42.5+00:00",
  "version": "1.2.0",
  "status": "failed",
  "members": [
    {
      "service": "postgres",
      "method": "postgres",
      "type": "full",
      "status": "ok",
      "parts": [
        {
          "name": "globals.sql",
          "snapshot": "1a2b3c4d",
          "path": "/postgres/full/globals.sql",
          "bytes": 1234,
          "added": 567,
          "seconds": 0.25
        },
        {
          "name": "db-multimodal.dump",
          "snapshot": "5e6f7a8b",
          "path": "/postgres/full/db-multimodal.dump",
          "bytes": 98765,
          "added": 4321,
          "seconds": 1.5,
          "source": "multimodal"
        }
      ],
      "succeeded": true,
      "key": "postgres/full",
      "bytes": 99999,
      "added": 4888
    },
    {
      "service": "redis",
      "method": "redis",
      "type": "rdb",
      "status": "ok",
      "parts": [
        {
          "name": "dump.rdb",
          "snapshot": "9c0d1e2f",
          "path": "/redis/rdb/dump.rdb",
          "bytes": 2048,
          "added": 2048,
          "seconds": 0.1
        }
      ],
      "digest": "42:abcdef0123456789",
      "succeeded": true,
      "key": "redis/rdb",
      "bytes": 2048,
      "added": 2048
    },
    {
      "service": "qdrant",
      "method": "volume",
      "type": "volume",
      "volume": "qdrant_data",
      "status": "ok",
      "parts": [
        {
          "name": "qdrant_data.tar",
          "snapshot": "aa11bb22",
          "path": "/qdrant/volume/qdrant_data.tar",
          "bytes": 10240,
          "added": 512,
          "seconds": 0.75
        },
        {
          "name": "qdrant_data.sha256",
          "snapshot": "cc33dd44",
          "path": "/qdrant/volume/qdrant_data.sha256",
          "bytes": 300,
          "added": 300,
          "seconds": 0.01
        }
      ],
      "counts": {
        "entries": 12,
        "files": 9
      },
      "digest": "e3b0c44298fc1c14",
      "succeeded": true,
      "key": "qdrant/qdrant_data",
      "bytes": 10540,
      "added": 812
    },
    {
      "service": "minio",
      "method": "volume",
      "type": "volume",
      "volume": "minio_data",
      "status": "skipped",
      "error": "volume multimodal-staging_minio_data does not exist (its stack has never run)",
      "parts": [],
      "succeeded": false,
      "key": "minio/minio_data",
      "bytes": 0,
      "added": 0
    },
    {
      "service": "redis",
      "method": "redis",
      "type": "aof",
      "status": "failed",
      "error": "redis (multimodal-staging-redis-1) has appendonly off: there is no AOF to back up; use --backup-type rdb",
      "parts": [],
      "succeeded": false,
      "key": "redis/aof",
      "bytes": 0,
      "added": 0
    },
    {
      "service": "config",
      "method": "config",
      "type": "config",
      "status": "ok",
      "parts": [
        {
          "name": "files",
          "snapshot": "ee55ff66",
          "path": "/repo/schemas/compose-schema.yaml,/repo/configs",
          "bytes": 40960,
          "added": 100,
          "seconds": 0.3
        }
      ],
      "succeeded": true,
      "key": "config/config",
      "bytes": 40960,
      "added": 100
    }
  ],
  "isComplete": false,
  "path": "/llmstack/sets/20261129T030000Z-3fa2.json"
}
""";

    [Fact]
    public void A_manifest_written_before_the_enums_reads_typed_and_is_written_back_unchanged()
    {
        var manifest = BackupSetManifest.FromJson(WrittenBefore);

        manifest.Trigger.Should().Be(BackupTrigger.PreRestore);
        manifest.IsSafetyCopy.Should().BeTrue();
        manifest.Status.Should().Be(SetStatus.Failed);
        manifest.IsComplete.Should().BeFalse();
        manifest.Members.Select(m => (m.Method, m.Type, m.Status)).Should().Equal(
            (BackupMethod.Postgres, BackupType.Full, MemberStatus.Ok),
            (BackupMethod.Redis, BackupType.Rdb, MemberStatus.Ok),
            (BackupMethod.Volume, BackupType.Volume, MemberStatus.Ok),
            (BackupMethod.Volume, BackupType.Volume, MemberStatus.Skipped),
            (BackupMethod.Redis, BackupType.Aof, MemberStatus.Failed),
            (BackupMethod.Config, BackupType.Config, MemberStatus.Ok));
        manifest.Members.Select(m => m.Key).Should().Equal("postgres/full", "redis/rdb", "qdrant/qdrant_data", "minio/minio_data", "redis/aof", "config/config");
        manifest.ToJson().Should().Be(WrittenBefore);
    }

    [Fact]
    public void A_trigger_this_version_does_not_know_reads_as_other_and_keeps_its_word()
    {
        var json = WrittenBefore.Replace("\"trigger\": \"pre-restore\"", "\"trigger\": \"nightly-cron\"", StringComparison.Ordinal);
        var manifest = BackupSetManifest.FromJson(json);

        manifest.Trigger.Kind.Should().Be(BackupTriggerKind.Other);
        manifest.Trigger.Text.Should().Be("nightly-cron");
        manifest.Trigger.ToString().Should().Be("nightly-cron");
        manifest.IsSafetyCopy.Should().BeFalse();
        manifest.ToJson().Should().Be(json);
        BackupTags.Set("testing", "s", "1.0.0", manifest.Trigger, manifest.Status).Should().Contain("trigger=nightly-cron").And.Contain("status=failed");
    }

    [Fact]
    public void The_known_triggers_are_the_target_names_and_the_safety_copies()
    {
        BackupTrigger.Of("BackupFull").Should().Be(BackupTrigger.BackupFull);
        BackupTrigger.Of("BackupService").Kind.Should().Be(BackupTriggerKind.BackupService);
        BackupTrigger.Of("pre-restore").Should().Be(BackupTrigger.PreRestore);
        BackupTrigger.Of("pre-wipe").Should().Be(BackupTrigger.PreWipe);
        BackupTrigger.Of("Pre-Wipe").Kind.Should().Be(BackupTriggerKind.Other, "words are exact");
        BackupTrigger.SafetyCopies.Select(t => t.Text).Should().Equal("pre-restore", "pre-wipe");
        BackupTrigger.SafetyCopies.Should().OnlyContain(t => t.IsSafetyCopy);
        JsonSerializer.Serialize(new { trigger = BackupTrigger.PreWipe }, JsonDefaults.Document).Should().Contain("\"trigger\": \"pre-wipe\"");
    }

    [Fact]
    public void Every_word_is_the_one_json_writes_and_parses_back_exactly()
    {
        static void Check<T>(params string[] words)
            where T : struct, Enum
        {
            Enum.GetValues<T>().Select(v => JsonSerializer.Serialize(v, JsonDefaults.Document).Trim('"')).Should().Equal(words, $"the JSON words of {typeof(T).Name}");
            foreach (var (value, word) in Enum.GetValues<T>().Zip(words))
            {
                BackupWords.TryParse<T>(word, out var parsed).Should().BeTrue();
                parsed.Should().Be(value);
                BackupWords.TryParse<T>(char.ToUpperInvariant(word[0]) + word[1..], out _).Should().BeFalse("a word in another case is not the word");
            }
        }

        Check<BackupMethod>("postgres", "redis", "volume", "config");
        Check<BackupType>("full", "schema", "data", "rdb", "aof", "volume", "config");
        Check<TierKind>("local", "remote", "cloud", "tape");
        Check<MemberStatus>("ok", "failed", "skipped");
        Check<SetStatus>("complete", "failed");
        BackupType.Rdb.Word().Should().Be("rdb");
        TierKind.Tape.Word().Should().Be("tape");
        MemberStatus.Skipped.Word().Should().Be("skipped");
        SetStatus.Failed.Word().Should().Be("failed");
        BackupMethod.Config.Word().Should().Be("config");
        BackupWords.TryParse<BackupType>("3", out _).Should().BeFalse("no numbers");
        BackupWords.ConfigMethods.Should().Equal("postgres", "redis", "volume", "none");
        BackupWords.TypesOf(BackupMethod.Postgres).Should().Equal(BackupType.Full, BackupType.Schema, BackupType.Data);
        BackupWords.TypesOf(BackupMethod.Redis).Should().Equal(BackupType.Rdb, BackupType.Aof);
    }

    [Fact]
    public void The_tape_catalog_and_the_restore_test_report_keep_their_json()
    {
        const string tape = """
{
  "set": "20261129T030000Z-3fa2",
  "environment": "staging",
  "target": "/backups/tape/staging/20261129T030000Z-3fa2.tar",
  "exported": "2026-11-29T03:00:00+00:00",
  "bytes": 123456,
  "sha256": "ab12",
  "entries": {
    "20261129T030000Z-3fa2/postgres/full/globals.sql": 1234
  }
}
""";
        JsonSerializer.Serialize(JsonSerializer.Deserialize<TapeExport>(tape, JsonDefaults.Document), JsonDefaults.Document).Should().Be(tape);

        const string report = """
{
  "environment": "staging",
  "set": "S2",
  "sets": [
    "S1",
    "S2"
  ],
  "testEnvironment": "testing",
  "project": "llmstack-restoretest-staging",
  "started": "2026-11-29T03:00:00+00:00",
  "seconds": 47.25,
  "passed": false,
  "checks": [
    {
      "member": "postgres/full",
      "check": "restore and its check",
      "ok": true,
      "detail": "restored; counts as in the backup",
      "set": "S1"
    },
    {
      "member": "redis/rdb",
      "check": "restore",
      "ok": false,
      "detail": "boom",
      "set": "S2"
    }
  ]
}
""";
        JsonSerializer.Serialize(JsonSerializer.Deserialize<RestoreTestReport>(report, JsonDefaults.Document), JsonDefaults.Document).Should().Be(report);
    }
}
