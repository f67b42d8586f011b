using System.Runtime.InteropServices;

namespace NativeAdaBelief.Tests.Support;

/// <summary>
/// A tensor's parameters and gradients of any element types, in one of the <see cref="MemoryKind"/>s,
/// seen through floats: the tests write gradients as floats (rounded to the gradient type) and
/// read parameters as floats (widened exactly) or as bit patterns.
/// </summary>
internal interface IMixedTensorStorage : IDisposable
{
    MemoryKind Kind { get; }

    int Length { get; }

    TensorElementType ParameterType { get; }

    TensorElementType GradientType { get; }

    float Parameter(int i);

    uint ParameterBits(int i);

    /// <summary>Writes gradient element i, rounded to the gradient type; returns the value stored.</summary>
    float SetGradient(int i, float value);

    float Gradient(int i);

    OptimizerTensor Register(ParameterGroup group, bool keepMasterCopy, bool withGradients = true);

    void AttachGradients(OptimizerTensor tensor);

    /// <summary>Copies the other storage's parameter bits (same types and length) into this one.</summary>
    void CopyParametersFrom(IMixedTensorStorage other);

    float[] Parameters() => [.. Enumerable.Range(0, Length).Select(Parameter)];

    uint[] ParameterBitsArray() => [.. Enumerable.Range(0, Length).Select(ParameterBits)];

    float[] Gradients() => [.. Enumerable.Range(0, Length).Select(Gradient)];
}

/// <summary>Creates <see cref="MixedTensorStorage{TParameter, TGradient}"/>s from element types given at run time.</summary>
internal static class MixedTensorStorage
{
    public static IMixedTensorStorage Create(MemoryKind kind, TensorElementType parameterType, TensorElementType gradientType, ReadOnlySpan<float> initial) =>
        (parameterType, gradientType) switch
        {
            (TensorElementType.Float32, TensorElementType.Float32) => new MixedTensorStorage<float, float>(kind, initial),
            (TensorElementType.Float32, TensorElementType.Float16) => new MixedTensorStorage<float, Half>(kind, initial),
            (TensorElementType.Float32, TensorElementType.BFloat16) => new MixedTensorStorage<float, BFloat16>(kind, initial),
            (TensorElementType.Float16, TensorElementType.Float32) => new MixedTensorStorage<Half, float>(kind, initial),
            (TensorElementType.Float16, TensorElementType.Float16) => new MixedTensorStorage<Half, Half>(kind, initial),
            (TensorElementType.Float16, TensorElementType.BFloat16) => new MixedTensorStorage<Half, BFloat16>(kind, initial),
            (TensorElementType.BFloat16, TensorElementType.Float32) => new MixedTensorStorage<BFloat16, float>(kind, initial),
            (TensorElementType.BFloat16, TensorElementType.Float16) => new MixedTensorStorage<BFloat16, Half>(kind, initial),
            (TensorElementType.BFloat16, TensorElementType.BFloat16) => new MixedTensorStorage<BFloat16, BFloat16>(kind, initial),
            _ => throw new ArgumentOutOfRangeException(nameof(parameterType)),
        };
}

