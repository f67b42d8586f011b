namespace NativeAdaBelief.Distributed;

/// <summary>
/// A temporary native optimizer shaped like (part of) the model, through which distributed
/// checkpoints use the ordinary checkpoint API: one tensor per piece, its parameters registered
/// by address in the model's <see cref="ParameterSpace"/> (they are neither read nor written by
/// a checkpoint; a master copy is initialised from them and then overwritten), float32 gradients
/// absent. Its state is what one native checkpoint file holds.
/// </summary>
internal static class CheckpointCarrier
{
    /// <summary>The carrier of <paramref name="pieces"/> with <paramref name="groups"/>' options (null: defaults, for loading).</summary>
    internal static AdaBeliefOptimizer Create(DistributedAdaBeliefOptimizer optimizer, IEnumerable<ShardPiece> pieces,
        IReadOnlyList<AdaBeliefOptions>? groups)
    {
        ParameterSpace space = optimizer.Space;
        var carrier = new AdaBeliefOptimizer(new OptimizerConfig { ThreadCount = 1 });
        try
        {
            for (int g = 0; g < optimizer.ParamGroups.Count; g++)
            {
                carrier.AddParamGroup(groups?[g] ?? new AdaBeliefOptions());
            }
            foreach (ShardPiece piece in pieces)
            {
                SpaceTensor tensor = space.Tensors[piece.Tensor];
                nint parameters = space.ParameterBase
                    + (nint)(tensor.ParameterOffset + piece.Offset * TensorElementTypes.SizeOf(tensor.ParameterType));
                carrier.ParamGroups[tensor.Spec.Group].AddTensor(parameters, tensor.ParameterType, 0, TensorElementType.Float32,
                    piece.Length, tensor.Spec.KeepMasterCopy);
            }
            return carrier;
        }
        catch
        {
            carrier.Dispose();
            throw;
        }
    }

    /// <summary>Every tensor of the model, whole.</summary>
    internal static IEnumerable<ShardPiece> WholeModel(ParameterSpace space) =>
        space.Tensors.Select(tensor => new ShardPiece(tensor.Index, 0, tensor.Length));

    /// <summary>The state arrays a piece's checkpoint carries, in the order they travel.</summary>
    internal static IEnumerable<StateKind> Kinds(bool maxSecondMoment, bool master)
    {
        yield return StateKind.FirstMoment;
        yield return StateKind.SecondMoment;
        if (maxSecondMoment)
        {
            yield return StateKind.MaxSecondMoment;
        }
        if (master)
        {
            yield return StateKind.MasterParameters;
        }
    }
}
