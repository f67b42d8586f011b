namespace NativeAdaBelief;

/// <summary>
/// A zero-initialized float32 array in the memory of one CUDA device, allocated by the native
/// library: parameters and gradients for an optimizer created with
/// <see cref="DeviceType.Cuda"/>, for callers without an engine of their own. It is
/// <see cref="CudaBuffer{T}"/> of <see cref="float"/> under a shorter name; move data in and out
/// with <see cref="CudaBuffer{T}.Upload"/> and <see cref="CudaBuffer{T}.Download"/>.
/// </summary>
/// <remarks>
/// Disposing a buffer that is still registered with an optimizer is safe: the optimizer holds a
/// reference, and the device memory is freed when the optimizer lets go of it.
/// </remarks>
public sealed class CudaBuffer : CudaBuffer<float>
{
    /// <summary>Allocates <paramref name="length"/> zeroed floats on device <paramref name="deviceOrdinal"/>.</summary>
    /// <param name="length">Number of elements; at least 1.</param>
    /// <param name="deviceOrdinal">The CUDA device (0 = the first).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="length"/> is less than 1.</exception>
    /// <exception cref="ArgumentException">There is no such device.</exception>
    /// <exception cref="NotSupportedException">The native library was built without CUDA.</exception>
    /// <exception cref="OutOfMemoryException">The device is out of memory.</exception>
    /// <exception cref="NativeAdaBeliefException">A CUDA error (the message carries CUDA's text).</exception>
    public CudaBuffer(long length, int deviceOrdinal = 0)
        : base(length, deviceOrdinal)
    {
    }

    /// <summary>Creates a device buffer holding a copy of <paramref name="values"/>.</summary>
    /// <param name="values">The initial contents; at least one element.</param>
    /// <param name="deviceOrdinal">The CUDA device.</param>
    /// <returns>The new buffer.</returns>
    public static new CudaBuffer FromSpan(ReadOnlySpan<float> values, int deviceOrdinal = 0)
    {
        var buffer = new CudaBuffer(values.Length, deviceOrdinal);
        buffer.Upload(values);
        return buffer;
    }
}
