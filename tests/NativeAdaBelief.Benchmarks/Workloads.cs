using System.Runtime.InteropServices;

namespace NativeAdaBelief.Benchmarks;

/// <summary>
/// The tensor shapes of one benchmark case. Names are what the tables show.
/// </summary>
public static class Workloads
{
    public const string OneElement = "1";
    public const string K1 = "1K";
    public const string M1 = "1M";
    public const string M16 = "16M";
    public const string M64 = "64M";
    public const string Transformer = "transformer";
    public const string TinyTensors = "1000x64";

    /// <summary>The tiny tensors: 1,000 of this many elements each.</summary>
    public const int TinyTensorLength = 64;

    /// <summary>The workloads of the run, set by Program from the mode before BenchmarkDotNet starts.</summary>
    public static string[] Selected { get; set; } = [OneElement, K1, M1, M16, M64, Transformer, TinyTensors];

    public static string[] Full => [OneElement, K1, M1, M16, M64, Transformer, TinyTensors];

    public static string[] Quick => [OneElement, K1, M1, TinyTensors];

    public static string[] Smoke => [OneElement, K1, TinyTensors];

    /// <summary>What a workload is, in words (for the report).</summary>
    public static string Describe(string workload) => workload switch
    {
        OneElement => "one tensor of 1 element",
        K1 => "one tensor of 1,024",
        M1 => "one tensor of 1,048,576",
        M16 => "one tensor of 16,777,216",
        M64 => "one tensor of 67,108,864",
        Transformer => $"{TransformerShapes().Length} tensors, GPT-style (d 640, 16 layers, vocab 32K), {TotalElements(workload):N0}",
        TinyTensors => $"1,000 tensors of {TinyTensorLength} elements",
        _ => workload,
    };

    /// <summary>The tensor lengths of a workload.</summary>
    public static int[] Lengths(string workload) => workload switch
    {
        OneElement => [1],
        K1 => [1 << 10],
        M1 => [1 << 20],
        M16 => [1 << 24],
        M64 => [1 << 26],
        Transformer => TransformerShapes(),
        TinyTensors => Enumerable.Repeat(TinyTensorLength, 1000).ToArray(),
        _ => throw new ArgumentException($"unknown workload '{workload}'", nameof(workload)),
    };

    /// <summary>The total element count of a workload.</summary>
    public static long TotalElements(string workload) => Lengths(workload).Sum(n => (long)n);

    /// <summary>
    /// Every workload at 1 thread and at all cores, as the checks outside BenchmarkDotNet run
    /// them: the thread label of the report, our OptimizerConfig.ThreadCount (0 = one per
    /// logical core) and the managed version's worker count.
    /// </summary>
    public static IEnumerable<(string Workload, int[] Lengths, string Threads, int OurThreads, int ManagedThreads)> ThreadCases(
        IEnumerable<string> workloads) =>
        from workload in workloads
        from threads in new[] { "1", StepBenchmarks.AllThreads }
        let all = threads == StepBenchmarks.AllThreads
        select (workload, Lengths(workload), threads, all ? 0 : 1, all ? Environment.ProcessorCount : 1);

    /// <summary>
    /// A GPT-style decoder: d_model 640, 16 layers, vocabulary 32,000, context 1,024, every
    /// linear layer with a bias, q/k/v as separate projections, a 4·d MLP and two LayerNorms
    /// per layer, a final LayerNorm; 260 tensors, 99.9M parameters, from 1×640 up to 32000×640.
    /// </summary>
    public static int[] TransformerShapes()
    {
        const int d = 640, layers = 16, vocabulary = 32_000, context = 1_024;
        var shapes = new List<int> { vocabulary * d, context * d };
        for (int layer = 0; layer < layers; layer++)
        {
            shapes.AddRange([d, d]);                 // LayerNorm 1: weight, bias
            for (int projection = 0; projection < 4; projection++)
            {
                shapes.AddRange([d * d, d]);         // q, k, v, o: weight, bias
            }
            shapes.AddRange([d, d]);                 // LayerNorm 2
            shapes.AddRange([d * 4 * d, 4 * d]);     // MLP up
            shapes.AddRange([4 * d * d, d]);         // MLP down
        }
        shapes.AddRange([d, d]);                     // final LayerNorm
        return shapes.ToArray();
    }
}

