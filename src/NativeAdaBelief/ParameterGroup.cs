using System.Collections.ObjectModel;
using NativeAdaBelief.Interop;

namespace NativeAdaBelief;

/// <summary>
/// One parameter group of an <see cref="AdaBeliefOptimizer"/>: hyper-parameters shared by its
/// tensors. Change <see cref="LearningRate"/> (what schedulers do) or the whole
/// <see cref="Options"/> between any two steps.
/// </summary>
public sealed class ParameterGroup
{
    private readonly List<OptimizerTensor> _tensors = [];

    internal ParameterGroup(AdaBeliefOptimizer optimizer, int id)
    {
        Optimizer = optimizer;
        Id = id;
        Tensors = new ReadOnlyCollection<OptimizerTensor>(_tensors);
    }

    /// <summary>The optimizer this group belongs to.</summary>
    public AdaBeliefOptimizer Optimizer { get; }

    /// <summary>The group's id: its index in <see cref="AdaBeliefOptimizer.ParamGroups"/>.</summary>
    public int Id { get; }

    /// <summary>The tensors registered in this group, in registration order.</summary>
    public IReadOnlyList<OptimizerTensor> Tensors { get; }

    /// <summary>The learning rate α. Setting it changes only α (one native call, no allocation).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Set to a negative or non-finite value.</exception>
    /// <exception cref="ObjectDisposedException">The optimizer was disposed.</exception>
    public unsafe double LearningRate
    {
        get => ReadNative().learning_rate;
        set
        {
            if (!(value >= 0) || !double.IsFinite(value))
            {
                throw new ArgumentOutOfRangeException(nameof(LearningRate), value,
                    $"LearningRate = {value.ToString("R", System.Globalization.CultureInfo.InvariantCulture)} is invalid: it must be finite and >= 0.");
            }
            using var call = Optimizer.Enter();
            NativeStatus.Check(NativeMethods.nab_optimizer_set_learning_rate(call.Pointer, (uint)Id, value), nameof(LearningRate));
        }
    }

    /// <summary>
    /// All of the group's hyper-parameters. Setting replaces them all (compatibility mode
    /// included) after <see cref="AdaBeliefOptions.Validate"/>; turning AMSGrad on gives the
    /// group's tensors a zeroed s_max where they have none.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is invalid (nothing is changed).</exception>
    /// <exception cref="ObjectDisposedException">The optimizer was disposed.</exception>
    public unsafe AdaBeliefOptions Options
    {
        get => AdaBeliefOptions.FromNative(ReadNative());
        set
        {
            ArgumentNullException.ThrowIfNull(value, nameof(Options));
            value.Validate();
            nab_group_options native = value.ToNative();
            using var call = Optimizer.Enter();
            NativeStatus.Check(NativeMethods.nab_optimizer_set_group_options(call.Pointer, (uint)Id, &native), nameof(Options));
        }
    }

    private unsafe nab_group_options ReadNative()
    {
        using var call = Optimizer.Enter();
        nab_group_options native = default;
        native.struct_size = (uint)sizeof(nab_group_options);
        NativeStatus.Check(NativeMethods.nab_optimizer_get_group_options(call.Pointer, (uint)Id, &native));
        return native;
    }

    /// <summary>
    /// Registers a tensor whose parameters (and gradients) live in <see cref="NativeBuffer"/>s.
    /// The optimizer keeps the buffers alive while they are registered.
    /// </summary>
    /// <param name="parameters">The parameters, updated in place by every step.</param>
    /// <param name="gradients">The gradients (same length), or null for none yet.</param>
    /// <returns>The registered tensor.</returns>
    /// <exception cref="ArgumentException">The lengths differ, or the buffers are the same memory.</exception>
    /// <exception cref="ObjectDisposedException">A buffer or the optimizer was disposed.</exception>
    public unsafe OptimizerTensor AddTensor(NativeBuffer parameters, NativeBuffer? gradients = null) =>
        AddBuffers(parameters, gradients, parameters?.Length ?? 0, TensorMemory.From);

    /// <summary>
    /// Registers a tensor whose parameters (and gradients) live in <see cref="CudaBuffer"/>s, for
    /// an optimizer created on <see cref="DeviceType.Cuda"/>. The optimizer keeps the buffers
    /// alive while they are registered.
    /// </summary>
    /// <param name="parameters">The parameters, updated in place by every step.</param>
    /// <param name="gradients">The gradients (same length), or null for none yet.</param>
    /// <returns>The registered tensor.</returns>
    /// <exception cref="ArgumentException">The lengths differ, the buffers overlap, or they are not memory of the optimizer's device.</exception>
    /// <exception cref="ObjectDisposedException">A buffer or the optimizer was disposed.</exception>
    public unsafe OptimizerTensor AddTensor(CudaBuffer parameters, CudaBuffer? gradients = null) =>
        AddBuffers(parameters, gradients, parameters?.Length ?? 0, TensorMemory.From);

