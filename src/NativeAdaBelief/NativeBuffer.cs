namespace NativeAdaBelief;

/// <summary>
/// A zero-initialized float32 array in native memory, 64-byte aligned, allocated by the native
/// library: the fastest kind of memory to register with an optimizer (no pinning, aligned for
/// the SIMD kernels). It is <see cref="NativeBuffer{T}"/> of <see cref="float"/> under a shorter
/// name; read and write it through <see cref="NativeBuffer{T}.Span"/>.
/// </summary>
/// <remarks>
/// A span obtained from <see cref="NativeBuffer{T}.Span"/> is valid until the buffer is disposed;
/// do not keep one past that. Disposing a buffer that is still registered with an optimizer is
/// safe: the optimizer holds a reference, and the memory is freed only when the optimizer is
/// disposed or the tensor is pointed elsewhere.
/// </remarks>
public sealed class NativeBuffer : NativeBuffer<float>
{
    /// <summary>Allocates <paramref name="length"/> zeroed floats.</summary>
    /// <param name="length">Number of elements; at least 1.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="length"/> is less than 1.</exception>
    /// <exception cref="OutOfMemoryException">The native allocation failed.</exception>
    public NativeBuffer(long length)
        : base(length)
    {
    }

    /// <summary>Creates a buffer holding a copy of <paramref name="values"/>.</summary>
    /// <param name="values">The initial contents; at least one element.</param>
    /// <returns>The new buffer.</returns>
    public static new NativeBuffer FromSpan(ReadOnlySpan<float> values)
    {
        var buffer = new NativeBuffer(values.Length);
        values.CopyTo(buffer.Span);
        return buffer;
    }
}
