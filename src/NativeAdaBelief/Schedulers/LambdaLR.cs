namespace NativeAdaBelief;

/// <summary>PyTorch's <c>LambdaLR</c>: the base rate times a function of the epoch (one for every group, or one per group).</summary>
public sealed class LambdaLR : LearningRateSchedule
{
    private readonly Func<long, double>[] _lambdas;

    /// <summary>Creates the schedule with one function for every group.</summary>
    /// <param name="lambda">The factor as a function of the epoch. It must be a pure function: a resumed run calls it again.</param>
    /// <exception cref="ArgumentNullException"><paramref name="lambda"/> is null.</exception>
    public LambdaLR(Func<long, double> lambda) : base(nameof(LambdaLR))
    {
        ArgumentNullException.ThrowIfNull(lambda);
        _lambdas = [lambda];
    }

    /// <summary>Creates the schedule with one function per group.</summary>
    /// <param name="lambdas">Group i's factor as a function of the epoch; one per group, none null.</param>
    /// <exception cref="ArgumentException">The list is empty or holds null.</exception>
    public LambdaLR(IReadOnlyList<Func<long, double>> lambdas) : base(nameof(LambdaLR))
    {
        ArgumentNullException.ThrowIfNull(lambdas);
        if (lambdas.Count == 0 || lambdas.Contains(null!))
        {
            throw new ArgumentException($"{Name}: lambdas must hold one function per group and no null.", nameof(lambdas));
        }
        _lambdas = [.. lambdas];
    }

    /// <inheritdoc />
    public override void CheckGroupCount(int groupCount) => ScheduleChecks.GroupCount(Name, "lambdas", _lambdas.Length, groupCount);

    /// <inheritdoc />
    public override double LearningRateAt(long epoch, int group, double baseRate)
    {
        ScheduleChecks.Epoch(Name, epoch);
        return baseRate * _lambdas[_lambdas.Length == 1 ? 0 : group](epoch);
    }
}
