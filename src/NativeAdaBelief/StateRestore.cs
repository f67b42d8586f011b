using NativeAdaBelief.Interop;

namespace NativeAdaBelief;

/// <summary>
/// Replaces an optimizer's whole state at once, all or nothing: the options of every group and the
/// step count, m, s, s_max and master copy of every tensor. Begin it with
/// <see cref="AdaBeliefOptimizer.BeginRestore"/>, stage every group and every tensor, then
/// <see cref="Commit"/>. The native library copies and checks each staged array as it is staged
/// (second moments never negative or NaN, finite master copies, ...) beside the current state,
/// which the optimizer keeps using until the commit swaps the staged state in. Disposing without a
/// commit (an exception on the way, a refused value) discards what was staged: the optimizer keeps
/// exactly what it had. What checkpoint loads and engine adapters (a TorchSharp
/// <c>load_state_dict</c>) are built on.
/// </summary>
/// <remarks>Staging holds a second copy of the state until the commit or disposal.</remarks>
public sealed unsafe class StateRestore : IDisposable
{
    private readonly AdaBeliefOptimizer _optimizer;
    private readonly Func<string, string, Exception> _refused;
    private bool _finished;

    /// <summary>Begins a restore (discarding one that was staged and not committed).</summary>
    /// <param name="optimizer">The optimizer whose state is replaced.</param>
    /// <param name="refused">The exception for a value the native library refuses, from its message and the managed argument it was about.</param>
    internal StateRestore(AdaBeliefOptimizer optimizer, Func<string, string, Exception> refused)
    {
        _optimizer = optimizer;
        _refused = refused;
        using var call = optimizer.Enter();
        NativeStatus.Check(NativeMethods.nab_optimizer_begin_restore(call.Pointer));
    }

    /// <summary>Stages a group's options (every one of them, the learning rate included).</summary>
    /// <param name="group">A group of this restore's optimizer.</param>
    /// <param name="options">Its options after the commit.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is invalid.</exception>
    /// <exception cref="ArgumentException">The group belongs to another optimizer.</exception>
    public void StageGroup(ParameterGroup group, AdaBeliefOptions options)
    {
        ArgumentNullException.ThrowIfNull(group);
        ArgumentNullException.ThrowIfNull(options);
        CheckOwner(group.Optimizer, nameof(group));
        options.Validate();
        StageGroup(group.Id, options);
    }

