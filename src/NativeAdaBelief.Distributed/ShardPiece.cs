namespace NativeAdaBelief.Distributed;

/// <summary>
/// The part of one tensor a rank owns: elements [<see cref="Offset"/>, <see cref="Offset"/> +
/// <see cref="Length"/>) of tensor <see cref="Tensor"/>. The rank keeps the optimizer state (and
/// master copy) of these elements only, and steps them as a tensor of its own, with the tensor's
/// step count.
/// </summary>
/// <param name="Tensor">The tensor's index in the <see cref="ParameterSpace"/>.</param>
/// <param name="Offset">The first element; a multiple of <see cref="AdaBeliefOptimizer.GradientChunkElements"/>.</param>
/// <param name="Length">The number of elements; at least 1.</param>
public readonly record struct ShardPiece(int Tensor, long Offset, long Length);
