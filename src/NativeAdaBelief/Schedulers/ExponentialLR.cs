namespace NativeAdaBelief;

/// <summary>PyTorch's <c>ExponentialLR</c>: the base rate times <c>γ^epoch</c>.</summary>
public sealed class ExponentialLR : FactorSchedule
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="gamma">The factor per epoch; finite, ≥ 0.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="gamma"/> is out of range (the message names the schedule and the argument).</exception>
    public ExponentialLR(double gamma) : base(nameof(ExponentialLR))
    {
        ScheduleChecks.Factor(Name, nameof(gamma), gamma, 0, double.MaxValue);
        Gamma = gamma;
    }

    /// <summary>The factor per epoch γ.</summary>
    public double Gamma { get; }

    /// <inheritdoc />
    public override double FactorAt(long epoch)
    {
        ScheduleChecks.Epoch(Name, epoch);
        return Math.Pow(Gamma, epoch);
    }
}
