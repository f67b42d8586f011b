namespace NativeAdaBelief.Tests.Support;

/// <summary>
/// A small but complete optimizer for tests: two groups (the second with AMSGrad, in the
/// adabelief-pytorch mode), three tensors in the three memory kinds, and a seeded gradient
/// source so that two rigs fed the same seed train identically.
/// </summary>
internal sealed class TrainingRig : IDisposable
{
    private readonly List<TensorStorage> _storages = [];
    private readonly Random _random;

    public TrainingRig(int seed = 1, int[]? sizes = null, OptimizerConfig? config = null, AdaBeliefOptions[]? groups = null)
    {
        _random = new Random(seed);
        Optimizer = new AdaBeliefOptimizer(config);
        groups ??= [new AdaBeliefOptions { WeightDecay = 1e-2 }, AdaBeliefOptions.ForAdaBeliefPytorch(2e-3) with { AmsGrad = true }];
        foreach (AdaBeliefOptions g in groups)
        {
            Optimizer.AddParamGroup(g);
        }
        sizes ??= [17, 64, 5];
        var initial = new Random(1000 + seed);
        for (int i = 0; i < sizes.Length; i++)
        {
            var storage = new TensorStorage((MemoryKind)(i % 3), TestData.Parameters(initial, sizes[i]));
            _storages.Add(storage);
            storage.Register(Optimizer.ParamGroups[i % groups.Length]);
        }
    }

    public AdaBeliefOptimizer Optimizer { get; }

    public IReadOnlyList<TensorStorage> Storages => _storages;

    /// <summary>Fills every gradient from the rig's random source and steps.</summary>
    public void Train(int steps)
    {
        for (int s = 0; s < steps; s++)
        {
            foreach (TensorStorage storage in _storages)
            {
                TestData.Gradients(_random, storage.Gradients);
            }
            Optimizer.Step();
        }
    }

    public float[][] Parameters() => [.. _storages.Select(s => s.Parameters.ToArray())];

    public void Dispose()
    {
        Optimizer.Dispose();
        foreach (TensorStorage s in _storages)
        {
            s.Dispose();
        }
    }
}
