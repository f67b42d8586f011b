using NativeAdaBelief.Tests.Support;

namespace NativeAdaBelief.Tests.Reliability;

/// <summary>
/// The step-count overflow the ABI fuzzer found (native/fuzz/regressions/step-count-overflow), from
/// C#: a tensor whose step count is <see cref="long.MaxValue"/> (set directly, or restored from a
/// checkpoint that says so) cannot take another step; <see cref="AdaBeliefOptimizer.Step"/>
/// refuses with an <see cref="ArgumentException"/> and changes nothing.
/// </summary>
public sealed class StepCountLimitTests
{
    [Fact]
    public void A_tensor_at_the_largest_step_count_is_refused_and_nothing_changes()
    {
        using var rig = new TrainingRig(seed: 3);
        rig.Train(2);
        rig.Optimizer.Tensors[1].Step = long.MaxValue;
        var file = new MemoryStream();
        rig.Optimizer.SaveCheckpoint(file);

        using var restored = new TrainingRig(seed: 4);
        restored.Optimizer.LoadCheckpoint(new MemoryStream(file.ToArray()));
        Assert.Equal(long.MaxValue, restored.Optimizer.Tensors[1].Step);
        foreach (AdaBeliefOptimizer optimizer in new[] { rig.Optimizer, restored.Optimizer })
        {
            OptimizerSnapshot before = OptimizerSnapshot.Capture(optimizer);
            var e = Assert.Throws<ArgumentException>(optimizer.Step);
            Assert.Contains("tensor 1", e.Message, StringComparison.Ordinal);
            Assert.Contains(long.MaxValue.ToString(System.Globalization.CultureInfo.InvariantCulture), e.Message, StringComparison.Ordinal);
            before.AssertIdentical(OptimizerSnapshot.Capture(optimizer));
        }

        // Without gradients the tensor is not stepped, so the others step on; a smaller count steps again.
        rig.Optimizer.Tensors[1].ClearGradients();
        rig.Optimizer.Step();
        Assert.Equal(3, rig.Optimizer.Tensors[0].Step);
        rig.Storages[1].AttachGradients(rig.Optimizer.Tensors[1]);
        rig.Optimizer.Tensors[1].Step = long.MaxValue - 1;
        rig.Optimizer.Step();
        Assert.Equal(long.MaxValue, rig.Optimizer.Tensors[1].Step);
    }
}
