namespace NativeAdaBelief;

/// <summary>
/// PyTorch's <c>CosineAnnealingLR</c>: <c>η_min + (base − η_min)·(1 + cos(π·epoch/T_max))/2</c>,
/// down to η_min at <c>T_max</c> and (as PyTorch's) back up after it. η_min defaults to 0, as in
/// PyTorch; the labml schedule with a floor at 10% of the peak is <see cref="WarmupCosineDecaySchedule"/>.
/// </summary>
public sealed class CosineAnnealingLR : LearningRateSchedule
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="tMax">T_max: epochs from the base rate down to η_min; ≥ 1.</param>
    /// <param name="etaMin">η_min, the lowest rate (absolute, the same for every group); finite, ≥ 0 (PyTorch's default 0).</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range (the message names the schedule and the argument).</exception>
    public CosineAnnealingLR(long tMax, double etaMin = 0) : base(nameof(CosineAnnealingLR))
    {
        ScheduleChecks.Positive(Name, nameof(tMax), tMax);
        ScheduleChecks.LearningRate(Name, nameof(etaMin), etaMin);
        TMax = tMax;
        EtaMin = etaMin;
    }

    /// <summary>T_max.</summary>
    public long TMax { get; }

    /// <summary>η_min.</summary>
    public double EtaMin { get; }

    /// <inheritdoc />
    public override double LearningRateAt(long epoch, int group, double baseRate)
    {
        ScheduleChecks.Epoch(Name, epoch);
        return EtaMin + (baseRate - EtaMin) * (1 + Math.Cos(Math.PI * epoch / TMax)) / 2;
    }
}
