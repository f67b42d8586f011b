namespace NativeAdaBelief.Distributed;

/// <summary>What the counts of a collective count.</summary>
internal enum CollectiveElement
{
    /// <summary>Bytes.</summary>
    Byte,

    /// <summary>32-bit integers.</summary>
    Int,

    /// <summary>float32 values.</summary>
    Float,

    /// <summary>float64 values.</summary>
    Double,

    /// <summary>
    /// 64-byte blocks: the unit of the parameter space (every tensor and every shard boundary is
    /// 64-byte aligned), so that MPI's int counts and displacements reach 128 GiB.
    /// </summary>
    Block,
}

/// <summary>Sizes of <see cref="CollectiveElement"/>s.</summary>
internal static class CollectiveElements
{
    /// <summary>Bytes per element.</summary>
    internal static int Size(CollectiveElement element) => element switch
    {
        CollectiveElement.Byte => 1,
        CollectiveElement.Int or CollectiveElement.Float => 4,
        CollectiveElement.Double => 8,
        _ => 64,
    };
}
