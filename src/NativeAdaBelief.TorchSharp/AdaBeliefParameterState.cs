using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NativeAdaBelief.TorchSharp;

/// <summary>
/// One parameter's optimizer state as a TorchSharp state-dictionary entry: its step count and the
/// arrays the native optimizer keeps for it (m, s, s_max where the group has had AMSGrad on, and
/// the float32 master copy of a 16-bit parameter). The entry reads the native state when it is
/// read or saved; loading it stages the values for the optimizer (see
/// <see cref="NativeAdaBeliefOptimizer.state_dict"/>).
/// </summary>
public sealed class AdaBeliefParameterState : OptimizerState
{
    private readonly ParameterBinding _binding;

    internal AdaBeliefParameterState(ParameterBinding binding, NativeAdaBeliefOptimizer optimizer, int index, StagedLoad? stagedLoad)
        : base(binding.Parameter)
    {
        _binding = binding;
        Optimizer = optimizer;
        Index = index;
        StagedLoad = stagedLoad;
    }

    /// <summary>The optimizer whose state this is.</summary>
    internal NativeAdaBeliefOptimizer Optimizer { get; }

    /// <summary>The parameter's index in the optimizer (registration order across groups).</summary>
    internal int Index { get; }

    /// <summary>The state dictionary's load this entry belongs to (null: loads apply at once).</summary>
    internal StagedLoad? StagedLoad { get; }

    /// <summary>The parameter's step count t.</summary>
    public long Step => _binding.Tensor.Step;

    /// <summary>True when the state has s_max (the group has had AMSGrad on).</summary>
    public bool HasMaxSecondMoment => _binding.Tensor.HasMaxSecondMoment;

    /// <summary>
    /// How the optimizer stores m, s and s_max of this parameter: its group's
    /// <see cref="AdaBeliefOptions.StateEncoding"/>, except float32 for a tensor smaller than
    /// <see cref="EightBitState.MinElements"/> (<see cref="Read"/> gives the decoded values either way).
    /// </summary>
    public StateEncoding StateEncoding => _binding.Tensor.StateEncoding;

    /// <summary>True when the optimizer keeps a float32 master copy of this (16-bit) parameter.</summary>
    public bool HasMasterParameters => _binding.Tensor.HasMasterParameters;

    /// <summary>A copy of one state array as a new float32 CPU tensor of the parameter's shape.</summary>
    /// <param name="kind">Which array.</param>
    /// <returns>The copy (dispose it, or let a dispose scope do it).</returns>
    /// <exception cref="ArgumentException">s_max or the master copy is asked for but does not exist.</exception>
    public Tensor Read(StateKind kind) => torch.tensor(_binding.Tensor.ReadState(kind), _parameter.shape);

    /// <summary>Writes the step count, the state encoding and the arrays (decoded, in TorchSharp's tensor format).</summary>
    /// <param name="writer">The stream's writer.</param>
    public override void SaveStateDict(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        StagedLoad.TensorState state = Current();
        writer.Write(state.Step);
        writer.Write((int)state.Encoding);
        Save(writer, state.FirstMoment);
        Save(writer, state.SecondMoment);
        SaveOptional(writer, state.MaxSecondMoment);
        SaveOptional(writer, state.MasterParameters);
    }

    /// <summary>Reads what <see cref="SaveStateDict"/> wrote and stages it (see the class remarks).</summary>
    /// <param name="reader">The stream's reader.</param>
    /// <exception cref="ArgumentException">The arrays do not fit this parameter.</exception>
    public override void LoadStateDict(BinaryReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        long step = reader.ReadInt64();
        var encoding = (StateEncoding)reader.ReadInt32();
        float[] m = Load(reader);
        float[] s = Load(reader);
        float[]? sMax = reader.ReadBoolean() ? Load(reader) : null;
        float[]? master = reader.ReadBoolean() ? Load(reader) : null;
        Stage(new StagedLoad.TensorState(step, m, s, sMax, master, encoding));
    }

