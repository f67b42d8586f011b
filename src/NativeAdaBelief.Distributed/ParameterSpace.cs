using System.Collections.ObjectModel;
using System.Runtime.InteropServices;

namespace NativeAdaBelief.Distributed;

/// <summary>
/// The flat memory of a model trained data-parallel: one 64-byte aligned buffer holding every
/// tensor's parameters back to back (each tensor 64-byte aligned, of its own element type) and one
/// holding every tensor's float32 gradients. The model reads and writes its tensors through
/// <see cref="Tensors"/> (spans or addresses); the <see cref="DistributedAdaBeliefOptimizer"/>
/// sums the gradient buffer across ranks and all-gathers the parameter buffer in place, without
/// copying tensor by tensor.
/// </summary>
/// <remarks>
/// Every rank creates the same space (the optimizer checks it). Fill the parameters before
/// creating the optimizer: it starts every rank from rank 0's values. Dispose the space after the
/// optimizer; disposing it earlier makes it behave as disposed at once, and its memory is freed
/// when the optimizer lets go.
/// </remarks>
public sealed unsafe class ParameterSpace : IDisposable
{
    /// <summary>The alignment of every tensor in both buffers, in bytes.</summary>
    public const int Alignment = 64;

    private readonly NativeBuffer<float> _parameters;
    private readonly NativeBuffer<float> _gradients;
    private readonly Lock _sync = new();
    private int _users;
    private bool _disposed;

    /// <summary>Lays out and allocates (zeroed) the tensors, in the given order.</summary>
    /// <param name="tensors">The model's tensors; at least one.</param>
    /// <exception cref="ArgumentException">No tensor, a null one, a length below 1, a negative group, or an undefined element type (the message names the tensor).</exception>
    /// <exception cref="OutOfMemoryException">The buffers could not be allocated.</exception>
    public ParameterSpace(IEnumerable<TensorSpec> tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        TensorSpec[] specs = [.. tensors];
        if (specs.Length == 0)
        {
            throw new ArgumentException("A parameter space needs at least one tensor.", nameof(tensors));
        }
        var views = new SpaceTensor[specs.Length];
        long parameterBytes = 0, gradientLength = 0;
        for (int i = 0; i < specs.Length; i++)
        {
            TensorSpec spec = specs[i] ?? throw new ArgumentException($"Tensor {i} is null.", nameof(tensors));
            if (spec.Length < 1)
            {
                throw new ArgumentException($"{spec.Describe(i)} has Length = {spec.Length}: a tensor needs at least one element.", nameof(tensors));
            }
            if (spec.Group < 0)
            {
                throw new ArgumentException($"{spec.Describe(i)} has Group = {spec.Group}: group indexes start at 0.", nameof(tensors));
            }
            if (!Enum.IsDefined(spec.ParameterType))
            {
                throw new ArgumentException($"{spec.Describe(i)} has ParameterType = {spec.ParameterType}, which is not a TensorElementType.",
                    nameof(tensors));
            }
            views[i] = new SpaceTensor(this, i, spec, parameterBytes, gradientLength);
            parameterBytes = AlignUp(parameterBytes + checked(spec.Length * TensorElementTypes.SizeOf(spec.ParameterType)), Alignment);
            gradientLength = AlignUp(gradientLength + spec.Length, Alignment / sizeof(float));
        }
        ParameterBytes = parameterBytes;
        GradientLength = gradientLength;
        _parameters = new NativeBuffer<float>(parameterBytes / sizeof(float));
        try
        {
            _gradients = new NativeBuffer<float>(gradientLength);
        }
        catch
        {
            _parameters.Dispose();
            throw;
        }
        Tensors = new ReadOnlyCollection<SpaceTensor>(views);
    }

    /// <summary>The tensors, in the order given (their <see cref="SpaceTensor.Index"/> is their position).</summary>
    public IReadOnlyList<SpaceTensor> Tensors { get; }

    /// <summary>The size of the parameter buffer in bytes, alignment padding included.</summary>
    public long ParameterBytes { get; }

    /// <summary>The number of float32 elements of the gradient buffer, alignment padding included.</summary>
    public long GradientLength { get; }

    /// <summary>The address of the parameter buffer (64-byte aligned).</summary>
    /// <exception cref="ObjectDisposedException">The space was disposed.</exception>
    public nint ParameterAddress
    {
        get
        {
            ObjectDisposedException.ThrowIf(IsDisposed, this);
            return _parameters.Address;
        }
    }

    /// <summary>The address of the gradient buffer (64-byte aligned).</summary>
    /// <exception cref="ObjectDisposedException">The space was disposed.</exception>
    public nint GradientAddress
    {
        get
        {
            ObjectDisposedException.ThrowIf(IsDisposed, this);
            return _gradients.Address;
        }
    }

    /// <summary>True once <see cref="Dispose"/> has been called.</summary>
    public bool IsDisposed
    {
        get
        {
            lock (_sync)
            {
                return _disposed;
            }
        }
    }

    /// <summary>Sets every gradient (this rank's, before they are summed) to zero.</summary>
    /// <exception cref="ObjectDisposedException">The space was disposed.</exception>
    public void ZeroGradients() => NativeMemory.Clear((void*)GradientAddress, (nuint)GradientLength * sizeof(float));

    /// <summary>Frees the buffers now, or when the last optimizer using them is disposed. Idempotent.</summary>
    public void Dispose()
    {
        lock (_sync)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            if (_users == 0)
            {
                Free();
            }
        }
    }

    /// <summary>An optimizer starts using the memory (refused once disposed).</summary>
    internal void Acquire()
    {
        lock (_sync)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _users++;
        }
    }

    /// <summary>An optimizer lets go of the memory; the last one frees it after a dispose.</summary>
    internal void Release()
    {
        lock (_sync)
        {
            if (--_users == 0 && _disposed)
            {
                Free();
            }
        }
    }

    /// <summary>The address of the parameter buffer whatever the state (for an optimizer holding it).</summary>
    internal nint ParameterBase => _parameters.Address;

    /// <summary>The address of the gradient buffer whatever the state (for an optimizer holding it).</summary>
    internal nint GradientBase => _gradients.Address;

    private void Free()
    {
        _parameters.Dispose();
        _gradients.Dispose();
    }

    private static long AlignUp(long value, long alignment) => (value + alignment - 1) / alignment * alignment;
}
