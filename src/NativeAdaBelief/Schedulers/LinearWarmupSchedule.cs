namespace NativeAdaBelief;

/// <summary>
/// labml's <c>AdamWarmup</c> schedule: a linear warm-up to each group's base rate α, then α.
/// For the optimizer step t (t = epoch + 1: labml counts the step being taken) the rate is
/// <c>1e-8 + t·α/w</c> while t &lt; w, then α — labml's arithmetic exactly, including its absolute
/// 1e-8 offset. PyTorch's linear warm-up is <see cref="LinearLR"/>.
/// </summary>
public sealed class LinearWarmupSchedule : LearningRateSchedule
{
    /// <summary>The tiny offset labml adds during warm-up so that the learning rate is never exactly 0.</summary>
    public const double WarmupOffset = 1e-8;

    /// <summary>Creates the schedule.</summary>
    /// <param name="warmupSteps">The number of warm-up steps w; ≥ 0 (0: no warm-up).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="warmupSteps"/> is negative (the message names the schedule and the argument).</exception>
    public LinearWarmupSchedule(long warmupSteps) : base(nameof(LinearWarmupSchedule))
    {
        ScheduleChecks.NotNegative(Name, nameof(warmupSteps), warmupSteps);
        WarmupSteps = warmupSteps;
    }

    /// <summary>The number of warm-up steps w.</summary>
    public long WarmupSteps { get; }

    /// <inheritdoc />
    public override double LearningRateAt(long epoch, int group, double baseRate)
    {
        ScheduleChecks.Epoch(Name, epoch);
        return Warmup(epoch + 1, baseRate, WarmupSteps) ?? baseRate;
    }

    /// <summary>labml's warm-up rate for step <paramref name="t"/>, or null once it is over (t ≥ w).</summary>
    internal static double? Warmup(long t, double peak, long warmupSteps) =>
        warmupSteps > t ? WarmupOffset + t * peak / warmupSteps : null;
}
