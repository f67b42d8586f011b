namespace NativeAdaBelief;

/// <summary>Whether <see cref="ReduceLROnPlateau"/>'s metric should fall (a loss) or rise (an accuracy).</summary>
public enum PlateauMode
{
    /// <summary>Lower is better (<c>"min"</c>).</summary>
    Min,

    /// <summary>Higher is better (<c>"max"</c>).</summary>
    Max,
}

/// <summary>How <see cref="ReduceLROnPlateau"/> measures an improvement (PyTorch's <c>threshold_mode</c>).</summary>
public enum ThresholdMode
{
    /// <summary>Better than best·(1 ∓ threshold) (<c>"rel"</c>).</summary>
    Relative,

    /// <summary>Better than best ∓ threshold (<c>"abs"</c>).</summary>
    Absolute,
}

/// <summary>
/// PyTorch's <c>ReduceLROnPlateau</c>: multiplies every group's current rate by <c>factor</c> (not
/// below its <c>minLr</c>) when the metric has not improved for more than <c>patience</c> calls
/// of <see cref="Step(double)"/>, then waits <c>cooldown</c> calls. Its counters (best value,
/// bad epochs, cooldown) are its state (<see cref="ISchedulerState"/>); the rates it set are the
/// optimizer's own.
/// </summary>
public sealed class ReduceLROnPlateau : ISchedulerState
{
    private readonly IScheduledOptimizer _optimizer;
    private readonly double[] _minLr;

