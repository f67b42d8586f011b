namespace NativeAdaBelief;

/// <summary>PyTorch's <c>LinearLR</c>: the base rate times a factor moving linearly from <c>startFactor</c> to <c>endFactor</c> over <c>totalIters</c> epochs, then <c>endFactor</c>. A linear warm-up with PyTorch's arithmetic.</summary>
public sealed class LinearLR : FactorSchedule
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="startFactor">The factor at epoch 0; in (0, 1] (PyTorch's default 1/3).</param>
    /// <param name="endFactor">The factor from <paramref name="totalIters"/> on; in [0, 1] (PyTorch's default 1).</param>
    /// <param name="totalIters">Epochs of the linear part; ≥ 1 (PyTorch's default 5).</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range (the message names the schedule and the argument).</exception>
    public LinearLR(double startFactor = 1.0 / 3, double endFactor = 1.0, long totalIters = 5) : base(nameof(LinearLR))
    {
        ScheduleChecks.Factor(Name, nameof(startFactor), startFactor, 0, 1);
        if (startFactor == 0)
        {
            // PyTorch's recursive form divides by it.
            throw ScheduleChecks.OutOfRange(Name, nameof(startFactor), startFactor, "must be > 0");
        }
        ScheduleChecks.Factor(Name, nameof(endFactor), endFactor, 0, 1);
        ScheduleChecks.Positive(Name, nameof(totalIters), totalIters);
        StartFactor = startFactor;
        EndFactor = endFactor;
        TotalIters = totalIters;
    }

    /// <summary>The factor at epoch 0.</summary>
    public double StartFactor { get; }

    /// <summary>The factor from <see cref="TotalIters"/> on.</summary>
    public double EndFactor { get; }

    /// <summary>Epochs of the linear part.</summary>
    public long TotalIters { get; }

    /// <inheritdoc />
    public override double FactorAt(long epoch)
    {
        ScheduleChecks.Epoch(Name, epoch);
        return StartFactor + (EndFactor - StartFactor) * Math.Min(TotalIters, epoch) / TotalIters;
    }
}
