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
    /// <exception cref="ArgumentOutOfRangeException">Set to a value the native library refuses (negative or non-finite).</exception>
    /// <exception cref="ObjectDisposedException">The optimizer was disposed.</exception>
    public unsafe double LearningRate
    {
        get => ReadNative().learning_rate;
        set
        {
            using var call = Optimizer.Enter();
            NativeValidation.Check(NativeMethods.nab_optimizer_set_learning_rate(call.Pointer, (uint)Id, value), nameof(ParameterGroup),
                "learning_rate", nameof(LearningRate), value);
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

    // ---- Registration: native or CUDA buffers, managed memory, raw addresses. ----

    /// <summary>
    /// Registers a tensor whose parameters live in a buffer the native library allocated
    /// (<see cref="NativeBuffer{T}"/> for a CPU optimizer, <see cref="CudaBuffer{T}"/> for a CUDA
    /// one), with no gradients yet; its gradients will have the parameters' element type (point it
    /// at them with <see cref="OptimizerTensor.SetGradients{T}(TensorBuffer{T})"/>). The optimizer
    /// keeps the buffer's memory alive while it is registered.
    /// </summary>
    /// <typeparam name="T">The element type: <see cref="float"/>, <see cref="Half"/> or <see cref="BFloat16"/>.</typeparam>
    /// <param name="parameters">The parameters, updated in place by every step.</param>
    /// <param name="keepMasterCopy">16-bit parameters only: the optimizer keeps a float32 master
    /// copy (initialised from the parameters now), updates it every step and writes its rounding
    /// to nearest, ties to even, into the parameters, so that updates smaller than half a 16-bit
    /// unit accumulate instead of being rounded away. False: every step widens the 16-bit
    /// parameters, updates them in float32 and rounds them back.</param>
    /// <returns>The registered tensor.</returns>
    /// <exception cref="ArgumentException">The buffer is not on the optimizer's device, or <paramref name="keepMasterCopy"/> with float32 parameters.</exception>
    /// <exception cref="ObjectDisposedException">The buffer or the optimizer was disposed.</exception>
    public OptimizerTensor AddTensor<T>(TensorBuffer<T> parameters, bool keepMasterCopy = false)
        where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(parameters);
        return Register(parameters.Length, parameters.ElementType, TensorMemory.Acquire(Optimizer, parameters, nameof(parameters)),
            parameters.ElementType, gradients: null, keepMasterCopy);
    }

    /// <summary>
    /// Registers a tensor whose parameters and gradients live in buffers the native library
    /// allocated (both <see cref="NativeBuffer{T}"/>s for a CPU optimizer, both
    /// <see cref="CudaBuffer{T}"/>s for a CUDA one), of the same or different element types (e.g.
    /// bfloat16 parameters with float32 gradients). The optimizer keeps their memory alive while
    /// they are registered.
    /// </summary>
    /// <typeparam name="TParameter">The parameters' element type: <see cref="float"/>, <see cref="Half"/> or <see cref="BFloat16"/>.</typeparam>
    /// <typeparam name="TGradient">The gradients' element type: <see cref="float"/>, <see cref="Half"/> or <see cref="BFloat16"/>.</typeparam>
    /// <param name="parameters">The parameters, updated in place by every step.</param>
    /// <param name="gradients">The gradients (same length; not null: use <see cref="AddTensor{T}(TensorBuffer{T}, bool)"/> for none yet).</param>
    /// <param name="keepMasterCopy">16-bit parameters only: keep a float32 master copy (see
    /// <see cref="AddTensor{T}(TensorBuffer{T}, bool)"/>).</param>
    /// <returns>The registered tensor.</returns>
    /// <exception cref="ArgumentException">The lengths differ, the buffers share memory with each other or with a registered tensor's (the message names both tensors) or are not on the optimizer's device, or <paramref name="keepMasterCopy"/> with float32 parameters.</exception>
    /// <exception cref="ObjectDisposedException">A buffer or the optimizer was disposed.</exception>
    public OptimizerTensor AddTensor<TParameter, TGradient>(TensorBuffer<TParameter> parameters, TensorBuffer<TGradient> gradients,
        bool keepMasterCopy = false)
        where TParameter : unmanaged
        where TGradient : unmanaged
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(gradients);
        return Register(parameters.Length, parameters.ElementType, TensorMemory.Acquire(Optimizer, parameters, nameof(parameters)),
            gradients.ElementType, TensorMemory.Acquire(Optimizer, gradients, nameof(gradients)), keepMasterCopy);
    }

    /// <summary>
    /// Registers a float32 tensor in managed memory (a <c>float[]</c>, or any
    /// <see cref="Memory{T}"/>), pinned while it is registered (until the optimizer is disposed
    /// or the tensor is pointed elsewhere), so it must not be returned to a pool meanwhile.
    /// </summary>
    /// <param name="parameters">The parameters, updated in place by every step.</param>
    /// <param name="gradients">The gradients (same length), or null for none yet.</param>
    /// <returns>The registered tensor.</returns>
    /// <exception cref="ArgumentException">The memory is empty, the lengths differ, or the ranges share memory with each other or with a registered tensor's (the message names both tensors).</exception>
    /// <exception cref="ObjectDisposedException">The optimizer was disposed.</exception>
    public OptimizerTensor AddTensor(Memory<float> parameters, Memory<float>? gradients = null) =>
        gradients is { } g ? AddTensor<float, float>(parameters, g) : AddTensor<float>(parameters);

    /// <summary>
    /// Registers a tensor in managed memory of any element type (e.g. <c>halves.AsMemory()</c>),
    /// with no gradients yet; its gradients will have the parameters' element type. The memory
    /// stays pinned while it is registered.
    /// </summary>
    /// <typeparam name="T">The element type: <see cref="float"/>, <see cref="Half"/> or <see cref="BFloat16"/>.</typeparam>
    /// <param name="parameters">The parameters, updated in place by every step.</param>
    /// <param name="keepMasterCopy">16-bit parameters only: keep a float32 master copy (see
    /// <see cref="AddTensor{T}(TensorBuffer{T}, bool)"/>).</param>
    /// <returns>The registered tensor.</returns>
    /// <exception cref="ArgumentException">The memory is empty, or <paramref name="keepMasterCopy"/> with float32 parameters.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not float, Half or BFloat16.</exception>
    /// <exception cref="ObjectDisposedException">The optimizer was disposed.</exception>
    public OptimizerTensor AddTensor<T>(Memory<T> parameters, bool keepMasterCopy = false)
        where T : unmanaged =>
        Register(parameters.Length, ElementTypes.Of<T>(), TensorMemory.Acquire(parameters, nameof(parameters)), ElementTypes.Of<T>(),
            gradients: null, keepMasterCopy);

    /// <summary>
    /// Registers a tensor in managed memory whose parameters and gradients may have different
    /// element types (e.g. bfloat16 parameters with float32 gradients). Both stay pinned while
    /// they are registered.
    /// </summary>
    /// <typeparam name="TParameter">The parameters' element type: <see cref="float"/>, <see cref="Half"/> or <see cref="BFloat16"/>.</typeparam>
    /// <typeparam name="TGradient">The gradients' element type: <see cref="float"/>, <see cref="Half"/> or <see cref="BFloat16"/>.</typeparam>
    /// <param name="parameters">The parameters, updated in place by every step.</param>
    /// <param name="gradients">The gradients (same length).</param>
    /// <param name="keepMasterCopy">16-bit parameters only: keep a float32 master copy (see
    /// <see cref="AddTensor{T}(TensorBuffer{T}, bool)"/>).</param>
    /// <returns>The registered tensor.</returns>
    /// <exception cref="ArgumentException">The memory is empty, the lengths differ, the ranges share memory with each other or with a registered tensor's (the message names both tensors), or <paramref name="keepMasterCopy"/> with float32 parameters.</exception>
    /// <exception cref="NotSupportedException">An element type is not float, Half or BFloat16.</exception>
    /// <exception cref="ObjectDisposedException">The optimizer was disposed.</exception>
    public OptimizerTensor AddTensor<TParameter, TGradient>(Memory<TParameter> parameters, Memory<TGradient> gradients,
        bool keepMasterCopy = false)
        where TParameter : unmanaged
        where TGradient : unmanaged =>
        Register(parameters.Length, ElementTypes.Of<TParameter>(), TensorMemory.Acquire(parameters, nameof(parameters)),
            ElementTypes.Of<TGradient>(), TensorMemory.Acquire(gradients, nameof(gradients)), keepMasterCopy);

    /// <summary>
    /// Registers a tensor by raw addresses of any element type, e.g. the data pointers of another
    /// engine's tensors (device pointers for a CUDA optimizer). The caller keeps the memory valid
    /// (and unmoved) until the tensor is pointed elsewhere or the optimizer is disposed.
    /// </summary>
    /// <param name="parameters">Address of <paramref name="length"/> elements of <paramref name="parameterType"/>; not 0.</param>
    /// <param name="parameterType">The parameters' element type.</param>
    /// <param name="gradients">Address of <paramref name="length"/> elements of <paramref name="gradientType"/>, or 0 for none yet.</param>
    /// <param name="gradientType">The gradients' element type (also when <paramref name="gradients"/> is 0: the type later gradients must have).</param>
    /// <param name="length">Number of elements; at least 1.</param>
    /// <param name="keepMasterCopy">16-bit parameters only: keep a float32 master copy (see
    /// <see cref="AddTensor{T}(TensorBuffer{T}, bool)"/>).</param>
    /// <returns>The registered tensor.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="parameters"/> is 0.</exception>
    /// <exception cref="ArgumentException">Ranges that share memory with each other or with a registered tensor's (the message names both tensors), or <paramref name="keepMasterCopy"/> with float32 parameters.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A length below 1, or an element type that is not a defined <see cref="TensorElementType"/>.</exception>
    /// <exception cref="ObjectDisposedException">The optimizer was disposed.</exception>
    public unsafe OptimizerTensor AddTensor(nint parameters, TensorElementType parameterType, nint gradients, TensorElementType gradientType,
        long length, bool keepMasterCopy = false)
    {
        ObjectDisposedException.ThrowIf(Optimizer.IsDisposed, Optimizer);
        if (parameters == 0)
        {
            throw new ArgumentNullException(nameof(parameters), "The parameter address must not be 0.");
        }
        return Optimizer.AddTensor(this, (void*)parameters, parameterType, (void*)gradients, gradientType, length, keepMasterCopy,
            MemoryKeepAlive.None, MemoryKeepAlive.None);
    }

    internal void AddTensorInternal(OptimizerTensor tensor) => _tensors.Add(tensor);

    /// <summary>
    /// Takes the parameters' and gradients' addresses and keep-alives, releasing what it took on
    /// failure, and registers the tensor.
    /// </summary>
    private unsafe OptimizerTensor Register(long length, TensorElementType parameterType, Acquisition parameters,
        TensorElementType gradientType, Acquisition? gradients, bool keepMasterCopy)
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
