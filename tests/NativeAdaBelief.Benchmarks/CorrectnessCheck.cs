using NativeAdaBelief.Benchmarks.Managed;

namespace NativeAdaBelief.Benchmarks;

/// <summary>
/// Not timed: every managed version must compute the native step's arithmetic, or the
/// comparison would not be honest. Runs each one and the native optimizer (1 thread and all
/// cores) for several steps on the same small tensors, with new gradients every step and
/// crossing the rectification switch (SGD steps, then adaptive ones), and compares θ, m and s.
/// </summary>
public static class CorrectnessCheck
{
    public const double Tolerance = 1e-5;
    private const int Steps = 12;
    private static readonly int[] Lengths = [1, 17, 1037, 70_001];

    public sealed record Result(string Version, double MaxRelativeError)
    {
        public bool Passed => MaxRelativeError <= Tolerance;
    }

    /// <summary>Runs the check; every version's largest relative error against the native step.</summary>
    public static IReadOnlyList<Result> Run()
    {
        using var reference = new OursHarness(Lengths, threads: 1);
        RunNative(reference);
        var results = new List<Result>();

        using (var allCores = new OursHarness(Lengths, threads: 0))
        {
            RunNative(allCores);
            double error = 0;
            for (int i = 0; i < Lengths.Length; i++)
            {
                OptimizerTensor t = allCores.Optimizer.Tensors[i];
                error = Math.Max(error, Compare(reference, i, allCores.Parameters[i].Span, t.ReadState(StateKind.FirstMoment),
                    t.ReadState(StateKind.SecondMoment)));
            }
            results.Add(new Result("ours, all cores (vs ours, 1 thread)", error));
        }

        foreach ((string name, Func<TensorSet, IManagedStep> create) in Versions())
        {
            using var set = new TensorSet(Lengths);
            IManagedStep step = create(set);
            for (int k = 1; k <= Steps; k++)
            {
                for (int i = 0; i < Lengths.Length; i++)
                {
                    Fill.Gradients(set.Tensors[i].G, GradientSeed(k, i));
                }
                step.Step();
            }
            double error = 0;
            for (int i = 0; i < Lengths.Length; i++)
            {
                TensorArrays t = set.Tensors[i];
                error = Math.Max(error, Compare(reference, i, t.P, t.M, t.S));
            }
            results.Add(new Result(name, error));
        }
        return results;
    }

    private static IEnumerable<(string, Func<TensorSet, IManagedStep>)> Versions()
    {
        yield return ("scalar loop", s => new ScalarLoopStep(s));
        yield return ("TensorPrimitives", s => new TensorPrimitivesStep(s));
        yield return ("best managed, 1 thread", s => new FusedManagedStep(s, 1));
        yield return ($"best managed, {Environment.ProcessorCount} threads", s => new FusedManagedStep(s, Environment.ProcessorCount));
    }

    private static int GradientSeed(int step, int tensor) => 1_000_003 * step + 31 * tensor;

    private static void RunNative(OursHarness harness)
    {
        for (int k = 1; k <= Steps; k++)
        {
            for (int i = 0; i < Lengths.Length; i++)
            {
                Fill.Gradients(harness.Gradients[i].Span, GradientSeed(k, i));
            }
            harness.Optimizer.Step();
        }
    }

    // |a − b| / max(|b|, floor): θ against 1e-3 (docs/algorithm.md), m and s against floors far
    // below their typical magnitudes here (|g| ≥ 1e-4, so |m| ≳ 1e-5 and s ≳ 1e-11).
    private static double Compare(OursHarness reference, int tensor, ReadOnlySpan<float> p, ReadOnlySpan<float> m,
        ReadOnlySpan<float> s)
    {
        OptimizerTensor t = reference.Optimizer.Tensors[tensor];
        return Math.Max(MaxError(p, reference.Parameters[tensor].Span, 1e-3),
            Math.Max(MaxError(m, t.ReadState(StateKind.FirstMoment), 1e-9), MaxError(s, t.ReadState(StateKind.SecondMoment), 1e-18)));
    }

    private static double MaxError(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected, double floor)
    {
        if (actual.Length != expected.Length)
        {
            return double.PositiveInfinity;
        }
        double max = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            double error = Math.Abs((double)actual[i] - expected[i]) / Math.Max(Math.Abs((double)expected[i]), floor);
            if (double.IsNaN(error))
            {
                return double.PositiveInfinity;
            }
            max = Math.Max(max, error);
        }
        return max;
    }
}
