using NativeAdaBelief.Tests.Support;

namespace NativeAdaBelief.Tests.MixedPrecision;

/// <summary>
/// <see cref="DynamicLossScaler"/>: PyTorch GradScaler's scale sequence (backoff on a skipped
/// step, growth after an interval of good steps), its ownership of the optimizer's skip flag and
/// inverse scale, and a float16 training loop that finds a scale at which its gradients do not
/// overflow.
/// </summary>
public sealed class DynamicLossScalerTests
{
    private static readonly MixedTensorSpec[] Specs =
    [
        new(0, 100, TensorElementType.Float16, TensorElementType.Float16, MasterCopy: true, MemoryKind.NativeBuffer),
        new(0, 37, TensorElementType.BFloat16, TensorElementType.Float32, MasterCopy: false, MemoryKind.ManagedArray),
    ];

    private static MixedRig Rig() => new(Specs, [new AdaBeliefOptions { LearningRate = 1e-3 }]);

    [Fact]
    public void The_defaults_are_PyTorchs_and_the_scaler_sets_the_optimizers_step_options()
    {
        using var rig = Rig();
        rig.Optimizer.StepOptions = new StepOptions { MaxGradientNorm = 3, ComputeGradientNorm = true };
        var scaler = new DynamicLossScaler(rig.Optimizer);
        Assert.Same(rig.Optimizer, scaler.Optimizer);
        Assert.Equal(65536.0, scaler.Scale);
        Assert.Equal(2.0, scaler.GrowthFactor);
        Assert.Equal(0.5, scaler.BackoffFactor);
        Assert.Equal(2000, scaler.GrowthInterval);
        Assert.Equal(0, scaler.GoodSteps);
        Assert.Equal(0, scaler.SkippedSteps);
        // The scaler owns the skip flag and the inverse scale; clipping stays the caller's.
        Assert.Equal(new StepOptions { SkipNonFinite = true, InverseGradientScale = 1.0 / 65536, MaxGradientNorm = 3, ComputeGradientNorm = true },
            rig.Optimizer.StepOptions);
    }

