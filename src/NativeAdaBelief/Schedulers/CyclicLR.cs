namespace NativeAdaBelief;

/// <summary>How <see cref="CyclicLR"/> scales each cycle's amplitude (PyTorch's <c>mode</c>).</summary>
public enum CyclicMode
{
    /// <summary>The same amplitude every cycle (<c>"triangular"</c>).</summary>
    Triangular,

    /// <summary>The amplitude halves every cycle (<c>"triangular2"</c>).</summary>
    Triangular2,

    /// <summary>The amplitude is multiplied by γ^epoch (<c>"exp_range"</c>).</summary>
    ExpRange,
}

/// <summary>
/// PyTorch's <c>CyclicLR</c>: the rate cycles between <c>baseLr</c> and <c>maxLr</c> (given per
/// group or for all; they replace the groups' own rates, as in PyTorch), up over
/// <c>stepSizeUp</c> epochs and down over <c>stepSizeDown</c>. With <c>cycleMomentum</c> (PyTorch's
/// default) β₁ cycles the other way, between <c>maxMomentum</c> and <c>baseMomentum</c>, as PyTorch
/// cycles an optimizer's momentum or β₁.
/// </summary>
public sealed class CyclicLR : LearningRateSchedule
{
    private readonly double[] _baseLr, _maxLr, _baseMomentum, _maxMomentum;
    private readonly double _totalSize, _stepRatio;

    /// <summary>Creates the schedule.</summary>
    /// <param name="baseLr">The lower rate: one for every group, or one per group; each finite, ≥ 0.</param>
    /// <param name="maxLr">The upper rate: one for every group, or one per group; each finite, ≥ 0.</param>
    /// <param name="stepSizeUp">Epochs of the rising half; &gt; 0 (PyTorch's default 2000).</param>
    /// <param name="stepSizeDown">Epochs of the falling half; &gt; 0; null: <paramref name="stepSizeUp"/>.</param>
    /// <param name="mode">The amplitude's scaling.</param>
    /// <param name="gamma">γ of <see cref="CyclicMode.ExpRange"/>; finite, ≥ 0 (PyTorch's default 1).</param>
    /// <param name="cycleMomentum">Whether β₁ cycles too (PyTorch's default true).</param>
    /// <param name="baseMomentum">The lower β₁ (reached at the top rate): one or one per group; each a valid β₁ (PyTorch's default 0.8).</param>
    /// <param name="maxMomentum">The upper β₁ (at the base rate): one or one per group (PyTorch's default 0.9).</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range (the message names the schedule and the argument).</exception>
    public CyclicLR(IReadOnlyList<double> baseLr, IReadOnlyList<double> maxLr, double stepSizeUp = 2000, double? stepSizeDown = null,
        CyclicMode mode = CyclicMode.Triangular, double gamma = 1.0, bool cycleMomentum = true,
        IReadOnlyList<double>? baseMomentum = null, IReadOnlyList<double>? maxMomentum = null) : base(nameof(CyclicLR))
    {
        _baseLr = ScheduleChecks.PerGroup(Name, nameof(baseLr), baseLr, ScheduleChecks.LearningRate);
        _maxLr = ScheduleChecks.PerGroup(Name, nameof(maxLr), maxLr, ScheduleChecks.LearningRate);
        double down = stepSizeDown ?? stepSizeUp;
        if (!(stepSizeUp > 0) || !double.IsFinite(stepSizeUp))
        {
            throw ScheduleChecks.OutOfRange(Name, nameof(stepSizeUp), stepSizeUp, "must be a finite number of epochs > 0");
        }
        if (!(down > 0) || !double.IsFinite(down))
        {
            throw ScheduleChecks.OutOfRange(Name, nameof(stepSizeDown), down, "must be a finite number of epochs > 0");
        }
        if (!Enum.IsDefined(mode))
        {
            throw ScheduleChecks.OutOfRange(Name, nameof(mode), mode, "is not a CyclicMode");
        }
        ScheduleChecks.Factor(Name, nameof(gamma), gamma, 0, double.MaxValue);
        _baseMomentum = ScheduleChecks.PerGroup(Name, nameof(baseMomentum), baseMomentum ?? [0.8], ScheduleChecks.Beta1);
        _maxMomentum = ScheduleChecks.PerGroup(Name, nameof(maxMomentum), maxMomentum ?? [0.9], ScheduleChecks.Beta1);
        _totalSize = stepSizeUp + down;
        _stepRatio = stepSizeUp / _totalSize;
        Mode = mode;
        Gamma = gamma;
        CycleMomentum = cycleMomentum;
    }

    /// <summary>The amplitude's scaling.</summary>
    public CyclicMode Mode { get; }

    /// <summary>γ of <see cref="CyclicMode.ExpRange"/>.</summary>
    public double Gamma { get; }

    /// <summary>Whether β₁ cycles too.</summary>
    public bool CycleMomentum { get; }

    /// <inheritdoc />
    public override void CheckGroupCount(int groupCount)
    {
        ScheduleChecks.GroupCount(Name, "baseLr", _baseLr.Length, groupCount);
        ScheduleChecks.GroupCount(Name, "maxLr", _maxLr.Length, groupCount);
        ScheduleChecks.GroupCount(Name, "baseMomentum", _baseMomentum.Length, groupCount);
        ScheduleChecks.GroupCount(Name, "maxMomentum", _maxMomentum.Length, groupCount);
    }

    /// <inheritdoc />
    public override double LearningRateAt(long epoch, int group, double baseRate)
    {
        (double scaleFactor, double scale) = Position(epoch);
        double low = ScheduleChecks.Of(_baseLr, group);
        double baseHeight = (ScheduleChecks.Of(_maxLr, group) - low) * scaleFactor;
        return low + baseHeight * scale;
    }

    /// <inheritdoc />
    public override double? Beta1At(long epoch, int group)
    {
        if (!CycleMomentum)
        {
            return null;
        }
        (double scaleFactor, double scale) = Position(epoch);
        double high = ScheduleChecks.Of(_maxMomentum, group);
        double baseHeight = (high - ScheduleChecks.Of(_baseMomentum, group)) * scaleFactor;
        return high - baseHeight * scale;
    }

    // PyTorch's get_lr(), operation for operation.
    private (double ScaleFactor, double Scale) Position(long epoch)
    {
        ScheduleChecks.Epoch(Name, epoch);
        double cycle = Math.Floor(1 + epoch / _totalSize);
        double x = 1.0 + epoch / _totalSize - cycle;
        double scaleFactor = x <= _stepRatio ? x / _stepRatio : (x - 1) / (_stepRatio - 1);
        double scale = Mode switch
        {
            CyclicMode.Triangular => 1.0,
            CyclicMode.Triangular2 => 1 / Math.Pow(2.0, cycle - 1),
            _ => Math.Pow(Gamma, epoch),
        };
        return (scaleFactor, scale);
    }
}
