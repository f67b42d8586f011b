using NativeAdaBelief.Interop;

namespace NativeAdaBelief;

/// <summary>
/// A zero-initialized array of <typeparamref name="T"/> in native host memory, 64-byte aligned,
/// allocated by the native library: the fastest memory to register with a CPU optimizer (no
/// pinning, aligned for the SIMD kernels; on Linux, a buffer of 2 MiB or more on transparent
/// huge pages, like the optimizer's own state), for tensors of any element type. Read and write it
/// through <see cref="Span"/>. (<see cref="NativeBuffer"/> is <c>NativeBuffer&lt;float&gt;</c>
/// under a shorter name.)
/// </summary>
/// <typeparam name="T"><see cref="float"/>, <see cref="Half"/> or <see cref="BFloat16"/>; any
/// other type is refused with <see cref="NotSupportedException"/> when a buffer is created.</typeparam>
/// <remarks>
/// A span obtained from <see cref="Span"/> is valid until the buffer is disposed; do not keep
/// one past that. See <see cref="TensorBuffer{T}"/> for disposing a registered buffer.
/// </remarks>
public class NativeBuffer<T> : TensorBuffer<T> where T : unmanaged
{
    /// <summary>Allocates <paramref name="length"/> zeroed elements.</summary>
    /// <param name="length">Number of elements; at least 1.</param>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not float, Half or BFloat16.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="length"/> is less than 1.</exception>
    /// <exception cref="OutOfMemoryException">The native allocation failed.</exception>
    public NativeBuffer(long length)
        : base(Allocate(length), length, DeviceType.Cpu, deviceOrdinal: 0)
    {
    }

    private static unsafe NativeBufferHandle Allocate(long length)
    {
        TensorElementType type = ElementTypes.Of<T>();
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 1L);
        NativeRuntime.EnsureInitialized();
        var handle = new NativeBufferHandle();
        void* data;
        NativeStatus.Check(NativeMethods.nab_buffer_allocate(ElementTypes.ToNative(type), (ulong)length, &data), nameof(length));
        handle.Attach((nint)data);
        return handle;
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

    /// <summary>The whole buffer as a span (buffers of more than <see cref="int.MaxValue"/> elements: use <see cref="AsSpan"/>).</summary>
    /// <exception cref="ObjectDisposedException">The buffer was disposed.</exception>
    /// <exception cref="NotSupportedException">The buffer has more than <see cref="int.MaxValue"/> elements.</exception>
    public unsafe Span<T> Span
    {
        get
        {
            nint address = Address;
            if (Length > int.MaxValue)
            {
                throw new NotSupportedException(
                    $"This buffer has {Length} elements, more than a Span<{typeof(T).Name}> can hold; use AsSpan(start, length).");
            }
            return new Span<T>((T*)address, (int)Length);
        }
    }

    /// <summary>A window of the buffer.</summary>
    /// <param name="start">First element.</param>
    /// <param name="length">Number of elements.</param>
    /// <returns>The span.</returns>
    /// <exception cref="ObjectDisposedException">The buffer was disposed.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The window is not inside the buffer.</exception>
    public unsafe Span<T> AsSpan(long start, int length)
    {
        nint address = Address;
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (start > Length - length)
        {
            throw new ArgumentOutOfRangeException(nameof(length), length,
                $"The window [{start}, {start + length}) is not inside the buffer of {Length} elements.");
        }
        return new Span<T>((T*)address + start, length);
    }
}
