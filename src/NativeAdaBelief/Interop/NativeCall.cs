using System.Runtime.InteropServices;

namespace NativeAdaBelief.Interop;

/// <summary>
/// Holds a reference on a handle for the duration of one native call, so that a concurrent
/// Dispose cannot free the native object under the call (the release then happens when the
/// call returns). Allocation-free: a ref struct used with <c>using</c>.
/// </summary>
internal readonly ref struct NativeCall
{
    private readonly SafeHandle _handle;

    /// <summary>Adds a reference, or throws <see cref="ObjectDisposedException"/> naming <paramref name="owner"/>'s type.</summary>
    internal NativeCall(SafeHandle handle, object owner)
    {
        ObjectDisposedException.ThrowIf(handle.IsClosed, owner);
        bool added = false;
        handle.DangerousAddRef(ref added);
        _handle = handle;
        Pointer = handle.DangerousGetHandle();
    }

    /// <summary>The native pointer, valid until <see cref="Dispose"/>.</summary>
    internal nint Pointer { get; }

    /// <summary>Releases the reference.</summary>
    internal void Dispose() => _handle.DangerousRelease();
}