    /// <summary>
    /// Stages a tensor's state. Every array has the tensor's <see cref="OptimizerTensor.Length"/>;
    /// <paramref name="maxSecondMoment"/> may be empty (none: the tensor gets a zeroed s_max if its
    /// group keeps one), <paramref name="masterParameters"/> is given exactly when the tensor keeps
    /// a master copy. The arrays are copied during the call.
    /// </summary>
    /// <param name="tensor">A tensor of this restore's optimizer.</param>
    /// <param name="step">Its step count t (≥ 0).</param>
    /// <param name="firstMoment">m.</param>
    /// <param name="secondMoment">s: ≥ 0 and not NaN everywhere.</param>
    /// <param name="maxSecondMoment">s_max, or empty for none.</param>
    /// <param name="masterParameters">The float32 master copy (finite), or empty for a tensor without one.</param>
    /// <param name="sourceEncoding">What the values were saved in: <see cref="StateEncoding.Blockwise8Bit"/> for
    /// values decoded from 8-bit state (its s and s_max are quantized separately, so s_max ≥ s is not
    /// required of them with AMSGrad on, as it is of float32 state).</param>
    /// <exception cref="ArgumentException">A length differs from the tensor's, a value is refused (the
    /// message names the tensor and the first bad element), or the tensor belongs to another optimizer.</exception>
    /// <remarks>A tensor whose state is 8-bit stores the values quantized, as <see cref="OptimizerTensor.WriteState(StateKind, ReadOnlySpan{float})"/> does.</remarks>
    public void StageTensor(OptimizerTensor tensor, long step, ReadOnlySpan<float> firstMoment, ReadOnlySpan<float> secondMoment,
        ReadOnlySpan<float> maxSecondMoment = default, ReadOnlySpan<float> masterParameters = default,
        StateEncoding sourceEncoding = StateEncoding.Float32)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        CheckOwner(tensor.Optimizer, nameof(tensor));
        CheckLength(tensor, firstMoment.Length, nameof(firstMoment), optional: false);
        CheckLength(tensor, secondMoment.Length, nameof(secondMoment), optional: false);
        CheckLength(tensor, maxSecondMoment.Length, nameof(maxSecondMoment), optional: true);
        CheckLength(tensor, masterParameters.Length, nameof(masterParameters), optional: true);
        fixed (float* m = firstMoment, s = secondMoment, sMax = maxSecondMoment, master = masterParameters)
        {
            StageTensor(tensor.Id, step, tensor.Length, m, s, maxSecondMoment.IsEmpty ? null : sMax,
                masterParameters.IsEmpty ? null : master, sourceEncoding);
        }
    }

    /// <summary>
    /// Makes the staged state the optimizer's. Refused, with nothing changed and the restore still
    /// staged, when a group or tensor was not staged or groups or tensors were added since it began.
    /// </summary>
    /// <exception cref="ArgumentException">Something was not staged, or the optimizer grew since the restore began.</exception>
    public void Commit()
    {
        ObjectDisposedException.ThrowIf(_finished, this);
        using var call = _optimizer.Enter();
        NativeStatus.Check(NativeMethods.nab_optimizer_commit_restore(call.Pointer));
        _finished = true;
    }

    /// <summary>Discards what was staged unless <see cref="Commit"/> succeeded. Idempotent.</summary>
    public void Dispose()
    {
        if (_finished || _optimizer.IsDisposed)
        {
            return;
        }
        _finished = true;
        // Best effort: another thread's call (BUSY) may hold the optimizer right now, and then
        // the staged copy is freed with the next restore or with the optimizer.
        using var call = _optimizer.Enter();
        _ = NativeMethods.nab_optimizer_abort_restore(call.Pointer);
    }

    internal void StageGroup(int group, AdaBeliefOptions options)
    {
        ObjectDisposedException.ThrowIf(_finished, this);
        nab_group_options native = options.ToNative();
        using var call = _optimizer.Enter();
        Check(NativeMethods.nab_optimizer_restore_group(call.Pointer, (uint)group, &native), "options");
    }

    internal void StageTensor(int tensor, long step, long length, float* firstMoment, float* secondMoment, float* maxSecondMoment,
        float* masterParameters, StateEncoding sourceEncoding)
    {
        ObjectDisposedException.ThrowIf(_finished, this);
        var state = new nab_tensor_state
        {
            struct_size = (uint)sizeof(nab_tensor_state),
            source_encoding = (int)sourceEncoding,
            step = step,
            element_count = (ulong)length,
            first_moment = firstMoment,
            second_moment = secondMoment,
            max_second_moment = maxSecondMoment,
            master_parameters = masterParameters,
        };
        using var call = _optimizer.Enter();
        Check(NativeMethods.nab_optimizer_restore_tensor(call.Pointer, (uint)tensor, &state), "tensor");
    }

    /// <summary>A refused value becomes the restore's own exception; any other failure keeps its usual one.</summary>
    private void Check(nab_status status, string paramName)
    {
        if (status == nab_status.NAB_STATUS_INVALID_ARGUMENT)
        {
            throw _refused(NativeStatus.LastError(), paramName);
        }
        NativeStatus.Check(status, paramName);
    }

    private void CheckOwner(AdaBeliefOptimizer owner, string paramName)
    {
        if (!ReferenceEquals(owner, _optimizer))
        {
            throw new ArgumentException($"The {paramName} belongs to another optimizer than the one this restore was begun on.", paramName);
        }
    }

    private static void CheckLength(OptimizerTensor tensor, int length, string paramName, bool optional)
    {
        if (length != tensor.Length && !(optional && length == 0))
        {
            throw new ArgumentException(
                $"{paramName} has {length} elements but tensor {tensor.Id} has {tensor.Length}"
                + (optional ? " (give all of them, or none)." : "."), paramName);
        }
    }
}
