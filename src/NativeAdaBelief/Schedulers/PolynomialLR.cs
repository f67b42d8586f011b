namespace NativeAdaBelief;

/// <summary>PyTorch's <c>PolynomialLR</c>: the base rate times <c>(1 − min(epoch, totalIters) / totalIters)^power</c>; 0 from <c>totalIters</c> on.</summary>
public sealed class PolynomialLR : FactorSchedule
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="totalIters">Epochs until the rate reaches 0; ≥ 1 (PyTorch's default 5).</param>
    /// <param name="power">The polynomial's power; finite, ≥ 0 (PyTorch's default 1).</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range (the message names the schedule and the argument).</exception>
    public PolynomialLR(long totalIters = 5, double power = 1.0) : base(nameof(PolynomialLR))
    {
        ScheduleChecks.Positive(Name, nameof(totalIters), totalIters);
        ScheduleChecks.Factor(Name, nameof(power), power, 0, double.MaxValue);
        TotalIters = totalIters;
        Power = power;
    }

    /// <summary>Epochs until the rate reaches 0.</summary>
    public long TotalIters { get; }

    /// <summary>The polynomial's power.</summary>
    public double Power { get; }

    /// <inheritdoc />
    public override double FactorAt(long epoch)
    {
        ScheduleChecks.Epoch(Name, epoch);
        return Math.Pow(1.0 - (double)Math.Min(TotalIters, epoch) / TotalIters, Power);
    }
}
