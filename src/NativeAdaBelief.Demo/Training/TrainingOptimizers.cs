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

    /// <summary>The native options for AdaBelief and Adam, with m, s and s_max stored in <paramref name="encoding"/>.</summary>
    public static AdaBeliefOptions NativeOptions(OptimizerKind kind, double learningRate, StateEncoding encoding = StateEncoding.Float32) =>
        kind switch
        {
            // The paper's Algorithm 1 (no rectification): it then differs from Adam in the second moment only.
            OptimizerKind.AdaBelief => new AdaBeliefOptions { LearningRate = learningRate, Rectify = false, StateEncoding = encoding },
            OptimizerKind.Adam => AdaBeliefOptions.ForAdam(learningRate) with { StateEncoding = encoding },
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "SGD is not a native optimizer."),
        };

    /// <summary>Creates the optimizer for <paramref name="kind"/> over float32 tensors (the model's, or a test function's point).</summary>
    public static ITrainingOptimizer Create(OptimizerKind kind, double learningRate, IReadOnlyList<ModelTensor> tensors, int threads, DeviceType device) =>
        Create(kind, learningRate, new Float32ParameterStore(tensors), threads, device);

    /// <summary>
    /// Creates the optimizer for <paramref name="kind"/> over the tensors <paramref name="store"/>
    /// holds, in its precision (16-bit: with float32 master weights, and loss scaling in float16).
    /// </summary>
    public static ITrainingOptimizer Create(OptimizerKind kind, double learningRate, ParameterStore store, int threads, DeviceType device,
        StateEncoding encoding = StateEncoding.Float32) =>
        (kind, store) switch
        {
            (OptimizerKind.Sgd, Float32ParameterStore float32) => new SgdMomentumOptimizer(learningRate, SgdMomentum, float32.Tensors),
            (OptimizerKind.Sgd, _) => new MixedPrecisionSgdOptimizer(learningRate, SgdMomentum, store),
            _ => new NativeTrainingOptimizer(kind, learningRate, store, threads, device, encoding),
        };

    /// <summary>A learning rate as the tables print it.</summary>
    public static string FormatRate(double rate) => rate.ToString("0.#####", CultureInfo.InvariantCulture);
}

/// <summary>What the training loop needs from an optimizer.</summary>
internal interface ITrainingOptimizer : IDisposable
{
    OptimizerKind Kind { get; }

    /// <summary>One update of every parameter from the gradient buffers (with loss scaling: skipped when a gradient overflowed).</summary>
    void Step();

    /// <summary>
    /// What the loss gradient must be multiplied by before the backward pass: the loss scale of a
    /// float16 run, 1 otherwise. <see cref="Step"/> divides the gradients by it again.
    /// </summary>
    double LossScale { get; }

    /// <summary>Where the loss scaling stands (null when this optimizer does not scale the loss). Allocates.</summary>
    LossScaleState? LossScaling { get; }

    /// <summary>Continues the loss scaling of a resumed run from <paramref name="state"/>.</summary>
    /// <exception cref="InvalidDataException">This optimizer does not scale the loss, or the state is out of range.</exception>
    void RestoreLossScaling(LossScaleState state);

    /// <summary>Writes the whole optimizer state (for checkpoints).</summary>
    void SaveState(Stream stream);

    /// <summary>Restores a state written by <see cref="SaveState"/> for the same model.</summary>
    void LoadState(Stream stream);
}

/// <summary>
/// AdaBelief or Adam: the native, fused multi-tensor step over every model tensor. On the CPU it
/// steps the store's buffers in place: the model's <see cref="NativeBuffer"/>s in float32, or the
/// 16-bit <see cref="NativeBuffer{T}"/>s registered with <c>keepMasterCopy: true</c>, so that the
/// optimizer keeps and updates float32 master weights and writes their rounding into them. In
/// float16 a <see cref="ResumableLossScaler"/> (the library's <see cref="DynamicLossScaler"/>) runs
/// the step. With <see cref="DeviceType.Cuda"/> the optimizer state lives on the GPU and steps
/// device mirrors of the tensors (the model's forward and backward stay in C# on the CPU): each
/// step uploads parameters and gradients and downloads the updated parameters, so the host copy
/// remains the model.
/// </summary>
internal sealed class NativeTrainingOptimizer : ITrainingOptimizer
{
    private readonly AdaBeliefOptimizer _optimizer;
    private readonly DeviceMirror? _mirror;
    private readonly ResumableLossScaler? _scaler;

