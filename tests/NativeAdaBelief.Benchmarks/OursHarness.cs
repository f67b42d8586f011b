namespace NativeAdaBelief.Benchmarks;

/// <summary>
/// Our optimizer through the C# API, the way docs/api.md shows it: one group with the suite's
/// hyper-parameters, one <see cref="NativeBuffer"/> pair (parameters, gradients) per tensor,
/// filled like <see cref="TensorSet"/> fills its arrays (same seeds, same values).
/// </summary>
public sealed class OursHarness : IDisposable
{
    private readonly List<NativeBuffer> _buffers = [];

    /// <param name="lengths">The tensor lengths.</param>
    /// <param name="threads">OptimizerConfig.ThreadCount (0 = one per logical core).</param>
    /// <param name="seed">The fill seed (as for <see cref="TensorSet"/>).</param>
    public OursHarness(IReadOnlyList<int> lengths, int threads, int seed = 1)
    {
        Optimizer = new AdaBeliefOptimizer(Managed.BenchmarkHyperParameters.Options, new OptimizerConfig { ThreadCount = threads });
        ParameterGroup group = Optimizer.ParamGroups[0];
        Parameters = new NativeBuffer[lengths.Count];
        Gradients = new NativeBuffer[lengths.Count];
        for (int i = 0; i < lengths.Count; i++)
        {
            var parameters = new NativeBuffer(lengths[i]);
            var gradients = new NativeBuffer(lengths[i]);
            _buffers.Add(parameters);
            _buffers.Add(gradients);
            Fill.Parameters(parameters.Span, seed + i);
            Fill.Gradients(gradients.Span, seed + 7919 * (i + 1));
            group.AddTensor(parameters, gradients);
            Parameters[i] = parameters;
            Gradients[i] = gradients;
        }
    }

    public AdaBeliefOptimizer Optimizer { get; }

    public NativeBuffer[] Parameters { get; }

    public NativeBuffer[] Gradients { get; }

    public void Dispose()
    {
        Optimizer.Dispose();
        foreach (NativeBuffer buffer in _buffers)
        {
            buffer.Dispose();
        }
    }
}
