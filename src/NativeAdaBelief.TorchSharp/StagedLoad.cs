namespace NativeAdaBelief.TorchSharp;

/// <summary>
/// The load of one state dictionary: every group's options and every parameter's state, staged as
/// TorchSharp loads the dictionary's entries one by one (its <c>load_state_dict(path)</c> reads
/// them in order), and given to the optimizer together once every entry has arrived, all or
/// nothing (<see cref="StateRestore"/>).
/// </summary>
internal sealed class StagedLoad
{
    private readonly NativeAdaBeliefOptimizer _optimizer;
    private readonly (AdaBeliefOptions Options, double InitialLearningRate)?[] _groups;
    private readonly TensorState?[] _tensors;
    private int _missing;

    internal StagedLoad(NativeAdaBeliefOptimizer optimizer, int groups, int tensors)
    {
        _optimizer = optimizer;
        _groups = new (AdaBeliefOptions, double)?[groups];
        _tensors = new TensorState?[tensors];
        _missing = groups + tensors;
    }

    /// <summary>
    /// One parameter's saved state (arrays of its element count; null where it has none), and the
    /// encoding the optimizer kept it in (<see cref="StateEncoding.Blockwise8Bit"/>: the moments are
    /// the decoded 8-bit values, which encode back to the same codes and scales).
    /// </summary>
    internal sealed record TensorState(long Step, float[] FirstMoment, float[] SecondMoment, float[]? MaxSecondMoment, float[]? MasterParameters,
        StateEncoding Encoding);

    /// <summary>Stages group <paramref name="index"/>'s options (already validated).</summary>
    internal void StageGroup(int index, AdaBeliefOptions options, double initialLearningRate)
    {
        bool first = _groups[index] is null;
        _groups[index] = (options, initialLearningRate);
        Arrived(first);
    }

    /// <summary>Stages parameter <paramref name="index"/>'s state.</summary>
    internal void StageTensor(int index, TensorState state)
    {
        bool first = _tensors[index] is null;
        _tensors[index] = state;
        Arrived(first);
    }

    private void Arrived(bool first)
    {
        if (first && --_missing == 0)
        {
            _optimizer.Restore(_groups.Select(g => g!.Value).ToArray(), _tensors.Select(t => t!).ToArray());
        }
    }
}
