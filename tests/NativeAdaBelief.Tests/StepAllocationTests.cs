using NativeAdaBelief.Tests.Support;

namespace NativeAdaBelief.Tests;

public sealed class StepAllocationTests
{
    [Fact]
    public void Step_ZeroGrad_and_scheduling_allocate_nothing_on_the_managed_heap()
    {
        using var rig = new TrainingRig(sizes: [1000, 17, 4099]);
        AdaBeliefOptimizer optimizer = rig.Optimizer;
        var schedule = new WarmupCosineDecaySchedule(1e-3, warmupSteps: 100, totalSteps: 1000);
        for (int i = 1; i <= 10; i++) // warm up: JIT, P/Invoke stubs, tiering
        {
            schedule.Apply(optimizer, i);
            optimizer.Step();
            optimizer.ZeroGrad();
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 11; i <= 1010; i++)
        {
            schedule.Apply(optimizer, i);
            optimizer.Step();
            optimizer.ZeroGrad();
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.Equal(1010, optimizer.Tensors[0].Step);
    }
}
