using Docker.DotNet.Models;
using System.Text;
using Docker.DotNet;
using LlmStack.Engine;
using LlmStack.Pipeline;

namespace LlmStack.Tests.Engine;

public class EngineHelpersTests
{
    [Fact]
    public void The_image_map_replaces_listed_images_then_the_fallback()
    {
        var file = Path.Combine(Repository.TempDirectory("map"), "map.yaml");
        File.WriteAllText(file, "postgres:16-alpine: fixture/pg:1\n\"*\": fixture/standin:1\n");
        var map = ImageMap.Load(file, "/");
        map.Apply("postgres:16-alpine").Should().Be("fixture/pg:1");
        map.Apply("minio/minio:RELEASE.2024").Should().Be("fixture/standin:1");
        ImageMap.None.Apply("redis:7").Should().Be("redis:7");
        ImageMap.Load(null, "/").Apply("redis:7").Should().Be("redis:7");

        File.WriteAllText(file, "- not: a map\n");
        var bad = () => ImageMap.Load(file, "/");
        bad.Should().Throw<PipelineException>().WithMessage("*the image map must be a mapping*");
        var missing = () => ImageMap.Load("/no/such/map.yaml", "/");
        missing.Should().Throw<PipelineException>().WithMessage("image map '/no/such/map.yaml' not found*");
    }

    [Fact]
    public void A_tab_in_the_image_maps_indentation_is_reported_at_the_tab()
    {
        var file = Path.Combine(Repository.TempDirectory("map"), "map.yaml");
        File.WriteAllText(file, "postgres:16-alpine: fixture/pg:1\nredis:7: fixture/redis:7\n\t\"*\": fixture/standin:1\n");
        var load = () => ImageMap.Load(file, "/");
        load.Should().Throw<PipelineException>().Which.Message.Should().Be($"{file}:3:1: malformed YAML in the image map: a tab in the indentation: YAML indents with spaces only");
    }

    [Theory]
    [InlineData("postgres:16-alpine", "postgres", "16-alpine")]
    [InlineData("ghcr.io/berriai/litellm:main-v1.55.8", "ghcr.io/berriai/litellm", "main-v1.55.8")]
    [InlineData("localhost:5000/app", "localhost:5000/app", "latest")]
    [InlineData("app@sha256:abc", "app", "sha256:abc")]
    public void Image_references_split_into_name_and_tag(string image, string name, string tag) =>
        EngineImages.Split(image).Should().Be((name, tag));

    [Fact]
    public async Task Logs_are_demultiplexed_into_whole_lines_per_stream()
    {
        var frames = new MemoryStream();
        void Frame(byte stream, string text)
        {
            var payload = Encoding.UTF8.GetBytes(text);
            frames.Write([stream, 0, 0, 0, (byte)(payload.Length >> 24), (byte)(payload.Length >> 16), (byte)(payload.Length >> 8), (byte)payload.Length]);
            frames.Write(payload);
        }

        Frame(1, "first li");
        Frame(2, "error one\n");
        Frame(1, "ne\nsecond line\nthird ");
        Frame(1, "and last");
        frames.Position = 0;

        var lines = new List<string>();
        using var stream = new MultiplexedStream(frames, multiplexed: true);
        await LogStream.PumpAsync(stream, lines.Add, CancellationToken.None);
        lines.Should().Equal("error one", "first line", "second line", "third and last");
    }

    [Fact]
    public void Since_accepts_durations_and_timestamps()
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        long.Parse(LogStream.Since("10m")!).Should().BeCloseTo(now - 600, 5);
        LogStream.Since("2026-11-24T10:00:00Z").Should().Be(new DateTimeOffset(2026, 11, 24, 10, 0, 0, TimeSpan.Zero).ToUnixTimeSeconds().ToString());
        LogStream.Since(null).Should().BeNull();
        var bad = () => LogStream.Since("yesterday-ish");
        bad.Should().Throw<PipelineException>().WithMessage("--since 'yesterday-ish' is neither a duration*");
    }

    [Fact]
    public void Transient_engine_failures_are_retried_and_others_are_not()
    {
        DockerEngine.IsTransient(new HttpRequestException("reset")).Should().BeTrue();
        DockerEngine.IsTransient(new IOException("broken pipe")).Should().BeTrue();
        DockerEngine.IsTransient(new DockerApiException(System.Net.HttpStatusCode.ServiceUnavailable, "busy")).Should().BeTrue();
        DockerEngine.IsTransient(new DockerApiException(System.Net.HttpStatusCode.NotFound, "no such container")).Should().BeFalse();
        DockerEngine.IsTransient(new DockerApiException(System.Net.HttpStatusCode.Conflict, "name in use")).Should().BeFalse();
        DockerEngine.IsTransient(new InvalidOperationException()).Should().BeFalse();
    }
}

/// <summary>Docker's health verdict as LlmStack reads it: the mark a pause leaves is not a failure.</summary>
public class HealthVerdictTests
{
    private static State With(string status, long streak, params long[] exitCodes) => new()
    {
        Health = new Docker.DotNet.Models.Health { Status = status, FailingStreak = streak, Log = exitCodes.Select(c => new HealthcheckResult { ExitCode = c }).ToList() },
    };

    [Fact]
    public void Unhealthy_with_no_failing_probe_behind_it_is_the_pause_mark_and_reads_healthy()
    {
        // Docker 20.10 after docker pause / unpause: status unhealthy, failing streak 0, the last probe passed (measured).
        With("unhealthy", 0, 0, 0).Health().Should().Be(HealthState.Healthy);
    }

    [Theory]
    [InlineData(5L, new long[] { 1, 1, 1, 1, 1 })]
    [InlineData(0L, new long[] { 0, 1 })]
    [InlineData(0L, new long[0])]
    public void Unhealthy_after_failing_probes_stays_unhealthy(long streak, long[] exitCodes)
    {
        With("unhealthy", streak, exitCodes).Health().Should().Be(HealthState.Unhealthy);
    }

    [Theory]
    [InlineData("healthy", HealthState.Healthy)]
    [InlineData("starting", HealthState.Starting)]
    [InlineData("none", HealthState.None)]
    public void Other_verdicts_map_as_Docker_says(string status, HealthState expected)
    {
        With(status, 0).Health().Should().Be(expected);
    }
}
