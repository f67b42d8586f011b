using System.Runtime.InteropServices;
using NativeAdaBelief.Interop;

namespace NativeAdaBelief;

/// <summary>
/// An array of <typeparamref name="T"/> that the native library allocated for tensors: host
/// memory (<see cref="NativeBuffer{T}"/>) or the memory of one CUDA device
/// (<see cref="CudaBuffer{T}"/>). What an optimizer needs to register one: its length, element
/// type, device and address, and a reference that keeps the memory alive while registered.
/// </summary>
/// <typeparam name="T"><see cref="float"/>, <see cref="Half"/> or <see cref="BFloat16"/>.</typeparam>
/// <remarks>
/// Disposing a buffer that is still registered with an optimizer is safe: the buffer behaves as
/// disposed from then on (<see cref="IsDisposed"/>, <see cref="ObjectDisposedException"/> from
/// every member), while the optimizer's reference keeps the memory itself alive until the
/// optimizer is disposed or the tensor is pointed elsewhere.
/// </remarks>
public abstract class TensorBuffer<T> : IDisposable where T : unmanaged
{
    private readonly SafeHandle _handle;
    private volatile bool _disposed;

    /// <summary>Takes ownership of <paramref name="handle"/>, which holds <paramref name="length"/> elements.</summary>
    private protected TensorBuffer(SafeHandle handle, long length, DeviceType device, int deviceOrdinal)
    {
        _handle = handle;
        Length = length;
        ElementType = ElementTypes.Of<T>();
        Device = device;
        DeviceOrdinal = deviceOrdinal;
    }

    /// <summary>Number of elements.</summary>
    public long Length { get; }

    /// <summary>The element type, as the optimizer sees it.</summary>
    public TensorElementType ElementType { get; }

    /// <summary>Where the memory is: host memory (<see cref="DeviceType.Cpu"/>) or a CUDA device's.</summary>
    public DeviceType Device { get; }

    /// <summary>The CUDA device the memory belongs to (0 for host memory).</summary>
    public int DeviceOrdinal { get; }

    /// <summary>True once <see cref="Dispose"/> has been called (also while an optimizer still holds the memory).</summary>
    public bool IsDisposed => _disposed;

    /// <summary>The address of the first element (for handing to other native or CUDA code).</summary>
    /// <exception cref="ObjectDisposedException">The buffer was disposed.</exception>
    public nint Address
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _handle.DangerousGetHandle();
        }
    }

    /// <summary>Takes a reference on the memory for an optimizer that registers this buffer.</summary>
    /// <exception cref="ObjectDisposedException">The buffer was disposed.</exception>
    internal SafeHandle AddReference()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        bool added = false;
        _handle.DangerousAddRef(ref added);
        return _handle;
    }

    /// <summary>
    /// Frees the memory (or, while an optimizer still holds it, lets that optimizer free it
    /// later); the buffer is unusable from now on either way. Idempotent.
    /// </summary>
    public void Dispose()
    {
        _disposed = true;
        _handle.Dispose();
        GC.SuppressFinalize(this);
    }
}
