namespace NativeAdaBelief.Distributed;

/// <summary>
/// How the flat parameter space is cut into one contiguous shard per rank (ZeRO stage 1): the
/// cuts may fall inside tensors, at multiples of <see cref="AdaBeliefOptimizer.GradientChunkElements"/>
/// into them (so that each rank's chunks of the gradient pass are exactly the whole model's, and
/// the global norm is bit-identical to one process's), and are chosen so that every rank holds
/// about the same number of optimizer-state bytes: each cut is the allowed position nearest to
/// r/N of the total, so a rank's bytes are within one chunk's of the even share. Deterministic:
/// every rank computes the same layout from the same model.
/// </summary>
internal sealed class ShardLayout
{
    private ShardLayout(int ranks)
    {
        Ranks = ranks;
        Pieces = new ShardPiece[ranks][];
        GradientStarts = new long[ranks];
        GradientCounts = new long[ranks];
        ParameterBlockCounts = new int[ranks];
        ParameterBlockDisplacements = new int[ranks];
        StateBytes = new long[ranks];
        ChunkCounts = new int[ranks];
    }

    /// <summary>The number of ranks.</summary>
    internal int Ranks { get; }

    /// <summary>The pieces of each rank, in tensor order.</summary>
    internal ShardPiece[][] Pieces { get; }

    /// <summary>Where each rank's part of the gradient buffer starts (elements).</summary>
    internal long[] GradientStarts { get; }

    /// <summary>Each rank's part of the gradient buffer (elements, a multiple of 16; padding between tensors included).</summary>
    internal long[] GradientCounts { get; }

    /// <summary>Each rank's part of the parameter buffer, in 64-byte blocks.</summary>
    internal int[] ParameterBlockCounts { get; }

    /// <summary>Where each rank's part of the parameter buffer starts, in 64-byte blocks.</summary>
    internal int[] ParameterBlockDisplacements { get; }

    /// <summary>The optimizer-state bytes each rank keeps (by the weights the layout was made with).</summary>
    internal long[] StateBytes { get; }

    /// <summary>The chunks of each rank's gradient pass.</summary>
    internal int[] ChunkCounts { get; }

    /// <summary>Cuts <paramref name="space"/> into <paramref name="ranks"/> shards.</summary>
    /// <param name="space">The model.</param>
    /// <param name="stateBytesPerElement">Per tensor, the optimizer-state bytes of one element (m, s, s_max, master copy).</param>
    /// <param name="ranks">The number of ranks.</param>
    /// <exception cref="NotSupportedException">The model exceeds MPI's int counts of 64-byte blocks (128 GiB of parameters or of gradients).</exception>
    internal static ShardLayout Create(ParameterSpace space, IReadOnlyList<int> stateBytesPerElement, int ranks)
    {
        const long chunk = AdaBeliefOptimizer.GradientChunkElements;
        IReadOnlyList<SpaceTensor> tensors = space.Tensors;
        // The positions a cut may take: every tensor's chunk starts, then the end; with the state
        // bytes before each.
        var cutTensors = new List<int>();
        var cutOffsets = new List<long>();
        var weights = new List<long>();
        long total = 0;
        for (int t = 0; t < tensors.Count; t++)
        {
            for (long offset = 0; offset < tensors[t].Length; offset += chunk)
            {
                cutTensors.Add(t);
                cutOffsets.Add(offset);
                weights.Add(total);
                total = checked(total + Math.Min(chunk, tensors[t].Length - offset) * stateBytesPerElement[t]);
            }
        }
        cutTensors.Add(tensors.Count);
        cutOffsets.Add(0);
        weights.Add(total);

        var cuts = new int[ranks + 1];
        cuts[ranks] = weights.Count - 1;
        for (int r = 1; r < ranks; r++)
        {
            long target = (long)((Int128)total * r / ranks);
            int index = weights.BinarySearch(target);
            if (index < 0)
            {
                int above = ~index; // the first position past the target (the end position is always past it)
                index = above > 0 && target - weights[above - 1] <= weights[above] - target ? above - 1 : above;
            }
            cuts[r] = Math.Max(index, cuts[r - 1]);
        }

        if (space.ParameterBytes / ParameterSpace.Alignment > int.MaxValue || space.GradientLength * sizeof(float) / ParameterSpace.Alignment > int.MaxValue)
        {
            throw new NotSupportedException(
                $"The model has {space.ParameterBytes} bytes of parameters and {space.GradientLength * sizeof(float)} of gradients: the "
                + "collectives count 64-byte blocks in MPI's int, which reaches 128 GiB.");
        }
        var layout = new ShardLayout(ranks);
        for (int r = 0; r < ranks; r++)
        {
            (int firstTensor, long firstOffset) = (cutTensors[cuts[r]], cutOffsets[cuts[r]]);
            (int endTensor, long endOffset) = (cutTensors[cuts[r + 1]], cutOffsets[cuts[r + 1]]);
            var pieces = new List<ShardPiece>();
            for (int t = firstTensor; t <= endTensor && t < tensors.Count; t++)
            {
                long begin = t == firstTensor ? firstOffset : 0;
                long end = t == endTensor ? endOffset : tensors[t].Length;
                if (end > begin)
                {
                    pieces.Add(new ShardPiece(t, begin, end - begin));
                    layout.StateBytes[r] += (end - begin) * stateBytesPerElement[t];
                    layout.ChunkCounts[r] += checked((int)((end - begin + chunk - 1) / chunk));
                }
            }
            layout.Pieces[r] = [.. pieces];
            long gradientBegin = GradientPosition(space, firstTensor, firstOffset);
            long gradientCount = GradientPosition(space, endTensor, endOffset) - gradientBegin;
            long parameterBegin = ParameterPosition(space, firstTensor, firstOffset);
            long parameterBytes = ParameterPosition(space, endTensor, endOffset) - parameterBegin;
            layout.GradientStarts[r] = gradientBegin;
            layout.GradientCounts[r] = gradientCount;
            layout.ParameterBlockDisplacements[r] = (int)(parameterBegin / ParameterSpace.Alignment);
            layout.ParameterBlockCounts[r] = (int)(parameterBytes / ParameterSpace.Alignment);
        }
        return layout;
    }

    /// <summary>Element <paramref name="offset"/> of tensor <paramref name="tensor"/> in the gradient buffer (the end: its length).</summary>
    private static long GradientPosition(ParameterSpace space, int tensor, long offset) =>
        tensor == space.Tensors.Count ? space.GradientLength : space.Tensors[tensor].GradientOffset + offset;

    /// <summary>The byte of element <paramref name="offset"/> of tensor <paramref name="tensor"/> in the parameter buffer (the end: its size).</summary>
    private static long ParameterPosition(ParameterSpace space, int tensor, long offset) =>
        tensor == space.Tensors.Count
            ? space.ParameterBytes
            : space.Tensors[tensor].ParameterOffset + offset * TensorElementTypes.SizeOf(space.Tensors[tensor].ParameterType);
}
