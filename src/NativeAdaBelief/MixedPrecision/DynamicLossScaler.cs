using System.Globalization;
using NativeAdaBelief.Interop;

namespace NativeAdaBelief;

/// <summary>
/// Dynamic loss scaling for mixed-precision training, with the semantics of PyTorch's
/// <c>torch.amp.GradScaler</c>: the loss is multiplied by <see cref="Scale"/> before the
/// backward pass so that small float16 gradients do not underflow; the optimizer's step divides
/// the gradients by the scale again (inside the step, without writing them) and skips the whole
/// step when any gradient overflowed to ±∞ or NaN; after each step the scale shrinks by
/// <see cref="BackoffFactor"/> when the step was skipped and grows by <see cref="GrowthFactor"/>
/// after every <see cref="GrowthInterval"/> consecutive good steps.
/// </summary>
/// <remarks>
/// <para>The scaler owns two of the optimizer's <see cref="AdaBeliefOptimizer.StepOptions"/>:
/// <see cref="StepOptions.SkipNonFinite"/> (always on) and
/// <see cref="StepOptions.InverseGradientScale"/> (always 1 / <see cref="Scale"/>). It sets them
/// when it is created and re-asserts them at every <see cref="Step"/>; the other step options
/// (gradient clipping, the norm) stay yours and apply to the unscaled gradients.</para>
/// <para>A training loop:</para>
/// <code>
/// using var optimizer = new AdaBeliefOptimizer(new AdaBeliefOptions { LearningRate = 1e-3 });
/// optimizer.ParamGroups[0].AddTensor(weights, weightGradients, keepMasterCopy: true); // float16 model
/// var scaler = new DynamicLossScaler(optimizer);
/// for (int step = 0; step &lt; steps; step++)
/// {
///     float loss = model.Forward(batch);
///     model.Backward(lossGradient: (float)scaler.Scale);  // the gradients come out multiplied by Scale
///     StepReport report = scaler.Step();                  // unscale, skip on overflow, step, adjust the scale
///     optimizer.ZeroGrad();
/// }
/// </code>
/// <para>Equivalently, call <see cref="AdaBeliefOptimizer.Step"/> yourself and then
/// <see cref="Update()"/>. Each update reads <see cref="AdaBeliefOptimizer.GetLastStepReport"/>,
/// which on a CUDA optimizer waits for the device: one host synchronisation per step.</para>
/// <para>The scale is kept as a float32 value, as PyTorch keeps it: a growth that would make it
/// infinite in float32 is not applied (the good-step count still restarts), and a backoff never
/// takes it below the smallest normal float32, 2^-126 (whose inverse is still finite).
/// Allocation-free: <see cref="Step"/> and <see cref="Update()"/> allocate nothing on the
/// managed heap. Not thread-safe, like the optimizer.</para>
/// </remarks>
public sealed class DynamicLossScaler : ISchedulerState
{
    /// <summary>The smallest scale a backoff leaves: the smallest normal float32, 2^-126.</summary>
    public const double MinimumScale = 1.1754943508222875e-38;

    private long _lastStepCalls;

