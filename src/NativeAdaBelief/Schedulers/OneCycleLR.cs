namespace NativeAdaBelief;

/// <summary>How <see cref="OneCycleLR"/> moves between two rates (PyTorch's <c>anneal_strategy</c>).</summary>
public enum AnnealStrategy
{
    /// <summary>Half a cosine (<c>"cos"</c>).</summary>
    Cos,

    /// <summary>A straight line (<c>"linear"</c>).</summary>
    Linear,
}

/// <summary>
/// PyTorch's <c>OneCycleLR</c>: from <c>maxLr/divFactor</c> up to <c>maxLr</c> over the first
/// <c>pctStart</c> of <c>totalSteps</c>, then down to <c>maxLr/(divFactor·finalDivFactor)</c>
/// (with <c>threePhase</c>: up, back down to the start, then to the minimum). The rates come
/// from <c>maxLr</c>, not from the groups' own rates (PyTorch overrides <c>initial_lr</c> the same way).
/// With <c>cycleMomentum</c> (PyTorch's default) β₁ moves the other way between <c>maxMomentum</c>
/// and <c>baseMomentum</c>, as PyTorch does with Adam's β₁. Epochs past <c>totalSteps</c> are refused, as in PyTorch.
/// </summary>
public sealed class OneCycleLR : LearningRateSchedule
{
    private readonly double[] _maxLr, _baseMomentum, _maxMomentum;
    private readonly Phase[] _phases;

    private enum Level { Initial, Max, Min, BaseMomentum, MaxMomentum }

    private readonly record struct Phase(double EndStep, Level StartRate, Level EndRate, Level StartMomentum, Level EndMomentum);

    /// <summary>Creates the schedule.</summary>
    /// <param name="maxLr">The peak rate: one for every group, or one per group; each finite, ≥ 0.</param>
    /// <param name="totalSteps">The number of epochs (scheduler steps) of the cycle; ≥ 1.</param>
    /// <param name="pctStart">The fraction of the cycle spent rising; in [0, 1] with every phase at least one step long (PyTorch's default 0.3).</param>
    /// <param name="annealStrategy">Cosine (PyTorch's default) or linear.</param>
    /// <param name="cycleMomentum">Whether β₁ moves too (PyTorch's default true).</param>
    /// <param name="baseMomentum">The lower β₁, at the peak rate: one or one per group (PyTorch's default 0.85).</param>
    /// <param name="maxMomentum">The upper β₁, at the start and end: one or one per group (PyTorch's default 0.95).</param>
    /// <param name="divFactor">The start rate is maxLr/divFactor; finite, &gt; 0 (PyTorch's default 25).</param>
    /// <param name="finalDivFactor">The last rate is the start rate/finalDivFactor; finite, &gt; 0 (PyTorch's default 1e4).</param>
    /// <param name="threePhase">Whether to come back down to the start rate before the final decay (PyTorch's default false).</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range (the message names the schedule and the argument).</exception>
    public OneCycleLR(IReadOnlyList<double> maxLr, long totalSteps, double pctStart = 0.3, AnnealStrategy annealStrategy = AnnealStrategy.Cos,
        bool cycleMomentum = true, IReadOnlyList<double>? baseMomentum = null, IReadOnlyList<double>? maxMomentum = null,
        double divFactor = 25.0, double finalDivFactor = 1e4, bool threePhase = false) : base(nameof(OneCycleLR))
    {
        _maxLr = ScheduleChecks.PerGroup(Name, nameof(maxLr), maxLr, ScheduleChecks.LearningRate);
        ScheduleChecks.Positive(Name, nameof(totalSteps), totalSteps);
        ScheduleChecks.Factor(Name, nameof(pctStart), pctStart, 0, 1);
        if (!Enum.IsDefined(annealStrategy))
        {
            throw ScheduleChecks.OutOfRange(Name, nameof(annealStrategy), annealStrategy, "is not an AnnealStrategy");
        }
        if (!(divFactor > 0) || !double.IsFinite(divFactor))
        {
            throw ScheduleChecks.OutOfRange(Name, nameof(divFactor), divFactor, "must be finite and > 0");
        }
        if (!(finalDivFactor > 0) || !double.IsFinite(finalDivFactor))
        {
            throw ScheduleChecks.OutOfRange(Name, nameof(finalDivFactor), finalDivFactor, "must be finite and > 0");
        }
        _baseMomentum = ScheduleChecks.PerGroup(Name, nameof(baseMomentum), baseMomentum ?? [0.85], ScheduleChecks.Beta1);
        _maxMomentum = ScheduleChecks.PerGroup(Name, nameof(maxMomentum), maxMomentum ?? [0.95], ScheduleChecks.Beta1);
        _phases = threePhase
            ?
            [
                new Phase(pctStart * totalSteps - 1, Level.Initial, Level.Max, Level.MaxMomentum, Level.BaseMomentum),
                new Phase(2 * pctStart * totalSteps - 2, Level.Max, Level.Initial, Level.BaseMomentum, Level.MaxMomentum),
                new Phase(totalSteps - 1, Level.Initial, Level.Min, Level.MaxMomentum, Level.MaxMomentum),
            ]
            :
            [
                new Phase(pctStart * totalSteps - 1, Level.Initial, Level.Max, Level.MaxMomentum, Level.BaseMomentum),
                new Phase(totalSteps - 1, Level.Max, Level.Min, Level.BaseMomentum, Level.MaxMomentum),
            ];
        double start = 0;
        foreach (Phase phase in _phases)
        {
            if (!(phase.EndStep > start))
            {
                // PyTorch divides by the phase's length (a ZeroDivisionError there).
                throw ScheduleChecks.OutOfRange(Name, nameof(pctStart), pctStart,
                    $"with totalSteps = {totalSteps}{(threePhase ? " and threePhase" : "")} it leaves a phase without steps");
            }
            start = phase.EndStep;
        }
        TotalSteps = totalSteps;
        AnnealStrategy = annealStrategy;
        CycleMomentum = cycleMomentum;
        DivFactor = divFactor;
        FinalDivFactor = finalDivFactor;
    }