    /// <summary>
    /// Registers a tensor in managed memory (an array, or any <see cref="Memory{T}"/>). The memory
    /// stays pinned while it is registered (until the optimizer is disposed or the tensor is
    /// pointed elsewhere), so it must not be returned to a pool meanwhile.
    /// </summary>
    /// <param name="parameters">The parameters, updated in place by every step.</param>
    /// <param name="gradients">The gradients (same length), or null for none yet.</param>
    /// <returns>The registered tensor.</returns>
    /// <exception cref="ArgumentException">The memory is empty, the lengths differ, or the ranges overlap.</exception>
    /// <exception cref="ObjectDisposedException">The optimizer was disposed.</exception>
    public unsafe OptimizerTensor AddTensor(Memory<float> parameters, Memory<float>? gradients = null)
    {
        ObjectDisposedException.ThrowIf(Optimizer.IsDisposed, Optimizer);
        float* p = TensorMemory.From(parameters, -1, nameof(parameters), out MemoryKeepAlive keepP);
        float* g = null;
        MemoryKeepAlive keepG = MemoryKeepAlive.None;
        if (gradients is { } gm)
        {
            try
            {
                g = TensorMemory.From(gm, parameters.Length, nameof(gradients), out keepG);
            }
            catch
            {
                keepP.Release();
                throw;
            }
        }
        // From here on Optimizer.AddTensor owns both keep-alives (and releases them on failure).
        return Optimizer.AddTensor(this, p, g, parameters.Length, keepP, keepG);
    }

    /// <summary>
    /// Registers a tensor by raw pointers, e.g. the data pointers of another engine's tensors.
    /// The caller keeps the memory valid (and unmoved) until the tensor is pointed elsewhere or
    /// the optimizer is disposed.
    /// </summary>
    /// <param name="parameters">Address of <paramref name="length"/> floats; not null.</param>
    /// <param name="gradients">Address of <paramref name="length"/> floats, or null for none yet.</param>
    /// <param name="length">Number of elements; at least 1.</param>
    /// <returns>The registered tensor.</returns>
    /// <exception cref="ArgumentException">A null parameter pointer, a length below 1, or overlapping ranges.</exception>
    /// <exception cref="ObjectDisposedException">The optimizer was disposed.</exception>
    public unsafe OptimizerTensor AddTensor(float* parameters, float* gradients, long length) =>
        Optimizer.AddTensor(this, parameters, gradients, length, MemoryKeepAlive.None, MemoryKeepAlive.None);

    /// <summary>Registers a tensor by raw addresses; see <see cref="AddTensor(float*, float*, long)"/>.</summary>
    /// <param name="parameters">Address of <paramref name="length"/> floats; not 0.</param>
    /// <param name="gradients">Address of <paramref name="length"/> floats, or 0 for none yet.</param>
    /// <param name="length">Number of elements; at least 1.</param>
    /// <returns>The registered tensor.</returns>
    public unsafe OptimizerTensor AddTensor(nint parameters, nint gradients, long length) =>
        AddTensor((float*)parameters, (float*)gradients, length);

    internal void AddTensorInternal(OptimizerTensor tensor) => _tensors.Add(tensor);

    /// <summary>Takes a buffer's address and a reference that keeps it alive (see <see cref="TensorMemory"/>).</summary>
    private unsafe delegate float* BufferAddress<TBuffer>(TBuffer buffer, long expectedLength, string paramName, out MemoryKeepAlive keepAlive);

    /// <summary>Registers library-allocated buffers (host or device), releasing what it took on failure.</summary>
    private unsafe OptimizerTensor AddBuffers<TBuffer>(TBuffer parameters, TBuffer? gradients, long length, BufferAddress<TBuffer> address)
        where TBuffer : class
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ObjectDisposedException.ThrowIf(Optimizer.IsDisposed, Optimizer);
        float* p = address(parameters, -1, nameof(parameters), out MemoryKeepAlive keepP);
        float* g = null;
        MemoryKeepAlive keepG = MemoryKeepAlive.None;
        if (gradients is not null)
        {
            try
            {
                g = address(gradients, length, nameof(gradients), out keepG);
            }
            catch
            {
                keepP.Release();
                throw;
            }
        }
        // From here on Optimizer.AddTensor owns both keep-alives (and releases them on failure).
        return Optimizer.AddTensor(this, p, g, length, keepP, keepG);
    }
}
