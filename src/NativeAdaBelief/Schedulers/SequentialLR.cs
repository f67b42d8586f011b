namespace NativeAdaBelief;

/// <summary>
/// PyTorch's <c>SequentialLR</c>: schedule i from milestone i − 1 (epoch 0 for the first) until
/// milestone i, each starting again at its own epoch 0 from the groups' base rates. For example
/// a warm-up then a cosine: <c>new SequentialLR([new LinearLR(0.1, 1, 500), new CosineAnnealingLR(9_500)], [500])</c>.
/// </summary>
public sealed class SequentialLR : LearningRateSchedule
{
    private readonly LearningRateSchedule[] _schedules;
    private readonly long[] _milestones;

    /// <summary>Creates the sequence.</summary>
    /// <param name="schedules">The schedules in order; at least one, none null.</param>
    /// <param name="milestones">The epochs where the next schedule starts: one fewer than the schedules, each ≥ 1, increasing.</param>
    /// <exception cref="ArgumentException">The lists do not fit each other or hold null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A milestone is out of order or below 1 (the message names it).</exception>
    public SequentialLR(IReadOnlyList<LearningRateSchedule> schedules, IReadOnlyList<long> milestones) : base(nameof(SequentialLR))
    {
        ArgumentNullException.ThrowIfNull(schedules);
        ArgumentNullException.ThrowIfNull(milestones);
        if (schedules.Count == 0 || schedules.Contains(null!))
        {
            throw new ArgumentException($"{Name}: schedules must hold at least one schedule and no null.", nameof(schedules));
        }
        if (milestones.Count != schedules.Count - 1)
        {
            throw new ArgumentException(
                $"{Name}: milestones has {milestones.Count} epochs for {schedules.Count} schedules: give one fewer milestone than schedules.", nameof(milestones));
        }
        for (int i = 0; i < milestones.Count; i++)
        {
            long previous = i == 0 ? 0 : milestones[i - 1];
            if (milestones[i] <= previous)
            {
                throw ScheduleChecks.OutOfRange(Name, $"{nameof(milestones)}[{i}]", milestones[i], $"must be > {previous} (milestones increase from 1)");
            }
        }
        _schedules = [.. schedules];
        _milestones = [.. milestones];
    }

    /// <summary>The schedules in order.</summary>
    public IReadOnlyList<LearningRateSchedule> Schedules => _schedules;

    /// <summary>The epochs where the next schedule starts.</summary>
    public IReadOnlyList<long> Milestones => _milestones;

    /// <inheritdoc />
    public override void CheckGroupCount(int groupCount)
    {
        foreach (LearningRateSchedule schedule in _schedules)
        {
            schedule.CheckGroupCount(groupCount);
        }
    }

    /// <inheritdoc />
    public override double LearningRateAt(long epoch, int group, double baseRate)
    {
        (LearningRateSchedule schedule, long local) = Locate(epoch);
        return schedule.LearningRateAt(local, group, baseRate);
    }

    /// <inheritdoc />
    public override double? Beta1At(long epoch, int group)
    {
        (LearningRateSchedule schedule, long local) = Locate(epoch);
        return schedule.Beta1At(local, group);
    }

    private (LearningRateSchedule Schedule, long LocalEpoch) Locate(long epoch)
    {
        ScheduleChecks.Epoch(Name, epoch);
        int i = 0;
        while (i < _milestones.Length && _milestones[i] <= epoch)
        {
            i++;
        }
        return (_schedules[i], i == 0 ? epoch : epoch - _milestones[i - 1]);
    }
}
