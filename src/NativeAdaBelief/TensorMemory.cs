using System.Buffers;
using NativeAdaBelief.Interop;

namespace NativeAdaBelief;

/// <summary>
/// Turns the three kinds of memory a tensor can be registered with (native buffers, managed
/// memory, raw pointers) into a pointer plus what keeps it alive, with the checks they share.
/// </summary>
internal static unsafe class TensorMemory
{
    /// <summary>A native buffer: its address, with a reference on its handle.</summary>
    internal static float* From(NativeBuffer buffer, long expectedLength, string paramName, out MemoryKeepAlive keepAlive)
    {
        ArgumentNullException.ThrowIfNull(buffer, paramName);
        CheckLength(buffer.Length, expectedLength, paramName);
        NativeBufferHandle handle = buffer.AddReference();
        keepAlive = MemoryKeepAlive.Referenced(handle);
        return (float*)handle.DangerousGetHandle();
    }

    /// <summary>A CUDA buffer: its device address, with a reference on its handle.</summary>
    internal static float* From(CudaBuffer buffer, long expectedLength, string paramName, out MemoryKeepAlive keepAlive)
    {
        ArgumentNullException.ThrowIfNull(buffer, paramName);
        CheckLength(buffer.Length, expectedLength, paramName);
        CudaBufferHandle handle = buffer.AddReference();
        keepAlive = MemoryKeepAlive.Referenced(handle);
        return (float*)handle.DangerousGetHandle();
    }

    /// <summary>Managed memory: pinned until the keep-alive is released.</summary>
    internal static float* From(Memory<float> memory, long expectedLength, string paramName, out MemoryKeepAlive keepAlive)
    {
        CheckLength(memory.Length, expectedLength, paramName);
        MemoryHandle pin = memory.Pin();
        keepAlive = MemoryKeepAlive.Pinned(pin);
        return (float*)pin.Pointer;
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

    /// <summary>Fails when a gradient range overlaps the parameter range.</summary>
    internal static void CheckNoOverlap(float* parameters, float* gradients, long length)
    {
        if (gradients == null)
        {
            return;
        }
        nuint p = (nuint)parameters, g = (nuint)gradients, bytes = (nuint)length * sizeof(float);
        if (p < g + bytes && g < p + bytes)
        {
            throw new ArgumentException(
                $"The gradient buffer (0x{g:x}) overlaps the parameter buffer (0x{p:x}, {length} elements): they must be distinct memory.",
                "gradients");
        }
    }
}
