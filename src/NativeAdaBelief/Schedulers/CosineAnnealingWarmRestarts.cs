namespace NativeAdaBelief;

/// <summary>
/// PyTorch's <c>CosineAnnealingWarmRestarts</c> (SGDR): cosine annealing from the base rate to
/// η_min over a period of T_i epochs, then a restart at the base rate; the first period is T_0 and
/// each next one T_mult times longer. Where the run is in its period (PyTorch's <c>T_cur</c>, <c>T_i</c>)
/// is computed from the epoch in integers, as PyTorch's <c>step()</c> counts it.
/// </summary>
public sealed class CosineAnnealingWarmRestarts : LearningRateSchedule
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="t0">T_0: the first period in epochs; ≥ 1.</param>
    /// <param name="tMult">T_mult: each period's length over the previous one's; ≥ 1 (PyTorch's default 1).</param>
    /// <param name="etaMin">η_min (absolute); finite, ≥ 0 (PyTorch's default 0).</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range (the message names the schedule and the argument).</exception>
    public CosineAnnealingWarmRestarts(long t0, long tMult = 1, double etaMin = 0) : base(nameof(CosineAnnealingWarmRestarts))
    {
        ScheduleChecks.Positive(Name, nameof(t0), t0);
        ScheduleChecks.Positive(Name, nameof(tMult), tMult);
        ScheduleChecks.LearningRate(Name, nameof(etaMin), etaMin);
        T0 = t0;
        TMult = tMult;
        EtaMin = etaMin;
    }

    /// <summary>T_0.</summary>
    public long T0 { get; }

    /// <summary>T_mult.</summary>
    public long TMult { get; }

    /// <summary>η_min.</summary>
    public double EtaMin { get; }

    /// <summary>Where <paramref name="epoch"/> falls: epochs since the last restart (T_cur) and the current period's length (T_i).</summary>
    /// <param name="epoch">The epoch, ≥ 0.</param>
    /// <returns>T_cur and T_i (T_i as a double: after many restarts it may pass <see cref="long.MaxValue"/>).</returns>
    public (long SinceRestart, double Period) PositionAt(long epoch)
    {
        ScheduleChecks.Epoch(Name, epoch);
        if (TMult == 1)
        {
            return (epoch % T0, T0);
        }
        long current = epoch, period = T0;
        while (current >= period)
        {
            current -= period;
            if (period > long.MaxValue / TMult)
            {
                return (current, (double)period * TMult);  // current < any longer period
            }
            period *= TMult;
        }
        return (current, period);
    }

    /// <inheritdoc />
    public override double LearningRateAt(long epoch, int group, double baseRate)
    {
        (long current, double period) = PositionAt(epoch);
        return EtaMin + (baseRate - EtaMin) * (1 + Math.Cos(Math.PI * current / period)) / 2;
    }
}
