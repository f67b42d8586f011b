using TorchSharp.Modules;

namespace NativeAdaBelief.TorchSharp;

/// <summary>
/// A parameter group's hyper-parameters as TorchSharp's optimizers hold them: the learning rate
/// in TorchSharp's <see cref="OptimizerOptions.LearningRate"/> (what TorchSharp's LR schedulers
/// set, through <see cref="ParamGroup.LearningRate"/>) and <see cref="OptimizerOptions.InitialLearningRate"/>
/// (what they start from), everything else in <see cref="AdaBelief"/>. The optimizer hands a
/// change to the native library before its next step (or checkpoint), which checks it then.
/// </summary>
public sealed class AdaBeliefGroupOptions : OptimizerOptions
{
    /// <summary>Holds <paramref name="options"/> (validated); its learning rate becomes the current and the initial one.</summary>
    /// <param name="options">The group's hyper-parameters.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is invalid.</exception>
    public AdaBeliefGroupOptions(AdaBeliefOptions options)
    {
        AdaBelief = options;
        InitialLearningRate = options.LearningRate;
    }

    /// <summary>
    /// Every hyper-parameter: reading gives them with the current <see cref="OptimizerOptions.LearningRate"/>;
    /// setting validates them (the native library's rules) and sets the learning rate too.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Set to invalid options (nothing is changed).</exception>
    public AdaBeliefOptions AdaBelief
    {
        get => LearningRate is { } rate && rate != Settings.LearningRate ? Settings with { LearningRate = rate } : Settings;
        set
        {
            ArgumentNullException.ThrowIfNull(value, nameof(AdaBelief));
            value.Validate();
            Settings = value;
            LearningRate = value.LearningRate;
        }
    }

    /// <summary>The options as last set (their learning rate may be older than <see cref="OptimizerOptions.LearningRate"/>).</summary>
    internal AdaBeliefOptions Settings { get; private set; } = new();

    /// <summary>Writes TorchSharp's two rates and every option, the state encoding included (TorchSharp's <c>save_state_dict</c> format).</summary>
    /// <param name="writer">The stream's writer.</param>
    public override void SaveStateDict(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        base.SaveStateDict(writer);
        AdaBeliefOptions o = AdaBelief;
        writer.Write((int)o.Compatibility);
        writer.Write(o.Beta1);
        writer.Write(o.Beta2);
        writer.Write(o.Epsilon);
        writer.Write(o.WeightDecay);
        writer.Write((int)o.WeightDecayMode);
        writer.Write((int)o.SecondMoment);
        writer.Write(o.AmsGrad);
        writer.Write(o.Rectify);
        writer.Write(o.DegenerateToSgd);
        writer.Write(o.OptimizedUpdate);
        writer.Write((int)o.StateEncoding);
    }

    /// <summary>
    /// Reads what <see cref="SaveStateDict"/> wrote. Inside TorchSharp's <c>load_state_dict</c> the
    /// values are staged and the optimizer takes every group's and tensor's together, all or nothing.
    /// </summary>
    /// <param name="reader">The stream's reader.</param>
    /// <exception cref="ArgumentOutOfRangeException">The stream holds invalid options (nothing is changed).</exception>
    public override void LoadStateDict(BinaryReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        double initial = reader.ReadDouble();
        double rate = reader.ReadDouble();
        var options = new AdaBeliefOptions
        {
            LearningRate = rate,
            Compatibility = (CompatibilityMode)reader.ReadInt32(),
            Beta1 = reader.ReadDouble(),
            Beta2 = reader.ReadDouble(),
            Epsilon = reader.ReadDouble(),
            WeightDecay = reader.ReadDouble(),
            WeightDecayMode = (WeightDecayMode)reader.ReadInt32(),
            SecondMoment = (SecondMoment)reader.ReadInt32(),
            AmsGrad = reader.ReadBoolean(),
            Rectify = reader.ReadBoolean(),
            DegenerateToSgd = reader.ReadBoolean(),
            OptimizedUpdate = reader.ReadBoolean(),
            StateEncoding = (StateEncoding)reader.ReadInt32(),
        };
        options.Validate();
        Load(options, initial);
    }

    /// <summary>Takes another group's options (what TorchSharp's <c>load_state_dict</c> does with a state dictionary's entries).</summary>
    /// <param name="source">Options of a NativeAdaBelief group.</param>
    /// <exception cref="ArgumentException"><paramref name="source"/> is another optimizer's kind of options.</exception>
    public override void LoadStateDict(OptimizerOptions source)
    {
        if (source is not AdaBeliefGroupOptions other)
        {
            throw new ArgumentException(
                $"A {source?.GetType().Name ?? "null"} cannot be loaded into NativeAdaBelief options: load the state of a NativeAdaBeliefOptimizer.",
                nameof(source));
        }
        Load(other.AdaBelief, other.InitialLearningRate);
    }

    /// <summary>The state dictionary's load this entry belongs to (null: the group's own options, loaded directly).</summary>
    internal StagedLoad? StagedLoad { get; init; }

    /// <summary>The group's index in the optimizer.</summary>
    internal int GroupIndex { get; init; }

    /// <summary>Takes loaded values: into the staged load of a state dictionary's entry, or directly.</summary>
    private void Load(AdaBeliefOptions options, double initialLearningRate)
    {
        StagedLoad?.StageGroup(GroupIndex, options, initialLearningRate);
        Assign(options, initialLearningRate);
    }

    /// <summary>Sets the values (already validated).</summary>
    internal void Assign(AdaBeliefOptions options, double initialLearningRate)
    {
        Settings = options;
        LearningRate = options.LearningRate;
        InitialLearningRate = initialLearningRate;
    }
}
