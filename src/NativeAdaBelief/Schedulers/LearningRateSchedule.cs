namespace NativeAdaBelief;

/// <summary>
/// A learning-rate schedule: each parameter group's learning rate as a function of the epoch
/// (the number of <see cref="LearningRateScheduler.Step"/> calls so far, PyTorch's
/// <c>last_epoch</c>) and of that group's base rate (PyTorch's <c>initial_lr</c>). A schedule
/// holds no state; <see cref="LearningRateScheduler"/> binds one to an optimizer, keeps the
/// base rates and the epoch, and applies the rates.
/// </summary>
/// <remarks>
/// Schedules are computed in closed form from the base rate, where PyTorch's <c>step()</c>
/// updates the current rate recursively (its "chainable form"). The two agree to rounding
/// (the tests hold every schedule to PyTorch's own values step by step), and the closed form
/// makes a resumed run's rates a function of the saved epoch alone, with no rounding carried
/// across steps. docs/schedules.md has the details.
/// </remarks>
public abstract class LearningRateSchedule
{
    /// <summary>Creates a schedule.</summary>
    /// <param name="name">Its name in messages and saved states (PyTorch's class name, for PyTorch's schedules).</param>
    protected LearningRateSchedule(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        Name = name;
    }

    /// <summary>The schedule's name (<c>"StepLR"</c>, ...): what its errors and saved states say.</summary>
    public string Name { get; }

    /// <summary>Group <paramref name="group"/>'s learning rate at <paramref name="epoch"/>.</summary>
    /// <param name="epoch">The number of scheduler steps taken, from 0 (the rate of the first optimizer step).</param>
    /// <param name="group">The group's index.</param>
    /// <param name="baseRate">The group's base rate (its rate when the scheduler was created).</param>
    /// <returns>The learning rate.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="epoch"/> is negative (or past a schedule's end, where it has one).</exception>
    public abstract double LearningRateAt(long epoch, int group, double baseRate);

    /// <summary>Group <paramref name="group"/>'s β₁ at <paramref name="epoch"/>, for schedules that cycle it (PyTorch's momentum cycling); null for the others.</summary>
    /// <param name="epoch">The number of scheduler steps taken, from 0.</param>
    /// <param name="group">The group's index.</param>
    /// <returns>β₁, or null to leave it alone.</returns>
    public virtual double? Beta1At(long epoch, int group) => null;

    /// <summary>Refuses an optimizer whose group count does not fit the schedule's per-group arguments.</summary>
    /// <param name="groupCount">The optimizer's number of groups.</param>
    /// <exception cref="ArgumentException">A per-group argument has neither one value nor one per group.</exception>
    public virtual void CheckGroupCount(int groupCount)
    {
    }
}

/// <summary>
/// A schedule that multiplies each group's base rate by a factor of the epoch alone: the
/// schedules PyTorch's <c>ChainedScheduler</c> composes by multiplication
/// (<see cref="ChainedScheduler"/>).
/// </summary>
public abstract class FactorSchedule : LearningRateSchedule
{
    /// <summary>Creates a factor schedule.</summary>
    /// <param name="name">Its name.</param>
    protected FactorSchedule(string name) : base(name)
    {
    }

    /// <summary>The factor at <paramref name="epoch"/>.</summary>
    /// <param name="epoch">The number of scheduler steps taken, from 0.</param>
    /// <returns>The factor the base rate is multiplied by.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="epoch"/> is negative.</exception>
    public abstract double FactorAt(long epoch);

    /// <inheritdoc />
    public sealed override double LearningRateAt(long epoch, int group, double baseRate) => baseRate * FactorAt(epoch);
}