    /// <summary>The number of epochs of the cycle.</summary>
    public long TotalSteps { get; }

    /// <summary>Cosine or linear.</summary>
    public AnnealStrategy AnnealStrategy { get; }

    /// <summary>Whether β₁ moves too.</summary>
    public bool CycleMomentum { get; }

    /// <summary>The start rate is maxLr/DivFactor.</summary>
    public double DivFactor { get; }

    /// <summary>The last rate is the start rate/FinalDivFactor.</summary>
    public double FinalDivFactor { get; }

    /// <inheritdoc />
    public override void CheckGroupCount(int groupCount)
    {
        ScheduleChecks.GroupCount(Name, "maxLr", _maxLr.Length, groupCount);
        ScheduleChecks.GroupCount(Name, "baseMomentum", _baseMomentum.Length, groupCount);
        ScheduleChecks.GroupCount(Name, "maxMomentum", _maxMomentum.Length, groupCount);
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="epoch"/> is negative or past <see cref="TotalSteps"/>.</exception>
    public override double LearningRateAt(long epoch, int group, double baseRate)
    {
        (Phase phase, double pct) = Locate(epoch);
        return Anneal(Value(phase.StartRate, group), Value(phase.EndRate, group), pct);
    }

    /// <inheritdoc />
    public override double? Beta1At(long epoch, int group)
    {
        if (!CycleMomentum)
        {
            return null;
        }
        (Phase phase, double pct) = Locate(epoch);
        return Anneal(Value(phase.StartMomentum, group), Value(phase.EndMomentum, group), pct);
    }

    private (Phase Phase, double Pct) Locate(long epoch)
    {
        ScheduleChecks.Epoch(Name, epoch);
        if (epoch > TotalSteps)
        {
            throw ScheduleChecks.OutOfRange(Name, nameof(epoch), epoch, $"the cycle has {TotalSteps} steps (PyTorch refuses stepping past them too)");
        }
        double start = 0;
        for (int i = 0; i < _phases.Length - 1; i++)
        {
            if (epoch <= _phases[i].EndStep)
            {
                return (_phases[i], (epoch - start) / (_phases[i].EndStep - start));
            }
            start = _phases[i].EndStep;
        }
        Phase last = _phases[^1];
        return (last, (epoch - start) / (last.EndStep - start));
    }

    private double Value(Level level, int group)
    {
        double initial = ScheduleChecks.Of(_maxLr, group) / DivFactor;
        return level switch
        {
            Level.Initial => initial,
            Level.Max => ScheduleChecks.Of(_maxLr, group),
            Level.Min => initial / FinalDivFactor,
            Level.BaseMomentum => ScheduleChecks.Of(_baseMomentum, group),
            _ => ScheduleChecks.Of(_maxMomentum, group),
        };
    }

    // PyTorch's _annealing_cos and _annealing_linear, operation for operation.
    private double Anneal(double start, double end, double pct) => AnnealStrategy == AnnealStrategy.Cos
        ? end + (start - end) / 2.0 * (Math.Cos(Math.PI * pct) + 1)
        : (end - start) * pct + start;
}
