namespace NativeAdaBelief.Distributed;

/// <summary>
/// One tensor of a <see cref="ParameterSpace"/>: where its parameters and gradients are in the
/// space's buffers, as spans for C# code and as addresses for another engine's tensors (which
/// may wrap them without copying). Valid while the space is not disposed.
/// </summary>
public sealed unsafe class SpaceTensor
{
    private readonly ParameterSpace _space;

    internal SpaceTensor(ParameterSpace space, int index, TensorSpec spec, long parameterOffset, long gradientOffset)
    {
        _space = space;
        Index = index;
        Spec = spec;
        ParameterOffset = parameterOffset;
        GradientOffset = gradientOffset;
    }

    /// <summary>The tensor's position in <see cref="ParameterSpace.Tensors"/>.</summary>
    public int Index { get; }

    /// <summary>What the tensor was declared as.</summary>
    public TensorSpec Spec { get; }

    /// <summary>Number of elements.</summary>
    public long Length => Spec.Length;

    /// <summary>The parameters' element type.</summary>
    public TensorElementType ParameterType => Spec.ParameterType;

    /// <summary>Where the parameters start in the parameter buffer, in bytes (a multiple of 64).</summary>
    public long ParameterOffset { get; }

    /// <summary>Where the gradients start in the gradient buffer, in elements (a multiple of 16).</summary>
    public long GradientOffset { get; }

    /// <summary>The address of the parameters (64-byte aligned).</summary>
    /// <exception cref="ObjectDisposedException">The space was disposed.</exception>
    public nint ParameterAddress => _space.ParameterAddress + (nint)ParameterOffset;

    /// <summary>The address of the float32 gradients (64-byte aligned).</summary>
    /// <exception cref="ObjectDisposedException">The space was disposed.</exception>
    public nint GradientAddress => _space.GradientAddress + (nint)(GradientOffset * sizeof(float));

    /// <summary>The parameters as elements of <typeparamref name="T"/>, which must be their element type.</summary>
    /// <typeparam name="T"><see cref="float"/>, <see cref="Half"/> or <see cref="BFloat16"/>, as <see cref="ParameterType"/> says.</typeparam>
    /// <returns>A span over the parameters.</returns>
    /// <exception cref="ArgumentException"><typeparamref name="T"/> is not the parameters' element type.</exception>
    /// <exception cref="NotSupportedException">The tensor has more elements than a span holds (use <see cref="ParameterAddress"/>).</exception>
    /// <exception cref="ObjectDisposedException">The space was disposed.</exception>
    public Span<T> GetParameters<T>() where T : unmanaged
    {
        TensorElementType requested = TensorElementTypes.Of<T>();
        if (requested != ParameterType)
        {
            throw new ArgumentException(
                $"{Spec.Describe(Index)} holds {ParameterType} parameters, not {requested}: ask for the element type it was declared with.", "T");
        }
        return new Span<T>((void*)ParameterAddress, SpanLength());
    }

    /// <summary>The parameters' bytes (little-endian elements of <see cref="ParameterType"/>), e.g. to save them.</summary>
    /// <exception cref="NotSupportedException">The tensor has more bytes than a span holds.</exception>
    /// <exception cref="ObjectDisposedException">The space was disposed.</exception>
    public Span<byte> ParameterBytes
    {
        get
        {
            long bytes = Length * TensorElementTypes.SizeOf(ParameterType);
            if (bytes > int.MaxValue)
            {
                throw new NotSupportedException($"{Spec.Describe(Index)} has {bytes} bytes of parameters, more than a span holds; use ParameterAddress.");
            }
            return new Span<byte>((void*)ParameterAddress, (int)bytes);
        }
    }

    /// <summary>This rank's float32 gradients, which the model's backward pass writes before each step.</summary>
    /// <exception cref="NotSupportedException">The tensor has more elements than a span holds (use <see cref="GradientAddress"/>).</exception>
    /// <exception cref="ObjectDisposedException">The space was disposed.</exception>
    public Span<float> Gradients => new((void*)GradientAddress, SpanLength());

    private int SpanLength() => Length <= int.MaxValue
        ? (int)Length
        : throw new NotSupportedException($"{Spec.Describe(Index)} has {Length} elements, more than a span holds; use its address.");
}