/// <summary>
/// One tensor's four arrays (parameters, gradients, first and second moment), the storage of
/// the managed implementations and the limit kernel, in <see cref="NativeBuffer"/>s: the
/// memory our step's own state is allocated from (64-byte aligned; on Linux, blocks of 2 MiB or
/// more on transparent huge pages), so every version steps the same kind of memory and the
/// ratios compare steps, not allocators.
/// </summary>
public sealed unsafe class TensorArrays
{
    private readonly NativeBuffer[] _buffers;

    public TensorArrays(int length)
    {
        Length = length;
        _buffers = Enumerable.Range(0, 4).Select(_ => new NativeBuffer(Math.Max(length, 1))).ToArray();
        Parameters = (float*)_buffers[0].Address;
        Gradients = (float*)_buffers[1].Address;
        FirstMoment = (float*)_buffers[2].Address;
        SecondMoment = (float*)_buffers[3].Address;
    }

    public int Length { get; }
    public float* Parameters { get; private set; }
    public float* Gradients { get; private set; }
    public float* FirstMoment { get; private set; }
    public float* SecondMoment { get; private set; }

    /// <summary>The tensor's own step count t.</summary>
    public long Step { get; set; }

    public Span<float> P => new(Parameters, Length);
    public Span<float> G => new(Gradients, Length);
    public Span<float> M => new(FirstMoment, Length);
    public Span<float> S => new(SecondMoment, Length);

    public void Free()
    {
        foreach (NativeBuffer buffer in _buffers)
        {
            buffer.Dispose();
        }
        Parameters = Gradients = FirstMoment = SecondMoment = null;
    }
}

/// <summary>A set of tensors with parameters and gradients filled deterministically, state zero.</summary>
public sealed class TensorSet : IDisposable
{
    public TensorSet(IReadOnlyList<int> lengths, int seed = 1)
    {
        Tensors = new TensorArrays[lengths.Count];
        for (int i = 0; i < lengths.Count; i++)
        {
            Tensors[i] = new TensorArrays(lengths[i]);
            Fill.Parameters(Tensors[i].P, seed + i);
            Fill.Gradients(Tensors[i].G, seed + 7919 * (i + 1));
        }
    }

    public TensorArrays[] Tensors { get; }

    public long TotalElements => Tensors.Sum(t => (long)t.Length);

    public int MaxLength => Tensors.Max(t => t.Length);

    public void Dispose()
    {
        foreach (TensorArrays t in Tensors)
        {
            t.Free();
        }
    }
}

/// <summary>Deterministic, cheap fills (a hash of the index, not Random: 100M elements fill in a second).</summary>
public static class Fill
{
    /// <summary>Uniform in [-1, 1).</summary>
    public static void Parameters(Span<float> destination, int seed)
    {
        for (int i = 0; i < destination.Length; i++)
        {
            destination[i] = Unit(seed, i) * 2f - 1f;
        }
    }

    private static readonly float[] Magnitudes =
        Enumerable.Range(0, 1024).Select(k => MathF.Pow(10f, -4f + 3f * k / 1024f)).ToArray();

    /// <summary>Signed, magnitudes spread log-uniformly over 1e-4 .. 1e-1.</summary>
    public static void Gradients(Span<float> destination, int seed)
    {
        for (int i = 0; i < destination.Length; i++)
        {
            uint bits = Hash(seed, i);
            float magnitude = Magnitudes[bits & 1023];
            destination[i] = (bits & 1024) != 0 ? -magnitude : magnitude;
        }
    }

    private static float Unit(int seed, int index) => (Hash(seed, index) >> 8) * (1f / (1 << 24));

    private static uint Hash(int seed, int index)
    {
        uint x = (uint)index * 0x9E3779B1u ^ (uint)seed * 0x85EBCA77u;
        x ^= x >> 15;
        x *= 0x2C1B3C6Du;
        x ^= x >> 12;
        x *= 0x297A2D39u;
        x ^= x >> 15;
        return x;
    }
}
