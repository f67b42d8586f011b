using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NativeAdaBelief.Benchmarks.Managed;

/// <summary>A managed AdaBelief step over a <see cref="TensorSet"/>: what a C# user would write instead.</summary>
public interface IManagedStep
{
    string Name { get; }

    void Step();
}

/// <summary>
/// The straightforward version: one scalar loop per tensor, the update written as in
/// docs/algorithm.md. Single-threaded.
/// </summary>
public sealed unsafe class ScalarLoopStep(TensorSet set) : IManagedStep
{
    public string Name => "scalar loop";

    public void Step()
    {
        foreach (TensorArrays t in set.Tensors)
        {
            StepCoefficients c = StepCoefficients.For(++t.Step);
            float* p = t.Parameters, g = t.Gradients, m = t.FirstMoment, s = t.SecondMoment;
            for (int i = 0; i < t.Length; i++)
            {
                float theta = p[i] * c.DecayFactor;
                float mi = c.Beta1 * m[i] + c.OneMinusBeta1 * g[i];
                float r = g[i] - mi;
                float si = c.Beta2 * s[i] + c.OneMinusBeta2 * (r * r);
                m[i] = mi;
                s[i] = si;
                p[i] = c.Rule == UpdateRule.Adaptive
                    ? theta - c.StepSize * (mi / (MathF.Sqrt(si + c.InnerEpsilon) + c.OuterEpsilon))
                    : theta - c.StepSize * mi;
            }
        }
    }
}

/// <summary>
/// The System.Numerics.Tensors version: one TensorPrimitives call (one pass over memory) per
/// operation of the update, with two scratch arrays allocated once. Single-threaded.
/// </summary>
public sealed class TensorPrimitivesStep : IManagedStep
{
    private readonly TensorSet _set;
    private readonly float[] _residual;
    private readonly float[] _denominator;

    public TensorPrimitivesStep(TensorSet set)
    {
        _set = set;
        _residual = new float[set.MaxLength];
        _denominator = new float[set.MaxLength];
    }

    public string Name => "TensorPrimitives";

    public void Step()
    {
        foreach (TensorArrays t in _set.Tensors)
        {
            StepCoefficients c = StepCoefficients.For(++t.Step);
            Span<float> p = t.P, m = t.M, s = t.S;
            ReadOnlySpan<float> g = t.G;
            Span<float> r = _residual.AsSpan(0, t.Length), d = _denominator.AsSpan(0, t.Length);

            TensorPrimitives.Multiply(p, c.DecayFactor, p);          // θ ← θ·(1 − αλ)
            TensorPrimitives.Multiply(m, c.Beta1, m);                // m ← β₁m
            TensorPrimitives.MultiplyAdd(g, c.OneMinusBeta1, m, m);  // m ← (1−β₁)g + m
            TensorPrimitives.Subtract(g, m, r);                      // r ← g − m
            TensorPrimitives.Multiply(r, r, r);                      // r ← r²
            TensorPrimitives.Multiply(s, c.Beta2, s);                // s ← β₂s
            TensorPrimitives.MultiplyAdd(r, c.OneMinusBeta2, s, s);  // s ← (1−β₂)r² + s
            if (c.Rule == UpdateRule.Adaptive)
            {
                TensorPrimitives.Add(s, c.InnerEpsilon, d);          // d ← s + ε
                TensorPrimitives.Sqrt(d, d);                         // d ← √d
                TensorPrimitives.Add(d, c.OuterEpsilon, d);          // d ← d + ε
                TensorPrimitives.Divide(m, d, d);                    // d ← m / d
                TensorPrimitives.MultiplyAdd(d, -c.StepSize, p, p);  // θ ← θ − step·d
            }
            else
            {
                TensorPrimitives.MultiplyAdd(m, -c.StepSize, p, p);  // θ ← θ − step·m
            }
        }
    }
}

/// <summary>
/// The best managed version we could write: one fused pass (read θ, g, m, s; write θ, m, s)
/// with Vector512 where the hardware accelerates it, else Vector256, else Vector128, and a
/// scalar tail; the work cut into 32K-element chunks over all tensors and spread with
/// Parallel.For when there is enough of it (the same chunking and serial cut-off as the
/// native CPU backend). Delegate, options and chunk table are built once, not per step.
/// </summary>
public sealed unsafe class FusedManagedStep : IManagedStep
{
    private const int ChunkElements = 1 << 15;
    private const long ParallelThreshold = 1 << 16;

    private readonly TensorSet _set;
    private readonly int _threads;
    private readonly (int Tensor, int Begin, int End)[] _chunks;
    private readonly StepCoefficients[] _coefficients;
    private readonly ParallelOptions _parallelOptions;
    private readonly Action<int> _runChunk;
    private readonly bool _parallel;

    /// <param name="set">The tensors.</param>
    /// <param name="threads">Worker count; 1 runs on the calling thread only.</param>
    public FusedManagedStep(TensorSet set, int threads)
    {
        _set = set;
        _threads = threads;
        var chunks = new List<(int, int, int)>();
        for (int i = 0; i < set.Tensors.Length; i++)
        {
            for (int begin = 0; begin < set.Tensors[i].Length; begin += ChunkElements)
            {
                chunks.Add((i, begin, Math.Min(set.Tensors[i].Length, begin + ChunkElements)));
            }
        }
        _chunks = chunks.ToArray();
        _coefficients = new StepCoefficients[set.Tensors.Length];
        _parallelOptions = new ParallelOptions { MaxDegreeOfParallelism = threads };
        _runChunk = RunChunk;
        _parallel = threads > 1 && set.TotalElements >= ParallelThreshold && _chunks.Length > 1;
    }

