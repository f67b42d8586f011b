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

    // ---- float32 tensors. ----

    /// <summary>
    /// Registers a tensor whose parameters (and gradients) live in <see cref="NativeBuffer"/>s.
    /// The optimizer keeps the buffers alive while they are registered.
    /// </summary>
    /// <param name="parameters">The parameters, updated in place by every step.</param>
    /// <param name="gradients">The gradients (same length), or null for none yet.</param>
    /// <returns>The registered tensor.</returns>
    /// <exception cref="ArgumentException">The lengths differ, or the buffers are the same memory.</exception>
    /// <exception cref="ObjectDisposedException">A buffer or the optimizer was disposed.</exception>
    public OptimizerTensor AddTensor(NativeBuffer parameters, NativeBuffer? gradients = null) =>
        gradients is null ? AddTensor<float>(parameters) : AddTensor<float, float>(parameters, gradients);

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
    public OptimizerTensor AddTensor(CudaBuffer parameters, CudaBuffer? gradients = null) =>
        gradients is null ? AddTensor<float>(parameters) : AddTensor<float, float>(parameters, gradients);

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
    public OptimizerTensor AddTensor(Memory<float> parameters, Memory<float>? gradients = null) =>
        AddManaged(parameters, gradients, keepMasterCopy: false);

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
        AddTensor(parameters, TensorElementType.Float32, gradients, TensorElementType.Float32, length);

    /// <summary>Registers a tensor by raw addresses; see <see cref="AddTensor(float*, float*, long)"/>.</summary>
    /// <param name="parameters">Address of <paramref name="length"/> floats; not 0.</param>
    /// <param name="gradients">Address of <paramref name="length"/> floats, or 0 for none yet.</param>
    /// <param name="length">Number of elements; at least 1.</param>
    /// <returns>The registered tensor.</returns>
    public unsafe OptimizerTensor AddTensor(nint parameters, nint gradients, long length) =>
        AddTensor((float*)parameters, (float*)gradients, length);

    // ---- Tensors of any element type (16-bit parameters and gradients, master copies). ----

    /// <summary>
    /// Registers a tensor whose parameters live in a typed <see cref="NativeBuffer{T}"/>, with no
    /// gradients yet; its gradients will have the parameters' element type (point it at them
    /// with <see cref="OptimizerTensor.SetGradients{T}(NativeBuffer{T})"/>). The optimizer keeps
    /// the buffer alive while it is registered.
    /// </summary>
    /// <typeparam name="T">The element type: <see cref="float"/>, <see cref="Half"/> or <see cref="BFloat16"/>.</typeparam>
    /// <param name="parameters">The parameters, updated in place by every step.</param>
    /// <param name="keepMasterCopy">16-bit parameters only: the optimizer keeps a float32 master
    /// copy (initialised from the parameters now), updates it every step and writes its rounding
    /// to nearest, ties to even, into the parameters, so that updates smaller than half a 16-bit
    /// unit accumulate instead of being rounded away. False: every step widens the 16-bit
    /// parameters, updates them in float32 and rounds them back.</param>
    /// <returns>The registered tensor.</returns>
    /// <exception cref="ArgumentException"><paramref name="keepMasterCopy"/> with float32 parameters.</exception>
    /// <exception cref="ObjectDisposedException">The buffer or the optimizer was disposed.</exception>
    public unsafe OptimizerTensor AddTensor<T>(NativeBuffer<T> parameters, bool keepMasterCopy = false)
        where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(parameters);
        return Register(parameters.Length, parameters.ElementType,
            (long n, out MemoryKeepAlive k) => TensorMemory.From(parameters, n, nameof(parameters), out k),
            parameters.ElementType, gradients: null, keepMasterCopy);
    }

    /// <summary>
    /// Registers a tensor whose parameters and gradients live in typed <see cref="NativeBuffer{T}"/>s,
    /// of the same or different element types (e.g. bfloat16 parameters with float32 gradients).
    /// The optimizer keeps the buffers alive while they are registered.
    /// </summary>
    /// <typeparam name="TParameter">The parameters' element type: <see cref="float"/>, <see cref="Half"/> or <see cref="BFloat16"/>.</typeparam>
    /// <typeparam name="TGradient">The gradients' element type: <see cref="float"/>, <see cref="Half"/> or <see cref="BFloat16"/>.</typeparam>
    /// <param name="parameters">The parameters, updated in place by every step.</param>
    /// <param name="gradients">The gradients (same length; not null: use <see cref="AddTensor{T}(NativeBuffer{T}, bool)"/> for none yet).</param>
    /// <param name="keepMasterCopy">16-bit parameters only: keep a float32 master copy (see
    /// <see cref="AddTensor{T}(NativeBuffer{T}, bool)"/>).</param>
    /// <returns>The registered tensor.</returns>
    /// <exception cref="ArgumentException">The lengths differ, the buffers overlap, or <paramref name="keepMasterCopy"/> with float32 parameters.</exception>
    /// <exception cref="ObjectDisposedException">A buffer or the optimizer was disposed.</exception>
    public unsafe OptimizerTensor AddTensor<TParameter, TGradient>(NativeBuffer<TParameter> parameters, NativeBuffer<TGradient> gradients,
        bool keepMasterCopy = false)
        where TParameter : unmanaged
        where TGradient : unmanaged
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(gradients);
        return Register(parameters.Length, parameters.ElementType,
            (long n, out MemoryKeepAlive k) => TensorMemory.From(parameters, n, nameof(parameters), out k),
            gradients.ElementType,
            (long n, out MemoryKeepAlive k) => TensorMemory.From(gradients, n, nameof(gradients), out k),
            keepMasterCopy);
    }

    /// <summary>
    /// Registers a tensor whose parameters live in a typed <see cref="CudaBuffer{T}"/>, with no
    /// gradients yet (they will have the parameters' element type), for an optimizer created
    /// on <see cref="DeviceType.Cuda"/>. The optimizer keeps the buffer alive while it is registered.
    /// </summary>
    /// <typeparam name="T">The element type: <see cref="float"/>, <see cref="Half"/> or <see cref="BFloat16"/>.</typeparam>
    /// <param name="parameters">The parameters, updated in place by every step.</param>
    /// <param name="keepMasterCopy">16-bit parameters only: keep a float32 master copy (see
    /// <see cref="AddTensor{T}(NativeBuffer{T}, bool)"/>).</param>
    /// <returns>The registered tensor.</returns>
    /// <exception cref="ArgumentException">The buffer is not memory of the optimizer's device, or <paramref name="keepMasterCopy"/> with float32 parameters.</exception>
    /// <exception cref="ObjectDisposedException">The buffer or the optimizer was disposed.</exception>
    public unsafe OptimizerTensor AddTensor<T>(CudaBuffer<T> parameters, bool keepMasterCopy = false)
        where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(parameters);
        return Register(parameters.Length, parameters.ElementType,
            (long n, out MemoryKeepAlive k) => TensorMemory.From(parameters, n, nameof(parameters), out k),
            parameters.ElementType, gradients: null, keepMasterCopy);
    }

    /// <summary>
    /// Registers a tensor whose parameters and gradients live in typed <see cref="CudaBuffer{T}"/>s
    /// of the same or different element types, for an optimizer created on
    /// <see cref="DeviceType.Cuda"/>. The optimizer keeps the buffers alive while they are registered.
    /// </summary>
    /// <typeparam name="TParameter">The parameters' element type: <see cref="float"/>, <see cref="Half"/> or <see cref="BFloat16"/>.</typeparam>
    /// <typeparam name="TGradient">The gradients' element type: <see cref="float"/>, <see cref="Half"/> or <see cref="BFloat16"/>.</typeparam>
    /// <param name="parameters">The parameters, updated in place by every step.</param>
    /// <param name="gradients">The gradients (same length; not null: use <see cref="AddTensor{T}(CudaBuffer{T}, bool)"/> for none yet).</param>
    /// <param name="keepMasterCopy">16-bit parameters only: keep a float32 master copy (see
    /// <see cref="AddTensor{T}(NativeBuffer{T}, bool)"/>).</param>
    /// <returns>The registered tensor.</returns>
    /// <exception cref="ArgumentException">The lengths differ, the buffers overlap or are not memory of the optimizer's device, or <paramref name="keepMasterCopy"/> with float32 parameters.</exception>
    /// <exception cref="ObjectDisposedException">A buffer or the optimizer was disposed.</exception>
    public unsafe OptimizerTensor AddTensor<TParameter, TGradient>(CudaBuffer<TParameter> parameters, CudaBuffer<TGradient> gradients,
        bool keepMasterCopy = false)
        where TParameter : unmanaged
        where TGradient : unmanaged
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(gradients);
        return Register(parameters.Length, parameters.ElementType,
            (long n, out MemoryKeepAlive k) => TensorMemory.From(parameters, n, nameof(parameters), out k),
            gradients.ElementType,
            (long n, out MemoryKeepAlive k) => TensorMemory.From(gradients, n, nameof(gradients), out k),
            keepMasterCopy);
    }

    /// <summary>
    /// Registers a tensor of float16 parameters (and gradients) in managed memory (a
    /// <see cref="Half"/> array, or any <see cref="Memory{T}"/>), pinned while registered.
    /// </summary>
    /// <param name="parameters">The parameters, updated in place by every step.</param>
    /// <param name="gradients">The float16 gradients (same length), or null for none yet.</param>
    /// <param name="keepMasterCopy">Keep a float32 master copy (see <see cref="AddTensor{T}(NativeBuffer{T}, bool)"/>).</param>
    /// <returns>The registered tensor.</returns>
    /// <exception cref="ArgumentException">The memory is empty, the lengths differ, or the ranges overlap.</exception>
    /// <exception cref="ObjectDisposedException">The optimizer was disposed.</exception>
    public OptimizerTensor AddTensor(Memory<Half> parameters, Memory<Half>? gradients = null, bool keepMasterCopy = false) =>
        AddManaged(parameters, gradients, keepMasterCopy);

    /// <summary>
    /// Registers a tensor of float16 parameters with float32 gradients in managed memory, pinned
    /// while registered.
    /// </summary>
    /// <param name="parameters">The parameters, updated in place by every step.</param>
    /// <param name="gradients">The float32 gradients (same length).</param>
    /// <param name="keepMasterCopy">Keep a float32 master copy (see <see cref="AddTensor{T}(NativeBuffer{T}, bool)"/>).</param>
    /// <returns>The registered tensor.</returns>
    /// <exception cref="ArgumentException">The memory is empty, the lengths differ, or the ranges overlap.</exception>
    /// <exception cref="ObjectDisposedException">The optimizer was disposed.</exception>
    public OptimizerTensor AddTensor(Memory<Half> parameters, Memory<float> gradients, bool keepMasterCopy = false) =>
        AddManaged(parameters, (Memory<float>?)gradients, keepMasterCopy);

    /// <summary>
    /// Registers a tensor of bfloat16 parameters (and gradients) in managed memory (a
    /// <see cref="BFloat16"/> array, or any <see cref="Memory{T}"/>), pinned while registered.
    /// </summary>
    /// <param name="parameters">The parameters, updated in place by every step.</param>
    /// <param name="gradients">The bfloat16 gradients (same length), or null for none yet.</param>
    /// <param name="keepMasterCopy">Keep a float32 master copy (see <see cref="AddTensor{T}(NativeBuffer{T}, bool)"/>).</param>
    /// <returns>The registered tensor.</returns>
    /// <exception cref="ArgumentException">The memory is empty, the lengths differ, or the ranges overlap.</exception>
    /// <exception cref="ObjectDisposedException">The optimizer was disposed.</exception>
    public OptimizerTensor AddTensor(Memory<BFloat16> parameters, Memory<BFloat16>? gradients = null, bool keepMasterCopy = false) =>
        AddManaged(parameters, gradients, keepMasterCopy);

    /// <summary>
    /// Registers a tensor of bfloat16 parameters with float32 gradients in managed memory, pinned
    /// while registered.
    /// </summary>
    /// <param name="parameters">The parameters, updated in place by every step.</param>
    /// <param name="gradients">The float32 gradients (same length).</param>
    /// <param name="keepMasterCopy">Keep a float32 master copy (see <see cref="AddTensor{T}(NativeBuffer{T}, bool)"/>).</param>
    /// <returns>The registered tensor.</returns>
    /// <exception cref="ArgumentException">The memory is empty, the lengths differ, or the ranges overlap.</exception>
    /// <exception cref="ObjectDisposedException">The optimizer was disposed.</exception>
    public OptimizerTensor AddTensor(Memory<BFloat16> parameters, Memory<float> gradients, bool keepMasterCopy = false) =>
        AddManaged(parameters, (Memory<float>?)gradients, keepMasterCopy);

    /// <summary>Registers a tensor of float32 parameters with float16 gradients in managed memory, pinned while registered.</summary>
    /// <param name="parameters">The parameters, updated in place by every step.</param>
    /// <param name="gradients">The float16 gradients (same length), widened exactly by every step.</param>
    /// <returns>The registered tensor.</returns>
    /// <exception cref="ArgumentException">The memory is empty, the lengths differ, or the ranges overlap.</exception>
    /// <exception cref="ObjectDisposedException">The optimizer was disposed.</exception>
    public OptimizerTensor AddTensor(Memory<float> parameters, Memory<Half> gradients) =>
        AddManaged(parameters, (Memory<Half>?)gradients, keepMasterCopy: false);

    /// <summary>Registers a tensor of float32 parameters with bfloat16 gradients in managed memory, pinned while registered.</summary>
    /// <param name="parameters">The parameters, updated in place by every step.</param>
    /// <param name="gradients">The bfloat16 gradients (same length), widened exactly by every step.</param>
    /// <returns>The registered tensor.</returns>
    /// <exception cref="ArgumentException">The memory is empty, the lengths differ, or the ranges overlap.</exception>
    /// <exception cref="ObjectDisposedException">The optimizer was disposed.</exception>
    public OptimizerTensor AddTensor(Memory<float> parameters, Memory<BFloat16> gradients) =>
        AddManaged(parameters, (Memory<BFloat16>?)gradients, keepMasterCopy: false);

    /// <summary>
    /// Registers a tensor by raw pointers of any element type, e.g. the data pointers of another
    /// engine's float16 or bfloat16 tensors. The caller keeps the memory valid (and unmoved)
    /// until the tensor is pointed elsewhere or the optimizer is disposed.
    /// </summary>
    /// <param name="parameters">Address of <paramref name="length"/> elements of <paramref name="parameterType"/>; not null.</param>
    /// <param name="parameterType">The parameters' element type.</param>
    /// <param name="gradients">Address of <paramref name="length"/> elements of <paramref name="gradientType"/>, or null for none yet.</param>
    /// <param name="gradientType">The gradients' element type (also when <paramref name="gradients"/> is null: the type later gradients must have).</param>
    /// <param name="length">Number of elements; at least 1.</param>
    /// <param name="keepMasterCopy">16-bit parameters only: keep a float32 master copy (see
    /// <see cref="AddTensor{T}(NativeBuffer{T}, bool)"/>).</param>
    /// <returns>The registered tensor.</returns>
    /// <exception cref="ArgumentException">A null parameter pointer, a length below 1, overlapping ranges, or <paramref name="keepMasterCopy"/> with float32 parameters.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An element type is not a defined <see cref="TensorElementType"/>.</exception>
    /// <exception cref="ObjectDisposedException">The optimizer was disposed.</exception>
    public unsafe OptimizerTensor AddTensor(void* parameters, TensorElementType parameterType, void* gradients, TensorElementType gradientType,
        long length, bool keepMasterCopy = false)
    {
        ObjectDisposedException.ThrowIf(Optimizer.IsDisposed, Optimizer);
        return Optimizer.AddTensor(this, parameters, parameterType, gradients, gradientType, length, keepMasterCopy,
            MemoryKeepAlive.None, MemoryKeepAlive.None);
    }

    /// <summary>Registers a tensor by raw addresses of any element type; see <see cref="AddTensor(void*, TensorElementType, void*, TensorElementType, long, bool)"/>.</summary>
    /// <param name="parameters">Address of <paramref name="length"/> elements of <paramref name="parameterType"/>; not 0.</param>
    /// <param name="parameterType">The parameters' element type.</param>
    /// <param name="gradients">Address of <paramref name="length"/> elements of <paramref name="gradientType"/>, or 0 for none yet.</param>
    /// <param name="gradientType">The gradients' element type.</param>
    /// <param name="length">Number of elements; at least 1.</param>
    /// <param name="keepMasterCopy">16-bit parameters only: keep a float32 master copy.</param>
    /// <returns>The registered tensor.</returns>
    public unsafe OptimizerTensor AddTensor(nint parameters, TensorElementType parameterType, nint gradients, TensorElementType gradientType,
        long length, bool keepMasterCopy = false) =>
        AddTensor((void*)parameters, parameterType, (void*)gradients, gradientType, length, keepMasterCopy);

    internal void AddTensorInternal(OptimizerTensor tensor) => _tensors.Add(tensor);

    /// <summary>Takes a buffer's address (checking its length when one is expected) and what keeps it alive.</summary>
    private unsafe delegate void* Acquire(long expectedLength, out MemoryKeepAlive keepAlive);

    /// <summary>Registers managed memory of any element type, pinning it while registered.</summary>
    private unsafe OptimizerTensor AddManaged<TParameter, TGradient>(Memory<TParameter> parameters, Memory<TGradient>? gradients, bool keepMasterCopy)
        where TParameter : unmanaged
        where TGradient : unmanaged
    {
        Acquire? acquireGradients = null;
        if (gradients is { } gm)
        {
            acquireGradients = (long n, out MemoryKeepAlive k) => TensorMemory.From(gm, n, nameof(gradients), out k);
        }
        return Register(parameters.Length, ElementTypes.Of<TParameter>(),
            (long n, out MemoryKeepAlive k) => TensorMemory.From(parameters, n, nameof(parameters), out k),
            ElementTypes.Of<TGradient>(), acquireGradients, keepMasterCopy);
    }

    /// <summary>
    /// Takes the parameters' and gradients' addresses and keep-alives, releasing what it took on
    /// failure, and registers the tensor.
    /// </summary>
    private unsafe OptimizerTensor Register(long length, TensorElementType parameterType, Acquire parameters,
        TensorElementType gradientType, Acquire? gradients, bool keepMasterCopy)
    {
        ObjectDisposedException.ThrowIf(Optimizer.IsDisposed, Optimizer);
        void* p = parameters(-1, out MemoryKeepAlive keepP);
        void* g = null;
        MemoryKeepAlive keepG = MemoryKeepAlive.None;
        if (gradients is not null)
        {
            try
            {
                g = gradients(length, out keepG);
            }
            catch
            {
                keepP.Release();
                throw;
            }
        }
        // From here on Optimizer.AddTensor owns both keep-alives (and releases them on failure).
        return Optimizer.AddTensor(this, p, parameterType, g, gradientType, length, keepMasterCopy, keepP, keepG);
    }
}