    /// <summary>Creates the optimizer and registers every tensor of <paramref name="store"/> (or its device mirror) with it.</summary>
    public NativeTrainingOptimizer(OptimizerKind kind, double learningRate, ParameterStore store, int threads, DeviceType device,
        StateEncoding encoding = StateEncoding.Float32)
    {
        Kind = kind;
        _optimizer = new AdaBeliefOptimizer(OptimizerKinds.NativeOptions(kind, learningRate, encoding),
            device == DeviceType.Cpu ? new OptimizerConfig { ThreadCount = threads } : new OptimizerConfig { Device = device });
        try
        {
            ParameterGroup group = _optimizer.ParamGroups[0];
            if (device == DeviceType.Cpu)
            {
                store.Register(group);
            }
            else
            {
                _mirror = store.MirrorOnDevice(group);
            }
            if (store.Precision.ScalesLoss())
            {
                _scaler = new ResumableLossScaler(_optimizer, LossScaleState.Initial);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public OptimizerKind Kind { get; }

    /// <summary>The wrapped optimizer.</summary>
    public AdaBeliefOptimizer Optimizer => _optimizer;

    /// <inheritdoc />
    public double LossScale => _scaler?.Scale ?? 1.0;

    /// <inheritdoc />
    public LossScaleState? LossScaling => _scaler?.State;

    /// <inheritdoc />
    public void RestoreLossScaling(LossScaleState state) =>
        (_scaler ?? throw new InvalidDataException("The checkpoint has a loss-scaling state, but this run does not scale its loss.")).Restore(state);

    /// <inheritdoc />
    public void Step()
    {
        if (_mirror is null)
        {
            StepHere();
            return;
        }
        _mirror.BeforeStep();
        StepHere();
        _optimizer.Synchronize();
        _mirror.AfterStep();
    }

    private void StepHere()
    {
        if (_scaler is null)
        {
            _optimizer.Step();
        }
        else
        {
            _scaler.Step();
        }
    }

    /// <inheritdoc />
    public void SaveState(Stream stream) => _optimizer.SaveCheckpoint(stream);

    /// <inheritdoc />
    public void LoadState(Stream stream) => _optimizer.LoadCheckpoint(stream);

    /// <inheritdoc />
    public void Dispose()
    {
        _optimizer.Dispose();
        _mirror?.Dispose();
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

    /// <inheritdoc />
    public double LossScale => 1.0;

    /// <inheritdoc />
    public LossScaleState? LossScaling => null;

    /// <inheritdoc />
    public void RestoreLossScaling(LossScaleState state) =>
        throw new InvalidDataException("The checkpoint has a loss-scaling state, but this float32 run does not scale its loss.");

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

/// <summary>
/// SGD with momentum over 16-bit parameters and gradients, as a mixed-precision engine runs it:
/// the velocities and float32 master weights are kept here; each step widens the gradients (and
/// in float16 divides them by the loss scale, or skips the step when one overflowed), updates
/// the master weights as <see cref="SgdMomentumOptimizer"/> updates its parameters, and writes
/// their rounding into the 16-bit parameters.
/// </summary>
internal sealed class MixedPrecisionSgdOptimizer : ITrainingOptimizer
{
    /// <summary>Velocities and master weights ("M1" is the float32 form, velocities only).</summary>
    private static ReadOnlySpan<byte> Magic => "NABSGDW1"u8;

    private readonly ParameterStore _store;
    private readonly float[][] _master;
    private readonly float[][] _velocity;
    private readonly float[] _gradient; // one tensor's widened gradients: allocated once, not per step
    private readonly ManagedLossScaler? _scaler;

    /// <summary>Starts from the store's parameters (widened: the master weights) with zero velocities.</summary>
    public MixedPrecisionSgdOptimizer(double learningRate, double momentum, ParameterStore store)
    {
        LearningRate = learningRate;
        Momentum = momentum;
        _store = store;
        _master = new float[store.Count][];
        _velocity = new float[store.Count][];
        for (int i = 0; i < store.Count; i++)
        {
            _master[i] = new float[store.Length(i)];
            store.ReadParameters(i, _master[i]);
            _velocity[i] = new float[store.Length(i)];
        }
        _gradient = new float[_master.Max(tensor => tensor.Length)];
        _scaler = store.Precision.ScalesLoss() ? new ManagedLossScaler(LossScaleState.Initial) : null;
    }

    /// <inheritdoc />
    public OptimizerKind Kind => OptimizerKind.Sgd;

    /// <summary>The learning rate α.</summary>
    public double LearningRate { get; }

    /// <summary>The momentum μ.</summary>
    public double Momentum { get; }

    /// <inheritdoc />
    public double LossScale => _scaler?.Scale ?? 1.0;

    /// <inheritdoc />
    public LossScaleState? LossScaling => _scaler?.State;

    /// <inheritdoc />
    public void RestoreLossScaling(LossScaleState state) =>
        (_scaler ?? throw new InvalidDataException("The checkpoint has a loss-scaling state, but this run does not scale its loss.")).Restore(state);

    /// <inheritdoc />
    public void Step()
    {
        float inverseScale = 1f;
        if (_scaler is not null)
        {
            // As the native step does: decide over every gradient before changing anything.
            if (!_store.GradientsAreFinite())
            {
                _scaler.Update(skipped: true);
                return;
            }
            inverseScale = (float)(1.0 / _scaler.Scale);
        }
        float momentum = (float)Momentum, negativeRate = (float)-LearningRate;
        for (int i = 0; i < _master.Length; i++)
        {
            Span<float> master = _master[i];
            Span<float> velocity = _velocity[i];
            Span<float> gradients = _gradient.AsSpan(0, master.Length);
            _store.ReadGradients(i, gradients);
            if (inverseScale != 1f)
            {
                TensorPrimitives.Multiply(gradients, inverseScale, gradients);
            }
            TensorPrimitives.MultiplyAdd(velocity, momentum, gradients, velocity);  // v = μv + g
            TensorPrimitives.MultiplyAdd(velocity, negativeRate, master, master);   // θ = θ − αv (float32 master)
            _store.WriteParameters(i, master);                                      // the 16-bit parameters: its rounding
        }
        _scaler?.Update(skipped: false);
    }

    /// <inheritdoc />
    public void SaveState(Stream stream)
    {
        stream.Write(Magic);
        Span<byte> number = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(number, _master.Length);
        stream.Write(number);
        for (int i = 0; i < _master.Length; i++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(number, _master[i].Length);
            stream.Write(number);
            stream.Write(MemoryMarshal.AsBytes(_velocity[i].AsSpan()));
            stream.Write(MemoryMarshal.AsBytes(_master[i].AsSpan()));
        }
    }

    /// <inheritdoc />
    public void LoadState(Stream stream)
    {
        Span<byte> header = stackalloc byte[8];
        stream.ReadExactly(header);
        if (!header.SequenceEqual(Magic))
        {
            throw new InvalidDataException("Not the state of a mixed-precision SGD-momentum run (velocities and master weights).");
        }
        stream.ReadExactly(header);
        if (BinaryPrimitives.ReadInt64LittleEndian(header) != _master.Length)
        {
            throw new InvalidDataException("The SGD-momentum state has a different number of tensors.");
        }
        var velocities = new float[_master.Length][];
        var masters = new float[_master.Length][];
        for (int i = 0; i < _master.Length; i++)
        {
            stream.ReadExactly(header);
            if (BinaryPrimitives.ReadInt64LittleEndian(header) != _master[i].Length)
            {
                throw new InvalidDataException($"The SGD-momentum state's tensor {i} has a different length.");
            }
            velocities[i] = new float[_master[i].Length];
            masters[i] = new float[_master[i].Length];
            stream.ReadExactly(MemoryMarshal.AsBytes(velocities[i].AsSpan()));
            stream.ReadExactly(MemoryMarshal.AsBytes(masters[i].AsSpan()));
        }
        for (int i = 0; i < _master.Length; i++)
        {
            velocities[i].CopyTo(_velocity[i], 0);
            masters[i].CopyTo(_master[i], 0);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
    }
}
