namespace NativeAdaBelief;

/// <summary>PyTorch's <c>StepLR</c>: the base rate times <c>γ^⌊epoch / stepSize⌋</c>.</summary>
public sealed class StepLR : FactorSchedule
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="stepSize">Epochs between decays; ≥ 1.</param>
    /// <param name="gamma">The decay factor; finite, ≥ 0 (PyTorch's default 0.1).</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range (the message names the schedule and the argument).</exception>
    public StepLR(long stepSize, double gamma = 0.1) : base(nameof(StepLR))
    {
        ScheduleChecks.Positive(Name, nameof(stepSize), stepSize);
        ScheduleChecks.Factor(Name, nameof(gamma), gamma, 0, double.MaxValue);
        StepSize = stepSize;
        Gamma = gamma;
    }

    /// <summary>Epochs between decays.</summary>
    public long StepSize { get; }

    /// <summary>The decay factor γ.</summary>
    public double Gamma { get; }

    /// <inheritdoc />
    public override double FactorAt(long epoch)
    {
        ScheduleChecks.Epoch(Name, epoch);
        return Math.Pow(Gamma, epoch / StepSize);
    }
}
