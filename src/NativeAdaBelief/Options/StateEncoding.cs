namespace NativeAdaBelief;

/// <summary>How a group's tensors store their state m, s and s_max (<see cref="AdaBeliefOptions.StateEncoding"/>).</summary>
public enum StateEncoding
{
    /// <summary>float32: 4 bytes per element per array (8 for m and s). The default.</summary>
    Float32 = 0,

    /// <summary>
    /// One code byte per element and one float32 scale per <see cref="EightBitState.BlockSize"/>
    /// elements (about 2.03 bytes per element for m and s), for tensors of at least
    /// <see cref="EightBitState.MinElements"/> elements; smaller tensors of the group keep float32.
    /// Each step decodes the state, runs the same float32 arithmetic and stores the nearest codes
    /// of the new values (see <c>docs/eight-bit-state.md</c>).
    /// </summary>
    Blockwise8Bit = 1,
}