    /// <summary>Creates the scheduler (it changes no rate until a plateau).</summary>
    /// <param name="optimizer">The optimizer whose groups to drive.</param>
    /// <param name="mode">Whether the metric should fall (PyTorch's default) or rise.</param>
    /// <param name="factor">The factor a plateau multiplies the rates by; in [0, 1) (PyTorch's default 0.1).</param>
    /// <param name="patience">Calls without improvement tolerated; ≥ 0 (PyTorch's default 10).</param>
    /// <param name="threshold">The least change that counts as an improvement; finite, ≥ 0 (PyTorch's default 1e-4).</param>
    /// <param name="thresholdMode">Relative (PyTorch's default) or absolute.</param>
    /// <param name="cooldown">Calls to wait after a reduction before counting again; ≥ 0 (PyTorch's default 0).</param>
    /// <param name="minLr">The lowest rate: one for every group or one per group; each finite, ≥ 0 (PyTorch's default 0).</param>
    /// <param name="eps">A reduction smaller than this is not made; finite, ≥ 0 (PyTorch's default 1e-8).</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range (the message names the scheduler and the argument).</exception>
    /// <exception cref="ArgumentException"><paramref name="minLr"/> has neither one value nor one per group.</exception>
    public ReduceLROnPlateau(IScheduledOptimizer optimizer, PlateauMode mode = PlateauMode.Min, double factor = 0.1, int patience = 10,
        double threshold = 1e-4, ThresholdMode thresholdMode = ThresholdMode.Relative, int cooldown = 0,
        IReadOnlyList<double>? minLr = null, double eps = 1e-8)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        const string name = nameof(ReduceLROnPlateau);
        if (!Enum.IsDefined(mode)) throw ScheduleChecks.OutOfRange(name, nameof(mode), mode, "is not a PlateauMode");
        if (!(factor >= 0 && factor < 1)) throw ScheduleChecks.OutOfRange(name, nameof(factor), factor, "must be in [0, 1)");
        ScheduleChecks.NotNegative(name, nameof(patience), patience);
        ScheduleChecks.Factor(name, nameof(threshold), threshold, 0, double.MaxValue);
        if (!Enum.IsDefined(thresholdMode)) throw ScheduleChecks.OutOfRange(name, nameof(thresholdMode), thresholdMode, "is not a ThresholdMode");
        ScheduleChecks.NotNegative(name, nameof(cooldown), cooldown);
        ScheduleChecks.Factor(name, nameof(eps), eps, 0, double.MaxValue);
        _minLr = ScheduleChecks.PerGroup(name, nameof(minLr), minLr ?? [0.0], ScheduleChecks.LearningRate);
        ScheduleChecks.GroupCount(name, nameof(minLr), _minLr.Length, optimizer.GroupCount);
        _optimizer = optimizer;
        Mode = mode;
        Factor = factor;
        Patience = patience;
        Threshold = threshold;
        ThresholdMode = thresholdMode;
        Cooldown = cooldown;
        Eps = eps;
        Best = WorstValue;
    }

    /// <summary>Whether the metric should fall or rise.</summary>
    public PlateauMode Mode { get; }

    /// <summary>The factor a plateau multiplies the rates by.</summary>
    public double Factor { get; }

    /// <summary>Calls without improvement tolerated.</summary>
    public int Patience { get; }

    /// <summary>The least change that counts as an improvement.</summary>
    public double Threshold { get; }

    /// <summary>Relative or absolute.</summary>
    public ThresholdMode ThresholdMode { get; }

    /// <summary>Calls to wait after a reduction.</summary>
    public int Cooldown { get; }

    /// <summary>The smallest reduction made.</summary>
    public double Eps { get; }

    /// <summary>The best metric so far (+∞ in <see cref="PlateauMode.Min"/> before the first call, −∞ in Max).</summary>
    public double Best { get; private set; }

    /// <summary>Calls since the last improvement (PyTorch's <c>num_bad_epochs</c>).</summary>
    public int BadEpochs { get; private set; }

    /// <summary>Calls left in the cooldown.</summary>
    public int CooldownCounter { get; private set; }

    /// <summary>The number of <see cref="Step(double)"/> calls.</summary>
    public long LastEpoch { get; private set; }

    private double WorstValue => Mode == PlateauMode.Min ? double.PositiveInfinity : double.NegativeInfinity;

    /// <summary>Takes the epoch's metric, and reduces the rates when it has stalled (PyTorch's <c>step(metrics)</c>).</summary>
    /// <param name="metric">The metric (NaN counts as no improvement, as in PyTorch).</param>
    public void Step(double metric)
    {
        LastEpoch++;
        if (IsBetter(metric))
        {
            Best = metric;
            BadEpochs = 0;
        }
        else
        {
            BadEpochs++;
        }
        if (CooldownCounter > 0)
        {
            CooldownCounter--;
            BadEpochs = 0;
        }
        if (BadEpochs > Patience)
        {
            for (int g = 0; g < _optimizer.GroupCount; g++)
            {
                double old = _optimizer.GetLearningRate(g);
                double reduced = Math.Max(old * Factor, ScheduleChecks.Of(_minLr, g));
                if (old - reduced > Eps)
                {
                    _optimizer.SetLearningRate(g, reduced);
                }
            }
            CooldownCounter = Cooldown;
            BadEpochs = 0;
        }
    }

    private bool IsBetter(double value) => (Mode, ThresholdMode) switch
    {
        (PlateauMode.Min, ThresholdMode.Relative) => value < Best * (1.0 - Threshold),
        (PlateauMode.Min, ThresholdMode.Absolute) => value < Best - Threshold,
        (PlateauMode.Max, ThresholdMode.Relative) => value > Best * (Threshold + 1.0),
        _ => value > Best + Threshold,
    };

    /// <inheritdoc />
    public string StateKind => nameof(ReduceLROnPlateau);

    /// <inheritdoc />
    public IReadOnlyDictionary<string, string> SaveState() => new Dictionary<string, string>
    {
        ["kind"] = StateKind,
        ["last_epoch"] = SchedulerStateText.Format(LastEpoch),
        ["best"] = SchedulerStateText.Format(Best),
        ["bad_epochs"] = SchedulerStateText.Format(BadEpochs),
        ["cooldown_counter"] = SchedulerStateText.Format(CooldownCounter),
    };

    /// <inheritdoc />
    public Action StageRestore(IReadOnlyDictionary<string, string> state)
    {
        SchedulerStateText.CheckKind(state, StateKind);
        long epoch = SchedulerStateText.Long(state, "last_epoch", StateKind, 0);
        double best = SchedulerStateText.Double(state, "best", StateKind);
        long bad = SchedulerStateText.Long(state, "bad_epochs", StateKind, 0);
        long cooldown = SchedulerStateText.Long(state, "cooldown_counter", StateKind, 0);
        if (bad > int.MaxValue || cooldown > Cooldown)
        {
            throw new InvalidDataException($"{StateKind}: the saved bad_epochs = {bad} or cooldown_counter = {cooldown} cannot be (this scheduler's cooldown is {Cooldown}).");
        }
        return () =>
        {
            LastEpoch = epoch;
            Best = best;
            BadEpochs = (int)bad;
            CooldownCounter = (int)cooldown;
        };
    }
}
