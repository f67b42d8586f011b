namespace NativeAdaBelief;

/// <summary>
/// What a <see cref="LearningRateScheduler"/> or <see cref="ReduceLROnPlateau"/> drives: the
/// parameter groups' learning rates and β₁ (PyTorch's <c>param_groups[i]['lr']</c> and
/// <c>['betas'][0]</c>). <see cref="AdaBeliefOptimizer"/> implements it, and so does the
/// distributed optimizer of <c>NativeAdaBelief.Distributed</c>.
/// </summary>
public interface IScheduledOptimizer
{
    /// <summary>The number of parameter groups.</summary>
    int GroupCount { get; }

    /// <summary>Group <paramref name="group"/>'s learning rate.</summary>
    /// <param name="group">The group's index, from 0.</param>
    /// <returns>The learning rate.</returns>
    double GetLearningRate(int group);

    /// <summary>Sets group <paramref name="group"/>'s learning rate.</summary>
    /// <param name="group">The group's index, from 0.</param>
    /// <param name="learningRate">The new learning rate (the optimizer's rules apply: finite, ≥ 0).</param>
    void SetLearningRate(int group, double learningRate);

    /// <summary>Sets group <paramref name="group"/>'s β₁ (what PyTorch's schedulers cycle as "momentum").</summary>
    /// <param name="group">The group's index, from 0.</param>
    /// <param name="beta1">The new β₁ (the optimizer's rules apply: in [0, 1)).</param>
    void SetBeta1(int group, double beta1);
}
