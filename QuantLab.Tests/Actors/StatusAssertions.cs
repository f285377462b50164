using QuantLab.Actors.Messages;

namespace QuantLab.Tests.Actors;

public static class StatusAssertions
{
    /// <summary>The campaign-wide counts only (tests that check totals compare without the per-stage and per-producer breakdowns).</summary>
    public static CampaignStatus Totals(this CampaignStatus status) => status with { Stages = null, Producers = null };
}
