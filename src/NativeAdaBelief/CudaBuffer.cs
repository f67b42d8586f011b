using NativeAdaBelief.Interop;

namespace NativeAdaBelief;

/// <summary>
/// A zero-initialized float32 array in the memory of one CUDA device, allocated by the native
/// library: parameters and gradients for an optimizer created with
/// <see cref="DeviceType.Cuda"/>, for callers without an engine of their own. Move data in and
/// out with <see cref="Upload"/> and <see cref="Download"/>.
/// </summary>
/// <remarks>
/// Disposing a buffer that is still registered with an optimizer is safe: the optimizer holds a
/// reference, and the device memory is freed when the optimizer lets go of it.
/// </remarks>
public sealed unsafe class CudaBuffer : IDisposable
{
    private readonly CudaBufferHandle _handle;

    /// <summary>Allocates <paramref name="length"/> zeroed floats on device <paramref name="deviceOrdinal"/>.</summary>
    /// <param name="length">Number of elements; at least 1.</param>
    /// <param name="deviceOrdinal">The CUDA device (0 = the first).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="length"/> is less than 1.</exception>
    /// <exception cref="ArgumentException">There is no such device.</exception>
    /// <exception cref="NotSupportedException">The native library was built without CUDA.</exception>
    /// <exception cref="OutOfMemoryException">The device is out of memory.</exception>
    /// <exception cref="NativeAdaBeliefException">A CUDA error (the message carries CUDA's text).</exception>
    public CudaBuffer(long length, int deviceOrdinal = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 1L);
        NativeRuntime.EnsureInitialized();
        _handle = new CudaBufferHandle();
        float* data;
        NativeStatus.Check(NativeMethods.nab_cuda_buffer_allocate(deviceOrdinal, (ulong)length, &data), nameof(deviceOrdinal));
        _handle.Attach((nint)data);
        Length = length;
        DeviceOrdinal = deviceOrdinal;
    }

    /// <summary>Creates a device buffer holding a copy of <paramref name="values"/>.</summary>
    /// <param name="values">The initial contents; at least one element.</param>
    /// <param name="deviceOrdinal">The CUDA device.</param>
    /// <returns>The new buffer.</returns>
    public static CudaBuffer FromSpan(ReadOnlySpan<float> values, int deviceOrdinal = 0)
    {
        var buffer = new CudaBuffer(values.Length, deviceOrdinal);
        buffer.Upload(values);
        return buffer;
    }

    /// <summary>Number of float elements.</summary>
    public long Length { get; }

    /// <summary>The CUDA device the memory belongs to.</summary>
    public int DeviceOrdinal { get; }

    /// <summary>True once <see cref="Dispose"/> has been called.</summary>
    public bool IsDisposed => _handle.IsClosed;

    /// <summary>The device address of the first element (for handing to other CUDA code).</summary>
    /// <exception cref="ObjectDisposedException">The buffer was disposed.</exception>
    public nint Address
    {
        get
        {
            ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
            return _handle.DangerousGetHandle();
        }
    }

    /// <summary>Copies <paramref name="source"/> into the buffer starting at element <paramref name="offset"/> (synchronous).</summary>
    /// <param name="source">Host values.</param>
    /// <param name="offset">First element of the buffer to write.</param>
    /// <exception cref="ArgumentOutOfRangeException">The range is not inside the buffer.</exception>
    /// <exception cref="ObjectDisposedException">The buffer was disposed.</exception>
    public void Upload(ReadOnlySpan<float> source, long offset = 0)
    {
        CheckRange(offset, source.Length);
        if (source.IsEmpty)
        {
            return;
        }
        fixed (float* host = source)
        {
            NativeStatus.Check(NativeMethods.nab_cuda_copy_to_device((float*)Address + offset, host, (ulong)source.Length));
        }
    }

    /// <summary>Copies elements starting at <paramref name="offset"/> into <paramref name="destination"/> (synchronous).</summary>
    /// <param name="destination">Host memory to fill.</param>
    /// <param name="offset">First element of the buffer to read.</param>
    /// <exception cref="ArgumentOutOfRangeException">The range is not inside the buffer.</exception>
    /// <exception cref="ObjectDisposedException">The buffer was disposed.</exception>
    public void Download(Span<float> destination, long offset = 0)
    {
        CheckRange(offset, destination.Length);
        if (destination.IsEmpty)
        {
            return;
        }
        fixed (float* host = destination)
        {
            NativeStatus.Check(NativeMethods.nab_cuda_copy_to_host(host, (float*)Address + offset, (ulong)destination.Length));
        }
    }

    /// <summary>The whole buffer copied to a new array (buffers of at most <see cref="int.MaxValue"/> elements).</summary>
    /// <returns>The values.</returns>
    public float[] ToArray()
    {
        if (Length > int.MaxValue)
        {
            throw new NotSupportedException($"This buffer has {Length} elements, more than an array can hold; use Download.");
        }
        var values = new float[Length];
        Download(values);
        return values;
    }

    private void CheckRange(long offset, int count)
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if (offset > Length - count)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), offset,
                $"The range [{offset}, {offset + count}) is not inside the buffer of {Length} elements.");
        }
    }

    /// <summary>Takes a reference on the handle for an optimizer that registers this buffer.</summary>
    internal CudaBufferHandle AddReference()
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        bool added = false;
        _handle.DangerousAddRef(ref added);
        return _handle;
    }

    /// <summary>Frees the device memory (or, while an optimizer still holds it, lets that optimizer free it later). Idempotent.</summary>
    public void Dispose() => _handle.Dispose();
}
