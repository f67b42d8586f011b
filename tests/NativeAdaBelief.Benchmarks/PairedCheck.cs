using System.Diagnostics;
using NativeAdaBelief.Benchmarks.Managed;

namespace NativeAdaBelief.Benchmarks;

/// <summary>
/// Our step, the best managed step and the streaming limit over one workload, timed in
/// alternating blocks (each round the three in a random order), so that the three see the machine
/// at the same moments; each round of three blocks gives one ratio of each, and the median
/// over the rounds is the ratio. BenchmarkDotNet measures its cases one after another, a
/// second or two each and minutes apart, and on a shared VM the memory bandwidth drifts by tens
/// of percent in minutes (docs/benchmarks.md), which its per-case ratios cannot tell from the
/// code. The same idea as the native benchmarks' alternating fused/limit timing.
/// </summary>
public static class PairedCheck
{
    /// <summary>One workload and thread count: best managed ÷ ours and limit ÷ ours per round
    /// (above 1 means ours is faster), each summarized over the rounds.</summary>
    public sealed record Result(string Workload, string Threads, int Rounds, int StepsPerBlock, double OursNs,
        RatioSummary OverManaged, RatioSummary OfLimit);

    /// <summary>
    /// One ratio over the rounds: the median (what the targets judge); the 10th and 90th
    /// percentiles, how much a single round varies; and the median's 95% confidence interval,
    /// how closely the run pins the median down, from the rounds' order statistics (no assumption
    /// about their distribution). A median just under a target is a measured miss only when the
    /// whole interval is under it too.
    /// </summary>
    public sealed record RatioSummary(double Median, double P10, double P90, double Low, double High)
    {
        /// <summary>The summary of <paramref name="ratios"/> (at least one).</summary>
        public static RatioSummary Of(IEnumerable<double> ratios)
        {
            double[] sorted = ratios.ToArray();
            Array.Sort(sorted);
            int n = sorted.Length;
            // The median's interval runs between the order statistics whose ranks are
            // n/2 ± 1.96 standard deviations of Binomial(n, 1/2) (1-based ranks, clamped).
            double halfWidth = 1.96 * Math.Sqrt(n) / 2;
            int low = Math.Clamp((int)Math.Floor((n + 1) / 2.0 - halfWidth), 1, n);
            int high = Math.Clamp((int)Math.Ceiling((n + 1) / 2.0 + halfWidth), 1, n);
            return new RatioSummary(sorted[n / 2], sorted[n / 10], sorted[n - 1 - n / 10], sorted[low - 1], sorted[high - 1]);
        }
    }

    private const int Rounds = 301;
    private const double BlockSeconds = 0.02;

    public static IReadOnlyList<Result> Run(IEnumerable<string> workloads)
    {
        var results = new List<Result>();
        foreach (var (workload, lengths, threads, ourThreads, managedThreads) in Workloads.ThreadCases(workloads))
        {
            using var ours = new OursHarness(lengths, ourThreads);
            using var set = new TensorSet(lengths);
            var managed = new FusedManagedStep(set, managedThreads);
            TensorArrays limit = StreamingLimit.Arrays(Workloads.TotalElements(workload));
            try
            {
                results.Add(Measure(workload, threads, ours.Optimizer.Step, managed.Step, () => RunLimit(limit, ourThreads)));
            }
            finally
            {
                limit.Free();
            }
        }
        return results;
    }

    private static unsafe void RunLimit(TensorArrays a, int threads) =>
        StreamingLimit.Run(a.Parameters, a.Gradients, a.FirstMoment, a.SecondMoment, a.Length, threads);

    private static Result Measure(string workload, string threads, Action ours, Action managed, Action limit)
    {
        Action[] versions = [ours, managed, limit];
        // Warm each (first touch, JIT, the pools' workers), then size a block to ~20 ms of ours.
        foreach (Action step in versions)
        {
            step();
            step();
        }
        var clock = Stopwatch.StartNew();
        ours();
        int steps = (int)Math.Clamp(BlockSeconds / Math.Max(clock.Elapsed.TotalSeconds, 1e-7), 1, 10_000);
        var seconds = new double[versions.Length][];
        for (int v = 0; v < versions.Length; v++)
        {
            seconds[v] = new double[Rounds];
        }
        // Each round runs the versions in a fresh random order (fixed seed: the same orders every
        // run): the block before leaves its own data in the caches and its dirty lines to write
        // back, and a fixed order would charge that to the same version in every round.
        var random = new Random(1);
        int[] order = Enumerable.Range(0, versions.Length).ToArray();
        for (int round = 0; round < Rounds; round++)
        {
            random.Shuffle(order);
            foreach (int v in order)
            {
                clock.Restart();
                for (int i = 0; i < steps; i++)
                {
                    versions[v]();
                }
                seconds[v][round] = clock.Elapsed.TotalSeconds;
            }
        }
        double oursNs = seconds[0].Order().ElementAt(Rounds / 2) / steps * 1e9;
        return new Result(workload, threads, Rounds, steps, oursNs,
            RatioSummary.Of(seconds[1].Zip(seconds[0], (m, o) => m / o)),
            RatioSummary.Of(seconds[2].Zip(seconds[0], (l, o) => l / o)));
    }
}
