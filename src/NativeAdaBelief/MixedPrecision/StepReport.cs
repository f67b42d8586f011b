using NativeAdaBelief.Interop;

namespace NativeAdaBelief;

/// <summary>
/// What the last <see cref="AdaBeliefOptimizer.Step"/> did with the gradients
/// (<see cref="AdaBeliefOptimizer.GetLastStepReport"/>). A plain value: getting it allocates
/// nothing on the managed heap.
/// </summary>
public readonly record struct StepReport
{
    /// <summary>
    /// True when the step made the fused gradient pass (any of <see cref="StepOptions.SkipNonFinite"/>,
    /// <see cref="StepOptions.MaxGradientNorm"/> &gt; 0 or <see cref="StepOptions.ComputeGradientNorm"/>
    /// was on); <see cref="NonFiniteCount"/> and <see cref="GradientNorm"/> mean something only then.
    /// </summary>
    public bool GradientsChecked { get; init; }

    /// <summary>
    /// True when the step was skipped as a whole: because a gradient held a NaN or ±∞
    /// (<see cref="StepOptions.SkipNonFinite"/>), or on CUDA because of
    /// <see cref="StepCountExhausted"/> or <see cref="StaleGraph"/>. No parameter, state array or
    /// step count changed.
    /// </summary>
    public bool Skipped { get; init; }

    /// <summary>
    /// True when a CUDA step was skipped because a tensor to be stepped has
    /// <see cref="OptimizerTensor.Step"/> = <see cref="long.MaxValue"/> (the device checks it; a CPU
    /// optimizer's <see cref="AdaBeliefOptimizer.Step"/> throws instead).
    /// </summary>
    public bool StepCountExhausted { get; init; }

    /// <summary>
    /// True when the step was the replay of a CUDA graph captured before the optimizer's tensors,
    /// buffers or options changed: it did nothing (capture the step again).
    /// </summary>
    public bool StaleGraph { get; init; }

    /// <summary>The number of NaN, +∞ and -∞ gradient elements found (0 when not checked).</summary>
    public long NonFiniteCount { get; init; }

    /// <summary>
    /// The global L2 norm of all registered gradients after the inverse scale and before clipping,
    /// computed in double (NaN when not checked; non-finite when a gradient is).
    /// </summary>
    public double GradientNorm { get; init; }

    /// <summary>
    /// The factor every gradient element was multiplied by: <see cref="StepOptions.InverseGradientScale"/>
    /// times the clipping coefficient min(1, max / (norm + 1e-6)) when clipping, as computed in
    /// double (the step applies it rounded to float32).
    /// </summary>
    public double GradientScale { get; init; }

    /// <summary>The number of steps this optimizer has run, skipped ones included.</summary>
    public long StepCalls { get; init; }

    internal static StepReport FromNative(in nab_step_report r) => new()
    {
        GradientsChecked = r.gradients_checked != 0,
        Skipped = r.skipped != 0,
        StepCountExhausted = r.step_count_exhausted != 0,
        StaleGraph = r.stale_graph != 0,
        NonFiniteCount = checked((long)r.nonfinite_count),
        GradientNorm = r.gradient_norm,
        GradientScale = r.gradient_scale,
        StepCalls = checked((long)r.step_calls),
    };
}
