using NativeAdaBelief.Interop;

namespace NativeAdaBelief;

/// <summary>
/// The hyper-parameters of one parameter group. Defaults are labml's AdaBelief seed defaults
/// (lr 1e-3, β 0.9/0.999, ε 1e-16, no weight decay, decoupled decay, AMSGrad off, rectified,
/// SGD while the rectification term is intractable, optimized update, belief second moment,
/// labml compatibility). Change what you need with <c>with { ... }</c>; see
/// <c>docs/compatibility.md</c> for reproducing other implementations.
/// </summary>
/// <remarks>
/// <see cref="Validate"/> runs before anything native changes: every optimizer method that takes
/// options calls it, and an invalid value throws <see cref="ArgumentOutOfRangeException"/>
/// naming the property and the value. The valid ranges are the native library's (its
/// <c>nab_group_options_validate</c>), so C# and C callers get the same answer.
/// </remarks>
public sealed record AdaBeliefOptions
{
    /// <summary>Which original implementation the group reproduces. Default <see cref="CompatibilityMode.Labml"/>.</summary>
    public CompatibilityMode Compatibility { get; init; } = CompatibilityMode.Labml;

    /// <summary>The learning rate α; ≥ 0 and finite. Default 1e-3. Schedulers change it between steps.</summary>
    public double LearningRate { get; init; } = 1e-3;

    /// <summary>β₁, the decay of the first moment; 0 ≤ β₁ &lt; 1. Default 0.9.</summary>
    public double Beta1 { get; init; } = 0.9;

    /// <summary>β₂, the decay of the second moment; 0 ≤ β₂ &lt; 1. Default 0.999.</summary>
    public double Beta2 { get; init; } = 0.999;

    /// <summary>
    /// ε; ≥ 0 and finite. Default 1e-16. What it does depends on <see cref="Compatibility"/>
    /// (added inside the square root and to the denominator; stored into s in
    /// <see cref="CompatibilityMode.AdaBeliefPytorch"/>): see <c>docs/compatibility.md</c>.
    /// ε = 0 (or one that is 0 as a float32, such as 1e-50) with a gradient element that stays
    /// exactly 0 (a frozen layer) makes that parameter NaN, as in the original implementations
    /// (0 / 0 in the update); <see cref="AdaBeliefOptimizer.CountNonFiniteParameters"/> finds it.
    /// </summary>
    public double Epsilon { get; init; } = 1e-16;

    /// <summary>The weight decay λ; ≥ 0 and finite. Default 0.</summary>
    public double WeightDecay { get; init; }

    /// <summary>How <see cref="WeightDecay"/> is applied. Default <see cref="NativeAdaBelief.WeightDecayMode.Decoupled"/>.</summary>
    public WeightDecayMode WeightDecayMode { get; init; } = WeightDecayMode.Decoupled;

    /// <summary>
    /// What the second moment tracks. Default <see cref="NativeAdaBelief.SecondMoment.Belief"/> (AdaBelief);
    /// <see cref="NativeAdaBelief.SecondMoment.Square"/> gives the Adam family and requires
    /// <see cref="CompatibilityMode.Labml"/>.
    /// </summary>
    public SecondMoment SecondMoment { get; init; } = SecondMoment.Belief;

    /// <summary>Keep and use the running maximum s_max (AMSGrad). Default false.</summary>
    public bool AmsGrad { get; init; }

    /// <summary>RAdam rectification. Default true.</summary>
    public bool Rectify { get; init; } = true;

    /// <summary>
    /// While the rectification term is intractable (the first few steps), take an
    /// SGD-with-momentum step (true) or leave the parameters unchanged (false). Default true.
    /// </summary>
    public bool DegenerateToSgd { get; init; } = true;

    /// <summary>
    /// <see cref="CompatibilityMode.Labml"/> only: apply the second bias correction to the step
    /// size (true) or to the denominator (false). Default true. Must stay true in
    /// <see cref="CompatibilityMode.AdaBeliefPytorch"/>, which has no such option.
    /// </summary>
    public bool OptimizedUpdate { get; init; } = true;

    /// <summary>
    /// How the group's tensors store m, s and s_max. Default <see cref="NativeAdaBelief.StateEncoding.Float32"/>;
    /// <see cref="NativeAdaBelief.StateEncoding.Blockwise8Bit"/> stores them in 8 bits per element
    /// (tensors of at least <see cref="EightBitState.MinElements"/> elements; smaller ones keep
    /// float32), about a quarter of the memory, with the same float32 arithmetic in each step. Changing
    /// it on a group that has tensors (<see cref="ParameterGroup.Options"/>) converts their state.
    /// See <c>docs/eight-bit-state.md</c>.
    /// </summary>
    public StateEncoding StateEncoding { get; init; } = StateEncoding.Float32;

    /// <summary>
    /// Checks every value with the native library's rules (the one place they are defined; see
    /// <c>docs/algorithm.md</c>). Throws <see cref="ArgumentOutOfRangeException"/> naming the
    /// first invalid property and its value; changes nothing.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of its valid range.</exception>
    /// <exception cref="NativeLibraryNotFoundException">The native library could not be loaded.</exception>
    public unsafe void Validate()
    {
        NativeRuntime.EnsureInitialized();
        nab_group_options native = ToNative();
        NativeValidation.Check(NativeMethods.nab_group_options_validate(&native), nameof(AdaBeliefOptions), PropertyOf);
    }

