namespace NativeAdaBelief;

/// <summary>
/// Facts about <see cref="TensorElementType"/>s for code that lays tensors out in memory itself
/// (for example one flat buffer holding many tensors of different element types).
/// </summary>
public static class TensorElementTypes
{
    /// <summary>Bytes per element: 4 for <see cref="TensorElementType.Float32"/>, 2 for the 16-bit types.</summary>
    /// <param name="type">The element type.</param>
    /// <returns>The element's size in bytes.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="type"/> is not a defined value.</exception>
    public static int SizeOf(TensorElementType type)
    {
        ElementTypes.CheckDefined(type, nameof(type));
        return ElementTypes.Size(type);
    }

    /// <summary>
    /// The element type that <typeparamref name="T"/> holds: <see cref="float"/> is
    /// <see cref="TensorElementType.Float32"/>, <see cref="Half"/> <see cref="TensorElementType.Float16"/>,
    /// <see cref="BFloat16"/> <see cref="TensorElementType.BFloat16"/>.
    /// </summary>
    /// <typeparam name="T">A managed element type.</typeparam>
    /// <returns>Its <see cref="TensorElementType"/>.</returns>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is none of the three.</exception>
    public static TensorElementType Of<T>() where T : unmanaged => ElementTypes.Of<T>();
}
