namespace NativeAdaBelief;

/// <summary>Applies a schedule's learning rate to parameter groups.</summary>
public static class LearningRateSchedulerExtensions
{
    /// <summary>Sets <paramref name="group"/>'s learning rate to the schedule's value for <paramref name="step"/>.</summary>
    /// <param name="scheduler">The schedule.</param>
    /// <param name="group">The group to set.</param>
    /// <param name="step">The 1-based step about to be taken.</param>
    /// <returns>The learning rate that was set.</returns>
    public static double Apply(this ILearningRateScheduler scheduler, ParameterGroup group, long step)
    {
        ArgumentNullException.ThrowIfNull(scheduler);
        ArgumentNullException.ThrowIfNull(group);
        double lr = scheduler.LearningRateAt(step);
        group.LearningRate = lr;
        return lr;
    }

    /// <summary>Sets every group of <paramref name="optimizer"/> to the schedule's value for <paramref name="step"/>. Allocates nothing.</summary>
    /// <param name="scheduler">The schedule.</param>
    /// <param name="optimizer">The optimizer whose groups to set.</param>
    /// <param name="step">The 1-based step about to be taken.</param>
    /// <returns>The learning rate that was set.</returns>
    public static double Apply(this ILearningRateScheduler scheduler, AdaBeliefOptimizer optimizer, long step)
    {
        ArgumentNullException.ThrowIfNull(scheduler);
        ArgumentNullException.ThrowIfNull(optimizer);
        double lr = scheduler.LearningRateAt(step);
        IReadOnlyList<ParameterGroup> groups = optimizer.ParamGroups;
        for (int i = 0; i < groups.Count; i++)
        {
            groups[i].LearningRate = lr;
        }
        return lr;
    }
}
