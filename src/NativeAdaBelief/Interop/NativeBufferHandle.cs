using System.Runtime.InteropServices;

namespace NativeAdaBelief.Interop;

/// <summary>Owns one array from <c>nab_buffer_allocate</c>; frees it with <c>nab_buffer_free</c>.</summary>
internal sealed class NativeBufferHandle : SafeHandle
{
    internal NativeBufferHandle() : base(0, ownsHandle: true)
    {
    }

    /// <summary>Takes ownership of a handle value the native library just returned.</summary>
    internal void Attach(nint value) => SetHandle(value);

    /// <inheritdoc />
    public override bool IsInvalid => handle == 0;

    /// <inheritdoc />
    protected override unsafe bool ReleaseHandle() =>
        NativeMethods.nab_buffer_free((void*)handle) == nab_status.NAB_STATUS_OK;
}
