namespace NativeAdaBelief;

/// <summary>
/// A <see cref="LearningRateSchedule"/> bound to an optimizer, as a PyTorch scheduler is: it
/// takes each group's current learning rate as that group's base rate (PyTorch's
/// <c>initial_lr</c>), sets the rates of epoch 0 at once, and each <see cref="Step"/> moves to
/// the next epoch. Call <see cref="Step"/> after <see cref="AdaBeliefOptimizer.Step"/>, as in
/// PyTorch (once per batch or once per epoch, as the schedule's arguments assume).
/// </summary>
/// <example>
/// <code>
/// var scheduler = new LearningRateScheduler(optimizer, new CosineAnnealingLR(tMax: 10_000));
/// for (...) { ...; optimizer.Step(); scheduler.Step(); }
/// </code>
/// </example>
public sealed class LearningRateScheduler : ISchedulerState
{
    private readonly IScheduledOptimizer _optimizer;
    private double[] _baseRates;
    private readonly double[] _lastRates;

    /// <summary>Binds <paramref name="schedule"/> to <paramref name="optimizer"/> and sets the rates (and β₁, where the schedule cycles it) of epoch 0.</summary>
    /// <param name="optimizer">The optimizer whose groups to drive (<see cref="AdaBeliefOptimizer"/>, or the distributed one).</param>
    /// <param name="schedule">The schedule.</param>
    /// <exception cref="ArgumentException">The schedule's per-group arguments do not fit the optimizer's groups.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A rate of epoch 0 is one the optimizer refuses (nothing changed).</exception>
    public LearningRateScheduler(IScheduledOptimizer optimizer, LearningRateSchedule schedule)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(schedule);
        int groups = optimizer.GroupCount;
        schedule.CheckGroupCount(groups);
        _optimizer = optimizer;
        Schedule = schedule;
        _baseRates = new double[groups];
        for (int g = 0; g < groups; g++)
        {
            _baseRates[g] = optimizer.GetLearningRate(g);
        }
        _lastRates = new double[groups];
        Apply(0);
    }

    /// <summary>The schedule.</summary>
    public LearningRateSchedule Schedule { get; }

    /// <summary>The number of <see cref="Step"/> calls (PyTorch's <c>last_epoch</c>): 0 after construction.</summary>
    public long LastEpoch { get; private set; }

    /// <summary>Each group's base rate (PyTorch's <c>base_lrs</c>).</summary>
    public IReadOnlyList<double> BaseLearningRates => _baseRates;

    /// <summary>The rates last set (PyTorch's <c>get_last_lr()</c>).</summary>
    public IReadOnlyList<double> LastLearningRates => _lastRates;

    /// <summary>Moves to the next epoch and sets every group's rate (and β₁, where the schedule cycles it). Allocates nothing for factor schedules.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The schedule refuses the epoch (past <see cref="OneCycleLR"/>'s end) or yields a rate the optimizer refuses; nothing changed.</exception>
    /// <exception cref="InvalidOperationException">Groups were added to the optimizer after the scheduler was created.</exception>
    public void Step() => Apply(LastEpoch + 1);

    /// <inheritdoc />
    public string StateKind => "LearningRateScheduler/" + Schedule.Name;

    /// <inheritdoc />
    public IReadOnlyDictionary<string, string> SaveState() => new Dictionary<string, string>
    {
        ["kind"] = StateKind,
        ["last_epoch"] = SchedulerStateText.Format(LastEpoch),
        ["base_learning_rates"] = SchedulerStateText.Format(_baseRates),
    };

    /// <inheritdoc />
    /// <remarks>The commit sets the scheduler's epoch and base rates, not the optimizer's rates: those are the optimizer's own state (its checkpoint holds them), as in PyTorch.</remarks>
    public Action StageRestore(IReadOnlyDictionary<string, string> state)
    {
        SchedulerStateText.CheckKind(state, StateKind);
        long epoch = SchedulerStateText.Long(state, "last_epoch", StateKind, 0);
        double[] baseRates = SchedulerStateText.Rates(state, "base_learning_rates", StateKind, _baseRates.Length);
        var rates = new double[baseRates.Length];
        try
        {
            for (int g = 0; g < rates.Length; g++)
            {
                rates[g] = Schedule.LearningRateAt(epoch, g, baseRates[g]);
            }
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new InvalidDataException($"{StateKind}: the saved last_epoch = {epoch} is not an epoch of the schedule: {e.Message}", e);
        }
        return () =>
        {
            _baseRates = baseRates;
            LastEpoch = epoch;
            rates.CopyTo(_lastRates, 0);
        };
    }

    private void Apply(long epoch)
    {
        int groups = _baseRates.Length;
        if (_optimizer.GroupCount != groups)
        {
            throw new InvalidOperationException(
                $"{Schedule.Name}: the optimizer has {_optimizer.GroupCount} groups, but had {groups} when the scheduler was created: create the scheduler after the last group.");
        }
        Span<double> rates = groups <= 64 ? stackalloc double[groups] : new double[groups];
        Span<double> previous = groups <= 64 ? stackalloc double[groups] : new double[groups];
        for (int g = 0; g < groups; g++)
        {
            rates[g] = Schedule.LearningRateAt(epoch, g, _baseRates[g]);
            previous[g] = _optimizer.GetLearningRate(g);
        }
        int set = 0;
        try
        {
            for (; set < groups; set++)
            {
                _optimizer.SetLearningRate(set, rates[set]);
                if (Schedule.Beta1At(epoch, set) is double beta1)
                {
                    _optimizer.SetBeta1(set, beta1);
                }
            }
        }
        catch
        {
            // The optimizer refused a value (its rule): put back the rates already changed.
            for (int g = 0; g <= set && g < groups; g++)
            {
                _optimizer.SetLearningRate(g, previous[g]);
            }
            throw;
        }
        rates.CopyTo(_lastRates);
        LastEpoch = epoch;
    }
}
