using System.Runtime.InteropServices;

namespace NativeAdaBelief.Interop;

/// <summary>Owns device memory from <c>nab_cuda_buffer_allocate</c>; frees it exactly once.</summary>
internal sealed class CudaBufferHandle : SafeHandle
{
    internal CudaBufferHandle() : base(0, ownsHandle: true)
    {
    }

    /// <summary>Takes ownership of a device address the native library just returned.</summary>
    internal void Attach(nint value) => SetHandle(value);

    /// <inheritdoc />
    public override bool IsInvalid => handle == 0;

    /// <inheritdoc />
    /// <remarks>
    /// May run from the finalizer at process exit, after the CUDA runtime has begun to unload:
    /// the native call then reports a device error instead of crashing, and the memory goes
    /// with the process.
    /// </remarks>
    protected override unsafe bool ReleaseHandle() =>
        NativeMethods.nab_cuda_buffer_free((void*)handle) == nab_status.NAB_STATUS_OK;
}
