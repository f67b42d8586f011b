using NativeAdaBelief.Tests.Support;

namespace NativeAdaBelief.Tests;

public sealed class StepAllocationTests
{
    [Fact]
    public void Step_ZeroGrad_and_scheduling_allocate_nothing_on_the_managed_heap()
    {
        using var rig = new TrainingRig(sizes: [1000, 17, 4099]);
        AdaBeliefOptimizer optimizer = rig.Optimizer;
        var scheduler = new LearningRateScheduler(optimizer, new WarmupCosineDecaySchedule(warmupSteps: 100, totalSteps: 1000));
        for (int i = 1; i <= 10; i++) // warm up: JIT, P/Invoke stubs, tiering
        {
            optimizer.Step();
            optimizer.ZeroGrad();
            scheduler.Step();
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 11; i <= 1010; i++)
        {
            optimizer.Step();
            optimizer.ZeroGrad();
            scheduler.Step();
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.Equal(1010, optimizer.Tensors[0].Step);
    }
}
