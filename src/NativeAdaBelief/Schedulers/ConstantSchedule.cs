namespace NativeAdaBelief;

/// <summary>The same learning rate at every step.</summary>
public sealed class ConstantSchedule : ILearningRateScheduler
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="learningRate">The learning rate; finite and ≥ 0.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="learningRate"/> is negative or not finite.</exception>
    public ConstantSchedule(double learningRate)
    {
        ScheduleChecks.LearningRate(learningRate, nameof(learningRate));
        LearningRate = learningRate;
    }

    /// <summary>The learning rate.</summary>
    public double LearningRate { get; }

    /// <inheritdoc />
    public double LearningRateAt(long step) => LearningRate;
}
