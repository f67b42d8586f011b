namespace NativeAdaBelief.Distributed;

/// <summary>Applies a learning-rate schedule to a distributed optimizer's groups.</summary>
public static class DistributedSchedulerExtensions
{
    /// <summary>Sets every group of <paramref name="optimizer"/> to the schedule's value for <paramref name="step"/> (call it on every rank).</summary>
    /// <param name="scheduler">The schedule.</param>
    /// <param name="optimizer">The optimizer whose groups to set.</param>
    /// <param name="step">The 1-based step about to be taken.</param>
    /// <returns>The learning rate that was set.</returns>
    public static double Apply(this ILearningRateScheduler scheduler, DistributedAdaBeliefOptimizer optimizer, long step)
    {
        ArgumentNullException.ThrowIfNull(scheduler);
        ArgumentNullException.ThrowIfNull(optimizer);
        double rate = scheduler.LearningRateAt(step);
        foreach (DistributedParameterGroup group in optimizer.ParamGroups)
        {
            group.LearningRate = rate;
        }
        return rate;
    }
}
