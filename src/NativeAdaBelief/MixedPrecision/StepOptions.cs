using NativeAdaBelief.Interop;

namespace NativeAdaBelief;

/// <summary>
/// What every step does to the gradients before the update (<see cref="AdaBeliefOptimizer.StepOptions"/>):
/// removing a loss scale, skipping the whole step when a gradient is not finite, clipping by the
/// global L2 norm. The defaults do none of it. Change what you need with <c>with { ... }</c>.
/// </summary>
/// <remarks>
/// <para>The caller's gradient buffers are never written: the scaling happens inside the step,
/// in float32 (the factor is computed in double and applied rounded to float32).</para>
/// <para>With any of <see cref="SkipNonFinite"/>, <see cref="MaxGradientNorm"/> &gt; 0 or
/// <see cref="ComputeGradientNorm"/>, each step first makes one fused read-only pass over every
/// registered gradient (4 bytes per float32 element, 2 per 16-bit one) that counts the
/// non-finite elements and sums the squares in double, in an order fixed by the tensor sizes,
/// so the result does not depend on the thread count. <see cref="AdaBeliefOptimizer.GetLastStepReport"/>
/// reports what it found.</para>
/// </remarks>
public sealed record StepOptions
{
    /// <summary>
    /// When any registered gradient holds a NaN or ±∞, skip the whole step: no parameter, state
    /// array or step count changes, and the report says <see cref="StepReport.Skipped"/>.
    /// Default false (a non-finite gradient element then makes that element's state non-finite).
    /// </summary>
    public bool SkipNonFinite { get; init; }

    /// <summary>
    /// Every gradient element is multiplied by this inside the step: 1 / the loss scale with
    /// mixed-precision loss scaling (<see cref="DynamicLossScaler"/> sets it). &gt; 0 and finite
    /// as a float32 (the step multiplies by it in float32). Default 1.
    /// </summary>
    public double InverseGradientScale { get; init; } = 1.0;

    /// <summary>
    /// &gt; 0: clip by the global L2 norm over all registered gradients, as PyTorch's
    /// <c>clip_grad_norm_</c>: with norm = <see cref="InverseGradientScale"/> · ‖g‖, the gradients
    /// are multiplied by min(1, <see cref="MaxGradientNorm"/> / (norm + 1e-6)). 0: no clipping.
    /// Finite and ≥ 0. Default 0. Without <see cref="SkipNonFinite"/>, one NaN gradient element
    /// makes the norm and so the factor NaN, which then reaches every parameter (as in PyTorch):
    /// use both together.
    /// </summary>
    public double MaxGradientNorm { get; init; }

    /// <summary>
    /// Compute the global gradient norm for <see cref="StepReport.GradientNorm"/> even when not
    /// clipping. Default false.
    /// </summary>
    public bool ComputeGradientNorm { get; init; }

    /// <summary>
    /// Checks every value with the native library's rules. Throws
    /// <see cref="ArgumentOutOfRangeException"/> naming the first invalid property and its value;
    /// changes nothing.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of its valid range.</exception>
    /// <exception cref="NativeLibraryNotFoundException">The native library could not be loaded.</exception>
    public unsafe void Validate()
    {
        NativeRuntime.EnsureInitialized();
        nab_step_options native = ToNative();
        NativeValidation.Check(NativeMethods.nab_step_options_validate(&native), nameof(StepOptions), PropertyOf);
    }

    /// <summary>The property that holds a field of <c>nab_step_options</c>, and its value.</summary>
    private (string, object?)? PropertyOf(string field) => field switch
    {
        "skip_nonfinite" => (nameof(SkipNonFinite), SkipNonFinite),
        "inverse_gradient_scale" => (nameof(InverseGradientScale), InverseGradientScale),
        "max_gradient_norm" => (nameof(MaxGradientNorm), MaxGradientNorm),
        "compute_gradient_norm" => (nameof(ComputeGradientNorm), ComputeGradientNorm),
        _ => null,
    };

    // ---- Native conversion. ----

    internal unsafe nab_step_options ToNative() => new()
    {
        struct_size = (uint)sizeof(nab_step_options),
        skip_nonfinite = SkipNonFinite ? 1 : 0,
        inverse_gradient_scale = InverseGradientScale,
        max_gradient_norm = MaxGradientNorm,
        compute_gradient_norm = ComputeGradientNorm ? 1 : 0,
    };

    internal static StepOptions FromNative(in nab_step_options o) => new()
    {
        SkipNonFinite = o.skip_nonfinite != 0,
        InverseGradientScale = o.inverse_gradient_scale,
        MaxGradientNorm = o.max_gradient_norm,
        ComputeGradientNorm = o.compute_gradient_norm != 0,
    };
}
