using System.Buffers;
using System.Runtime.InteropServices;
using NativeAdaBelief.Interop;

namespace NativeAdaBelief;

/// <summary>
/// Takes one buffer's address for a tensor (checking its length against
/// <paramref name="expectedLength"/> when that is not negative) and what keeps the memory alive:
/// the step every registration and every replacement of a tensor's memory shares.
/// </summary>
internal unsafe delegate void* Acquisition(long expectedLength, out MemoryKeepAlive keepAlive);

/// <summary>
/// Turns the kinds of memory a tensor can be registered with (buffers the native library
/// allocated, managed memory) into an address plus what keeps it alive, with the length check
/// they share. (Raw addresses need neither; every other rule, such as overlaps, is the native
/// library's.)
/// </summary>
internal static unsafe class TensorMemory
{
    /// <summary>A buffer the native library allocated, which must be on <paramref name="optimizer"/>'s device.</summary>
    internal static Acquisition Acquire<T>(AdaBeliefOptimizer optimizer, TensorBuffer<T> buffer, string paramName)
        where T : unmanaged
    {
        if (buffer.Device != optimizer.Device)
        {
            throw new ArgumentException(
                $"{paramName} is {(buffer.Device == DeviceType.Cuda ? "CUDA device" : "host")} memory, but the optimizer runs on "
                + $"{optimizer.Device}: register {(optimizer.Device == DeviceType.Cuda ? "CudaBuffer" : "NativeBuffer")}s with it.",
                paramName);
        }
        return (long n, out MemoryKeepAlive k) => From(buffer, n, paramName, out k);
    }

    /// <summary>Managed memory, pinned while registered.</summary>
    internal static Acquisition Acquire<T>(Memory<T> memory, string paramName)
        where T : unmanaged =>
        (long n, out MemoryKeepAlive k) => From(memory, n, paramName, out k);

    /// <summary>A native or CUDA buffer: its address, with a reference on its memory.</summary>
    private static void* From<T>(TensorBuffer<T> buffer, long expectedLength, string paramName, out MemoryKeepAlive keepAlive)
        where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(buffer, paramName);
        CheckLength(buffer.Length, expectedLength, paramName);
        SafeHandle handle = buffer.AddReference();
        keepAlive = MemoryKeepAlive.Referenced(handle);
        return (void*)handle.DangerousGetHandle();
    }

    /// <summary>Managed memory: pinned until the keep-alive is released.</summary>
    private static void* From<T>(Memory<T> memory, long expectedLength, string paramName, out MemoryKeepAlive keepAlive)
        where T : unmanaged
    {
        CheckLength(memory.Length, expectedLength, paramName);
        MemoryHandle pin = memory.Pin();
        keepAlive = MemoryKeepAlive.Pinned(pin);
        return pin.Pointer;
    }

    /// <summary>Fails unless a buffer has the tensor's element count (when one is expected).</summary>
    internal static void CheckLength(long actual, long expected, string paramName)
    {
        if (actual < 1)
        {
            throw new ArgumentException($"{paramName} is empty: a tensor needs at least one element.", paramName);
        }
        if (expected >= 0 && actual != expected)
        {
            throw new ArgumentException(
                $"{paramName} has {actual} elements but the tensor has {expected}: the lengths must match.", paramName);
        }
    }
}
