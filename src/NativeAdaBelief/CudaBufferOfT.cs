using NativeAdaBelief.Interop;

namespace NativeAdaBelief;

/// <summary>
/// A zero-initialized array of <typeparamref name="T"/> in the memory of one CUDA device,
/// allocated by the native library: parameters and gradients of any element type (in particular
/// 16-bit <see cref="Half"/> or <see cref="BFloat16"/>) for an optimizer created with
/// <see cref="DeviceType.Cuda"/>. Move data in and out with <see cref="Upload"/> and
/// <see cref="Download"/>. (<see cref="CudaBuffer"/> is <c>CudaBuffer&lt;float&gt;</c> under a
/// shorter name.)
/// </summary>
/// <typeparam name="T"><see cref="float"/>, <see cref="Half"/> or <see cref="BFloat16"/>; any
/// other type is refused with <see cref="NotSupportedException"/> when a buffer is created.</typeparam>
/// <remarks>
/// See <see cref="TensorBuffer{T}"/> for disposing a registered buffer.
/// </remarks>
public unsafe class CudaBuffer<T> : TensorBuffer<T> where T : unmanaged
{
    /// <summary>Allocates <paramref name="length"/> zeroed elements on device <paramref name="deviceOrdinal"/>.</summary>
    /// <param name="length">Number of elements; at least 1.</param>
    /// <param name="deviceOrdinal">The CUDA device (0 = the first).</param>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not float, Half or BFloat16, or the native library was built without CUDA.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="length"/> is less than 1.</exception>
    /// <exception cref="ArgumentException">There is no such device.</exception>
    /// <exception cref="OutOfMemoryException">The device is out of memory.</exception>
    /// <exception cref="NativeAdaBeliefException">A CUDA error (the message carries CUDA's text).</exception>
    public CudaBuffer(long length, int deviceOrdinal = 0)
        : base(Allocate(length, deviceOrdinal), length, DeviceType.Cuda, deviceOrdinal)
    {
    }

    private static CudaBufferHandle Allocate(long length, int deviceOrdinal)
    {
        TensorElementType type = ElementTypes.Of<T>();
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 1L);
        NativeRuntime.EnsureInitialized();
        var handle = new CudaBufferHandle();
        void* data;
        NativeStatus.Check(
            NativeMethods.nab_cuda_buffer_allocate(deviceOrdinal, ElementTypes.ToNative(type), (ulong)length, &data),
            nameof(deviceOrdinal));
        handle.Attach((nint)data);
        return handle;
    }

    /// <summary>Creates a device buffer holding a copy of <paramref name="values"/>.</summary>
    /// <param name="values">The initial contents; at least one element.</param>
    /// <param name="deviceOrdinal">The CUDA device.</param>
    /// <returns>The new buffer.</returns>
    public static CudaBuffer<T> FromSpan(ReadOnlySpan<T> values, int deviceOrdinal = 0)
    {
        var buffer = new CudaBuffer<T>(values.Length, deviceOrdinal);
        buffer.Upload(values);
        return buffer;
    }

    /// <summary>Copies <paramref name="source"/> into the buffer starting at element <paramref name="offset"/> (synchronous).</summary>
    /// <param name="source">Host values.</param>
    /// <param name="offset">First element of the buffer to write.</param>
    /// <exception cref="ArgumentOutOfRangeException">The range is not inside the buffer.</exception>
    /// <exception cref="ObjectDisposedException">The buffer was disposed.</exception>
    public void Upload(ReadOnlySpan<T> source, long offset = 0)
    {
        CheckRange(offset, source.Length);
        if (source.IsEmpty)
        {
            return;
        }
        fixed (T* host = source)
        {
            NativeStatus.Check(NativeMethods.nab_cuda_copy_to_device((T*)Address + offset, host, (ulong)source.Length * (ulong)sizeof(T)));
        }
    }

    /// <summary>Copies elements starting at <paramref name="offset"/> into <paramref name="destination"/> (synchronous).</summary>
    /// <param name="destination">Host memory to fill.</param>
    /// <param name="offset">First element of the buffer to read.</param>
    /// <exception cref="ArgumentOutOfRangeException">The range is not inside the buffer.</exception>
    /// <exception cref="ObjectDisposedException">The buffer was disposed.</exception>
    public void Download(Span<T> destination, long offset = 0)
    {
        CheckRange(offset, destination.Length);
        if (destination.IsEmpty)
        {
            return;
        }
        fixed (T* host = destination)
        {
            NativeStatus.Check(NativeMethods.nab_cuda_copy_to_host(host, (T*)Address + offset, (ulong)destination.Length * (ulong)sizeof(T)));
        }
    }

    /// <summary>The whole buffer copied to a new array (buffers of at most <see cref="int.MaxValue"/> elements).</summary>
    /// <returns>The values.</returns>
    /// <exception cref="NotSupportedException">The buffer has more elements than an array can hold.</exception>
    public T[] ToArray()
    {
        if (Length > int.MaxValue)
        {
            throw new NotSupportedException($"This buffer has {Length} elements, more than an array can hold; use Download.");
        }
        var values = new T[Length];
        Download(values);
        return values;
    }

    private void CheckRange(long offset, int count)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if (offset > Length - count)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), offset,
                $"The range [{offset}, {offset + count}) is not inside the buffer of {Length} elements.");
        }
    }
}
