using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace NativeAdaBelief.Demo.Model;

/// <summary>
/// The model's parameters and gradients as the training engine holds them, which is what the
/// optimizers step, the checkpoints save and the final hash covers: in float32 the
/// <see cref="Mlp"/>'s own <see cref="NativeBuffer"/>s (<see cref="Float32ParameterStore"/>); in
/// float16 or bfloat16 a 16-bit copy of every tensor (<see cref="SixteenBitParameterStore{T}"/>),
/// while the <see cref="Mlp"/>'s float32 buffers become the scratch its forward and backward
/// passes compute in.
/// </summary>
/// <remarks>
/// A batch goes: <see cref="WidenParametersIntoModel"/>, the model's forward and backward,
/// <see cref="NarrowGradientsFromModel"/>, the optimizer's step. In float32 the two conversions do
/// nothing, so that path is the demo's original one, bit for bit.
/// </remarks>
internal abstract class ParameterStore : IDisposable
{
    private readonly string[] _names;
    private readonly long[] _lengths;

    /// <summary>Takes the tensors' names and lengths from <paramref name="tensors"/>.</summary>
    protected ParameterStore(IReadOnlyList<ModelTensor> tensors)
    {
        _names = tensors.Select(t => t.Name).ToArray();
        _lengths = tensors.Select(t => t.Parameters.Length).ToArray();
    }

    /// <summary>The number format of the held parameters and gradients.</summary>
    public abstract TrainingPrecision Precision { get; }

    /// <summary>Bytes per held parameter (4 or 2): what a checkpoint stores per element.</summary>
    public int BytesPerElement => Precision.Is16Bit() ? sizeof(ushort) : sizeof(float);

    /// <summary>The tensors' names, in the model's order (fc1.weight, fc1.bias, ...).</summary>
    public IReadOnlyList<string> Names => _names;

    /// <summary>The number of tensors.</summary>
    public int Count => _names.Length;

    /// <summary>The number of elements of tensor <paramref name="tensor"/>.</summary>
    public long Length(int tensor) => _lengths[tensor];

    /// <summary>Makes the model's float32 weights the (widened) held ones: before every forward pass.</summary>
    public abstract void WidenParametersIntoModel();

    /// <summary>Rounds the gradients the model's backward pass wrote into the held gradient buffers.</summary>
    public abstract void NarrowGradientsFromModel();

    /// <summary>Registers every tensor with <paramref name="group"/>, in host memory, to be stepped in place.</summary>
    public abstract void Register(ParameterGroup group);

    /// <summary>
    /// Registers device copies of every tensor with <paramref name="group"/> (of an optimizer on
    /// <see cref="DeviceType.Cuda"/>); the mirror moves the data across around each step.
    /// </summary>
    public abstract DeviceMirror MirrorOnDevice(ParameterGroup group);

    /// <summary>Copies tensor <paramref name="tensor"/>'s held parameters, widened to float32, into <paramref name="destination"/>.</summary>
    public abstract void ReadParameters(int tensor, Span<float> destination);

    /// <summary>Copies tensor <paramref name="tensor"/>'s held gradients, widened to float32, into <paramref name="destination"/>.</summary>
    public abstract void ReadGradients(int tensor, Span<float> destination);

    /// <summary>Sets tensor <paramref name="tensor"/>'s held parameters from float32 values (rounded in 16-bit precisions).</summary>
    public abstract void WriteParameters(int tensor, ReadOnlySpan<float> source);

    /// <summary>True when no held gradient is ±∞ or NaN (the loss-scaling overflow check).</summary>
    public abstract bool GradientsAreFinite();

    /// <summary>Tensor <paramref name="tensor"/>'s held parameters as raw little-endian bytes (for checkpoints and the hash).</summary>
    public abstract ReadOnlySpan<byte> ParameterBytes(int tensor);

    /// <summary>Sets tensor <paramref name="tensor"/>'s held parameters from bytes written by <see cref="ParameterBytes"/>.</summary>
    /// <exception cref="ArgumentException">The byte count is not the tensor's.</exception>
    public void LoadParameterBytes(int tensor, ReadOnlySpan<byte> bytes)
    {
        Span<byte> target = WritableParameterBytes(tensor);
        if (bytes.Length != target.Length)
        {
            throw new ArgumentException($"{bytes.Length} bytes for {Names[tensor]}, which holds {target.Length}.", nameof(bytes));
        }
        bytes.CopyTo(target);
    }

