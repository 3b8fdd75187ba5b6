using FluentAssertions;
using LlmStack.Retention;
using Xunit;

namespace LlmStack.Tests.Retention;

/// <summary>Model directories go by last use, whole, and never the model in use however old its files look.</summary>
public sealed class ModelPlannerTests
{
    private static readonly DateTimeOffset Cutoff = new(2026, 10, 31, 0, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData("microsoft/DialoGPT-medium", "models--microsoft--DialoGPT-medium", "DialoGPT-medium")]
    [InlineData("/models/llama-3-8b/", "models----models--llama-3-8b", "llama-3-8b")]
    [InlineData("gpt2", "models--gpt2", "gpt2")]
    public void A_model_id_names_its_cache_directory_and_its_last_path_segment(string model, string cache, string last)
    {
        ModelPlanner.DirectoryNames(model).Should().BeEquivalentTo(cache, last);
    }

    [Fact]
    public void Old_unused_models_go_the_model_in_use_stays_however_old_and_recent_ones_stay()
    {
        var directories = new[]
        {
            new ModelDirectory("models--microsoft--DialoGPT-medium", Cutoff.AddDays(-60), 500_000),
            new ModelDirectory("models--old--unused", Cutoff.AddDays(-1), 100),
            new ModelDirectory("models--at--cutoff", Cutoff, 100),
            new ModelDirectory("models--fresh--model", Cutoff.AddDays(20), 100),
            new ModelDirectory("llama-local", Cutoff.AddDays(-90), 100),
        };
        var plan = ModelPlanner.Plan(directories, ["microsoft/DialoGPT-medium", "/models/llama-local"], Cutoff).ToDictionary(d => d.Directory.Name);
        plan.Where(p => !p.Value.Keep).Select(p => p.Key).Should().Equal("models--old--unused");
        plan["models--microsoft--DialoGPT-medium"].Reason.Should().Be("in use: microsoft/DialoGPT-medium");
        plan["llama-local"].Reason.Should().Be("in use: /models/llama-local");
        plan["models--at--cutoff"].Keep.Should().BeTrue("used at the cutoff is not older than it");
        plan["models--old--unused"].Reason.Should().Be("not used since 2026-10-30 00:00Z");
    }

    [Fact]
    public void With_nothing_in_use_every_old_directory_goes()
    {
        ModelPlanner.Plan([new ModelDirectory("a", Cutoff.AddDays(-2), 1), new ModelDirectory("b", Cutoff.AddDays(-3), 1)], [], Cutoff)
            .Should().OnlyContain(d => !d.Keep);
    }

    [Theory]
    [InlineData(new[] { "--model", "org/m", "--port", "8000" }, new[] { "org/m" })]
    [InlineData(new[] { "--model=org/m", "--served-model-name", "x" }, new[] { "org/m" })]
    [InlineData(new[] { "--served-model-name", "--model" }, new string[0])]
    public void The_model_in_use_is_read_from_the_command(string[] command, string[] expected)
    {
        ModelPlanner.ModelArguments(command).Should().Equal(expected);
    }
}
