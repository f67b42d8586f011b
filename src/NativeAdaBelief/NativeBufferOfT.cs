using NativeAdaBelief.Interop;

namespace NativeAdaBelief;

/// <summary>
/// A zero-initialized array of <typeparamref name="T"/> in native memory, 64-byte aligned,
/// allocated by the native library: host memory for tensors of any element type, in particular
/// 16-bit parameters and gradients (<see cref="Half"/> or <see cref="BFloat16"/>). Read and
/// write it through <see cref="Span"/>. (<see cref="NativeBuffer"/> is <c>NativeBuffer&lt;float&gt;</c>
/// under a shorter name.)
/// </summary>
/// <typeparam name="T"><see cref="float"/>, <see cref="Half"/> or <see cref="BFloat16"/>; any
/// other type is refused with <see cref="NotSupportedException"/> when a buffer is created.</typeparam>
/// <remarks>
/// A span obtained from <see cref="Span"/> is valid until the buffer is disposed; do not keep
/// one past that. Disposing a buffer that is still registered with an optimizer is safe: the
/// optimizer holds a reference, and the memory is freed only when the optimizer is disposed or
/// the tensor is pointed elsewhere.
/// </remarks>
public unsafe class NativeBuffer<T> : IDisposable where T : unmanaged
{
    private readonly NativeBufferHandle _handle;

    /// <summary>Allocates <paramref name="length"/> zeroed elements.</summary>
    /// <param name="length">Number of elements; at least 1.</param>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not float, Half or BFloat16.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="length"/> is less than 1.</exception>
    /// <exception cref="OutOfMemoryException">The native allocation failed.</exception>
    public NativeBuffer(long length)
    {
        ElementType = ElementTypes.Of<T>();
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 1L);
        NativeRuntime.EnsureInitialized();
        _handle = new NativeBufferHandle();
        void* data;
        NativeStatus.Check(NativeMethods.nab_buffer_allocate_typed(ElementTypes.ToNative(ElementType), (ulong)length, &data), nameof(length));
        _handle.Attach((nint)data);
        Length = length;
    }

    /// <summary>Creates a buffer holding a copy of <paramref name="values"/>.</summary>
    /// <param name="values">The initial contents; at least one element.</param>
    /// <returns>The new buffer.</returns>
    public static NativeBuffer<T> FromSpan(ReadOnlySpan<T> values)
    {
        var buffer = new NativeBuffer<T>(values.Length);
        values.CopyTo(buffer.Span);
        return buffer;
    }

    /// <summary>Number of elements.</summary>
    public long Length { get; }

    /// <summary>The element type, as the optimizer sees it.</summary>
    public TensorElementType ElementType { get; }

    /// <summary>True once <see cref="Dispose"/> has been called.</summary>
    public bool IsDisposed => _handle.IsClosed;

    /// <summary>The whole buffer as a span (buffers of more than <see cref="int.MaxValue"/> elements: use <see cref="AsSpan"/>).</summary>
    /// <exception cref="ObjectDisposedException">The buffer was disposed.</exception>
    /// <exception cref="NotSupportedException">The buffer has more than <see cref="int.MaxValue"/> elements.</exception>
    public Span<T> Span
    {
        get
        {
            if (Length > int.MaxValue)
            {
                throw new NotSupportedException(
                    $"This buffer has {Length} elements, more than a Span<{typeof(T).Name}> can hold; use AsSpan(start, length).");
            }
            return new Span<T>((T*)Address, (int)Length);
        }
    }

    /// <summary>A window of the buffer.</summary>
    /// <param name="start">First element.</param>
    /// <param name="length">Number of elements.</param>
    /// <returns>The span.</returns>
    /// <exception cref="ObjectDisposedException">The buffer was disposed.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The window is not inside the buffer.</exception>
    public Span<T> AsSpan(long start, int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (start > Length - length)
        {
            throw new ArgumentOutOfRangeException(nameof(length), length,
                $"The window [{start}, {start + length}) is not inside the buffer of {Length} elements.");
        }
        return new Span<T>((T*)Address + start, length);
    }

    /// <summary>The address of the first element (for handing to other native code).</summary>
    /// <exception cref="ObjectDisposedException">The buffer was disposed.</exception>
    public nint Address
    {
        get
        {
            ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
            return _handle.DangerousGetHandle();
        }
    }

    /// <summary>Takes a reference on the handle for an optimizer that registers this buffer.</summary>
    internal NativeBufferHandle AddReference()
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        bool added = false;
        _handle.DangerousAddRef(ref added);
        return _handle;
    }

    /// <summary>Frees the memory (or, while an optimizer still holds it, lets that optimizer free it later). Idempotent.</summary>
    public void Dispose() => _handle.Dispose();
}
