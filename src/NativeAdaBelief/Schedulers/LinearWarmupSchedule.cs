namespace NativeAdaBelief;

/// <summary>
/// Linear warm-up to a peak learning rate, then constant: labml's <c>AdamWarmup</c> schedule,
/// <c>1e-8 + t·α/w</c> while t &lt; w, then α.
/// </summary>
public sealed class LinearWarmupSchedule : ILearningRateScheduler
{
    /// <summary>The tiny offset labml adds during warm-up so that the learning rate is never exactly 0.</summary>
    public const double WarmupOffset = 1e-8;

    /// <summary>Creates the schedule.</summary>
    /// <param name="learningRate">The peak learning rate α; finite and ≥ 0.</param>
    /// <param name="warmupSteps">The number of warm-up steps w; ≥ 0 (0: no warm-up).</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range.</exception>
    public LinearWarmupSchedule(double learningRate, long warmupSteps)
    {
        ScheduleChecks.LearningRate(learningRate, nameof(learningRate));
        ArgumentOutOfRangeException.ThrowIfNegative(warmupSteps);
        LearningRate = learningRate;
        WarmupSteps = warmupSteps;
    }

    /// <summary>The peak learning rate α.</summary>
    public double LearningRate { get; }

    /// <summary>The number of warm-up steps w.</summary>
    public long WarmupSteps { get; }

    /// <inheritdoc />
    public double LearningRateAt(long step) =>
        WarmupSteps > step ? WarmupOffset + step * LearningRate / WarmupSteps : LearningRate;
}
