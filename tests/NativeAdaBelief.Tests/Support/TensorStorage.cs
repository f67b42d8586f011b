using System.Runtime.InteropServices;

namespace NativeAdaBelief.Tests.Support;

/// <summary>
/// A tensor's parameters and gradients in one of the <see cref="MemoryKind"/>s, able to register
/// itself and to point the tensor's gradients back at its buffer. Raw memory is deliberately
/// misaligned by one float so the kernels' unaligned paths run too.
/// </summary>
internal sealed unsafe class TensorStorage : IDisposable
{
    private readonly NativeBuffer? _nativeParameters, _nativeGradients;
    private readonly float[]? _managedParameters, _managedGradients;
    private float* _rawBlock;
    private readonly float* _rawParameters, _rawGradients;

    public TensorStorage(MemoryKind kind, ReadOnlySpan<float> initial)
    {
        Kind = kind;
        Length = initial.Length;
        switch (kind)
        {
            case MemoryKind.NativeBuffer:
                _nativeParameters = NativeBuffer.FromSpan(initial);
                _nativeGradients = new NativeBuffer(Length);
                break;
            case MemoryKind.ManagedArray:
                _managedParameters = initial.ToArray();
                _managedGradients = new float[Length];
                break;
            case MemoryKind.RawPointer:
                _rawBlock = (float*)NativeMemory.AlignedAlloc((nuint)(2 * Length + 2) * sizeof(float), 64);
                _rawParameters = _rawBlock + 1;
                _rawGradients = _rawBlock + Length + 2;
                initial.CopyTo(new Span<float>(_rawParameters, Length));
                new Span<float>(_rawGradients, Length).Clear();
                break;
        }
    }

    public MemoryKind Kind { get; }

    public int Length { get; }

    public Span<float> Parameters => Kind switch
    {
        MemoryKind.NativeBuffer => _nativeParameters!.Span,
        MemoryKind.ManagedArray => _managedParameters,
        _ => new Span<float>(_rawParameters, Length),
    };

    public Span<float> Gradients => Kind switch
    {
        MemoryKind.NativeBuffer => _nativeGradients!.Span,
        MemoryKind.ManagedArray => _managedGradients,
        _ => new Span<float>(_rawGradients, Length),
    };

    public OptimizerTensor Register(ParameterGroup group, bool withGradients = true) => Kind switch
    {
        MemoryKind.NativeBuffer => withGradients ? group.AddTensor(_nativeParameters!, _nativeGradients!) : group.AddTensor(_nativeParameters!),
        MemoryKind.ManagedArray => withGradients ? group.AddTensor(_managedParameters!, _managedGradients!) : group.AddTensor(_managedParameters!),
        _ => group.AddTensor((nint)_rawParameters, TensorElementType.Float32, withGradients ? (nint)_rawGradients : 0, TensorElementType.Float32, Length),
    };

    public void AttachGradients(OptimizerTensor tensor)
    {
        switch (Kind)
        {
            case MemoryKind.NativeBuffer:
                tensor.SetGradients(_nativeGradients!);
                break;
            case MemoryKind.ManagedArray:
                tensor.SetGradients(_managedGradients!);
                break;
            default:
                tensor.SetGradients((nint)_rawGradients, TensorElementType.Float32);
                break;
        }
    }

    public void Dispose()
    {
        _nativeParameters?.Dispose();
        _nativeGradients?.Dispose();
        if (_rawBlock != null)
        {
            NativeMemory.AlignedFree(_rawBlock);
            _rawBlock = null;
        }
    }
}
