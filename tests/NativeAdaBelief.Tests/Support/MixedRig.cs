namespace NativeAdaBelief.Tests.Support;

/// <summary>One tensor of a <see cref="MixedRig"/>: its group, size, element types, master copy and memory kind.</summary>
internal sealed record MixedTensorSpec(
    int Group,
    int Length,
    TensorElementType ParameterType,
    TensorElementType GradientType,
    bool MasterCopy,
    MemoryKind Memory);

/// <summary>
/// A mixed-precision counterpart of <see cref="TrainingRig"/>: groups, tensors of any element
/// types (with or without master copies) in any memory kind, and a seeded gradient source, so
/// that two rigs fed the same seed train identically.
/// </summary>
internal sealed class MixedRig : IDisposable
{
    private readonly List<IMixedTensorStorage> _storages = [];
    private readonly Random _random;

    /// <summary>Float16 with a master copy, bfloat16 with one (float32 gradients), bfloat16 without, float32 with float16 gradients.</summary>
    public static MixedTensorSpec[] DefaultSpecs { get; } =
    [
        new(0, 17, TensorElementType.Float16, TensorElementType.Float16, MasterCopy: true, MemoryKind.NativeBuffer),
        new(1, 64, TensorElementType.BFloat16, TensorElementType.Float32, MasterCopy: true, MemoryKind.ManagedArray),
        new(0, 1030, TensorElementType.BFloat16, TensorElementType.BFloat16, MasterCopy: false, MemoryKind.RawPointer),
        new(1, 5, TensorElementType.Float32, TensorElementType.Float16, MasterCopy: false, MemoryKind.ManagedArray),
    ];

    public static AdaBeliefOptions[] DefaultGroups { get; } =
        [new AdaBeliefOptions { WeightDecay = 1e-2, LearningRate = 1e-2 }, AdaBeliefOptions.ForAdaBeliefPytorch(2e-2) with { AmsGrad = true }];

    public MixedRig(MixedTensorSpec[]? specs = null, AdaBeliefOptions[]? groups = null, int seed = 1, OptimizerConfig? config = null)
    {
        specs ??= DefaultSpecs;
        groups ??= DefaultGroups;
        Specs = specs;
        _random = new Random(seed);
        Optimizer = new AdaBeliefOptimizer(config);
        try
        {
            foreach (AdaBeliefOptions g in groups)
            {
                Optimizer.AddParamGroup(g);
            }
            var initial = new Random(1000 + seed);
            foreach (MixedTensorSpec spec in specs)
            {
                IMixedTensorStorage storage = MixedTensorStorage.Create(spec.Memory, spec.ParameterType, spec.GradientType,
                    TestData.Parameters(initial, spec.Length));
                _storages.Add(storage);
                storage.Register(Optimizer.ParamGroups[spec.Group], spec.MasterCopy);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public MixedTensorSpec[] Specs { get; }

    public AdaBeliefOptimizer Optimizer { get; }

    public IReadOnlyList<IMixedTensorStorage> Storages => _storages;

    /// <summary>Fills every gradient from <paramref name="random"/> (±10^u, u in [-4, 1], times <paramref name="scale"/>, rounded to the gradient type); returns the values stored.</summary>
    public static float[][] FillGradients(IReadOnlyList<IMixedTensorStorage> storages, Random random, double scale = 1.0)
    {
        var stored = new float[storages.Count][];
        for (int t = 0; t < storages.Count; t++)
        {
            IMixedTensorStorage storage = storages[t];
            float[] g = TestData.Gradients(random, storage.Length);
            stored[t] = new float[g.Length];
            for (int i = 0; i < g.Length; i++)
            {
                stored[t][i] = storage.SetGradient(i, (float)(g[i] * scale));
            }
        }
        return stored;
    }

    /// <summary>Fills every gradient from the rig's random source and steps, <paramref name="steps"/> times.</summary>
    public void Train(int steps)
    {
        for (int s = 0; s < steps; s++)
        {
            FillGradients(_storages, _random);
            Optimizer.Step();
        }
    }

    /// <summary>Every tensor's parameter bit patterns.</summary>
    public uint[][] ParameterBits() => [.. _storages.Select(s => s.ParameterBitsArray())];

    public void Dispose()
    {
        Optimizer.Dispose();
        foreach (IMixedTensorStorage s in _storages)
        {
            s.Dispose();
        }
    }
}