    /// <summary>The property that holds a field of <c>nab_group_options</c>, and its value.</summary>
    private (string, object?)? PropertyOf(string field) => field switch
    {
        "compatibility" => (nameof(Compatibility), Compatibility),
        "learning_rate" => (nameof(LearningRate), LearningRate),
        "beta1" => (nameof(Beta1), Beta1),
        "beta2" => (nameof(Beta2), Beta2),
        "epsilon" => (nameof(Epsilon), Epsilon),
        "weight_decay" => (nameof(WeightDecay), WeightDecay),
        "weight_decay_mode" => (nameof(WeightDecayMode), WeightDecayMode),
        "second_moment" => (nameof(SecondMoment), SecondMoment),
        "amsgrad" => (nameof(AmsGrad), AmsGrad),
        "rectify" => (nameof(Rectify), Rectify),
        "degenerate_to_sgd" => (nameof(DegenerateToSgd), DegenerateToSgd),
        "optimized_update" => (nameof(OptimizedUpdate), OptimizedUpdate),
        "state_encoding" => (nameof(StateEncoding), StateEncoding),
        _ => null,
    };

    // ---- Convenience presets (each a plain record: adjust with `with { ... }`). ----

    /// <summary>
    /// Adam as labml's <c>Adam</c> computes it: squared-gradient second moment, no rectification,
    /// no AMSGrad, optimized update, ε = 1e-16 (labml's default). For <c>torch.optim.Adam</c>'s
    /// arithmetic use <c>ForAdam() with { OptimizedUpdate = false, Epsilon = 1e-8 }</c>.
    /// </summary>
    /// <param name="learningRate">α.</param>
    /// <returns>The options.</returns>
    public static AdaBeliefOptions ForAdam(double learningRate = 1e-3) => new()
    {
        LearningRate = learningRate,
        SecondMoment = SecondMoment.Square,
        Rectify = false,
        AmsGrad = false,
    };

    /// <summary>AMSGrad as labml's <c>AMSGrad</c>: <see cref="ForAdam"/> with the running maximum of the second moment.</summary>
    /// <param name="learningRate">α.</param>
    /// <returns>The options.</returns>
    public static AdaBeliefOptions ForAmsGrad(double learningRate = 1e-3) => ForAdam(learningRate) with { AmsGrad = true };

    /// <summary>
    /// RAdam as labml's <c>RAdam</c>: squared-gradient second moment, rectified, SGD while the
    /// rectification term is intractable, ε = 1e-8 (labml RAdam's default).
    /// </summary>
    /// <param name="learningRate">α.</param>
    /// <returns>The options.</returns>
    public static AdaBeliefOptions ForRAdam(double learningRate = 1e-3) => new()
    {
        LearningRate = learningRate,
        SecondMoment = SecondMoment.Square,
        Rectify = true,
        DegenerateToSgd = true,
        Epsilon = 1e-8,
    };

    /// <summary>
    /// The official <c>adabelief-pytorch</c> 0.2.1 <c>AdaBelief(params)</c> with its defaults (and
    /// timm's <c>AdaBelief</c>, which computes the same): lr 1e-3, ε 1e-16, decoupled decay,
    /// rectified, SGD while intractable.
    /// </summary>
    /// <param name="learningRate">α.</param>
    /// <returns>The options.</returns>
    public static AdaBeliefOptions ForAdaBeliefPytorch(double learningRate = 1e-3) => new()
    {
        Compatibility = CompatibilityMode.AdaBeliefPytorch,
        LearningRate = learningRate,
    };

    /// <summary>
    /// What labml's <c>AdaBelief(params)</c> really runs with its default arguments: its
    /// constructor passes them one slot off to <c>RAdam</c>, so AMSGrad is on, the SGD fallback
    /// is off and the update is not optimized. Use this to reproduce a labml run exactly.
    /// </summary>
    /// <param name="learningRate">α.</param>
    /// <returns>The options.</returns>
    public static AdaBeliefOptions ForLabmlAdaBeliefAsShipped(double learningRate = 1e-3) => new()
    {
        LearningRate = learningRate,
        AmsGrad = true,
        DegenerateToSgd = false,
        OptimizedUpdate = false,
    };

    // ---- Native conversion. ----

    internal unsafe nab_group_options ToNative() => new()
    {
        struct_size = (uint)sizeof(nab_group_options),
        compatibility = (int)Compatibility,
        learning_rate = LearningRate,
        beta1 = Beta1,
        beta2 = Beta2,
        epsilon = Epsilon,
        weight_decay = WeightDecay,
        weight_decay_mode = (int)WeightDecayMode,
        second_moment = (int)SecondMoment,
        amsgrad = AmsGrad ? 1 : 0,
        rectify = Rectify ? 1 : 0,
        degenerate_to_sgd = DegenerateToSgd ? 1 : 0,
        optimized_update = OptimizedUpdate ? 1 : 0,
        state_encoding = (int)StateEncoding,
    };

    internal static AdaBeliefOptions FromNative(in nab_group_options o) => new()
    {
        Compatibility = (CompatibilityMode)o.compatibility,
        LearningRate = o.learning_rate,
        Beta1 = o.beta1,
        Beta2 = o.beta2,
        Epsilon = o.epsilon,
        WeightDecay = o.weight_decay,
        WeightDecayMode = (WeightDecayMode)o.weight_decay_mode,
        SecondMoment = (SecondMoment)o.second_moment,
        AmsGrad = o.amsgrad != 0,
        Rectify = o.rectify != 0,
        DegenerateToSgd = o.degenerate_to_sgd != 0,
        OptimizedUpdate = o.optimized_update != 0,
        StateEncoding = (StateEncoding)o.state_encoding,
    };
}
