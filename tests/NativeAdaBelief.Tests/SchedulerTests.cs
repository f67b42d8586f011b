using NativeAdaBelief.Tests.Support;

namespace NativeAdaBelief.Tests;

public sealed class SchedulerTests
{
    [Fact]
    public void Constant_is_constant()
    {
        var s = new ConstantSchedule(0.01);
        Assert.Equal(0.01, s.LearningRateAt(1));
        Assert.Equal(0.01, s.LearningRateAt(1_000_000));
    }

    [Fact]
    public void Linear_warmup_follows_labml()
    {
        var s = new LinearWarmupSchedule(1e-3, warmupSteps: 100);
        Assert.Equal(1e-8 + 1e-3 / 100, s.LearningRateAt(1), 15);
        Assert.Equal(1e-8 + 50 * 1e-3 / 100, s.LearningRateAt(50), 15);
        Assert.Equal(1e-8 + 99 * 1e-3 / 100, s.LearningRateAt(99), 15);
        Assert.Equal(1e-3, s.LearningRateAt(100));
        Assert.Equal(1e-3, s.LearningRateAt(10_000));
        Assert.Equal(2e-3, new LinearWarmupSchedule(2e-3, 0).LearningRateAt(1));
    }

    [Fact]
    public void Warmup_cosine_decay_follows_labml()
    {
        var s = new WarmupCosineDecaySchedule(1e-3, warmupSteps: 100, totalSteps: 1100);
        Assert.Equal(1e-8 + 10 * 1e-3 / 100, s.LearningRateAt(10), 15);
        Assert.Equal(1e-3, s.LearningRateAt(100), 15); // progress 0: cos(0) = 1
        Assert.Equal(1e-3 * 0.5 * (1 + Math.Cos(Math.PI * 0.25)), s.LearningRateAt(350), 15);
        Assert.Equal(1e-3 * 0.5, s.LearningRateAt(600), 15); // halfway
        Assert.Equal(1e-4, s.LearningRateAt(1000), 15); // floored at 10%
        Assert.Equal(1e-4, s.LearningRateAt(1100), 15);
        var noFloor = new WarmupCosineDecaySchedule(1.0, 0, 10, minimumFactor: 0);
        Assert.Equal(0.0, noFloor.LearningRateAt(10), 15);
        double previous = double.MaxValue;
        for (long t = 100; t <= 1100; t += 10)
        {
            double lr = s.LearningRateAt(t);
            Assert.True(lr <= previous + 1e-18, $"not decreasing at {t}");
            previous = lr;
        }
    }

    [Fact]
    public void Invalid_schedules_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new ConstantSchedule(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ConstantSchedule(double.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LinearWarmupSchedule(1e-3, -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new WarmupCosineDecaySchedule(1e-3, 10, -5));
        Assert.Throws<ArgumentOutOfRangeException>(() => new WarmupCosineDecaySchedule(1e-3, 10, 100, 1.5));
    }

    [Fact]
    public void Apply_sets_the_learning_rate_of_a_group_or_of_every_group()
    {
        using var rig = new TrainingRig();
        var warmup = new LinearWarmupSchedule(0.1, 10);
        Assert.Equal(warmup.LearningRateAt(3), warmup.Apply(rig.Optimizer, 3));
        Assert.All(rig.Optimizer.ParamGroups, g => Assert.Equal(warmup.LearningRateAt(3), g.LearningRate));
        new ConstantSchedule(0.5).Apply(rig.Optimizer.ParamGroups[1], 1);
        Assert.Equal(0.5, rig.Optimizer.ParamGroups[1].LearningRate);
        Assert.Equal(warmup.LearningRateAt(3), rig.Optimizer.ParamGroups[0].LearningRate);
    }

    [Fact]
    public void A_scheduled_run_matches_the_reference_with_the_same_learning_rates()
    {
        var schedule = new WarmupCosineDecaySchedule(1e-2, warmupSteps: 5, totalSteps: 30);
        var options = new AdaBeliefOptions { LearningRate = schedule.LearningRateAt(1) };
        var reference = new Reference.ReferenceAdaBelief();
        reference.AddGroup(options);
        float[] initial = TestData.Parameters(new Random(3), 50);
        float[] parameters = [.. initial], gradients = new float[50];
        reference.AddTensor(0, initial);
        using var optimizer = new AdaBeliefOptimizer(options);
        optimizer.ParamGroups[0].AddTensor(parameters, gradients);
        var random = new Random(4);
        for (long t = 1; t <= 30; t++)
        {
            reference.SetLearningRate(0, schedule.Apply(optimizer, t));
            TestData.Gradients(random, gradients);
            optimizer.Step();
            reference.Step([gradients]);
        }
        Tolerance.AssertParameters("theta", parameters, reference.Tensors[0].Theta, reference.Tensors[0].ThetaPathMax);
    }
}
