using TorchSharp.Modules;
using static TorchSharp.torch.optim;

namespace NativeAdaBelief.TorchSharp;

/// <summary>
/// A parameter group with its own hyper-parameters, as TorchSharp's optimizers take them
/// (<c>new Adam.ParamGroup(parameters, lr: ...)</c>): pass several to
/// <see cref="NativeAdaBeliefOptimizer(IEnumerable{AdaBeliefParamGroup}, AdaBeliefOptions?, OptimizerConfig?)"/>,
/// e.g. one without weight decay for biases and norms. Its <see cref="ParamGroup.LearningRate"/>
/// is what TorchSharp's LR schedulers drive; <see cref="Betas"/> is what OneCycleLR cycles.
/// </summary>
public sealed class AdaBeliefParamGroup : ParamGroup<AdaBeliefGroupOptions>, IBetas
{
    /// <summary>A group of <paramref name="parameters"/> with <paramref name="options"/> (null: the optimizer's defaults).</summary>
    /// <param name="parameters">The group's parameters.</param>
    /// <param name="options">Its hyper-parameters, or null for the optimizer's.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is invalid.</exception>
    public AdaBeliefParamGroup(IEnumerable<Parameter> parameters, AdaBeliefOptions? options = null)
        : base(parameters ?? throw new ArgumentNullException(nameof(parameters)),
            options is null ? null! : new AdaBeliefGroupOptions(options))
    {
    }

    /// <summary>(β₁, β₂) of this group; setting them is checked as any option.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Set to a β outside [0, 1).</exception>
    public (double, double) Betas
    {
        get => (Options.AdaBelief.Beta1, Options.AdaBelief.Beta2);
        set => Options.AdaBelief = Options.AdaBelief with { Beta1 = value.Item1, Beta2 = value.Item2 };
    }
}
