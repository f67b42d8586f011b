using System.Buffers.Binary;
using System.Globalization;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using NativeAdaBelief.Demo.Model;

namespace NativeAdaBelief.Demo.Training;

/// <summary>The optimizers the demo compares.</summary>
internal enum OptimizerKind
{
    /// <summary>NativeAdaBelief's AdaBelief: the library's defaults without rectification (the paper's Algorithm 1).</summary>
    AdaBelief,

    /// <summary>The same native core with the squared-gradient second moment (<see cref="AdaBeliefOptions.ForAdam"/>).</summary>
    Adam,

    /// <summary>SGD with momentum, written in C# as the baseline.</summary>
    Sgd,
}

/// <summary>Names, defaults and construction of the demo's optimizers.</summary>
internal static class OptimizerKinds
{
    /// <summary>All of them, in the order the demo runs them.</summary>
    public static readonly OptimizerKind[] All = [OptimizerKind.AdaBelief, OptimizerKind.Adam, OptimizerKind.Sgd];

    /// <summary>SGD's momentum.</summary>
    public const double SgdMomentum = 0.9;

    /// <summary>The command-line name (adabelief, adam, sgd).</summary>
    public static string CliName(this OptimizerKind kind) => kind switch
    {
        OptimizerKind.AdaBelief => "adabelief",
        OptimizerKind.Adam => "adam",
        OptimizerKind.Sgd => "sgd",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>The name shown in tables and plots.</summary>
    public static string DisplayName(this OptimizerKind kind) => kind switch
    {
        OptimizerKind.AdaBelief => "AdaBelief",
        OptimizerKind.Adam => "Adam",
        OptimizerKind.Sgd => "SGD+momentum",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>The learning rate used when --lr is not given.</summary>
    public static double DefaultLearningRate(this OptimizerKind kind) => kind switch
    {
        OptimizerKind.AdaBelief => 1e-3,
        OptimizerKind.Adam => 1e-3,
        OptimizerKind.Sgd => 0.05,
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>Parses a command-line name.</summary>
    public static bool TryParse(string text, out OptimizerKind kind)
    {
        foreach (OptimizerKind candidate in All)
        {
            if (string.Equals(candidate.CliName(), text, StringComparison.OrdinalIgnoreCase))
            {
                kind = candidate;
                return true;
            }
        }
        kind = default;
        return false;
    }

    /// <summary>The native options for AdaBelief and Adam.</summary>
    public static AdaBeliefOptions NativeOptions(OptimizerKind kind, double learningRate) => kind switch
    {
        // The paper's Algorithm 1 (no rectification): it then differs from Adam in the second moment only.
        OptimizerKind.AdaBelief => new AdaBeliefOptions { LearningRate = learningRate, Rectify = false },
        OptimizerKind.Adam => AdaBeliefOptions.ForAdam(learningRate),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "SGD is not a native optimizer."),
    };

    /// <summary>Creates the optimizer for <paramref name="kind"/> over the model's tensors.</summary>
    public static ITrainingOptimizer Create(OptimizerKind kind, double learningRate, IReadOnlyList<ModelTensor> tensors, int threads, DeviceType device) =>
        kind == OptimizerKind.Sgd
            ? new SgdMomentumOptimizer(learningRate, SgdMomentum, tensors)
            : new NativeTrainingOptimizer(kind, learningRate, tensors, threads, device);

    /// <summary>A learning rate as the tables print it.</summary>
    public static string FormatRate(double rate) => rate.ToString("0.#####", CultureInfo.InvariantCulture);
}

/// <summary>What the training loop needs from an optimizer.</summary>
internal interface ITrainingOptimizer : IDisposable
{
    OptimizerKind Kind { get; }

    /// <summary>One update of every parameter from the gradient buffers.</summary>
    void Step();

    /// <summary>Writes the whole optimizer state (for checkpoints).</summary>
    void SaveState(Stream stream);

    /// <summary>Restores a state written by <see cref="SaveState"/> for the same model.</summary>
    void LoadState(Stream stream);
}

/// <summary>
/// AdaBelief or Adam: the native, fused multi-tensor step over every model tensor. On the CPU it
/// steps the model's <see cref="NativeBuffer"/>s in place. With <see cref="DeviceType.Cuda"/> the
/// optimizer state lives on the GPU and steps device mirrors of the parameters (the model's
/// forward and backward stay in C# on the CPU): each step uploads parameters and gradients and
/// downloads the updated parameters, so the host copy remains the model.
/// </summary>
internal sealed class NativeTrainingOptimizer : ITrainingOptimizer
{
    private readonly AdaBeliefOptimizer _optimizer;
    private readonly IReadOnlyList<ModelTensor> _tensors;
    private readonly List<(CudaBuffer Parameters, CudaBuffer Gradients)> _device = [];

    public NativeTrainingOptimizer(OptimizerKind kind, double learningRate, IReadOnlyList<ModelTensor> tensors, int threads, DeviceType device)
    {
        Kind = kind;
        _tensors = tensors;
        _optimizer = new AdaBeliefOptimizer(OptimizerKinds.NativeOptions(kind, learningRate),
            device == DeviceType.Cpu ? new OptimizerConfig { ThreadCount = threads } : new OptimizerConfig { Device = device });
        try
        {
            ParameterGroup group = _optimizer.ParamGroups[0];
            foreach (ModelTensor tensor in tensors)
            {
                if (device == DeviceType.Cpu)
                {
                    group.AddTensor(tensor.Parameters, tensor.Gradients);
                }
                else
                {
                    var parameters = CudaBuffer.FromSpan(tensor.Parameters.Span);
                    var gradients = new CudaBuffer(tensor.Gradients.Length);
                    _device.Add((parameters, gradients));
                    group.AddTensor(parameters, gradients);
                }
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public OptimizerKind Kind { get; }

    /// <summary>The wrapped optimizer.</summary>
    public AdaBeliefOptimizer Optimizer => _optimizer;

    public void Step()
    {
        if (_device.Count == 0)
        {
            _optimizer.Step();
            return;
        }
        for (int i = 0; i < _tensors.Count; i++)
        {
            _device[i].Parameters.Upload(_tensors[i].Parameters.Span);
            _device[i].Gradients.Upload(_tensors[i].Gradients.Span);
        }
        _optimizer.Step();
        _optimizer.Synchronize();
        for (int i = 0; i < _tensors.Count; i++)
        {
            _device[i].Parameters.Download(_tensors[i].Parameters.Span);
        }
    }

    public void SaveState(Stream stream) => _optimizer.SaveCheckpoint(stream);

    public void LoadState(Stream stream) => _optimizer.LoadCheckpoint(stream);

    public void Dispose()
    {
        _optimizer.Dispose();
        foreach ((CudaBuffer parameters, CudaBuffer gradients) in _device)
        {
            parameters.Dispose();
            gradients.Dispose();
        }
    }
}

/// <summary>
/// SGD with momentum (PyTorch's form: v ← μv + g, θ ← θ − αv), in C# with TensorPrimitives: the
/// baseline the adaptive optimizers are compared with.
/// </summary>
internal sealed class SgdMomentumOptimizer : ITrainingOptimizer
{
    private static ReadOnlySpan<byte> Magic => "NABSGDM1"u8;

    private readonly IReadOnlyList<ModelTensor> _tensors;
    private readonly float[][] _velocity;

    public SgdMomentumOptimizer(double learningRate, double momentum, IReadOnlyList<ModelTensor> tensors)
    {
        LearningRate = learningRate;
        Momentum = momentum;
        _tensors = tensors;
        _velocity = tensors.Select(tensor => new float[tensor.Parameters.Length]).ToArray();
    }

    public OptimizerKind Kind => OptimizerKind.Sgd;
    public double LearningRate { get; }
    public double Momentum { get; }

    public void Step()
    {
        float momentum = (float)Momentum, negativeRate = (float)-LearningRate;
        for (int i = 0; i < _tensors.Count; i++)
        {
            Span<float> parameters = _tensors[i].Parameters.Span;
            Span<float> gradients = _tensors[i].Gradients.Span;
            Span<float> velocity = _velocity[i];
            TensorPrimitives.MultiplyAdd(velocity, momentum, gradients, velocity);   // v = μv + g
            TensorPrimitives.MultiplyAdd(velocity, negativeRate, parameters, parameters); // θ = θ − αv
        }
    }

    public void SaveState(Stream stream)
    {
        stream.Write(Magic);
        Span<byte> number = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(number, _velocity.Length);
        stream.Write(number);
        foreach (float[] velocity in _velocity)
        {
            BinaryPrimitives.WriteInt64LittleEndian(number, velocity.Length);
            stream.Write(number);
            stream.Write(MemoryMarshal.AsBytes(velocity.AsSpan()));
        }
    }

    public void LoadState(Stream stream)
    {
        Span<byte> header = stackalloc byte[8];
        stream.ReadExactly(header);
        if (!header.SequenceEqual(Magic))
        {
            throw new InvalidDataException("Not an SGD-momentum state.");
        }
        stream.ReadExactly(header);
        if (BinaryPrimitives.ReadInt64LittleEndian(header) != _velocity.Length)
        {
            throw new InvalidDataException("The SGD-momentum state has a different number of tensors.");
        }
        var loaded = new float[_velocity.Length][];
        for (int i = 0; i < _velocity.Length; i++)
        {
            stream.ReadExactly(header);
            if (BinaryPrimitives.ReadInt64LittleEndian(header) != _velocity[i].Length)
            {
                throw new InvalidDataException($"The SGD-momentum state's tensor {i} has a different length.");
            }
            loaded[i] = new float[_velocity[i].Length];
            stream.ReadExactly(MemoryMarshal.AsBytes(loaded[i].AsSpan()));
        }
        for (int i = 0; i < _velocity.Length; i++)
        {
            loaded[i].CopyTo(_velocity[i], 0);
        }
    }

    public void Dispose()
    {
    }
}
