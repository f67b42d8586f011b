using System.Buffers;
using NativeAdaBelief.Interop;

namespace NativeAdaBelief;

/// <summary>
/// Turns the kinds of memory a tensor can be registered with (native buffers, device buffers,
/// managed memory, raw pointers) into a pointer plus what keeps it alive, with the checks they
/// share.
/// </summary>
internal static unsafe class TensorMemory
{
    /// <summary>A native buffer (of any element type): its address, with a reference on its handle.</summary>
    internal static void* From<T>(NativeBuffer<T> buffer, long expectedLength, string paramName, out MemoryKeepAlive keepAlive)
        where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(buffer, paramName);
        CheckLength(buffer.Length, expectedLength, paramName);
        NativeBufferHandle handle = buffer.AddReference();
        keepAlive = MemoryKeepAlive.Referenced(handle);
        return (void*)handle.DangerousGetHandle();
    }

    /// <summary>A CUDA buffer (of any element type): its device address, with a reference on its handle.</summary>
    internal static void* From<T>(CudaBuffer<T> buffer, long expectedLength, string paramName, out MemoryKeepAlive keepAlive)
        where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(buffer, paramName);
        CheckLength(buffer.Length, expectedLength, paramName);
        CudaBufferHandle handle = buffer.AddReference();
        keepAlive = MemoryKeepAlive.Referenced(handle);
        return (void*)handle.DangerousGetHandle();
    }

    /// <summary>Managed memory: pinned until the keep-alive is released.</summary>
    internal static void* From<T>(Memory<T> memory, long expectedLength, string paramName, out MemoryKeepAlive keepAlive)
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

    /// <summary>Fails when a gradient range overlaps the parameter range (each measured in its own element type's bytes).</summary>
    internal static void CheckNoOverlap(void* parameters, TensorElementType parameterType, void* gradients, TensorElementType gradientType, long length)
    {
        if (gradients == null)
        {
            return;
        }
        nuint p = (nuint)parameters, g = (nuint)gradients;
        nuint parameterBytes = (nuint)length * (nuint)ElementTypes.Size(parameterType);
        nuint gradientBytes = (nuint)length * (nuint)ElementTypes.Size(gradientType);
        if (p < g + gradientBytes && g < p + parameterBytes)
        {
            throw new ArgumentException(
                $"The gradient buffer (0x{g:x}) overlaps the parameter buffer (0x{p:x}, {length} elements): they must be distinct memory.",
                "gradients");
        }
    }
}
