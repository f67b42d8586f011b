namespace NativeAdaBelief;

/// <summary>
/// A learning-rate schedule: the learning rate to use for a given step. Apply it before each
/// <see cref="AdaBeliefOptimizer.Step"/> with
/// <see cref="LearningRateSchedulerExtensions.Apply(ILearningRateScheduler, ParameterGroup, long)"/>.
/// </summary>
/// <remarks>
/// <c>step</c> numbering follows labml: it is the 1-based number of the step about to
/// be taken (the tensors' step count t after it), so the first call is with 1.
/// </remarks>
public interface ILearningRateScheduler
{
    /// <summary>The learning rate for step <paramref name="step"/> (1-based; see the interface remarks).</summary>
    /// <param name="step">The step about to be taken, from 1.</param>
    /// <returns>A learning rate ≥ 0.</returns>
    double LearningRateAt(long step);
}
