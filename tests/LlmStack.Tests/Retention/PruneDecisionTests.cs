using FluentAssertions;
using LlmStack.Retention;
using Xunit;

namespace LlmStack.Tests.Retention;

/// <summary>restic prune is expensive: it runs when the freed share is large enough or the prune schedule came round.</summary>
public sealed class PruneDecisionTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void The_share_alone_decides_when_there_is_no_schedule()
    {
        var prune = new PruneDefinition { WhenUnusedAbove = "10%" };
        TierRetentionPlanner.PruneDecision(prune, 12.5, null, Now).Should().Be((true, "the forgotten sets added up to 12.5% of it (prune.when_unused_above 10%)"));
        TierRetentionPlanner.PruneDecision(prune, 3, null, Now).Should().Be((false, "the forgotten sets added at most 3% of it (prune.when_unused_above 10%)"));
    }

    [Fact]
    public void The_schedule_prunes_once_per_occurrence_even_when_little_was_freed()
    {
        var prune = new PruneDefinition { WhenUnusedAbove = "10%", Schedule = "0 5 * * 0" }; // Sundays 05:00 UTC; 2026-11-29 is a Sunday
        TierRetentionPlanner.PruneDecision(prune, 1, null, Now).Worth.Should().BeTrue("never pruned yet");
        TierRetentionPlanner.PruneDecision(prune, 1, new DateTimeOffset(2026, 11, 29, 6, 0, 0, TimeSpan.Zero), Now)
            .Should().Be((false, "the forgotten sets added at most 1% of it (prune.when_unused_above 10%); last pruned 2026-11-29 06:00Z, prune.schedule 0 5 * * 0 next at 2026-12-06 05:00Z"));
        TierRetentionPlanner.PruneDecision(prune, 1, new DateTimeOffset(2026, 11, 29, 4, 0, 0, TimeSpan.Zero), Now)
            .Should().Be((true, "prune.schedule 0 5 * * 0 came round since the last prune (2026-11-29 04:00Z)"));
        TierRetentionPlanner.PruneDecision(prune, 50, new DateTimeOffset(2026, 11, 29, 6, 0, 0, TimeSpan.Zero), Now).Worth.Should().BeTrue("either rule suffices");
    }

    [Fact]
    public void Without_any_rule_every_cleanup_prunes()
    {
        TierRetentionPlanner.PruneDecision(null, 0, null, Now).Should().Be((true, "every cleanup prunes (no prune rule)"));
    }
}
