namespace NativeAdaBelief.Distributed;

/// <summary>
/// One tensor of a model trained data-parallel: its length, the element type of its parameters,
/// its parameter group and whether the optimizer keeps a float32 master copy of it. Gradients are
/// always float32 (they are summed across ranks in float32). A <see cref="ParameterSpace"/> lays
/// the tensors out in one flat parameter buffer and one flat gradient buffer.
/// </summary>
/// <param name="Length">Number of elements; at least 1.</param>
public sealed record TensorSpec(long Length)
{
    /// <summary>A name for messages and logs ("fc1.weight"); optional.</summary>
    public string? Name { get; init; }

    /// <summary>The parameters' element type. Default <see cref="TensorElementType.Float32"/>.</summary>
    public TensorElementType ParameterType { get; init; } = TensorElementType.Float32;

    /// <summary>The index of the tensor's parameter group (the optimizer's list of <see cref="AdaBeliefOptions"/>). Default 0.</summary>
    public int Group { get; init; }

    /// <summary>
    /// 16-bit parameters only: the rank that owns a part of the tensor keeps a float32 master copy
    /// of that part (and only of it), updates it and writes its rounding into the 16-bit parameters,
    /// which every rank then receives. Default false.
    /// </summary>
    public bool KeepMasterCopy { get; init; }

    /// <summary>The tensor as messages name it: "tensor 3 (fc2.weight)".</summary>
    internal string Describe(int index) => Name is null ? $"tensor {index}" : $"tensor {index} ({Name})";
}
