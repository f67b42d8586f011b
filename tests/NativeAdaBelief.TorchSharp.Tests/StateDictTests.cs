using NativeAdaBelief.TorchSharp.Tests.Support;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NativeAdaBelief.TorchSharp.Tests;

/// <summary>TorchSharp's state_dict(), load_state_dict() and save_state_dict(), all or nothing.</summary>
public sealed class StateDictTests
{
    [TorchTheory]
    [InlineData("file")]
    [InlineData("dictionary")]
    public void A_saved_state_continues_training_exactly(string how)
    {
        using var scope = torch.NewDisposeScope();
        (Sequential model, NativeAdaBeliefOptimizer optimizer) = Trained(steps: 4);
        Sequential copy = Models.Create("mlp", seed: 9);
        copy.load_state_dict(model.state_dict());
        using NativeAdaBeliefOptimizer resumed = Optimizer(copy, learningRate: 0.5); // other options: the load replaces them
        if (how == "file")
        {
            string path = Path.Combine(Path.GetTempPath(), $"nab-ts-{Guid.NewGuid():N}.bin");
            try
            {
                optimizer.save_state_dict(path);
                resumed.load_state_dict(path);
            }
            finally
            {
                File.Delete(path);
            }
        }
        else
        {
            resumed.load_state_dict(optimizer.state_dict());
        }
        Assert.Equal(optimizer.ParamGroups.Select(g => g.LearningRate), resumed.ParamGroups.Select(g => g.LearningRate));
        Assert.Equal(optimizer.ParamGroups.Select(g => g.InitialLearningRate), resumed.ParamGroups.Select(g => g.InitialLearningRate));
        for (int step = 4; step < 8; step++)
        {
            using var stepScope = torch.NewDisposeScope();
            foreach ((Sequential m, NativeAdaBeliefOptimizer o) in new[] { (model, optimizer), (copy, resumed) })
            {
                o.zero_grad();
                Models.LossAndBackward(m, "mlp", step);
                o.step();
            }
        }
        Assert.Equal(model.parameters().Select(Models.Values), copy.parameters().Select(Models.Values));
        optimizer.Dispose();
    }

    [TorchFact]
    public void The_state_dictionary_holds_torchsharp_entries_with_the_native_state()
    {
        using var scope = torch.NewDisposeScope();
        (Sequential model, NativeAdaBeliefOptimizer optimizer) = Trained(steps: 3);
        using (optimizer)
        {
            var dict = optimizer.state_dict();
            Assert.Equal(2, dict.Options.Count);
            var state = Assert.IsType<AdaBeliefParameterState>(dict.State[1]);
            Assert.Equal(3, state.Step);
            using Tensor m = state.Read(StateKind.FirstMoment);
            Assert.Equal(model.parameters().ElementAt(2).shape, m.shape); // registration order: group 0 holds parameters 0 and 2
            Assert.Equal(optimizer.Core.Tensors[1].ReadState(StateKind.FirstMoment), Models.Values(m));
            Assert.True(dict.State[1].ApproximatelyEquals(dict.State[1]));
            Assert.False(dict.State[1].ApproximatelyEquals(dict.State[0]));
        }
    }

    [TorchFact]
    public void A_state_that_does_not_fit_is_refused_and_changes_nothing()
    {
        using var scope = torch.NewDisposeScope();
        (Sequential _, NativeAdaBeliefOptimizer source) = Trained(steps: 2);
        using (source)
        {
            Sequential other = nn.Sequential(nn.Linear(20, 8), nn.ReLU(), nn.Linear(8, 5));
            using NativeAdaBeliefOptimizer target = Optimizer(other, learningRate: 0.5);
            var refused = Assert.Throws<ArgumentException>(() => target.load_state_dict(source.state_dict()));
            Assert.Contains("elements", refused.Message, StringComparison.Ordinal);
            Assert.All(target.Core.Tensors, t => Assert.Equal(0, t.Step));
            Assert.Equal(0.5, target.ParamGroups.First().LearningRate);

            using NativeAdaBeliefOptimizer adam = NativeOptim.Adam(other.parameters());
            using optim.Optimizer torchAdam = optim.Adam(other.parameters());
            var foreign = Assert.Throws<ArgumentException>(() => adam.load_state_dict(((OptimizerHelper)torchAdam).state_dict()));
            Assert.Contains("cannot be loaded", foreign.Message, StringComparison.Ordinal);
        }
    }

    /// <summary>An MLP with two groups (the second with AMSGrad) trained a few steps with a StepLR.</summary>
    private static (Sequential Model, NativeAdaBeliefOptimizer Optimizer) Trained(int steps)
    {
        Sequential model = Models.Create("mlp");
        NativeAdaBeliefOptimizer optimizer = Optimizer(model, learningRate: 1e-2);
        var schedule = optim.lr_scheduler.StepLR(optimizer, step_size: 2, gamma: 0.5);
        for (int step = 0; step < steps; step++)
        {
            using var stepScope = torch.NewDisposeScope();
            optimizer.zero_grad();
            Models.LossAndBackward(model, "mlp", step);
            optimizer.step();
            schedule.step();
        }
        return (model, optimizer);
    }

    private static NativeAdaBeliefOptimizer Optimizer(Sequential model, double learningRate)
    {
        List<Parameter> p = [.. model.parameters()];
        return new NativeAdaBeliefOptimizer(
            [new AdaBeliefParamGroup([p[0], p[2]], new AdaBeliefOptions { LearningRate = learningRate, WeightDecay = 0.01 }),
             new AdaBeliefParamGroup([p[1], p[3]], AdaBeliefOptions.ForAdaBeliefPytorch(learningRate) with { AmsGrad = true })]);
    }
}
