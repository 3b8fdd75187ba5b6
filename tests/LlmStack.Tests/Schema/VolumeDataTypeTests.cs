using FluentAssertions;
using LlmStack.Schema;
using Xunit;

namespace LlmStack.Tests.Schema;

/// <summary>Every named volume says what it holds; the data-type wipes select by it.</summary>
public sealed class VolumeDataTypeTests
{
    [Fact]
    public void The_default_schema_types_every_volume_and_the_resolved_environment_carries_it()
    {
        var testing = new SchemaFile(Repository.Root, "schemas/compose-schema.yaml").Resolve("testing");
        testing.Volumes.ToDictionary(v => v.Key, v => v.Holds).Should().Contain(new Dictionary<string, string>
        {
            ["postgres_data"] = DataTypes.Db,
            ["qdrant_data"] = DataTypes.Db,
            ["redis_data"] = DataTypes.Cache,
            ["vllm_cache"] = DataTypes.Models,
            ["elasticsearch_data"] = DataTypes.Logs,
            ["allure_results"] = DataTypes.TestResults,
            ["prometheus_data"] = DataTypes.Metrics,
            ["minio_data"] = DataTypes.AppData,
        });
        testing.Volumes.Should().OnlyContain(v => v.Wipeable, "no default volume is declared wipe: false");
        new SchemaFile(Repository.Root, "schemas/compose-schema.yaml").Load().Volumes.Values.Should().OnlyContain(v => v.Holds != null);
    }
}