    /// <summary>All parameters widened to float32, concatenated in tensor order.</summary>
    public float[] CopyParameters()
    {
        var all = new float[_lengths.Sum()];
        long offset = 0;
        for (int i = 0; i < Count; i++)
        {
            ReadParameters(i, all.AsSpan((int)offset, (int)_lengths[i]));
            offset += _lengths[i];
        }
        return all;
    }

    /// <summary>SHA-256 of the held parameters' bytes: equal hashes mean bit-identical weights.</summary>
    public string ParameterHash()
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        for (int i = 0; i < Count; i++)
        {
            hash.AppendData(ParameterBytes(i));
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>The store for <paramref name="model"/> in <paramref name="precision"/>; a 16-bit one starts from the model's weights, rounded.</summary>
    public static ParameterStore For(Mlp model, TrainingPrecision precision) => precision switch
    {
        TrainingPrecision.Float32 => new Float32ParameterStore(model.Tensors),
        TrainingPrecision.Float16 => new SixteenBitParameterStore<Half>(model),
        TrainingPrecision.BFloat16 => new SixteenBitParameterStore<BFloat16>(model),
        _ => throw new ArgumentOutOfRangeException(nameof(precision)),
    };

    /// <summary>The writable view behind <see cref="ParameterBytes"/>.</summary>
    protected abstract Span<byte> WritableParameterBytes(int tensor);

    /// <summary>Frees what the store allocated (a float32 store allocates nothing).</summary>
    public virtual void Dispose()
    {
    }
}

/// <summary>float32: the tensors themselves are held; nothing is converted.</summary>
internal sealed class Float32ParameterStore(IReadOnlyList<ModelTensor> tensors) : ParameterStore(tensors)
{
    /// <summary>The float32 tensors (the model's buffers, or the 2-element tensor of a path on a test function).</summary>
    public IReadOnlyList<ModelTensor> Tensors { get; } = tensors;

    /// <inheritdoc />
    public override TrainingPrecision Precision => TrainingPrecision.Float32;

    /// <inheritdoc />
    public override void WidenParametersIntoModel()
    {
    }

    /// <inheritdoc />
    public override void NarrowGradientsFromModel()
    {
    }

    /// <inheritdoc />
    public override void Register(ParameterGroup group)
    {
        foreach (ModelTensor tensor in Tensors)
        {
            group.AddTensor(tensor.Parameters, tensor.Gradients);
        }
    }

    /// <inheritdoc />
    public override DeviceMirror MirrorOnDevice(ParameterGroup group) => new Float32DeviceMirror(Tensors, group);

    /// <inheritdoc />
    public override void ReadParameters(int tensor, Span<float> destination) => Tensors[tensor].Parameters.Span.CopyTo(destination);

    /// <inheritdoc />
    public override void ReadGradients(int tensor, Span<float> destination) => Tensors[tensor].Gradients.Span.CopyTo(destination);

    /// <inheritdoc />
    public override void WriteParameters(int tensor, ReadOnlySpan<float> source) => source.CopyTo(Tensors[tensor].Parameters.Span);

    /// <inheritdoc />
    public override bool GradientsAreFinite()
    {
        foreach (ModelTensor tensor in Tensors)
        {
            if (!TensorPrimitives.IsFiniteAll<float>(tensor.Gradients.Span))
            {
                return false;
            }
        }
        return true;
    }

    /// <inheritdoc />
    public override ReadOnlySpan<byte> ParameterBytes(int tensor) => MemoryMarshal.AsBytes(Tensors[tensor].Parameters.Span);

    /// <inheritdoc />
    protected override Span<byte> WritableParameterBytes(int tensor) => MemoryMarshal.AsBytes(Tensors[tensor].Parameters.Span);
}

/// <summary>
/// float16 or bfloat16: every parameter and gradient tensor in a <see cref="NativeBuffer{T}"/>,
/// what a 16-bit training engine holds. The optimizers keep float32 master weights (the native
/// one with <c>keepMasterCopy: true</c>); the model computes in float32 from widened copies.
/// </summary>
/// <typeparam name="T"><see cref="Half"/> or <see cref="BFloat16"/>.</typeparam>
internal sealed class SixteenBitParameterStore<T> : ParameterStore where T : unmanaged
{
    private readonly ModelTensor[] _model; // the float32 scratch the forward and backward passes use
    private readonly NativeBuffer<T>[] _parameters;
    private readonly NativeBuffer<T>[] _gradients;

