using NativeAdaBelief.Demo.Model;
using NativeAdaBelief.Distributed;

namespace NativeAdaBelief.Demo.Training;

/// <summary>
/// AdaBelief or Adam trained data-parallel (<c>--data-parallel</c>): every rank computes the
/// gradients of its part of each batch into its model, this optimizer copies them into a
/// <see cref="ParameterSpace"/> shaped like the store's tensors, the
/// <see cref="DistributedAdaBeliefOptimizer"/> averages them across the ranks and steps this
/// rank's shard of the optimizer state (ZeRO-1), and the gathered parameters are copied back into
/// the store, so every rank holds the same model. In bfloat16 the space holds bfloat16 parameters
/// with float32 master copies on their owning rank; the gradients travel in float32.
/// </summary>
internal sealed class DataParallelOptimizer : ITrainingOptimizer
{
    private readonly ParameterStore _store;
    private readonly ParameterSpace _space;
    private readonly DistributedAdaBeliefOptimizer _optimizer;

    /// <summary>Creates the shards; every rank starts from rank 0's weights (copied into its store).</summary>
    public DataParallelOptimizer(OptimizerKind kind, double learningRate, ParameterStore store, int threads, Communicator communicator)
    {
        Kind = kind;
        _store = store;
        bool sixteenBit = store.Precision == TrainingPrecision.BFloat16;
        _space = new ParameterSpace(Enumerable.Range(0, store.Count).Select(t => new TensorSpec(store.Length(t))
        {
            Name = store.Names[t],
            ParameterType = sixteenBit ? TensorElementType.BFloat16 : TensorElementType.Float32,
            KeepMasterCopy = sixteenBit,
        }));
        try
        {
            var values = new float[(int)Enumerable.Range(0, store.Count).Max(store.Length)];
            for (int t = 0; t < store.Count; t++)
            {
                Span<float> tensor = values.AsSpan(0, (int)store.Length(t));
                store.ReadParameters(t, tensor);
                Write(_space.Tensors[t], tensor);
            }
            _optimizer = new DistributedAdaBeliefOptimizer(communicator, _space, [OptimizerKinds.NativeOptions(kind, learningRate)],
                new OptimizerConfig { ThreadCount = threads });
            CopyParametersToStore();
        }
        catch
        {
            _space.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public OptimizerKind Kind { get; }

    /// <inheritdoc />
    public double LossScale => 1.0;

    /// <inheritdoc />
    public LossScaleState? LossScaling => null;

    /// <inheritdoc />
    public void RestoreLossScaling(LossScaleState state) =>
        throw new InvalidDataException("The data-parallel demo does not scale its loss.");

    /// <inheritdoc />
    public void Step()
    {
        for (int t = 0; t < _store.Count; t++)
        {
            _store.ReadGradients(t, _space.Tensors[t].Gradients);
        }
        _optimizer.Step();
        CopyParametersToStore();
    }

    /// <inheritdoc />
    public void SaveState(Stream stream) =>
        throw new NotSupportedException("The data-parallel demo does not save checkpoints (DistributedAdaBeliefOptimizer.SaveCheckpoint does).");

    /// <inheritdoc />
    public void LoadState(Stream stream) =>
        throw new NotSupportedException("The data-parallel demo does not resume from checkpoints.");

    /// <inheritdoc />
    public void Dispose()
    {
        _optimizer?.Dispose();
        _space.Dispose();
    }

    /// <summary>The space's (gathered) parameters into the store, which the model reads.</summary>
    private void CopyParametersToStore()
    {
        foreach (SpaceTensor tensor in _space.Tensors)
        {
            _store.LoadParameterBytes(tensor.Index, tensor.ParameterBytes);
        }
    }

    private static void Write(SpaceTensor tensor, ReadOnlySpan<float> values)
    {
        if (tensor.ParameterType == TensorElementType.BFloat16)
        {
            Span<BFloat16> target = tensor.GetParameters<BFloat16>();
            for (int i = 0; i < values.Length; i++)
            {
                target[i] = (BFloat16)values[i]; // exact: the store's values are bfloat16 already
            }
        }
        else
        {
            values.CopyTo(tensor.GetParameters<float>());
        }
    }
}
