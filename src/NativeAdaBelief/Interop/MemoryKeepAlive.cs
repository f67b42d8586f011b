using System.Buffers;
using System.Runtime.InteropServices;

namespace NativeAdaBelief.Interop;

/// <summary>
/// What keeps one registered buffer alive while the native optimizer holds its address: a pin
/// on managed memory, or a reference on a <see cref="NativeBuffer"/>'s handle (so disposing the
/// buffer early only marks it; the memory is freed when the optimizer lets go). Raw pointers
/// need nothing: their owner is responsible for them.
/// </summary>
internal sealed class MemoryKeepAlive
{
    private MemoryHandle _pin;
    private SafeHandle? _referenced;

    private MemoryKeepAlive()
    {
    }

    /// <summary>Nothing to keep alive (no buffer, or a raw pointer).</summary>
    internal static MemoryKeepAlive None { get; } = new();

    /// <summary>Keeps managed memory pinned until released.</summary>
    internal static MemoryKeepAlive Pinned(MemoryHandle pin) => new() { _pin = pin };

    /// <summary>Holds a reference on a native buffer's handle (already added by the caller) until released.</summary>
    internal static MemoryKeepAlive Referenced(SafeHandle addRefed) => new() { _referenced = addRefed };

    /// <summary>Unpins or drops the reference, exactly once: later calls do nothing.</summary>
    internal void Release()
    {
        MemoryHandle pin = _pin;
        SafeHandle? referenced = _referenced;
        _pin = default;
        _referenced = null;
        pin.Dispose();
        referenced?.DangerousRelease();
    }
}
