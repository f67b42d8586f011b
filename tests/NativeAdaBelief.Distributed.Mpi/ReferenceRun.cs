namespace NativeAdaBelief.Distributed.Mpi;

/// <summary>
/// The single-process reference: an ordinary <see cref="AdaBeliefOptimizer"/> over separate copies
/// of the model's tensors, stepping whatever gradients the scenario computes for it (the
/// averaged gradients of all ranks).
/// </summary>
internal sealed class ReferenceRun : IDisposable
{
    private readonly AdaBeliefOptimizer _optimizer;
    private readonly List<IDisposable> _buffers = [];
    private readonly nint[] _parameters;
    private readonly NativeBuffer<float>[] _gradients;
    private readonly TensorSpec[] _specs;

    internal ReferenceRun(Precision precision, ulong seed)
    {
        _specs = TestModel.Specs(precision);
        _optimizer = new AdaBeliefOptimizer(new OptimizerConfig { ThreadCount = 1 });
        foreach (AdaBeliefOptions options in TestModel.GroupOptions())
        {
            _optimizer.AddParamGroup(options);
        }
        _parameters = new nint[_specs.Length];
        _gradients = new NativeBuffer<float>[_specs.Length];
        for (int t = 0; t < _specs.Length; t++)
        {
            TensorSpec spec = _specs[t];
            _gradients[t] = new NativeBuffer<float>(spec.Length);
            _buffers.Add(_gradients[t]);
            if (spec.ParameterType == TensorElementType.BFloat16)
            {
                var values = new NativeBuffer<BFloat16>(spec.Length);
                for (int i = 0; i < spec.Length; i++)
                {
                    values.Span[i] = (BFloat16)TestModel.InitialValue(seed, t, i);
                }
                _buffers.Add(values);
                _parameters[t] = values.Address;
                _optimizer.ParamGroups[spec.Group].AddTensor(values, _gradients[t], keepMasterCopy: true);
            }
            else
            {
                var values = new NativeBuffer<float>(spec.Length);
                for (int i = 0; i < spec.Length; i++)
                {
                    values.Span[i] = TestModel.InitialValue(seed, t, i);
                }
                _buffers.Add(values);
                _parameters[t] = values.Address;
                _optimizer.ParamGroups[spec.Group].AddTensor(values, _gradients[t]);
            }
        }
    }

    internal AdaBeliefOptimizer Optimizer => _optimizer;

    /// <summary>One step with gradients gradient(tensor, element).</summary>
    internal void Step(Func<int, long, float> gradient, StepOptions options)
    {
        for (int t = 0; t < _specs.Length; t++)
        {
            Span<float> values = _gradients[t].Span;
            for (int i = 0; i < values.Length; i++)
            {
                values[i] = gradient(t, i);
            }
        }
        _optimizer.StepOptions = options;
        _optimizer.Step();
    }

    /// <summary>Tensor <paramref name="tensor"/>'s parameter bytes.</summary>
    internal unsafe ReadOnlySpan<byte> ParameterBytes(int tensor) =>
        new((void*)_parameters[tensor], checked((int)(_specs[tensor].Length * TensorElementTypes.SizeOf(_specs[tensor].ParameterType))));

    /// <summary>Element <paramref name="i"/> of tensor <paramref name="tensor"/>, widened.</summary>
    internal unsafe float Parameter(int tensor, long i) =>
        _specs[tensor].ParameterType == TensorElementType.BFloat16 ? (float)((BFloat16*)_parameters[tensor])[i] : ((float*)_parameters[tensor])[i];

    /// <summary>Empty when the space holds exactly the reference's parameter bytes, else the first difference.</summary>
    internal string Difference(ParameterSpace space)
    {
        for (int t = 0; t < _specs.Length; t++)
        {
            ReadOnlySpan<byte> mine = ParameterBytes(t), theirs = space.Tensors[t].ParameterBytes;
            int at = mine.CommonPrefixLength(theirs);
            if (at < mine.Length)
            {
                long element = at / TensorElementTypes.SizeOf(_specs[t].ParameterType);
                return $"tensor {t} element {element}: reference {Parameter(t, element):R}, distributed {TestModel.Parameter(space.Tensors[t], element):R}";
            }
        }
        return "";
    }

    public void Dispose()
    {
        _optimizer.Dispose();
        foreach (IDisposable buffer in _buffers)
        {
            buffer.Dispose();
        }
    }
}
