namespace NativeAdaBelief;

/// <summary>PyTorch's <c>ConstantLR</c>: the base rate times <c>factor</c> until epoch <c>totalIters</c>, then the base rate.</summary>
public sealed class ConstantLR : FactorSchedule
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="factor">The factor before <paramref name="totalIters"/>; in (0, 1] (PyTorch's default 1/3).</param>
    /// <param name="totalIters">The epoch from which the base rate applies; ≥ 1 (PyTorch's default 5).</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range (the message names the schedule and the argument).</exception>
    public ConstantLR(double factor = 1.0 / 3, long totalIters = 5) : base(nameof(ConstantLR))
    {
        ScheduleChecks.Factor(Name, nameof(factor), factor, 0, 1);
        if (factor == 0)
        {
            // PyTorch's recursive form divides by it.
            throw ScheduleChecks.OutOfRange(Name, nameof(factor), factor, "must be > 0");
        }
        ScheduleChecks.Positive(Name, nameof(totalIters), totalIters);
        Factor = factor;
        TotalIters = totalIters;
    }

    /// <summary>The factor before <see cref="TotalIters"/>.</summary>
    public double Factor { get; }

    /// <summary>The epoch from which the base rate applies.</summary>
    public long TotalIters { get; }

    /// <inheritdoc />
    public override double FactorAt(long epoch)
    {
        ScheduleChecks.Epoch(Name, epoch);
        return epoch >= TotalIters ? Factor + (1 - Factor) : Factor;
    }
}
