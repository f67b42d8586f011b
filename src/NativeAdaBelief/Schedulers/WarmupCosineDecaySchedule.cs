namespace NativeAdaBelief;

/// <summary>
/// Linear warm-up, then cosine decay with a floor: labml's <c>AdamWarmupCosineDecay</c>
/// schedule. While t &lt; w: <c>1e-8 + t·α/w</c>; after: <c>α·max(floor, ½(1 + cos(π·p)))</c> with
/// progress <c>p = (t − w) / max(1, T − w)</c>. labml's floor is 0.1 (the rate never goes below
/// 10% of α); past T the cosine comes back up, exactly as labml's does.
/// </summary>
public sealed class WarmupCosineDecaySchedule : ILearningRateScheduler
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="learningRate">The peak learning rate α; finite and ≥ 0.</param>
    /// <param name="warmupSteps">The number of warm-up steps w; ≥ 0.</param>
    /// <param name="totalSteps">T, where the cosine reaches its minimum; ≥ 0.</param>
    /// <param name="minimumFactor">The floor as a fraction of α, in [0, 1]; labml's is 0.1.</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range.</exception>
    public WarmupCosineDecaySchedule(double learningRate, long warmupSteps, long totalSteps, double minimumFactor = 0.1)
    {
        ScheduleChecks.LearningRate(learningRate, nameof(learningRate));
        ArgumentOutOfRangeException.ThrowIfNegative(warmupSteps);
        ArgumentOutOfRangeException.ThrowIfNegative(totalSteps);
        if (!(minimumFactor >= 0 && minimumFactor <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(minimumFactor), minimumFactor, "minimumFactor must be in [0, 1].");
        }
        LearningRate = learningRate;
        WarmupSteps = warmupSteps;
        TotalSteps = totalSteps;
        MinimumFactor = minimumFactor;
    }

    /// <summary>The peak learning rate α.</summary>
    public double LearningRate { get; }

    /// <summary>The number of warm-up steps w.</summary>
    public long WarmupSteps { get; }

    /// <summary>T, where the cosine reaches its minimum.</summary>
    public long TotalSteps { get; }

    /// <summary>The floor as a fraction of α.</summary>
    public double MinimumFactor { get; }

    /// <inheritdoc />
    public double LearningRateAt(long step)
    {
        if (WarmupSteps > step)
        {
            return LinearWarmupSchedule.WarmupOffset + step * LearningRate / WarmupSteps;
        }
        double progress = (double)(step - WarmupSteps) / Math.Max(1, TotalSteps - WarmupSteps);
        return LearningRate * Math.Max(MinimumFactor, 0.5 * (1.0 + Math.Cos(Math.PI * progress)));
    }
}
