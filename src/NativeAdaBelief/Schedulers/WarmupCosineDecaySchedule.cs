namespace NativeAdaBelief;

/// <summary>
/// labml's <c>AdamWarmupCosineDecay</c> schedule: linear warm-up to each group's base rate α,
/// then cosine decay <b>with a floor at 10% of α</b> (labml's; PyTorch's
/// <see cref="CosineAnnealingLR"/> decays to η_min, 0 by default). For the optimizer step t
/// (t = epoch + 1: labml counts the step being taken): while t &lt; w, <c>1e-8 + t·α/w</c>; after,
/// <c>α·max(floor, ½(1 + cos(π·p)))</c> with progress <c>p = (t − w) / max(1, T − w)</c>. Past T
/// the cosine comes back up, exactly as labml's does. labml's arithmetic exactly.
/// </summary>
public sealed class WarmupCosineDecaySchedule : LearningRateSchedule
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="warmupSteps">The number of warm-up steps w; ≥ 0, at most <paramref name="totalSteps"/>.</param>
    /// <param name="totalSteps">T, where the cosine reaches its minimum; ≥ 0.</param>
    /// <param name="minimumFactor">The floor as a fraction of α, in [0, 1]; labml's is 0.1 (the rate never goes below 10% of α).</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range, or the warm-up is longer than the total (the message names the schedule and the argument).</exception>
    public WarmupCosineDecaySchedule(long warmupSteps, long totalSteps, double minimumFactor = 0.1) : base(nameof(WarmupCosineDecaySchedule))
    {
        ScheduleChecks.NotNegative(Name, nameof(warmupSteps), warmupSteps);
        ScheduleChecks.NotNegative(Name, nameof(totalSteps), totalSteps);
        if (warmupSteps > totalSteps)
        {
            throw ScheduleChecks.OutOfRange(Name, nameof(warmupSteps), warmupSteps, $"the warm-up is longer than totalSteps = {totalSteps}");
        }
        ScheduleChecks.Factor(Name, nameof(minimumFactor), minimumFactor, 0, 1);
        WarmupSteps = warmupSteps;
        TotalSteps = totalSteps;
        MinimumFactor = minimumFactor;
    }

    /// <summary>The number of warm-up steps w.</summary>
    public long WarmupSteps { get; }

    /// <summary>T, where the cosine reaches its minimum.</summary>
    public long TotalSteps { get; }

    /// <summary>The floor as a fraction of α (labml's 0.1).</summary>
    public double MinimumFactor { get; }

    /// <inheritdoc />
    public override double LearningRateAt(long epoch, int group, double baseRate)
    {
        ScheduleChecks.Epoch(Name, epoch);
        long step = epoch + 1;
        if (LinearWarmupSchedule.Warmup(step, baseRate, WarmupSteps) is double warmup)
        {
            return warmup;
        }
        double progress = (double)(step - WarmupSteps) / Math.Max(1, TotalSteps - WarmupSteps);
        return baseRate * Math.Max(MinimumFactor, 0.5 * (1.0 + Math.Cos(Math.PI * progress)));
    }
}
