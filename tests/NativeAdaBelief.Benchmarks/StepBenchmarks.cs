using BenchmarkDotNet.Attributes;
using NativeAdaBelief.Benchmarks.Managed;

namespace NativeAdaBelief.Benchmarks;

/// <summary>
/// One optimizer step per operation, for every workload at 1 thread and at all cores: ours
/// through the C# API, the native memory-limit kernel over the same element count, and the
/// best managed version. Each case gets fresh buffers and state (GlobalSetup per method).
/// </summary>
public class StepBenchmarks
{
    public const string AllThreads = "all";

    private OursHarness? _ours;
    private TensorSet? _set;
    private IManagedStep? _managed;
    private unsafe float* _p, _g, _m, _s;
    private TensorArrays? _limitArrays;
    private long _limitCount;
    private int _threadCount;

    public static IEnumerable<string> WorkloadValues => Workloads.Selected;

    [ParamsSource(nameof(WorkloadValues))]
    public string Workload { get; set; } = Workloads.K1;

    [Params("1", AllThreads)]
    public string Threads { get; set; } = "1";

    private int ThreadCount => Threads == AllThreads ? 0 : int.Parse(Threads, System.Globalization.CultureInfo.InvariantCulture);

    [GlobalSetup(Target = nameof(Ours))]
    public void SetupOurs()
    {
        _ours = new OursHarness(Workloads.Lengths(Workload), ThreadCount);
        _ours.Optimizer.Step(); // first touch of the state outside the timing
        Console.WriteLine($"// ours: {_ours.Optimizer.ThreadCount} thread(s), SIMD {_ours.Optimizer.SimdLevel}, {Environment.ProcessorCount} logical cores visible");
    }

    [GlobalSetup(Target = nameof(MemoryLimit))]
    public unsafe void SetupLimit()
    {
        StreamingLimit.EnsureLoaded();
        _limitCount = Workloads.TotalElements(Workload);
        // The whole workload as one contiguous region: the bound for any step over it.
        _limitArrays = StreamingLimit.Arrays(_limitCount);
        _p = _limitArrays.Parameters;
        _g = _limitArrays.Gradients;
        _m = _limitArrays.FirstMoment;
        _s = _limitArrays.SecondMoment;
        _threadCount = ThreadCount;
        MemoryLimit();
    }

    [GlobalSetup(Target = nameof(BestManaged))]
    public void SetupBestManaged()
    {
        _set = new TensorSet(Workloads.Lengths(Workload));
        _managed = new FusedManagedStep(_set, ThreadCount == 0 ? Environment.ProcessorCount : ThreadCount);
        _managed.Step();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _ours?.Dispose();
        _ours = null;
        _set?.Dispose();
        _set = null;
        _managed = null;
        _limitArrays?.Free();
        _limitArrays = null;
    }

    /// <summary>Our step: one call of the C# API.</summary>
    [Benchmark]
    public void Ours() => _ours!.Optimizer.Step();

    /// <summary>The native streaming kernel with the step's memory traffic.</summary>
    [Benchmark]
    public unsafe void MemoryLimit() => StreamingLimit.Run(_p, _g, _m, _s, _limitCount, _threadCount);

    /// <summary>One fused SIMD pass, Parallel.For over chunks.</summary>
    [Benchmark]
    public void BestManaged() => _managed!.Step();
}

/// <summary>
/// What a C# user would write first, single-threaded: a scalar loop, and one
/// TensorPrimitives call per operation.
/// </summary>
public class SingleThreadBaselines
{
    private TensorSet? _set;
    private IManagedStep? _managed;

    public static IEnumerable<string> WorkloadValues => Workloads.Selected;

    [ParamsSource(nameof(WorkloadValues))]
    public string Workload { get; set; } = Workloads.K1;

    [GlobalSetup(Target = nameof(ScalarLoop))]
    public void SetupScalar()
    {
        _set = new TensorSet(Workloads.Lengths(Workload));
        _managed = new ScalarLoopStep(_set);
        _managed.Step();
    }

    [GlobalSetup(Target = nameof(TensorPrimitives))]
    public void SetupTensorPrimitives()
    {
        _set = new TensorSet(Workloads.Lengths(Workload));
        _managed = new TensorPrimitivesStep(_set);
        _managed.Step();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _set?.Dispose();
        _set = null;
        _managed = null;
    }

    [Benchmark]
    public void ScalarLoop() => _managed!.Step();

    [Benchmark]
    public void TensorPrimitives() => _managed!.Step();
}
