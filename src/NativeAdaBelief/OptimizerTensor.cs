using NativeAdaBelief.Interop;

namespace NativeAdaBelief;

/// <summary>
/// One tensor registered with an optimizer: its parameters and gradients (caller-owned memory,
/// float32 or 16-bit) and the state the optimizer owns for it (m, s, s_max, an optional float32
/// master copy of 16-bit parameters, and its own step count t).
/// </summary>
/// <remarks>
/// A tensor whose gradients are absent (<see cref="ClearGradients"/>) is skipped by
/// <see cref="AdaBeliefOptimizer.Step"/>: no decay, no moment update, step count unchanged.
/// Point it at gradients again for the steps where it has one.
/// </remarks>
public sealed class OptimizerTensor
{
    // Fixed at registration (the native library refuses any change): kept here, so reading them
    // costs no native call.
    internal OptimizerTensor(ParameterGroup group, int id, long length, TensorElementType parameterType,
        TensorElementType gradientType, bool hasMasterParameters, bool hasGradients)
    {
        Group = group;
        Id = id;
        Length = length;
        ParameterType = parameterType;
        GradientType = gradientType;
        HasMasterParameters = hasMasterParameters;
        HasGradients = hasGradients;
    }

    /// <summary>The group whose hyper-parameters apply.</summary>
    public ParameterGroup Group { get; }

    /// <summary>The optimizer this tensor is registered with.</summary>
    public AdaBeliefOptimizer Optimizer => Group.Optimizer;

    /// <summary>The tensor's id: its index in <see cref="AdaBeliefOptimizer.Tensors"/>.</summary>
    public int Id { get; }

    /// <summary>Number of elements (of the parameters, the gradients and every state array).</summary>
    public long Length { get; }

    /// <summary>The element type of the parameters (fixed when the tensor was registered).</summary>
    /// <exception cref="ObjectDisposedException">The optimizer was disposed.</exception>
    public TensorElementType ParameterType => Live(field);

    /// <summary>The element type of the gradients (fixed when the tensor was registered, also while it has none).</summary>
    /// <exception cref="ObjectDisposedException">The optimizer was disposed.</exception>
    public TensorElementType GradientType => Live(field);

    /// <summary>
    /// True when the optimizer keeps a float32 master copy of the 16-bit parameters
    /// (<see cref="StateKind.MasterParameters"/>): registered with <c>keepMasterCopy: true</c>.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The optimizer was disposed.</exception>
    public bool HasMasterParameters => Live(field);

    /// <summary>True when a gradient buffer is registered (the next step will update this tensor).</summary>
    /// <exception cref="ObjectDisposedException">The optimizer was disposed.</exception>
    public bool HasGradients
    {
        get => Live(field);
        internal set;
    }

    /// <summary>A fact this object keeps, while the optimizer it describes still exists.</summary>
    private T Live<T>(T value)
    {
        ObjectDisposedException.ThrowIf(Optimizer.IsDisposed, Optimizer);
        return value;
    }

    /// <summary>
    /// How many steps this tensor has taken (t, which drives its bias corrections). Settable
    /// (≥ 0), e.g. to restore a run from another tool's state. Reading it asks the native library
    /// (a CUDA optimizer waits for its stream).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Set to a negative value.</exception>
    public unsafe long Step
    {
        get => Info().step;
        set
        {
            using var call = Optimizer.Enter();
            NativeValidation.Check(NativeMethods.nab_optimizer_set_tensor_step(call.Pointer, (uint)Id, value), nameof(OptimizerTensor),
                "step", nameof(Step), value);
        }
    }

    /// <summary>True when the tensor has an s_max (its group has had AMSGrad on).</summary>
    public bool HasMaxSecondMoment => Info().has_max_second_moment != 0;

    /// <summary>
    /// How this tensor stores m, s and s_max: its group's <see cref="AdaBeliefOptions.StateEncoding"/>,
    /// except <see cref="NativeAdaBelief.StateEncoding.Float32"/> for a tensor of fewer than
    /// <see cref="EightBitState.MinElements"/> elements in an 8-bit group. Changes when the group's
    /// encoding changes.
    /// </summary>
    public StateEncoding StateEncoding => (StateEncoding)Info().state_encoding;

    private unsafe nab_tensor_info Info()
    {
        using var call = Optimizer.Enter();
        nab_tensor_info info = default;
        info.struct_size = (uint)sizeof(nab_tensor_info);
        NativeStatus.Check(NativeMethods.nab_optimizer_get_tensor_info(call.Pointer, (uint)Id, &info));
        return info;
    }

    // ---- Gradients. ----

