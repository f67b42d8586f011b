namespace NativeAdaBelief;

/// <summary>
/// Which part of a state array a checkpoint entry holds: float32 values (every array of a tensor
/// with float32 state, and every master copy), or, for m, s and s_max of a tensor with 8-bit
/// state (format version 3), its codes (U8) or its block scales (F32).
/// </summary>
internal enum StatePart
{
    Values,
    Codes,
    Scales,
}

/// <summary>
/// One entry's place in a checkpoint's data section: tensor <paramref name="Tensor"/>'s array
/// <paramref name="Kind"/> (its <paramref name="Part"/>), <paramref name="Length"/> elements from
/// byte <paramref name="Begin"/>.
/// </summary>
internal readonly record struct CheckpointSlot(int Tensor, StateKind Kind, StatePart Part, long Begin, long Length)
{
    /// <summary>Bytes per element: 1 for codes, 4 for float32 values and scales.</summary>
    internal long ElementBytes => Part == StatePart.Codes ? 1 : sizeof(float);

    /// <summary>The byte after the entry.</summary>
    internal long End => Begin + Length * ElementBytes;
}
