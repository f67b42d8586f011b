namespace NativeAdaBelief;

/// <summary>
/// PyTorch's <c>ChainedScheduler</c>: several factor schedules at once, their factors multiplied
/// (PyTorch steps each scheduler's recursive form in turn, which multiplies the same factors).
/// Only <see cref="FactorSchedule"/>s chain: the others (cosine, cyclic, one-cycle, <see cref="LambdaLR"/>)
/// set the rate rather than scale it, in PyTorch too.
/// </summary>
public sealed class ChainedScheduler : FactorSchedule
{
    private readonly FactorSchedule[] _schedules;

    /// <summary>Creates the chain.</summary>
    /// <param name="schedules">The schedules; at least one, none null.</param>
    /// <exception cref="ArgumentException">The list is empty or holds null.</exception>
    public ChainedScheduler(params FactorSchedule[] schedules) : base(nameof(ChainedScheduler))
    {
        ArgumentNullException.ThrowIfNull(schedules);
        if (schedules.Length == 0 || Array.IndexOf(schedules, null) >= 0)
        {
            throw new ArgumentException($"{Name}: schedules must hold at least one schedule and no null.", nameof(schedules));
        }
        _schedules = [.. schedules];
    }

    /// <summary>The chained schedules.</summary>
    public IReadOnlyList<FactorSchedule> Schedules => _schedules;

    /// <inheritdoc />
    public override double FactorAt(long epoch)
    {
        ScheduleChecks.Epoch(Name, epoch);
        double factor = 1.0;
        foreach (FactorSchedule schedule in _schedules)
        {
            factor *= schedule.FactorAt(epoch);
        }
        return factor;
    }
}