    /// <summary>Uses a buffer the native library allocated (same length and element type as registered, on the optimizer's device) as this tensor's gradients.</summary>
    /// <typeparam name="T">The element type: <see cref="float"/>, <see cref="Half"/> or <see cref="BFloat16"/>.</typeparam>
    /// <param name="gradients">The gradient buffer; the optimizer keeps its memory alive while registered.</param>
    /// <exception cref="ArgumentException">The length, element type or device differs, or the buffer shares memory with a registered buffer (the message names both tensors).</exception>
    /// <exception cref="ObjectDisposedException">The buffer or the optimizer was disposed.</exception>
    public void SetGradients<T>(TensorBuffer<T> gradients) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(gradients);
        ReplaceGradients(gradients.ElementType, TensorMemory.Acquire(Optimizer, gradients, nameof(gradients)));
    }

    /// <summary>Uses managed float32 memory (a <c>float[]</c>, or any <see cref="Memory{T}"/>; same length, pinned while registered) as this tensor's gradients.</summary>
    /// <param name="gradients">The gradient memory.</param>
    /// <exception cref="ArgumentException">The length differs, the memory shares memory with a registered buffer (the message names both tensors), or the tensor's gradients are not float32.</exception>
    public void SetGradients(Memory<float> gradients) => SetGradients<float>(gradients);

    /// <summary>Uses managed memory of any element type (same length and element type as registered, pinned while registered) as this tensor's gradients.</summary>
    /// <typeparam name="T">The element type: <see cref="float"/>, <see cref="Half"/> or <see cref="BFloat16"/>.</typeparam>
    /// <param name="gradients">The gradient memory.</param>
    /// <exception cref="ArgumentException">The length or element type differs, or the memory shares memory with a registered buffer (the message names both tensors).</exception>
    public void SetGradients<T>(Memory<T> gradients) where T : unmanaged =>
        ReplaceGradients(ElementTypes.Of<T>(), TensorMemory.Acquire(gradients, nameof(gradients)));

    /// <summary>Uses raw memory of the given element type as this tensor's gradients (0: none); the caller keeps it valid while registered.</summary>
    /// <param name="gradients">Address of <see cref="Length"/> elements of <paramref name="elementType"/>, or 0.</param>
    /// <param name="elementType">What the memory holds: the tensor's <see cref="GradientType"/>.</param>
    /// <exception cref="ArgumentException"><paramref name="elementType"/> is not the tensor's <see cref="GradientType"/>, or the memory shares memory with a registered buffer (the message names both tensors).</exception>
    public unsafe void SetGradients(nint gradients, TensorElementType elementType)
    {
        ElementTypes.CheckDefined(elementType, nameof(elementType));
        ReplaceGradients(elementType, (long _, out MemoryKeepAlive k) =>
        {
            k = MemoryKeepAlive.None;
            return (void*)gradients;
        });
    }

    /// <summary>Removes the gradients: the tensor is skipped by steps until gradients are set again.</summary>
    public void ClearGradients() => SetGradients(0, GradientType);

    private unsafe void ReplaceGradients(TensorElementType elementType, Acquisition acquire)
    {
        ObjectDisposedException.ThrowIf(Optimizer.IsDisposed, Optimizer);
        CheckElementType(elementType, GradientType, "gradients");
        void* gradients = acquire(Length, out MemoryKeepAlive keep);
        try
        {
            lock (Optimizer.Sync)
            {
                using var call = Optimizer.Enter();
                NativeStatus.Check(NativeMethods.nab_optimizer_set_tensor_gradients(call.Pointer, (uint)Id, gradients), "gradients");
                Optimizer.Handle.ReplaceGradients(Id, keep);
                HasGradients = gradients != null;
            }
        }
        catch
        {
            keep.Release();
            throw;
        }
    }

    // ---- Parameters. ----

    /// <summary>
    /// Points the tensor at a new buffer the native library allocated (same length and element
    /// type as registered, on the optimizer's device). A float32 master copy, if any, is
    /// re-initialised from the new parameters (see <see cref="ReinitializeMasterFromParameters"/>):
    /// the next step starts from the values the buffer holds.
    /// </summary>
    /// <typeparam name="T">The element type: <see cref="float"/>, <see cref="Half"/> or <see cref="BFloat16"/>.</typeparam>
    /// <param name="parameters">The new parameters; the optimizer keeps their memory alive while registered.</param>
    /// <exception cref="ArgumentException">The length, element type or device differs, or the buffer shares memory with a registered buffer (the message names both tensors).</exception>
    /// <exception cref="ObjectDisposedException">The buffer or the optimizer was disposed.</exception>
    public void SetParameters<T>(TensorBuffer<T> parameters) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ReplaceParameters(parameters.ElementType, TensorMemory.Acquire(Optimizer, parameters, nameof(parameters)));
    }

    /// <summary>Points the tensor at new managed float32 parameter memory (a <c>float[]</c>, or any <see cref="Memory{T}"/>) of the same length, pinned while registered. (float32 parameters have no master copy: they are their own.)</summary>
    /// <param name="parameters">The new parameters.</param>
    /// <exception cref="ArgumentException">The length differs, or the tensor's parameters are not float32.</exception>
    public void SetParameters(Memory<float> parameters) => SetParameters<float>(parameters);

    /// <summary>Points the tensor at new managed parameter memory of any element type (same length and element type as registered, pinned while registered). A float32 master copy, if any, is re-initialised from the new parameters (see <see cref="ReinitializeMasterFromParameters"/>).</summary>
    /// <typeparam name="T">The element type: <see cref="float"/>, <see cref="Half"/> or <see cref="BFloat16"/>.</typeparam>
    /// <param name="parameters">The new parameters.</param>
    /// <exception cref="ArgumentException">The length or element type differs.</exception>
    public void SetParameters<T>(Memory<T> parameters) where T : unmanaged =>
        ReplaceParameters(ElementTypes.Of<T>(), TensorMemory.Acquire(parameters, nameof(parameters)));

    /// <summary>Points the tensor at new raw parameter memory of the given element type and the same length; the caller keeps it valid. A float32 master copy, if any, is re-initialised from the new parameters (see <see cref="ReinitializeMasterFromParameters"/>).</summary>
    /// <param name="parameters">Address of <see cref="Length"/> elements of <paramref name="elementType"/>; not 0.</param>
    /// <param name="elementType">What the memory holds: the tensor's <see cref="ParameterType"/>.</param>
    /// <exception cref="ArgumentException"><paramref name="elementType"/> is not the tensor's <see cref="ParameterType"/>, or the memory shares memory with a registered buffer (the message names both tensors).</exception>
    public unsafe void SetParameters(nint parameters, TensorElementType elementType)
    {
        if (parameters == 0)
        {
            throw new ArgumentNullException(nameof(parameters), "The parameter buffer must not be null.");
        }
        ElementTypes.CheckDefined(elementType, nameof(elementType));
        ReplaceParameters(elementType, (long _, out MemoryKeepAlive k) =>
        {
            k = MemoryKeepAlive.None;
            return (void*)parameters;
        });
    }

    /// <summary>
    /// Sets the float32 master copy to the tensor's 16-bit parameters, widened exactly. Call it
    /// after writing new values into the registered 16-bit buffer yourself (loading pretrained
    /// weights, say): the step updates the master copy and writes its rounding back to the
    /// buffer, so without this call the next step would overwrite your values with the rounding
    /// of the old master copy. Precision the master copy held beyond 16 bits is dropped.
    /// <see cref="SetParameters{T}(Memory{T})"/> and its overloads do this themselves.
    /// </summary>
    /// <exception cref="InvalidOperationException">The tensor has no master copy (<see cref="HasMasterParameters"/> is false: float32 parameters, or registered without <c>keepMasterCopy</c>).</exception>
    /// <exception cref="ObjectDisposedException">The optimizer was disposed.</exception>
    public unsafe void ReinitializeMasterFromParameters()
    {
        using var call = Optimizer.Enter();
        nab_status status = NativeMethods.nab_optimizer_initialize_master_parameters(call.Pointer, (uint)Id);
        if (status == nab_status.NAB_STATUS_INVALID_ARGUMENT && NativeStatus.LastErrorArgument() == "tensor_id")
        {
            // The native rule: only a tensor with a master copy has one to re-initialise.
            throw new InvalidOperationException(NativeStatus.LastError());
        }
        NativeStatus.Check(status);
    }

    private unsafe void ReplaceParameters(TensorElementType elementType, Acquisition acquire)
    {
        ObjectDisposedException.ThrowIf(Optimizer.IsDisposed, Optimizer);
        CheckElementType(elementType, ParameterType, "parameters");
        void* parameters = acquire(Length, out MemoryKeepAlive keep);
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

    /// <summary>Refuses memory whose element type is not the one the tensor was registered with.</summary>
    private void CheckElementType(TensorElementType actual, TensorElementType registered, string paramName)
    {
        if (actual != registered)
        {
            throw new ArgumentException(
                $"The new {paramName} hold {actual} elements, but tensor {Id} was registered with {registered} {paramName}: "
                + "a tensor's element types cannot change (register a new tensor instead).", paramName);
        }
    }

    // ---- State (for inspection, tests and checkpoints). ----

    /// <summary>Copies one state array (always float32) into <paramref name="destination"/> (exactly <see cref="Length"/> elements).</summary>
    /// <param name="kind">Which array.</param>
    /// <param name="destination">Where to copy it.</param>
    /// <exception cref="ArgumentException">The destination length differs, or s_max or the master copy is asked for but does not exist.</exception>
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

    /// <summary>
    /// Overwrites one state array from <paramref name="source"/> (exactly <see cref="Length"/>
    /// elements). Writing s_max creates it if missing. Writing the master copy changes only the
    /// master copy (the 16-bit parameters follow at the next step); a tensor without one refuses it.
    /// </summary>
    /// <param name="kind">Which array.</param>
    /// <param name="source">The new contents.</param>
    /// <exception cref="ArgumentException">The source length differs, or the master copy is written to a tensor without one.</exception>
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

    /// <summary>
    /// Copies the raw 8-bit codes and block scales of m, s or s_max, as the optimizer stores them
    /// (for tools and checkpoints that keep the state in 8 bits; <see cref="ReadState(StateKind)"/>
    /// gives the decoded values). The tensor's <see cref="StateEncoding"/> must be
    /// <see cref="NativeAdaBelief.StateEncoding.Blockwise8Bit"/>.
    /// </summary>
    /// <param name="kind">m, s or s_max.</param>
    /// <param name="codes">Where the codes go: exactly <see cref="Length"/> bytes.</param>
    /// <param name="scales">Where the scales go: exactly <see cref="EightBitState.BlockCount"/>(<see cref="Length"/>) floats.</param>
    /// <exception cref="ArgumentException">A length differs, the kind is the master copy or an s_max that does not exist, or the tensor's state is float32.</exception>
    public unsafe void ReadStateCodes(StateKind kind, Span<byte> codes, Span<float> scales)
    {
        CheckStateArguments(kind, codes.Length, nameof(codes));
        fixed (byte* c = codes)
        fixed (float* s = scales)
        {
            using var call = Optimizer.Enter();
            NativeStatus.Check(NativeMethods.nab_optimizer_read_state_codes(call.Pointer, (uint)Id, (int)kind, c, (ulong)codes.Length, s,
                (ulong)scales.Length), CodesArgument());
        }
    }

    /// <summary>Returns copies of the raw 8-bit codes and block scales of m, s or s_max (see <see cref="ReadStateCodes(StateKind, Span{byte}, Span{float})"/>).</summary>
    /// <param name="kind">m, s or s_max.</param>
    /// <returns>New arrays: <see cref="Length"/> codes and <see cref="EightBitState.BlockCount"/>(<see cref="Length"/>) scales.</returns>
    /// <exception cref="ArgumentException">The kind is the master copy or an s_max that does not exist, or the tensor's state is float32.</exception>
    public (byte[] Codes, float[] Scales) ReadStateCodes(StateKind kind)
    {
        if (Length > Array.MaxLength)
        {
            throw new NotSupportedException($"This tensor has {Length} elements, more than an array can hold; use ReadStateCodes(kind, codes, scales) with native memory.");
        }
        var codes = new byte[Length];
        var scales = new float[EightBitState.BlockCount(Length)];
        ReadStateCodes(kind, codes, scales);
        return (codes, scales);
    }

    /// <summary>
    /// Overwrites m, s or s_max with raw 8-bit codes and block scales as
    /// <see cref="ReadStateCodes(StateKind, Span{byte}, Span{float})"/> gives them. Every code is
    /// valid; every scale must be 0, NaN, or finite and at least 2^-126 (what a block's scale can
    /// be). Writing s_max creates it if missing. The tensor's <see cref="StateEncoding"/> must be
    /// <see cref="NativeAdaBelief.StateEncoding.Blockwise8Bit"/>.
    /// </summary>
    /// <param name="kind">m, s or s_max.</param>
    /// <param name="codes">The codes: exactly <see cref="Length"/> bytes.</param>
    /// <param name="scales">The scales: exactly <see cref="EightBitState.BlockCount"/>(<see cref="Length"/>) floats.</param>
    /// <exception cref="ArgumentException">A length differs, a scale is invalid (nothing is written then), the kind is the master copy, or the tensor's state is float32.</exception>
    public unsafe void WriteStateCodes(StateKind kind, ReadOnlySpan<byte> codes, ReadOnlySpan<float> scales)
    {
        CheckStateArguments(kind, codes.Length, nameof(codes));
        fixed (byte* c = codes)
        fixed (float* s = scales)
        {
            using var call = Optimizer.Enter();
            NativeStatus.Check(NativeMethods.nab_optimizer_write_state_codes(call.Pointer, (uint)Id, (int)kind, c, (ulong)codes.Length, s,
                (ulong)scales.Length), CodesArgument());
        }
    }

    /// <summary>The managed argument a refused raw-state call was about.</summary>
    private static string CodesArgument() => NativeStatus.LastErrorArgument() switch
    {
        string a when a.StartsWith("scales", StringComparison.Ordinal) || a == "scale_count" => "scales",
        "codes" or "element_count" => "codes",
        _ => "kind",
    };

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
