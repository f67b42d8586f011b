using TorchSharp.Modules;

namespace NativeAdaBelief.TorchSharp;

/// <summary>
/// The one-line replacements of <c>torch.optim</c>'s constructors: <c>torch.optim.Adam(model.parameters(), lr: 1e-3)</c>
/// becomes <c>NativeOptim.Adam(model.parameters(), lr: 1e-3)</c>, with the same arguments and
/// the same arithmetic (docs/compatibility.md), stepped by the native fused step.
/// </summary>
public static class NativeOptim
{
    /// <summary>
    /// AdaBelief (labml's arithmetic; <see cref="AdaBeliefOptions.ForAdaBeliefPytorch"/> for the
    /// official package's) with decoupled weight decay, rectification and the SGD fallback on, as
    /// <see cref="AdaBeliefOptions"/>' defaults.
    /// </summary>
    /// <param name="parameters">The parameters to optimize (e.g. <c>module.parameters()</c>).</param>
    /// <param name="lr">The learning rate.</param>
    /// <param name="beta1">β₁.</param>
    /// <param name="beta2">β₂.</param>
    /// <param name="eps">ε (on the scale of a squared gradient under the root: see docs/compatibility.md).</param>
    /// <param name="weight_decay">Decoupled weight decay λ.</param>
    /// <param name="state_encoding">How m, s (and s_max) are stored: float32, or <see cref="StateEncoding.Blockwise8Bit"/>
    /// (8 bits per element for tensors of at least <see cref="EightBitState.MinElements"/> elements, about a quarter
    /// of the memory and of the state traffic; see docs/algorithm.md).</param>
    /// <returns>The optimizer.</returns>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range.</exception>
    public static NativeAdaBeliefOptimizer AdaBelief(IEnumerable<Parameter> parameters, double lr = 1e-3, double beta1 = 0.9,
        double beta2 = 0.999, double eps = 1e-16, double weight_decay = 0, StateEncoding state_encoding = StateEncoding.Float32) =>
        new(parameters, new AdaBeliefOptions
        {
            LearningRate = lr, Beta1 = beta1, Beta2 = beta2, Epsilon = eps, WeightDecay = weight_decay, StateEncoding = state_encoding,
        });

    /// <summary>
    /// <c>torch.optim.Adam</c>: bias-corrected Adam with ε added after the square root, and
    /// <paramref name="weight_decay"/> as an L2 term added to the gradient.
    /// </summary>
    /// <param name="parameters">The parameters to optimize (e.g. <c>module.parameters()</c>).</param>
    /// <param name="lr">The learning rate.</param>
    /// <param name="beta1">β₁.</param>
    /// <param name="beta2">β₂.</param>
    /// <param name="eps">ε, added to the bias-corrected √v.</param>
    /// <param name="weight_decay">L2 penalty λ (g + λθ).</param>
    /// <param name="amsgrad">The AMSGrad variant (the running maximum of v).</param>
    /// <param name="state_encoding">How m, s (and s_max) are stored: float32, or <see cref="StateEncoding.Blockwise8Bit"/>
    /// (8 bits per element for tensors of at least <see cref="EightBitState.MinElements"/> elements, about a quarter
    /// of the memory and of the state traffic; see docs/algorithm.md).</param>
    /// <returns>The optimizer.</returns>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range.</exception>
    public static NativeAdaBeliefOptimizer Adam(IEnumerable<Parameter> parameters, double lr = 1e-3, double beta1 = 0.9,
        double beta2 = 0.999, double eps = 1e-8, double weight_decay = 0, bool amsgrad = false, StateEncoding state_encoding = StateEncoding.Float32) =>
        new(parameters, TorchAdam(lr, beta1, beta2, eps, amsgrad, state_encoding) with
        {
            WeightDecay = weight_decay, WeightDecayMode = WeightDecayMode.L2,
        });

    /// <summary><c>torch.optim.AdamW</c>: <c>torch.optim.Adam</c> with decoupled weight decay θ ← θ(1 − α·λ).</summary>
    /// <param name="parameters">The parameters to optimize (e.g. <c>module.parameters()</c>).</param>
    /// <param name="lr">The learning rate.</param>
    /// <param name="beta1">β₁.</param>
    /// <param name="beta2">β₂.</param>
    /// <param name="eps">ε, added to the bias-corrected √v.</param>
    /// <param name="weight_decay">Decoupled weight decay λ.</param>
    /// <param name="amsgrad">The AMSGrad variant (the running maximum of v).</param>
    /// <param name="state_encoding">How m, s (and s_max) are stored: float32, or <see cref="StateEncoding.Blockwise8Bit"/>
    /// (8 bits per element for tensors of at least <see cref="EightBitState.MinElements"/> elements, about a quarter
    /// of the memory and of the state traffic; see docs/algorithm.md).</param>
    /// <returns>The optimizer.</returns>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range.</exception>
    public static NativeAdaBeliefOptimizer AdamW(IEnumerable<Parameter> parameters, double lr = 1e-3, double beta1 = 0.9,
        double beta2 = 0.999, double eps = 1e-8, double weight_decay = 0.01, bool amsgrad = false, StateEncoding state_encoding = StateEncoding.Float32) =>
        new(parameters, TorchAdam(lr, beta1, beta2, eps, amsgrad, state_encoding) with
        {
            WeightDecay = weight_decay, WeightDecayMode = WeightDecayMode.Decoupled,
        });

    /// <summary>The docs/compatibility.md recipe of <c>torch.optim.Adam</c> without weight decay, its state stored as <paramref name="encoding"/> says.</summary>
    private static AdaBeliefOptions TorchAdam(double lr, double beta1, double beta2, double eps, bool amsgrad, StateEncoding encoding) =>
        AdaBeliefOptions.ForAdam(lr) with
        {
            Beta1 = beta1, Beta2 = beta2, Epsilon = eps, AmsGrad = amsgrad, OptimizedUpdate = false, StateEncoding = encoding,
        };
}
