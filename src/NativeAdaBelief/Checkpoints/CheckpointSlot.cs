namespace NativeAdaBelief;

/// <summary>
/// One state array's place in a checkpoint's data section: tensor <paramref name="Tensor"/>'s
/// array <paramref name="Kind"/>, <paramref name="Length"/> float32 values from byte
/// <paramref name="Begin"/> (every state array is float32, the master copy included).
/// </summary>
internal readonly record struct CheckpointSlot(int Tensor, StateKind Kind, long Begin, long Length)
{
    /// <summary>The byte after the array.</summary>
    internal long End => Begin + Length * sizeof(float);
}
