using NativeAdaBelief.Tests.Support;

namespace NativeAdaBelief.Tests;

/// <summary><see cref="StateRestore"/>: a whole state from elsewhere than a checkpoint file, all or nothing.</summary>
public sealed class StateRestoreTests
{
    [Fact]
    public void A_restore_copies_another_optimizers_state_and_both_then_step_alike()
    {
        // Same seed: the same parameters and gradients; other options, so another state.
        using var source = new TrainingRig();
        using var target = new TrainingRig(groups: [new AdaBeliefOptions { LearningRate = 0.1 },
            AdaBeliefOptions.ForAdaBeliefPytorch(0.1) with { AmsGrad = true }]);
        source.Train(5);
        target.Train(5);
        using (StateRestore restore = target.Optimizer.BeginRestore())
        {
            for (int g = 0; g < source.Optimizer.ParamGroups.Count; g++)
            {
                restore.StageGroup(target.Optimizer.ParamGroups[g], source.Optimizer.ParamGroups[g].Options);
            }
            foreach (OptimizerTensor tensor in source.Optimizer.Tensors)
            {
                restore.StageTensor(target.Optimizer.Tensors[tensor.Id], tensor.Step, tensor.ReadState(StateKind.FirstMoment),
                    tensor.ReadState(StateKind.SecondMoment),
                    tensor.HasMaxSecondMoment ? tensor.ReadState(StateKind.MaxSecondMoment) : default);
            }
            restore.Commit();
        }
        for (int i = 0; i < source.Storages.Count; i++)
        {
            source.Storages[i].Parameters.CopyTo(target.Storages[i].Parameters);
        }
        source.Train(3);
        target.Train(3);
        Assert.Equal(source.Parameters(), target.Parameters());
        Assert.Equal(source.Optimizer.ParamGroups[0].Options, target.Optimizer.ParamGroups[0].Options);
    }

    [Fact]
    public void A_refused_value_or_a_missing_tensor_changes_nothing()
    {
        using var rig = new TrainingRig();
        rig.Train(2);
        OptimizerTensor tensor = rig.Optimizer.Tensors[0];
        float[] m = tensor.ReadState(StateKind.FirstMoment);
        float[] s = tensor.ReadState(StateKind.SecondMoment);
        long step = tensor.Step;
        using (StateRestore restore = rig.Optimizer.BeginRestore())
        {
            float[] negative = (float[])s.Clone();
            negative[1] = -1;
            var refused = Assert.Throws<ArgumentException>(() => restore.StageTensor(tensor, 9, new float[m.Length], negative));
            Assert.Contains("second", refused.Message, StringComparison.OrdinalIgnoreCase);
            Assert.Throws<ArgumentException>(() => restore.StageTensor(tensor, 9, new float[3], s));
            restore.StageTensor(tensor, 9, new float[m.Length], s);
            Assert.Throws<ArgumentException>(restore.Commit); // the other groups and tensors were not staged
        }
        Assert.Equal(m, tensor.ReadState(StateKind.FirstMoment));
        Assert.Equal(step, tensor.Step);
    }
}
