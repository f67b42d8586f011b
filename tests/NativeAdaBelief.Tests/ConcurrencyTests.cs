using NativeAdaBelief.Tests.Support;

namespace NativeAdaBelief.Tests;

public sealed class ConcurrencyTests
{
    private const int Steps = 200;

    [Fact]
    public void Two_optimizers_stepping_on_two_threads_at_once_equal_the_same_runs_alone()
    {
        (float[][] P, OptimizerSnapshot S) Alone(int seed)
        {
            using var rig = new TrainingRig(seed, sizes: [10_000, 3, 4099]);
            rig.Train(Steps);
            return (rig.Parameters(), OptimizerSnapshot.Capture(rig.Optimizer));
        }
        var aloneA = Alone(1);
        var aloneB = Alone(2);

        using var rigA = new TrainingRig(1, sizes: [10_000, 3, 4099]);
        using var rigB = new TrainingRig(2, sizes: [10_000, 3, 4099]);
        using var start = new Barrier(2);
        var threadA = new Thread(() => { start.SignalAndWait(); rigA.Train(Steps); });
        var threadB = new Thread(() => { start.SignalAndWait(); rigB.Train(Steps); });
        threadA.Start();
        threadB.Start();
        threadA.Join();
        threadB.Join();

        Assert.Equal(aloneA.P, rigA.Parameters());
        Assert.Equal(aloneB.P, rigB.Parameters());
        aloneA.S.AssertIdentical(OptimizerSnapshot.Capture(rigA.Optimizer));
        aloneB.S.AssertIdentical(OptimizerSnapshot.Capture(rigB.Optimizer));
    }

    [Fact]
    public void Results_are_bit_identical_for_every_thread_count_and_simd_level()
    {
        IReadOnlyList<SimdLevel> levels = SimdLevels.ThisCpuRuns();

        (float[][], OptimizerSnapshot)? baseline = null;
        foreach (SimdLevel level in levels)
        {
            foreach (int threads in new[] { 1, 2, 3, 0 })
            {
                using var rig = new TrainingRig(5, sizes: [100_003, 1, 17, 64], new OptimizerConfig { ThreadCount = threads, SimdLevel = level });
                rig.Train(20);
                var result = (rig.Parameters(), OptimizerSnapshot.Capture(rig.Optimizer));
                if (baseline is not { } b)
                {
                    baseline = result;
                    continue;
                }
                for (int i = 0; i < b.Item1.Length; i++)
                {
                    OptimizerSnapshot.AssertBits(b.Item1[i], result.Item1[i], $"parameters of tensor {i} with {threads} threads at {level}");
                }
                b.Item2.AssertIdentical(result.Item2);
            }
        }
    }

    [Fact]
    public void One_optimizer_used_from_two_threads_refuses_rather_than_corrupts()
    {
        using var rig = new TrainingRig(9, sizes: [1_000_000], groups: [new AdaBeliefOptions()]);
        rig.Train(1);
        int succeeded = 1, refused = 0;
        using var start = new Barrier(2);
        void Hammer()
        {
            start.SignalAndWait();
            for (int i = 0; i < 100; i++)
            {
                try
                {
                    rig.Optimizer.Step();
                    Interlocked.Increment(ref succeeded);
                }
                catch (InvalidOperationException)
                {
                    Interlocked.Increment(ref refused); // BUSY: nothing was done
                }
            }
        }
        var a = new Thread(Hammer);
        var b = new Thread(Hammer);
        a.Start();
        b.Start();
        a.Join();
        b.Join();
        Assert.Equal(201, succeeded + refused);
        Assert.Equal(succeeded, rig.Optimizer.Tensors[0].Step); // every accepted step counted exactly once
    }
}
