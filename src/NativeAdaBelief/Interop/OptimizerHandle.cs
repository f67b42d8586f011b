using System.Runtime.InteropServices;

namespace NativeAdaBelief.Interop;

/// <summary>
/// Owns one native <c>nab_optimizer</c> and everything that keeps the memory registered with it
/// alive (pinned managed memory, references on native buffers). Releasing it destroys the native
/// optimizer first and only then lets that memory go, so the native side can never write to
/// memory the GC moved or freed, whether the owner disposed it or the finalizer did.
/// </summary>
internal sealed class OptimizerHandle : SafeHandle
{
    // Indexed by tensor id: what keeps each tensor's parameters and gradients alive.
    private readonly List<MemoryKeepAlive> _parameters = [];
    private readonly List<MemoryKeepAlive> _gradients = [];

    internal OptimizerHandle() : base(0, ownsHandle: true)
    {
    }

    /// <summary>Takes ownership of a handle value the native library just returned.</summary>
    internal void Attach(nint value) => SetHandle(value);

    /// <inheritdoc />
    public override bool IsInvalid => handle == 0;

    /// <summary>Records what keeps a newly added tensor's memory alive (its id is the next index).</summary>
    internal void AddTensor(MemoryKeepAlive parameters, MemoryKeepAlive gradients)
    {
        _parameters.Add(parameters);
        _gradients.Add(gradients);
    }

    /// <summary>Replaces a tensor's parameter keep-alive, releasing the previous one.</summary>
    internal void ReplaceParameters(int tensorId, MemoryKeepAlive keepAlive)
    {
        MemoryKeepAlive old = _parameters[tensorId];
        _parameters[tensorId] = keepAlive;
        old.Release();
    }

    /// <summary>Replaces a tensor's gradient keep-alive, releasing the previous one.</summary>
    internal void ReplaceGradients(int tensorId, MemoryKeepAlive keepAlive)
    {
        MemoryKeepAlive old = _gradients[tensorId];
        _gradients[tensorId] = keepAlive;
        old.Release();
    }

    /// <inheritdoc />
    protected override bool ReleaseHandle()
    {
        nab_status status = NativeMethods.nab_optimizer_destroy(handle);
        if (status != nab_status.NAB_STATUS_OK)
        {
            // Cannot happen through the wrapper (every call holds a reference on this handle, so
            // release waits for it); keep the memory pinned rather than risk a write to it.
            return false;
        }
        foreach (MemoryKeepAlive k in _parameters)
        {
            k.Release();
        }
        foreach (MemoryKeepAlive k in _gradients)
        {
            k.Release();
        }
        _parameters.Clear();
        _gradients.Clear();
        return true;
    }
}
