using NativeAdaBelief.TorchSharp.Tests.Support;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NativeAdaBelief.TorchSharp.Tests;

/// <summary>The safetensors checkpoint: one format for the core API and the TorchSharp optimizer, both ways.</summary>
public sealed class CheckpointTests
{
    [TorchFact]
    public void A_checkpoint_of_the_core_api_loads_here_and_one_written_here_loads_there()
    {
        using var scope = torch.NewDisposeScope();
        Sequential model = Models.Create("mlp");
        model.to(ScalarType.BFloat16); // 16-bit parameters: master copies in the checkpoint too
        List<Parameter> p = [.. model.parameters()];
        using var torchOptimizer = new NativeAdaBeliefOptimizer(p, new AdaBeliefOptions { LearningRate = 1e-2, AmsGrad = true });

        // The core API with tensors of the same sizes and element types, trained on its own.
        using var core = new AdaBeliefOptimizer(new AdaBeliefOptions { LearningRate = 3e-3, AmsGrad = true });
        var buffers = p.Select(q => new NativeBuffer<BFloat16>(q.numel())).ToList();
        var gradients = p.Select(q => new NativeBuffer<BFloat16>(q.numel())).ToList();
        for (int i = 0; i < p.Count; i++)
        {
            gradients[i].Span.Fill((BFloat16)(0.01f * (i + 1)));
            core.ParamGroups[0].AddTensor(buffers[i], gradients[i], keepMasterCopy: true);
        }
        for (int s = 0; s < 3; s++)
        {
            core.Step();
        }
        using var file = new MemoryStream();
        core.SaveCheckpoint(file);
        file.Position = 0;
        torchOptimizer.LoadCheckpoint(file);
        AssertSameState(core, torchOptimizer);
        Assert.Equal(3e-3, torchOptimizer.ParamGroups.Single().LearningRate); // the checkpoint's options are the group's now

        // Back: steps here, then the core API loads what this optimizer saved.
        for (int step = 0; step < 2; step++)
        {
            using var stepScope = torch.NewDisposeScope();
            torchOptimizer.zero_grad();
            Models.LossAndBackward(model, "mlp", step, ScalarType.BFloat16);
            torchOptimizer.step();
        }
        torchOptimizer.ParamGroups.Single().LearningRate = 7e-4;
        file.SetLength(0);
        torchOptimizer.SaveCheckpoint(file);
        file.Position = 0;
        core.LoadCheckpoint(file);
        AssertSameState(core, torchOptimizer);
        Assert.Equal(7e-4, core.ParamGroups[0].LearningRate);
        buffers.Concat(gradients).ToList().ForEach(b => b.Dispose());
    }

    private static void AssertSameState(AdaBeliefOptimizer core, NativeAdaBeliefOptimizer torchOptimizer)
    {
        for (int i = 0; i < core.Tensors.Count; i++)
        {
            OptimizerTensor a = core.Tensors[i], b = torchOptimizer.Core.Tensors[i];
            Assert.Equal(a.Step, b.Step);
            foreach (StateKind kind in Enum.GetValues<StateKind>())
            {
                Assert.Equal(a.ReadState(kind), b.ReadState(kind));
            }
        }
    }
}