    /// <summary>Allocates the 16-bit tensors and sets the parameters to <paramref name="model"/>'s current weights, rounded.</summary>
    public SixteenBitParameterStore(Mlp model) : this(model.Tensors)
    {
    }

    /// <summary>Allocates 16-bit tensors shaped like <paramref name="tensors"/>, the parameters set to theirs, rounded.</summary>
    public SixteenBitParameterStore(IReadOnlyList<ModelTensor> tensors) : base(tensors)
    {
        // Cached: Mlp.Tensors builds a new list on every call, and a batch must not allocate.
        _model = [.. tensors];
        _parameters = new NativeBuffer<T>[_model.Length];
        _gradients = new NativeBuffer<T>[_model.Length];
        try
        {
            for (int i = 0; i < _model.Length; i++)
            {
                _parameters[i] = new NativeBuffer<T>(_model[i].Parameters.Length);
                _gradients[i] = new NativeBuffer<T>(_model[i].Gradients.Length);
                SixteenBitConversions.Narrow<T>(_model[i].Parameters.Span, _parameters[i].Span);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public override TrainingPrecision Precision => typeof(T) == typeof(Half) ? TrainingPrecision.Float16 : TrainingPrecision.BFloat16;

    /// <summary>The 16-bit parameter buffers, in tensor order.</summary>
    public IReadOnlyList<NativeBuffer<T>> Parameters => _parameters;

    /// <summary>The 16-bit gradient buffers, in tensor order.</summary>
    public IReadOnlyList<NativeBuffer<T>> Gradients => _gradients;

    /// <inheritdoc />
    public override void WidenParametersIntoModel()
    {
        for (int i = 0; i < _model.Length; i++)
        {
            SixteenBitConversions.Widen<T>(_parameters[i].Span, _model[i].Parameters.Span);
        }
    }

    /// <inheritdoc />
    public override void NarrowGradientsFromModel()
    {
        for (int i = 0; i < _model.Length; i++)
        {
            SixteenBitConversions.Narrow<T>(_model[i].Gradients.Span, _gradients[i].Span);
        }
    }

    /// <inheritdoc />
    public override void Register(ParameterGroup group)
    {
        for (int i = 0; i < _model.Length; i++)
        {
            // The master copy is what makes 16-bit training work: a weight near 0.05 is stored in
            // steps of 2.4e-4 in bfloat16 (3e-5 in float16), and most updates are far smaller than
            // the learning rate (1e-3); in float32 they add up instead of being rounded away.
            group.AddTensor(_parameters[i], _gradients[i], keepMasterCopy: true);
        }
    }

    /// <inheritdoc />
    public override DeviceMirror MirrorOnDevice(ParameterGroup group) => new SixteenBitDeviceMirror<T>(_parameters, _gradients, group);

    /// <inheritdoc />
    public override void ReadParameters(int tensor, Span<float> destination) =>
        SixteenBitConversions.Widen<T>(_parameters[tensor].Span, destination);

    /// <inheritdoc />
    public override void ReadGradients(int tensor, Span<float> destination) =>
        SixteenBitConversions.Widen<T>(_gradients[tensor].Span, destination);

    /// <inheritdoc />
    public override void WriteParameters(int tensor, ReadOnlySpan<float> source) =>
        SixteenBitConversions.Narrow(source, _parameters[tensor].Span);

    /// <inheritdoc />
    public override bool GradientsAreFinite()
    {
        foreach (NativeBuffer<T> gradients in _gradients)
        {
            if (!SixteenBitConversions.AllFinite<T>(gradients.Span))
            {
                return false;
            }
        }
        return true;
    }

    /// <inheritdoc />
    public override ReadOnlySpan<byte> ParameterBytes(int tensor) => MemoryMarshal.AsBytes(_parameters[tensor].Span);

    /// <inheritdoc />
    protected override Span<byte> WritableParameterBytes(int tensor) => MemoryMarshal.AsBytes(_parameters[tensor].Span);

    /// <inheritdoc />
    public override void Dispose()
    {
        foreach (NativeBuffer<T>? buffer in _parameters.Concat(_gradients))
        {
            buffer?.Dispose();
        }
    }
}

/// <summary>
/// Device copies of a store's tensors, for an optimizer on <see cref="DeviceType.Cuda"/>: the
/// model's forward and backward stay in C# on the CPU, so every step moves the gradients up and
/// the updated parameters back down; the optimizer's state stays on the GPU.
/// </summary>
internal abstract class DeviceMirror : IDisposable
{
    /// <summary>Copies what the step reads to the device.</summary>
    public abstract void BeforeStep();

    /// <summary>Copies the updated parameters back to the host (after the step has finished).</summary>
    public abstract void AfterStep();

    /// <summary>Frees the device buffers.</summary>
    public abstract void Dispose();
}

/// <summary>float32 device copies; the parameters go up too, so the host copy stays the model.</summary>
internal sealed class Float32DeviceMirror : DeviceMirror
{
    private readonly IReadOnlyList<ModelTensor> _tensors;
    private readonly List<(CudaBuffer Parameters, CudaBuffer Gradients)> _device = [];

    /// <summary>Allocates and registers a device copy of every tensor.</summary>
    public Float32DeviceMirror(IReadOnlyList<ModelTensor> tensors, ParameterGroup group)
    {
        _tensors = tensors;
        try
        {
            foreach (ModelTensor tensor in tensors)
            {
                var parameters = CudaBuffer.FromSpan(tensor.Parameters.Span);
                var gradients = new CudaBuffer(tensor.Gradients.Length);
                _device.Add((parameters, gradients));
                group.AddTensor(parameters, gradients);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public override void BeforeStep()
    {
        for (int i = 0; i < _tensors.Count; i++)
        {
            _device[i].Parameters.Upload(_tensors[i].Parameters.Span);
            _device[i].Gradients.Upload(_tensors[i].Gradients.Span);
        }
    }

    /// <inheritdoc />
    public override void AfterStep()
    {
        for (int i = 0; i < _tensors.Count; i++)
        {
            _device[i].Parameters.Download(_tensors[i].Parameters.Span);
        }
    }

    /// <inheritdoc />
    public override void Dispose()
    {
        foreach ((CudaBuffer parameters, CudaBuffer gradients) in _device)
        {
            parameters.Dispose();
            gradients.Dispose();
        }
    }
}

/// <summary>
/// 16-bit device copies, with the float32 master copy on the device. The parameters go up with
/// the gradients although the step reads the master copy: a skipped step (float16 overflow)
/// leaves the device's parameters as they were, and after a resume those would otherwise be the
/// initial weights, not the checkpoint's.
/// </summary>
internal sealed class SixteenBitDeviceMirror<T> : DeviceMirror where T : unmanaged
{
    private readonly NativeBuffer<T>[] _hostParameters;
    private readonly NativeBuffer<T>[] _hostGradients;
    private readonly List<(CudaBuffer<T> Parameters, CudaBuffer<T> Gradients)> _device = [];

    /// <summary>Allocates and registers a device copy of every tensor (the master copy starts from the parameters).</summary>
    public SixteenBitDeviceMirror(NativeBuffer<T>[] parameters, NativeBuffer<T>[] gradients, ParameterGroup group)
    {
        _hostParameters = parameters;
        _hostGradients = gradients;
        try
        {
            for (int i = 0; i < parameters.Length; i++)
            {
                var deviceParameters = CudaBuffer<T>.FromSpan(parameters[i].Span);
                var deviceGradients = new CudaBuffer<T>(gradients[i].Length);
                _device.Add((deviceParameters, deviceGradients));
                group.AddTensor(deviceParameters, deviceGradients, keepMasterCopy: true);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public override void BeforeStep()
    {
        for (int i = 0; i < _device.Count; i++)
        {
            _device[i].Parameters.Upload(_hostParameters[i].Span);
            _device[i].Gradients.Upload(_hostGradients[i].Span);
        }
    }

    /// <inheritdoc />
    public override void AfterStep()
    {
        for (int i = 0; i < _device.Count; i++)
        {
            _device[i].Parameters.Download(_hostParameters[i].Span);
        }
    }

    /// <inheritdoc />
    public override void Dispose()
    {
        foreach ((CudaBuffer<T> parameters, CudaBuffer<T> gradients) in _device)
        {
            parameters.Dispose();
            gradients.Dispose();
        }
    }
}
