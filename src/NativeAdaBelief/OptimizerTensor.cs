using NativeAdaBelief.Interop;

namespace NativeAdaBelief;

/// <summary>
/// One tensor registered with an optimizer: its parameters and gradients (caller-owned memory)
/// and the state the optimizer owns for it (m, s, s_max and its own step count t).
/// </summary>
/// <remarks>
/// A tensor whose gradients are absent (<see cref="ClearGradients"/>) is skipped by
/// <see cref="AdaBeliefOptimizer.Step"/>: no decay, no moment update, step count unchanged.
/// Point it at gradients again for the steps where it has one.
/// </remarks>
public sealed class OptimizerTensor
{
    internal OptimizerTensor(ParameterGroup group, int id, long length)
    {
        Group = group;
        Id = id;
        Length = length;
    }

    /// <summary>The group whose hyper-parameters apply.</summary>
    public ParameterGroup Group { get; }

    /// <summary>The optimizer this tensor is registered with.</summary>
    public AdaBeliefOptimizer Optimizer => Group.Optimizer;

    /// <summary>The tensor's id: its index in <see cref="AdaBeliefOptimizer.Tensors"/>.</summary>
    public int Id { get; }

    /// <summary>Number of float elements.</summary>
    public long Length { get; }

    /// <summary>
    /// How many steps this tensor has taken (t, which drives its bias corrections). Settable
    /// (≥ 0), e.g. to restore a run from another tool's state.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Set to a negative value.</exception>
    public long Step
    {
        get => Info().step;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value, nameof(Step));
            using var call = Optimizer.Enter();
            NativeStatus.Check(NativeMethods.nab_optimizer_set_tensor_step(call.Pointer, (uint)Id, value), nameof(Step));
        }
    }

    /// <summary>True when a gradient buffer is registered (the next step will update this tensor).</summary>
    public bool HasGradients => Info().has_gradients != 0;

    /// <summary>True when the tensor has an s_max (its group has had AMSGrad on).</summary>
    public bool HasMaxSecondMoment => Info().has_max_second_moment != 0;

    private unsafe nab_tensor_info Info()
    {
        using var call = Optimizer.Enter();
        nab_tensor_info info = default;
        info.struct_size = (uint)sizeof(nab_tensor_info);
        NativeStatus.Check(NativeMethods.nab_optimizer_get_tensor_info(call.Pointer, (uint)Id, &info));
        return info;
    }

    // ---- Gradients. ----

    /// <summary>Uses <paramref name="gradients"/> (same length) as this tensor's gradients from the next step on.</summary>
    /// <param name="gradients">The gradient buffer; kept alive by the optimizer while registered.</param>
    /// <exception cref="ArgumentException">The length differs or the buffer overlaps the parameters.</exception>
    public unsafe void SetGradients(NativeBuffer gradients)
    {
        ArgumentNullException.ThrowIfNull(gradients);
        ObjectDisposedException.ThrowIf(Optimizer.IsDisposed, Optimizer);
        float* g = TensorMemory.From(gradients, Length, nameof(gradients), out MemoryKeepAlive keep);
        ReplaceGradients(g, keep);
    }

    /// <summary>Uses a device buffer (same length, same device as the optimizer) as this tensor's gradients.</summary>
    /// <param name="gradients">The gradient buffer; kept alive by the optimizer while registered.</param>
    /// <exception cref="ArgumentException">The length differs, the buffer overlaps the parameters, or it is not memory of the optimizer's device.</exception>
    public unsafe void SetGradients(CudaBuffer gradients)
    {
        ArgumentNullException.ThrowIfNull(gradients);
        ObjectDisposedException.ThrowIf(Optimizer.IsDisposed, Optimizer);
        float* g = TensorMemory.From(gradients, Length, nameof(gradients), out MemoryKeepAlive keep);
        ReplaceGradients(g, keep);
    }

    /// <summary>Uses managed memory (same length, pinned while registered) as this tensor's gradients.</summary>
    /// <param name="gradients">The gradient memory.</param>
    /// <exception cref="ArgumentException">The length differs or the memory overlaps the parameters.</exception>
    public unsafe void SetGradients(Memory<float> gradients)
    {
        ObjectDisposedException.ThrowIf(Optimizer.IsDisposed, Optimizer);
        float* g = TensorMemory.From(gradients, Length, nameof(gradients), out MemoryKeepAlive keep);
        ReplaceGradients(g, keep);
    }

    /// <summary>Uses raw memory as this tensor's gradients (null: none); the caller keeps it valid while registered.</summary>
    /// <param name="gradients">Address of <see cref="Length"/> floats, or null.</param>
    public unsafe void SetGradients(float* gradients)
    {
        ObjectDisposedException.ThrowIf(Optimizer.IsDisposed, Optimizer);
        ReplaceGradients(gradients, MemoryKeepAlive.None);
    }

    /// <summary>Removes the gradients: the tensor is skipped by steps until gradients are set again.</summary>
    public unsafe void ClearGradients() => SetGradients((float*)null);

    private unsafe void ReplaceGradients(float* gradients, MemoryKeepAlive keep)
    {
        try
        {
            lock (Optimizer.Sync)
            {
                using var call = Optimizer.Enter();
                NativeStatus.Check(NativeMethods.nab_optimizer_set_tensor_gradients(call.Pointer, (uint)Id, gradients), "gradients");
                Optimizer.Handle.ReplaceGradients(Id, keep);
            }
        }
        catch
        {
            keep.Release();
            throw;
        }
    }

    // ---- Parameters. ----

    /// <summary>Points the tensor at a new parameter buffer of the same length.</summary>
    /// <param name="parameters">The new parameters; kept alive by the optimizer while registered.</param>
    public unsafe void SetParameters(NativeBuffer parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ObjectDisposedException.ThrowIf(Optimizer.IsDisposed, Optimizer);
        float* p = TensorMemory.From(parameters, Length, nameof(parameters), out MemoryKeepAlive keep);
        ReplaceParameters(p, keep);
    }

    /// <summary>Points the tensor at new managed parameter memory of the same length (pinned while registered).</summary>
    /// <param name="parameters">The new parameters.</param>
    public unsafe void SetParameters(Memory<float> parameters)
    {
        ObjectDisposedException.ThrowIf(Optimizer.IsDisposed, Optimizer);
        float* p = TensorMemory.From(parameters, Length, nameof(parameters), out MemoryKeepAlive keep);
        ReplaceParameters(p, keep);
    }

    /// <summary>Points the tensor at new raw parameter memory of the same length; the caller keeps it valid.</summary>
    /// <param name="parameters">Address of <see cref="Length"/> floats; not null.</param>
    public unsafe void SetParameters(float* parameters)
    {
        if (parameters == null)
        {
            throw new ArgumentNullException(nameof(parameters), "The parameter buffer must not be null.");
        }
        ObjectDisposedException.ThrowIf(Optimizer.IsDisposed, Optimizer);
        ReplaceParameters(parameters, MemoryKeepAlive.None);
    }

    private unsafe void ReplaceParameters(float* parameters, MemoryKeepAlive keep)
    {
        try
        {
            lock (Optimizer.Sync)
            {
                using var call = Optimizer.Enter();
                NativeStatus.Check(NativeMethods.nab_optimizer_set_tensor_parameters(call.Pointer, (uint)Id, parameters), "parameters");
                Optimizer.Handle.ReplaceParameters(Id, keep);
            }
        }
        catch
        {
            keep.Release();
            throw;
        }
    }

    // ---- State (for inspection, tests and checkpoints). ----

    /// <summary>Copies one state array into <paramref name="destination"/> (exactly <see cref="Length"/> elements).</summary>
    /// <param name="kind">Which array.</param>
    /// <param name="destination">Where to copy it.</param>
    /// <exception cref="ArgumentException">The destination length differs, or s_max is asked for but does not exist.</exception>
    public unsafe void ReadState(StateKind kind, Span<float> destination)
    {
        CheckStateArguments(kind, destination.Length, nameof(destination));
        fixed (float* d = destination)
        {
            ReadState(kind, d);
        }
    }

    /// <summary>Returns a copy of one state array.</summary>
    /// <param name="kind">Which array.</param>
    /// <returns>A new array of <see cref="Length"/> elements.</returns>
    public float[] ReadState(StateKind kind)
    {
        if (Length > Array.MaxLength)
        {
            throw new NotSupportedException($"This tensor has {Length} elements, more than an array can hold; use ReadState(kind, span) in parts via a NativeBuffer.");
        }
        var result = new float[Length];
        ReadState(kind, result);
        return result;
    }

    /// <summary>Overwrites one state array from <paramref name="source"/> (exactly <see cref="Length"/> elements). Writing s_max creates it if missing.</summary>
    /// <param name="kind">Which array.</param>
    /// <param name="source">The new contents.</param>
    public unsafe void WriteState(StateKind kind, ReadOnlySpan<float> source)
    {
        CheckStateArguments(kind, source.Length, nameof(source));
        fixed (float* s = source)
        {
            WriteState(kind, s);
        }
    }

    internal unsafe void ReadState(StateKind kind, float* destination)
    {
        using var call = Optimizer.Enter();
        NativeStatus.Check(NativeMethods.nab_optimizer_read_state(call.Pointer, (uint)Id, (int)kind, destination, (ulong)Length), nameof(kind));
    }

    internal unsafe void WriteState(StateKind kind, float* source)
    {
        using var call = Optimizer.Enter();
        NativeStatus.Check(NativeMethods.nab_optimizer_write_state(call.Pointer, (uint)Id, (int)kind, source, (ulong)Length), nameof(kind));
    }

    private void CheckStateArguments(StateKind kind, int length, string paramName)
    {
        if (!Enum.IsDefined(kind))
        {
            throw new ArgumentOutOfRangeException(nameof(kind), kind, $"StateKind = {kind} is not a defined StateKind.");
        }
        if (length != Length)
        {
            throw new ArgumentException($"{paramName} has {length} elements but the tensor has {Length}: the lengths must match.", paramName);
        }
    }
}
