using NativeAdaBelief.TorchSharp.Tests.Support;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NativeAdaBelief.TorchSharp.Tests;

/// <summary>TorchSharp's own LR schedulers drive the native learning rate.</summary>
public sealed class SchedulerTests
{
    [TorchTheory]
    [InlineData("StepLR")]
    [InlineData("CosineAnnealingLR")]
    public void A_torchsharp_scheduler_sets_the_rate_each_native_step_uses(string kind)
    {
        using var scope = torch.NewDisposeScope();
        Sequential torchModel = Models.Create("mlp"), ourModel = Models.Create("mlp");
        List<Parameter> a = [.. torchModel.parameters()], b = [.. ourModel.parameters()];
        using optim.Optimizer reference = optim.Adam(a, lr: 1e-2);
        using NativeAdaBeliefOptimizer ours = NativeOptim.Adam(b, lr: 1e-2);
        optim.lr_scheduler.LRScheduler Schedule(optim.Optimizer o) => kind == "StepLR"
            ? optim.lr_scheduler.StepLR(o, step_size: 4, gamma: 0.5)
            : optim.lr_scheduler.CosineAnnealingLR(o, T_max: 10, eta_min: 1e-4);
        optim.lr_scheduler.LRScheduler referenceSchedule = Schedule(reference), ourSchedule = Schedule(ours);

        var rates = new List<double>();
        for (int step = 0; step < 20; step++)
        {
            using var stepScope = torch.NewDisposeScope();
            torchModel.zero_grad();
            ourModel.zero_grad();
            Models.LossAndBackward(torchModel, "mlp", step);
            Models.LossAndBackward(ourModel, "mlp", step);
            reference.step();
            ours.step();
            double scheduled = ours.ParamGroups.Single().LearningRate;
            Assert.Equal(referenceSchedule.get_last_lr().Single(), scheduled);
            Assert.Equal(scheduled, ours.Core.ParamGroups[0].LearningRate); // what this step used
            rates.Add(scheduled);
            referenceSchedule.step();
            ourSchedule.step();
        }
        Assert.True(rates.Distinct().Count() > 3, $"the schedule did not change the rate: {string.Join(", ", rates)}");
        Assert.True(Models.MaxRelativeDifference(b, a) < 1e-4, "the scheduled runs diverged");
    }

    [TorchFact]
    public void OneCycleLR_cycles_the_betas_of_each_group()
    {
        using var scope = torch.NewDisposeScope();
        using NativeAdaBeliefOptimizer ours = NativeOptim.Adam(Models.Create("mlp").parameters());
        var schedule = optim.lr_scheduler.OneCycleLR(ours, max_lr: 1e-2, total_steps: 10);
        var group = (AdaBeliefParamGroup)ours.ParamGroups.Single();
        double first = group.Betas.Item1;
        schedule.step();
        schedule.step();
        Assert.NotEqual(first, group.Betas.Item1);
        Assert.Equal(0.999, group.Betas.Item2);
    }
}
