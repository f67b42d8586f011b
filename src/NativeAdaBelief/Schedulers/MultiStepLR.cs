namespace NativeAdaBelief;

/// <summary>PyTorch's <c>MultiStepLR</c>: the base rate times γ to the number of milestones ≤ epoch (a milestone listed twice counts twice, as in PyTorch).</summary>
public sealed class MultiStepLR : FactorSchedule
{
    private readonly long[] _milestones;

    /// <summary>Creates the schedule.</summary>
    /// <param name="milestones">Epochs at which the rate is multiplied by γ; each ≥ 1, in any order.</param>
    /// <param name="gamma">The decay factor; finite, ≥ 0 (PyTorch's default 0.1).</param>
    /// <exception cref="ArgumentOutOfRangeException">A milestone or γ is out of range (the message names the schedule and the argument).</exception>
    public MultiStepLR(IReadOnlyList<long> milestones, double gamma = 0.1) : base(nameof(MultiStepLR))
    {
        ArgumentNullException.ThrowIfNull(milestones);
        for (int i = 0; i < milestones.Count; i++)
        {
            ScheduleChecks.Positive(Name, $"{nameof(milestones)}[{i}]", milestones[i]);
        }
        ScheduleChecks.Factor(Name, nameof(gamma), gamma, 0, double.MaxValue);
        _milestones = [.. milestones];
        Array.Sort(_milestones);
        Gamma = gamma;
    }

    /// <summary>The milestones, sorted.</summary>
    public IReadOnlyList<long> Milestones => _milestones;

    /// <summary>The decay factor γ.</summary>
    public double Gamma { get; }

    /// <inheritdoc />
    public override double FactorAt(long epoch)
    {
        ScheduleChecks.Epoch(Name, epoch);
        int passed = 0;
        while (passed < _milestones.Length && _milestones[passed] <= epoch)
        {
            passed++;
        }
        return Math.Pow(Gamma, passed);
    }
}