/// <summary>
/// The typed storage behind <see cref="IMixedTensorStorage"/>. Raw memory is deliberately
/// misaligned by one element so that the unaligned conversion paths run too. The parameters are
/// initialised with the initial floats rounded to <typeparamref name="TParameter"/>.
/// </summary>
internal sealed unsafe class MixedTensorStorage<TParameter, TGradient> : IMixedTensorStorage
    where TParameter : unmanaged
    where TGradient : unmanaged
{
    private readonly NativeBuffer<TParameter>? _nativeParameters;
    private readonly NativeBuffer<TGradient>? _nativeGradients;
    private readonly TParameter[]? _managedParameters;
    private readonly TGradient[]? _managedGradients;
    private void* _rawParameterBlock, _rawGradientBlock;
    private readonly TParameter* _rawParameters;
    private readonly TGradient* _rawGradients;

    public MixedTensorStorage(MemoryKind kind, ReadOnlySpan<float> initial)
    {
        Kind = kind;
        Length = initial.Length;
        switch (kind)
        {
            case MemoryKind.NativeBuffer:
                _nativeParameters = new NativeBuffer<TParameter>(Length);
                _nativeGradients = new NativeBuffer<TGradient>(Length);
                break;
            case MemoryKind.ManagedArray:
                _managedParameters = new TParameter[Length];
                _managedGradients = new TGradient[Length];
                break;
            default:
                _rawParameterBlock = NativeMemory.AlignedAlloc((nuint)((Length + 1) * sizeof(TParameter)), 64);
                _rawGradientBlock = NativeMemory.AlignedAlloc((nuint)((Length + 1) * sizeof(TGradient)), 64);
                _rawParameters = (TParameter*)_rawParameterBlock + 1;
                _rawGradients = (TGradient*)_rawGradientBlock + 1;
                GradientSpan.Clear();
                break;
        }
        for (int i = 0; i < Length; i++)
        {
            ParameterSpan[i] = SixteenBit.FromFloat<TParameter>(initial[i]);
        }
    }

    public MemoryKind Kind { get; }

    public int Length { get; }

    public TensorElementType ParameterType => SixteenBit.TypeOf<TParameter>();

    public TensorElementType GradientType => SixteenBit.TypeOf<TGradient>();

    public Span<TParameter> ParameterSpan => Kind switch
    {
        MemoryKind.NativeBuffer => _nativeParameters!.Span,
        MemoryKind.ManagedArray => _managedParameters,
        _ => new Span<TParameter>(_rawParameters, Length),
    };

    public Span<TGradient> GradientSpan => Kind switch
    {
        MemoryKind.NativeBuffer => _nativeGradients!.Span,
        MemoryKind.ManagedArray => _managedGradients,
        _ => new Span<TGradient>(_rawGradients, Length),
    };

    public float Parameter(int i) => SixteenBit.ToFloat(ParameterSpan[i]);

    public uint ParameterBits(int i) => SixteenBit.Bits(ParameterSpan[i]);

    public float SetGradient(int i, float value)
    {
        GradientSpan[i] = SixteenBit.FromFloat<TGradient>(value);
        return Gradient(i);
    }

    public float Gradient(int i) => SixteenBit.ToFloat(GradientSpan[i]);

    public void CopyParametersFrom(IMixedTensorStorage other) =>
        ((MixedTensorStorage<TParameter, TGradient>)other).ParameterSpan.CopyTo(ParameterSpan);

    public OptimizerTensor Register(ParameterGroup group, bool keepMasterCopy, bool withGradients = true)
    {
        switch (Kind)
        {
            case MemoryKind.NativeBuffer:
                return withGradients
                    ? group.AddTensor(_nativeParameters!, _nativeGradients!, keepMasterCopy)
                    : RegisterWithoutGradients(group, keepMasterCopy);
            case MemoryKind.ManagedArray:
                return RegisterManaged(group, keepMasterCopy, withGradients);
            default:
                return group.AddTensor((nint)_rawParameters, ParameterType, withGradients ? (nint)_rawGradients : 0, GradientType, Length, keepMasterCopy);
        }
    }

    private OptimizerTensor RegisterWithoutGradients(ParameterGroup group, bool keepMasterCopy)
    {
        // AddTensor(TensorBuffer<T>) gives the gradients the parameters' type; other
        // combinations go through the raw overload, which names both.
        if (ParameterType == GradientType)
        {
            return group.AddTensor(_nativeParameters!, keepMasterCopy);
        }
        return group.AddTensor(_nativeParameters!.Address, ParameterType, 0, GradientType, Length, keepMasterCopy);
    }

    private OptimizerTensor RegisterManaged(ParameterGroup group, bool keepMasterCopy, bool withGradients)
    {
        var parameters = _managedParameters!;
        var gradients = _managedGradients!;
        if (withGradients)
        {
            return group.AddTensor(parameters.AsMemory(), gradients.AsMemory(), keepMasterCopy);
        }
        if (ParameterType == GradientType)
        {
            return group.AddTensor(parameters.AsMemory(), keepMasterCopy);
        }
        throw new NotSupportedException(
            $"no managed AddTensor form registers {ParameterType} parameters with {GradientType} gradients yet to come (use the raw form)");
    }

    public void AttachGradients(OptimizerTensor tensor)
    {
        switch (Kind)
        {
            case MemoryKind.NativeBuffer:
                tensor.SetGradients(_nativeGradients!);
                break;
            case MemoryKind.ManagedArray:
                tensor.SetGradients((_managedGradients!).AsMemory());
                break;
            default:
                tensor.SetGradients((nint)_rawGradients, GradientType);
                break;
        }
    }

    public void Dispose()
    {
        _nativeParameters?.Dispose();
        _nativeGradients?.Dispose();
        if (_rawParameterBlock != null)
        {
            NativeMemory.AlignedFree(_rawParameterBlock);
            NativeMemory.AlignedFree(_rawGradientBlock);
            _rawParameterBlock = null;
            _rawGradientBlock = null;
        }
    }
}