    [Fact]
    public void Invalid_settings_are_refused()
    {
        using var rig = Rig();
        Assert.Throws<ArgumentNullException>(() => new DynamicLossScaler(null!));
        foreach (double scale in new[] { 0, -1, double.NaN, double.PositiveInfinity, 1e39, 1e-39 })
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => new DynamicLossScaler(rig.Optimizer, initialScale: scale));
        }
        foreach (double growth in new[] { 1, 0.5, double.NaN, double.PositiveInfinity })
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => new DynamicLossScaler(rig.Optimizer, growthFactor: growth));
        }
        foreach (double backoff in new[] { 0, 1, -0.5, 1.5, double.NaN })
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => new DynamicLossScaler(rig.Optimizer, backoffFactor: backoff));
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => new DynamicLossScaler(rig.Optimizer, growthInterval: 0));
        foreach (int good in new[] { -1, 5, 6 })
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => new DynamicLossScaler(rig.Optimizer, growthInterval: 5, goodSteps: good));
        }
        Assert.Equal(new StepOptions(), rig.Optimizer.StepOptions); // nothing was set
        rig.Optimizer.Dispose();
        Assert.Throws<ObjectDisposedException>(() => new DynamicLossScaler(rig.Optimizer));
    }

    [Fact]
    public void The_scale_backs_off_on_skipped_steps_and_grows_after_each_interval_of_good_steps()
    {
        using var rig = Rig();
        var scaler = new DynamicLossScaler(rig.Optimizer, initialScale: 1024, growthFactor: 4, backoffFactor: 0.25, growthInterval: 3);
        var random = new Random(20);

        // A model of GradScaler.update written from its documentation: the expected sequence.
        double expectedScale = 1024;
        int expectedGood = 0, goodSteps = 0;
        string pattern = "GGGGBGGGGGGBBGGGGGGBGGG"; // G: finite gradients; B: one +Inf
        foreach (char kind in pattern)
        {
            MixedRig.FillGradients(rig.Storages, random);
            if (kind == 'B')
            {
                rig.Storages[random.Next(2)].SetGradient(random.Next(37), float.PositiveInfinity);
            }
            StepReport report = scaler.Step();

            Assert.Equal(kind == 'B', report.Skipped);
            if (kind == 'B')
            {
                expectedScale *= 0.25;
                expectedGood = 0;
            }
            else
            {
                goodSteps++;
                if (++expectedGood == 3)
                {
                    expectedScale *= 4;
                    expectedGood = 0;
                }
            }
            Assert.Equal(expectedScale, scaler.Scale);
            Assert.Equal(expectedGood, scaler.GoodSteps);
            Assert.Equal(1.0 / expectedScale, rig.Optimizer.StepOptions.InverseGradientScale);
            Assert.True(rig.Optimizer.StepOptions.SkipNonFinite);
            Assert.All(rig.Optimizer.Tensors, t => Assert.Equal(goodSteps, t.Step));
        }
        Assert.Equal(pattern.Count(c => c == 'B'), scaler.SkippedSteps);
        // 1024 ·4 (GGG) ·¼ (B) ·4 ·4 (GGGGGG) ·¼ ·¼ (BB) ·4 ·4 (GGGGGG) ·¼ (B) ·4 (GGG)
        Assert.Equal(1024.0 * 4 / 4 * 4 * 4 / 16 * 16 / 4 * 4, scaler.Scale);
    }

    [Fact]
    public void A_scaler_resumed_from_its_scale_and_good_steps_continues_as_the_uninterrupted_one()
    {
        using var whole = Rig();
        using var resumed = Rig();
        var random = new Random(21);
        var uninterrupted = new DynamicLossScaler(whole.Optimizer, initialScale: 256, growthInterval: 4);
        DynamicLossScaler? second = null;
        const string pattern = "GGGGGGBGGGGGGG"; // G: finite gradients; B: one +Inf
        for (int i = 0; i < pattern.Length; i++)
        {
            if (i == 2 || i == 9)
            {
                // "Resume" mid-interval: a fresh scaler from the saved scale and good-step count.
                second = new DynamicLossScaler(resumed.Optimizer, initialScale: uninterrupted.Scale, growthInterval: 4,
                    goodSteps: uninterrupted.GoodSteps);
            }
            float[][] stored = MixedRig.FillGradients(whole.Storages, random);
            if (pattern[i] == 'B')
            {
                stored[0][3] = whole.Storages[0].SetGradient(3, float.PositiveInfinity);
            }
            uninterrupted.Step();
            if (second is not null)
            {
                for (int t = 0; t < stored.Length; t++)
                {
                    for (int e = 0; e < stored[t].Length; e++)
                    {
                        resumed.Storages[t].SetGradient(e, stored[t][e]);
                    }
                }
                second.Step();
                Assert.Equal(uninterrupted.Scale, second.Scale);
                Assert.Equal(uninterrupted.GoodSteps, second.GoodSteps);
            }
        }
        Assert.NotNull(second);
    }

    [Fact]
    public void Update_counts_each_step_once_and_needs_the_scalers_options()
    {
        using var rig = Rig();
        var scaler = new DynamicLossScaler(rig.Optimizer, initialScale: 8, growthInterval: 1);
        Assert.Throws<InvalidOperationException>(() => scaler.Update()); // no step yet

        rig.Train(1);
        StepReport report = scaler.Update();
        Assert.False(report.Skipped);
        Assert.Equal(16, scaler.Scale);
        Assert.Throws<InvalidOperationException>(() => scaler.Update()); // the same step again
        Assert.Equal(16, scaler.Scale);

        // Options replaced behind the scaler's back: an update refuses a step that was not checked...
        rig.Optimizer.StepOptions = new StepOptions { MaxGradientNorm = 5 };
        rig.Train(1);
        Assert.Throws<InvalidOperationException>(() => scaler.Update());
        // ...and the scaler's own Step re-asserts its options (keeping the caller's clipping).
        scaler.Step();
        Assert.Equal(new StepOptions { SkipNonFinite = true, InverseGradientScale = 1.0 / 32, MaxGradientNorm = 5 }, rig.Optimizer.StepOptions);
    }

    [Fact]
    public void The_scale_stays_a_finite_normal_float32()
    {
        using var rig = Rig();
        var growing = new DynamicLossScaler(rig.Optimizer, initialScale: 1e38, growthInterval: 1);
        Assert.Equal((double)1e38f, growing.Scale); // kept as a float32
        rig.Train(1);
        growing.Update();
        double grown = (float)(1e38f * 2.0);
        Assert.Equal(grown, growing.Scale); // 2e38 is a finite float32...
        rig.Train(1);
        growing.Update();
        Assert.Equal(grown, growing.Scale); // ...4e38 is not: the growth is not applied
        Assert.Equal(0, growing.GoodSteps); // (and the interval restarts, as in PyTorch)

        using var other = Rig();
        var shrinking = new DynamicLossScaler(other.Optimizer, initialScale: 1e-37, backoffFactor: 0.01);
        for (int i = 0; i < 3; i++)
        {
            MixedRig.FillGradients(other.Storages, new Random(i));
            other.Storages[0].SetGradient(0, float.NaN);
            shrinking.Step();
        }
        Assert.Equal(DynamicLossScaler.MinimumScale, shrinking.Scale);
        Assert.True(float.IsFinite((float)(1.0 / shrinking.Scale)));
        Assert.Equal(3, shrinking.SkippedSteps);
    }

    [Fact]
    public void A_float16_training_loop_backs_off_until_its_scaled_gradients_fit_then_trains_as_unscaled()
    {
        // Float16 gradients of a "backward pass" that multiplies by the scale: with |g| up to 10,
        // g·65536 overflows float16 (65504); the scaler halves the scale on each overflow until
        // g·scale fits (scale ≤ 4096), then every step runs. Each step that runs is bit-identical
        // to an optimizer fed the float32 gradients (float16(g·scale)) / scale directly: the
        // scales are powers of two, so the division is exact.
        MixedTensorSpec[] specs = [new(0, 500, TensorElementType.Float16, TensorElementType.Float16, MasterCopy: true, MemoryKind.RawPointer)];
        using var scaled = new MixedRig(specs, [new AdaBeliefOptions { LearningRate = 1e-3 }], seed: 2);
        using var direct = new MixedRig([specs[0] with { GradientType = TensorElementType.Float32 }], [new AdaBeliefOptions { LearningRate = 1e-3 }], seed: 2);
        var scaler = new DynamicLossScaler(scaled.Optimizer, growthInterval: 1000);
        var random = new Random(21);
        int skipped = 0;
        for (int step = 0; step < 30; step++)
        {
            float[] g = TestData.Gradients(random, 500);
            g[step % 500] = step % 2 == 0 ? 10f : -10f; // one large gradient in every step
            double scale = scaler.Scale;
            bool overflows = false;
            for (int i = 0; i < g.Length; i++)
            {
                float stored = scaled.Storages[0].SetGradient(i, (float)(g[i] * scale));
                overflows |= float.IsInfinity(stored);
                direct.Storages[0].SetGradient(i, (float)(stored / scale));
            }
            StepReport report = scaler.Step();
            Assert.Equal(overflows, report.Skipped);
            if (!overflows)
            {
                direct.Optimizer.Step();
            }
            else
            {
                skipped++;
            }
            Assert.Equal(direct.ParameterBits(), scaled.ParameterBits());
        }
        Assert.Equal(4, skipped); // 65536 -> 32768 -> 16384 -> 8192 -> 4096
        Assert.Equal(4096, scaler.Scale);
        Assert.Equal(26, scaled.Optimizer.Tensors[0].Step);
        OptimizerSnapshot.Capture(direct.Optimizer).AssertIdentical(OptimizerSnapshot.Capture(scaled.Optimizer));
    }

    [Fact]
    public void A_scaled_training_loop_allocates_nothing()
    {
        using var rig = Rig();
        var scaler = new DynamicLossScaler(rig.Optimizer, growthInterval: 7);
        for (int i = 0; i < 10; i++)
        {
            scaler.Step();
            rig.Optimizer.ZeroGrad();
        }
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 500; i++)
        {
            scaler.Step();
            rig.Optimizer.ZeroGrad();
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.True(scaler.Scale > 65536); // it grew (zero gradients are finite)
    }
}
