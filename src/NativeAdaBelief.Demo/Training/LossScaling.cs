using System.Globalization;

namespace NativeAdaBelief.Demo.Training;

/// <summary>
/// The float16 runs' loss-scaling policy: PyTorch's <c>GradScaler</c> defaults, which are also
/// <see cref="DynamicLossScaler"/>'s.
/// </summary>
internal static class LossScalingPolicy
{
    /// <summary>The first scale, 2^16.</summary>
    public const double InitialScale = 65536.0;

    /// <summary>What the scale is multiplied by after <see cref="GrowthInterval"/> consecutive good steps.</summary>
    public const double GrowthFactor = 2.0;

    /// <summary>What the scale is multiplied by after a step skipped for a non-finite gradient.</summary>
    public const double BackoffFactor = 0.5;

    /// <summary>Consecutive good steps before the scale grows.</summary>
    public const int GrowthInterval = 2000;
}

/// <summary>
/// Where a float16 run's dynamic loss scaling stands. Saved in the checkpoint's run.json, so that
/// a resumed run scales (and skips) exactly as the uninterrupted one; reported in the results.
/// </summary>
internal sealed record LossScaleState
{
    /// <summary>The current loss scale.</summary>
    public required double Scale { get; init; }

    /// <summary>Consecutive good steps since the scale last changed or a step was skipped (PyTorch's growth tracker).</summary>
    public required int GoodSteps { get; init; }

    /// <summary>Steps skipped so far because a gradient overflowed float16.</summary>
    public required long SkippedSteps { get; init; }

    /// <summary>A fresh run's state: <see cref="LossScalingPolicy.InitialScale"/>, nothing counted.</summary>
    public static LossScaleState Initial { get; } = new() { Scale = LossScalingPolicy.InitialScale, GoodSteps = 0, SkippedSteps = 0 };

    /// <summary>Refuses a state no scaler with <paramref name="growthInterval"/> can be in (a damaged checkpoint).</summary>
    /// <exception cref="InvalidDataException">A value is out of range.</exception>
    public void Validate(int growthInterval)
    {
        if (!(Scale >= DynamicLossScaler.MinimumScale && Scale <= float.MaxValue) || (float)Scale != Scale)
        {
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
                $"The checkpoint's loss scale {Scale:R} is not a positive normal float32 value."));
        }
        if (GoodSteps < 0 || GoodSteps >= growthInterval || SkippedSteps < 0)
        {
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
                $"The checkpoint's loss scaling is damaged: {GoodSteps} good steps (0 to {growthInterval - 1} expected), {SkippedSteps} skipped steps."));
        }
    }
}

/// <summary>
/// The native optimizers' float16 loss scaling: the library's <see cref="DynamicLossScaler"/>,
/// started from a saved <see cref="LossScaleState"/> (its scale and good-step count, so that a
/// resumed run grows and backs off exactly as the uninterrupted one), plus a count of the skipped
/// steps across resumes.
/// </summary>
internal sealed class ResumableLossScaler
{
    private readonly AdaBeliefOptimizer _optimizer;
    private readonly int _growthInterval;
    private DynamicLossScaler _scaler;
    private long _skippedBeforeResume; // counted before the checkpoint, not seen by _scaler

    /// <summary>Drives <paramref name="optimizer"/>'s steps from <paramref name="state"/> (its skip and inverse-scale step options are set now).</summary>
    /// <exception cref="InvalidDataException"><paramref name="state"/> is out of range.</exception>
    public ResumableLossScaler(AdaBeliefOptimizer optimizer, LossScaleState state, int growthInterval = LossScalingPolicy.GrowthInterval)
    {
        _optimizer = optimizer;
        _growthInterval = growthInterval;
        _scaler = Continue(state);
    }

    /// <summary>The current loss scale.</summary>
    public double Scale => _scaler.Scale;

    /// <summary>The state to save (allocates; not for every batch).</summary>
    public LossScaleState State => new()
    {
        Scale = _scaler.Scale,
        GoodSteps = _scaler.GoodSteps,
        SkippedSteps = _skippedBeforeResume + _scaler.SkippedSteps,
    };

    /// <summary>Continues from <paramref name="state"/> (a resumed run's).</summary>
    /// <exception cref="InvalidDataException"><paramref name="state"/> is out of range.</exception>
    public void Restore(LossScaleState state) => _scaler = Continue(state);

    /// <summary>One optimizer step under the scale: skipped as a whole if a gradient is not finite; then the scale is adjusted.</summary>
    public StepReport Step() => _scaler.Step();

    private DynamicLossScaler Continue(LossScaleState state)
    {
        state.Validate(_growthInterval);
        _skippedBeforeResume = state.SkippedSteps;
        return new DynamicLossScaler(_optimizer, state.Scale, LossScalingPolicy.GrowthFactor, LossScalingPolicy.BackoffFactor,
            _growthInterval, state.GoodSteps);
    }
}

/// <summary>
/// The same loss-scaling policy in C#, for the C# SGD baseline (a <see cref="DynamicLossScaler"/>
/// drives an <see cref="AdaBeliefOptimizer"/>'s steps; SGD is not one). Its arithmetic is
/// <see cref="DynamicLossScaler.Update(StepReport)"/>'s: the scale is a float32 value, a growth to
/// infinity is not applied, a backoff stops at <see cref="DynamicLossScaler.MinimumScale"/>.
/// </summary>
internal sealed class ManagedLossScaler
{
    /// <summary>Starts from <paramref name="state"/>.</summary>
    /// <exception cref="InvalidDataException"><paramref name="state"/> is out of range.</exception>
    public ManagedLossScaler(LossScaleState state, int growthInterval = LossScalingPolicy.GrowthInterval)
    {
        GrowthInterval = growthInterval;
        Restore(state);
    }

    /// <summary>Consecutive good steps before the scale grows.</summary>
    public int GrowthInterval { get; }

    /// <summary>The current loss scale.</summary>
    public double Scale { get; private set; }

    /// <summary>Consecutive good steps since the scale last changed or a step was skipped.</summary>
    public int GoodSteps { get; private set; }

    /// <summary>Steps skipped so far.</summary>
    public long SkippedSteps { get; private set; }

    /// <summary>The state to save (allocates; not for every batch).</summary>
    public LossScaleState State => new() { Scale = Scale, GoodSteps = GoodSteps, SkippedSteps = SkippedSteps };

    /// <summary>Continues from <paramref name="state"/>.</summary>
    /// <exception cref="InvalidDataException"><paramref name="state"/> is out of range.</exception>
    public void Restore(LossScaleState state)
    {
        state.Validate(GrowthInterval);
        Scale = state.Scale;
        GoodSteps = state.GoodSteps;
        SkippedSteps = state.SkippedSteps;
    }

    /// <summary>Adjusts the scale after a step that was (<paramref name="skipped"/>) or was not skipped.</summary>
    public void Update(bool skipped)
    {
        if (skipped)
        {
            SkippedSteps++;
            GoodSteps = 0;
            Scale = Math.Max((float)(Scale * LossScalingPolicy.BackoffFactor), DynamicLossScaler.MinimumScale);
        }
        else if (++GoodSteps >= GrowthInterval)
        {
            GoodSteps = 0;
            float grown = (float)(Scale * LossScalingPolicy.GrowthFactor);
            if (float.IsFinite(grown))
            {
                Scale = grown;
            }
        }
    }
}