    public string Name => "best managed (fused, SIMD, Parallel.For)";

    /// <summary>The vector width the JIT gives this machine.</summary>
    public static string VectorWidth =>
        Vector512.IsHardwareAccelerated ? "Vector512" : Vector256.IsHardwareAccelerated ? "Vector256" : Vector128.IsHardwareAccelerated ? "Vector128" : "scalar";

    public void Step()
    {
        TensorArrays[] tensors = _set.Tensors;
        for (int i = 0; i < tensors.Length; i++)
        {
            _coefficients[i] = StepCoefficients.For(++tensors[i].Step);
        }
        if (_parallel)
        {
            Parallel.For(0, _chunks.Length, _parallelOptions, _runChunk);
        }
        else
        {
            for (int i = 0; i < _chunks.Length; i++)
            {
                RunChunk(i);
            }
        }
    }

    private void RunChunk(int index)
    {
        (int tensor, int begin, int end) = _chunks[index];
        TensorArrays t = _set.Tensors[tensor];
        Update(t.Parameters + begin, t.Gradients + begin, t.FirstMoment + begin, t.SecondMoment + begin, end - begin,
            in _coefficients[tensor]);
    }

    /// <summary>The fused update of <paramref name="n"/> elements.</summary>
    public static void Update(float* p, float* g, float* m, float* s, int n, in StepCoefficients c)
    {
        int i = 0;
        bool adaptive = c.Rule == UpdateRule.Adaptive;
        if (Vector512.IsHardwareAccelerated)
        {
            var decay = Vector512.Create(c.DecayFactor);
            var b1 = Vector512.Create(c.Beta1);
            var omb1 = Vector512.Create(c.OneMinusBeta1);
            var b2 = Vector512.Create(c.Beta2);
            var omb2 = Vector512.Create(c.OneMinusBeta2);
            var innerEps = Vector512.Create(c.InnerEpsilon);
            var outerEps = Vector512.Create(c.OuterEpsilon);
            var step = Vector512.Create(c.StepSize);
            for (; i <= n - Vector512<float>.Count; i += Vector512<float>.Count)
            {
                var gi = Vector512.Load(g + i);
                var theta = Vector512.Load(p + i) * decay;
                var mi = b1 * Vector512.Load(m + i) + omb1 * gi;
                var r = gi - mi;
                var si = b2 * Vector512.Load(s + i) + omb2 * (r * r);
                mi.Store(m + i);
                si.Store(s + i);
                var update = adaptive ? mi / (Vector512.Sqrt(si + innerEps) + outerEps) : mi;
                (theta - step * update).Store(p + i);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var decay = Vector256.Create(c.DecayFactor);
            var b1 = Vector256.Create(c.Beta1);
            var omb1 = Vector256.Create(c.OneMinusBeta1);
            var b2 = Vector256.Create(c.Beta2);
            var omb2 = Vector256.Create(c.OneMinusBeta2);
            var innerEps = Vector256.Create(c.InnerEpsilon);
            var outerEps = Vector256.Create(c.OuterEpsilon);
            var step = Vector256.Create(c.StepSize);
            for (; i <= n - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var gi = Vector256.Load(g + i);
                var theta = Vector256.Load(p + i) * decay;
                var mi = b1 * Vector256.Load(m + i) + omb1 * gi;
                var r = gi - mi;
                var si = b2 * Vector256.Load(s + i) + omb2 * (r * r);
                mi.Store(m + i);
                si.Store(s + i);
                var update = adaptive ? mi / (Vector256.Sqrt(si + innerEps) + outerEps) : mi;
                (theta - step * update).Store(p + i);
            }
        }
        else if (Vector128.IsHardwareAccelerated)
        {
            var decay = Vector128.Create(c.DecayFactor);
            var b1 = Vector128.Create(c.Beta1);
            var omb1 = Vector128.Create(c.OneMinusBeta1);
            var b2 = Vector128.Create(c.Beta2);
            var omb2 = Vector128.Create(c.OneMinusBeta2);
            var innerEps = Vector128.Create(c.InnerEpsilon);
            var outerEps = Vector128.Create(c.OuterEpsilon);
            var step = Vector128.Create(c.StepSize);
            for (; i <= n - Vector128<float>.Count; i += Vector128<float>.Count)
            {
                var gi = Vector128.Load(g + i);
                var theta = Vector128.Load(p + i) * decay;
                var mi = b1 * Vector128.Load(m + i) + omb1 * gi;
                var r = gi - mi;
                var si = b2 * Vector128.Load(s + i) + omb2 * (r * r);
                mi.Store(m + i);
                si.Store(s + i);
                var update = adaptive ? mi / (Vector128.Sqrt(si + innerEps) + outerEps) : mi;
                (theta - step * update).Store(p + i);
            }
        }
        for (; i < n; i++)
        {
            ScalarElement(ref p[i], g[i], ref m[i], ref s[i], in c);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ScalarElement(ref float p, float g, ref float m, ref float s, in StepCoefficients c)
    {
        float theta = p * c.DecayFactor;
        float mi = c.Beta1 * m + c.OneMinusBeta1 * g;
        float r = g - mi;
        float si = c.Beta2 * s + c.OneMinusBeta2 * (r * r);
        m = mi;
        s = si;
        p = c.Rule == UpdateRule.Adaptive
            ? theta - c.StepSize * (mi / (MathF.Sqrt(si + c.InnerEpsilon) + c.OuterEpsilon))
            : theta - c.StepSize * mi;
    }

    /// <summary>The worker count this instance was built for.</summary>
    public int Threads => _threads;
}