    /// <summary>
    /// Creates a scaler for <paramref name="optimizer"/> and sets its step options to skip
    /// non-finite steps and to divide the gradients by <paramref name="initialScale"/>.
    /// </summary>
    /// <param name="optimizer">The optimizer whose steps this scaler drives.</param>
    /// <param name="initialScale">The first scale; finite and &gt; 0 (and a finite float32). Default 65536 = 2^16 (PyTorch's).</param>
    /// <param name="growthFactor">What the scale is multiplied by after <paramref name="growthInterval"/> good steps; finite and &gt; 1. Default 2.</param>
    /// <param name="backoffFactor">What the scale is multiplied by after a skipped step; 0 &lt; it &lt; 1. Default 0.5.</param>
    /// <param name="growthInterval">Consecutive good steps before the scale grows; at least 1. Default 2000.</param>
    /// <param name="goodSteps">The good steps already counted toward the next growth, 0 to
    /// <paramref name="growthInterval"/> − 1: to resume a run exactly, pass the saved
    /// <see cref="Scale"/> and <see cref="GoodSteps"/>. Default 0.</param>
    /// <exception cref="ArgumentNullException"><paramref name="optimizer"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A factor, the scale, the interval or the good-step count is out of range.</exception>
    /// <exception cref="ObjectDisposedException">The optimizer was disposed.</exception>
    public DynamicLossScaler(AdaBeliefOptimizer optimizer, double initialScale = 65536.0, double growthFactor = 2.0,
        double backoffFactor = 0.5, int growthInterval = 2000, int goodSteps = 0)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        if (!(initialScale >= MinimumScale) || !(initialScale <= float.MaxValue))
        {
            throw Invalid(nameof(initialScale), initialScale, $"must be finite and between {Format(MinimumScale)} and {Format(float.MaxValue)} (float32's normal range).");
        }
        if (!(growthFactor > 1.0) || !double.IsFinite(growthFactor))
        {
            throw Invalid(nameof(growthFactor), growthFactor, "must be finite and > 1.");
        }
        if (!(backoffFactor > 0.0 && backoffFactor < 1.0))
        {
            throw Invalid(nameof(backoffFactor), backoffFactor, "must satisfy 0 < backoffFactor < 1.");
        }
        if (growthInterval < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(growthInterval), growthInterval,
                $"growthInterval = {growthInterval} is invalid: it must be at least 1.");
        }
        if (goodSteps < 0 || goodSteps >= growthInterval)
        {
            throw new ArgumentOutOfRangeException(nameof(goodSteps), goodSteps,
                $"goodSteps = {goodSteps} is invalid: it must be between 0 and growthInterval - 1 = {growthInterval - 1}.");
        }
        ObjectDisposedException.ThrowIf(optimizer.IsDisposed, optimizer);
        Optimizer = optimizer;
        GoodSteps = goodSteps;
        Scale = (float)initialScale;
        GrowthFactor = growthFactor;
        BackoffFactor = backoffFactor;
        GrowthInterval = growthInterval;
        ApplyToOptimizer();
        _lastStepCalls = optimizer.GetLastStepReport().StepCalls;
    }

    /// <summary>The optimizer whose steps this scaler drives.</summary>
    public AdaBeliefOptimizer Optimizer { get; }

    /// <summary>
    /// The current loss scale: multiply the loss (or the loss gradient that starts the backward
    /// pass) by it. The optimizer divides the gradients by it inside the step.
    /// </summary>
    public double Scale { get; private set; }

    /// <summary>The factor the scale grows by after <see cref="GrowthInterval"/> consecutive good steps.</summary>
    public double GrowthFactor { get; }

    /// <summary>The factor the scale shrinks by after a skipped step.</summary>
    public double BackoffFactor { get; }

    /// <summary>The number of consecutive good steps after which the scale grows.</summary>
    public int GrowthInterval { get; }

    /// <summary>Consecutive good (not skipped) steps since the scale last changed or a step was skipped (PyTorch's growth tracker).</summary>
    public int GoodSteps { get; private set; }

    /// <summary>The number of steps this scaler has seen skipped because of non-finite gradients.</summary>
    public long SkippedSteps { get; private set; }

    /// <summary>
    /// Runs one optimizer step with the current scale (skipping it as a whole when a gradient is
    /// not finite), then adjusts the scale (<see cref="Update()"/>).
    /// </summary>
    /// <returns>What the step did (<see cref="StepReport.Skipped"/> tells whether it was skipped).</returns>
    /// <exception cref="ObjectDisposedException">The optimizer was disposed.</exception>
    public StepReport Step()
    {
        EnsureOptions();
        Optimizer.Step();
        return Update();
    }

    /// <summary>
    /// Adjusts the scale after a step the caller ran with <see cref="AdaBeliefOptimizer.Step"/>:
    /// reads the optimizer's last step report and applies <see cref="Update(StepReport)"/>.
    /// </summary>
    /// <returns>The report of the step.</returns>
    /// <exception cref="InvalidOperationException">No step was run since the last update.</exception>
    /// <exception cref="ObjectDisposedException">The optimizer was disposed.</exception>
    public StepReport Update()
    {
        StepReport report = Optimizer.GetLastStepReport();
        Update(report);
        return report;
    }

    /// <summary>
    /// Adjusts the scale from the report of one step: after a skipped step the scale is
    /// multiplied by <see cref="BackoffFactor"/> and <see cref="GoodSteps"/> restarts at 0;
    /// otherwise <see cref="GoodSteps"/> grows by one, and when it reaches
    /// <see cref="GrowthInterval"/> the scale is multiplied by <see cref="GrowthFactor"/> and it
    /// restarts at 0. The optimizer's inverse gradient scale follows.
    /// </summary>
    /// <param name="report">The report of the step that was just run (each step is counted once).</param>
    /// <exception cref="InvalidOperationException">The report is of a step already counted, or the optimizer's step options are not the scaler's (the step did not run under them).</exception>
    /// <exception cref="ObjectDisposedException">The optimizer was disposed.</exception>
    public void Update(StepReport report)
    {
        if (report.StepCalls <= _lastStepCalls)
        {
            throw new InvalidOperationException(
                $"The optimizer has run no step since the scaler's last update (step {report.StepCalls}): call AdaBeliefOptimizer.Step (or DynamicLossScaler.Step) once before each update.");
        }
        nab_step_options options = Optimizer.GetStepOptionsNative();
        if (!report.GradientsChecked || options.skip_nonfinite != 1 || options.inverse_gradient_scale != 1.0 / Scale)
        {
            throw new InvalidOperationException(
                "The optimizer's step options are not the scaler's (SkipNonFinite on, InverseGradientScale = 1 / Scale): "
                + "were AdaBeliefOptimizer.StepOptions replaced? The last step did not run under this scaler. "
                + "Use DynamicLossScaler.Step, which re-asserts them.");
        }
        _lastStepCalls = report.StepCalls;
        double scale = Scale;
        if (report.Skipped)
        {
            SkippedSteps++;
            GoodSteps = 0;
            scale = Math.Max((float)(scale * BackoffFactor), MinimumScale);
        }
        else if (++GoodSteps >= GrowthInterval)
        {
            GoodSteps = 0;
            float grown = (float)(scale * GrowthFactor);
            if (float.IsFinite(grown))
            {
                scale = grown;
            }
        }
        if (scale != Scale)
        {
            Scale = scale;
            ApplyToOptimizer();
        }
    }

    /// <inheritdoc />
    public string StateKind => nameof(DynamicLossScaler);

    /// <inheritdoc />
    /// <remarks>The scale, <see cref="GoodSteps"/> and <see cref="SkippedSteps"/>: with them a resumed run scales exactly as the uninterrupted one.</remarks>
    public IReadOnlyDictionary<string, string> SaveState() => new Dictionary<string, string>
    {
        ["kind"] = StateKind,
        ["scale"] = Format(Scale),
        ["good_steps"] = GoodSteps.ToString(CultureInfo.InvariantCulture),
        ["skipped_steps"] = SkippedSteps.ToString(CultureInfo.InvariantCulture),
    };

    /// <inheritdoc />
    /// <remarks>The commit also sets the optimizer's step options to the restored scale (as the constructor does); the scaler counts steps from the optimizer's current one.</remarks>
    public Action StageRestore(IReadOnlyDictionary<string, string> state)
    {
        SchedulerStateText.CheckKind(state, StateKind);
        double scale = SchedulerStateText.Double(state, "scale", StateKind);
        long good = SchedulerStateText.Long(state, "good_steps", StateKind, 0);
        long skipped = SchedulerStateText.Long(state, "skipped_steps", StateKind, 0);
        if (!(scale >= MinimumScale) || !(scale <= float.MaxValue) || (float)scale != scale)
        {
            throw new InvalidDataException($"{StateKind}: the saved scale = {Format(scale)} is not a float32 value between {Format(MinimumScale)} and {Format(float.MaxValue)}.");
        }
        if (good >= GrowthInterval)
        {
            throw new InvalidDataException($"{StateKind}: the saved good_steps = {good} is not below this scaler's growthInterval = {GrowthInterval}.");
        }
        ObjectDisposedException.ThrowIf(Optimizer.IsDisposed, Optimizer);
        return () =>
        {
            Scale = scale;
            GoodSteps = (int)good;
            SkippedSteps = skipped;
            ApplyToOptimizer();
            _lastStepCalls = Optimizer.GetLastStepReport().StepCalls;
        };
    }

    /// <summary>Sets the optimizer's skip flag and inverse scale if they are not what this scaler needs.</summary>
    private void EnsureOptions()
    {
        nab_step_options options = Optimizer.GetStepOptionsNative();
        if (options.skip_nonfinite != 1 || options.inverse_gradient_scale != 1.0 / Scale)
        {
            ApplyToOptimizer(options);
        }
    }

    private void ApplyToOptimizer() => ApplyToOptimizer(Optimizer.GetStepOptionsNative());

    private void ApplyToOptimizer(nab_step_options options)
    {
        options.skip_nonfinite = 1;
        options.inverse_gradient_scale = 1.0 / Scale;
        Optimizer.SetStepOptionsNative(options, nameof(Scale));
    }

    private static ArgumentOutOfRangeException Invalid(string name, double value, string rule) =>
        new(name, value, $"{name} = {Format(value)} is invalid: {name} {rule}");

    private static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}
