using System.Diagnostics;
using NativeAdaBelief.Benchmarks.Managed;

namespace NativeAdaBelief.Benchmarks;

/// <summary>
/// Managed bytes allocated per step, counted precisely over many steps for the whole process
/// (GC.GetTotalAllocatedBytes(precise: true), every thread), best of three rounds. Beside
/// BenchmarkDotNet's MemoryDiagnoser column: in-process, that column also picks up the few
/// KB the host itself allocates during a measurement, spread over however few steps fit into
/// it (one, for the largest workloads).
/// </summary>
public static class AllocationCheck
{
    public sealed record Result(string Version, string Workload, string Threads, long Steps, double BytesPerStep);

    public static IReadOnlyList<Result> Run(IEnumerable<string> workloads)
    {
        var results = new List<Result>();
        foreach (var (workload, lengths, threads, ourThreads, managedThreads) in Workloads.ThreadCases(workloads))
        {
            using (var ours = new OursHarness(lengths, ourThreads))
            {
                results.Add(Measure("ours", workload, threads, ours.Optimizer.Step));
            }
            using var set = new TensorSet(lengths);
            var best = new FusedManagedStep(set, managedThreads);
            results.Add(Measure("best managed", workload, threads, best.Step));
        }
        return results;
    }

    private static Result Measure(string version, string workload, string threads, Action step)
    {
        // Warm (JIT, P/Invoke stubs, the thread pool's workers), then as many steps as fit into
        // ~0.2 s a round: at least 5 (the ~100M workload), at most 20,000.
        step();
        var clock = Stopwatch.StartNew();
        step();
        double seconds = Math.Max(clock.Elapsed.TotalSeconds, 1e-7);
        for (int i = 0; i < 20 && i * seconds < 0.1; i++)
        {
            step();
        }
        long steps = Math.Clamp((long)(0.2 / seconds), 5, 20_000);
        double best = double.PositiveInfinity;
        for (int round = 0; round < 3; round++)
        {
            long before = GC.GetTotalAllocatedBytes(precise: true);
            for (long i = 0; i < steps; i++)
            {
                step();
            }
            long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
            best = Math.Min(best, allocated / (double)steps);
        }
        return new Result(version, workload, threads, steps, best);
    }
}