    /// <summary>Takes another NativeAdaBelief optimizer's state for the same kind of parameter.</summary>
    /// <param name="source">A state entry of a <see cref="NativeAdaBeliefOptimizer"/>.</param>
    /// <exception cref="ArgumentException"><paramref name="source"/> is another optimizer's kind of state.</exception>
    public override void LoadStateDict(OptimizerState source) => Stage(From(source).Current());

    /// <summary>True for an entry of the same step count whose arrays are all close (relative 1e-5, absolute 1e-8).</summary>
    /// <param name="other">Another state entry.</param>
    /// <returns>Whether the two states are approximately equal.</returns>
    public override bool ApproximatelyEquals(OptimizerState other)
    {
        if (other is not AdaBeliefParameterState state)
        {
            return false;
        }
        StagedLoad.TensorState a = Current(), b = state.Current();
        return a.Step == b.Step && Close(a.FirstMoment, b.FirstMoment) && Close(a.SecondMoment, b.SecondMoment)
            && Close(a.MaxSecondMoment, b.MaxSecondMoment) && Close(a.MasterParameters, b.MasterParameters);
    }

    /// <summary>Resets the state to a fresh parameter's: step 0, zero moments (the master copy stays).</summary>
    /// <param name="options">Unused: a fresh state does not depend on the options.</param>
    public override void Initialize(OptimizerOptions options)
    {
        StagedLoad.TensorState current = Current();
        long n = current.FirstMoment.Length;
        Stage(new StagedLoad.TensorState(0, new float[n], new float[n], current.MaxSecondMoment is null ? null : new float[n],
            current.MasterParameters, StateEncoding.Float32));
    }

    /// <summary>The native state now.</summary>
    internal StagedLoad.TensorState Current()
    {
        OptimizerTensor t = _binding.Tensor;
        return new StagedLoad.TensorState(t.Step, t.ReadState(StateKind.FirstMoment), t.ReadState(StateKind.SecondMoment),
            t.HasMaxSecondMoment ? t.ReadState(StateKind.MaxSecondMoment) : null,
            t.HasMasterParameters ? t.ReadState(StateKind.MasterParameters) : null, t.StateEncoding);
    }

    /// <summary><paramref name="source"/> as this kind of entry, or a clear refusal.</summary>
    internal static AdaBeliefParameterState From(OptimizerState? source) => source as AdaBeliefParameterState
        ?? throw new ArgumentException(
            $"A {source?.GetType().FullName ?? "null"} state cannot be loaded into a NativeAdaBelief optimizer: load the state of a NativeAdaBeliefOptimizer.",
            nameof(source));

    private void Stage(StagedLoad.TensorState state)
    {
        long n = _binding.Tensor.Length;
        foreach ((string name, float[]? array) in new[] { ("exp_avg (m)", state.FirstMoment), ("exp_avg_sq (s)", state.SecondMoment),
            ("s_max", state.MaxSecondMoment), ("the master copy", state.MasterParameters) })
        {
            if (array is not null && array.Length != n)
            {
                throw new ArgumentException($"The state's {name} has {array.Length} elements but {_binding.Name} has {n}.", "source");
            }
        }
        if (StagedLoad is { } load)
        {
            load.StageTensor(Index, state);
        }
        else
        {
            Optimizer.Restore(Index, state);
        }
    }

    private void Save(BinaryWriter writer, float[] array)
    {
        using Tensor tensor = torch.tensor(array, _parameter.shape);
        tensor.Save(writer);
    }

    private void SaveOptional(BinaryWriter writer, float[]? array)
    {
        writer.Write(array is not null);
        if (array is not null)
        {
            Save(writer, array);
        }
    }

    private float[] Load(BinaryReader reader)
    {
        using Tensor tensor = torch.empty(_parameter.shape, ScalarType.Float32);
        tensor.Load(reader);
        return tensor.data<float>().ToArray();
    }

    private static bool Close(float[]? a, float[]? b)
    {
        if (a is null || b is null)
        {
            return a is null && b is null;
        }
        if (a.Length != b.Length)
        {
            return false;
        }
        for (int i = 0; i < a.Length; i++)
        {
            if (!(Math.Abs(a[i] - b[i]) <= 1e-8 + 1e-5 * Math.Abs(b[i])))
            {
                return false;
            }
        }
        return true;
    }
}
