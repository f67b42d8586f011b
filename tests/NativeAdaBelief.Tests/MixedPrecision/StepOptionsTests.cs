using NativeAdaBelief.Tests.Reference;
using NativeAdaBelief.Tests.Support;

namespace NativeAdaBelief.Tests.MixedPrecision;

/// <summary>
/// <see cref="AdaBeliefOptimizer.StepOptions"/> and <see cref="AdaBeliefOptimizer.GetLastStepReport"/>:
/// the inverse gradient scale, clipping by the global L2 norm (against a direct float64
/// computation and the float64 reference), the reported norm, and skipping steps with
/// non-finite gradients (nothing changes, in any tensor).
/// </summary>
public sealed class StepOptionsTests
{
    private static readonly AdaBeliefOptions[] Groups =
        [new AdaBeliefOptions { LearningRate = 1e-2, WeightDecay = 1e-2 }, AdaBeliefOptions.ForAdaBeliefPytorch(2e-2) with { AmsGrad = true }];

    /// <summary>Mixed types and memory kinds, one tensor large enough for several threads.</summary>
    private static readonly MixedTensorSpec[] Specs =
    [
        new(0, 17, TensorElementType.Float32, TensorElementType.Float32, MasterCopy: false, MemoryKind.NativeBuffer),
        new(1, 70_001, TensorElementType.Float16, TensorElementType.Float16, MasterCopy: true, MemoryKind.RawPointer),
        new(0, 1000, TensorElementType.BFloat16, TensorElementType.Float32, MasterCopy: false, MemoryKind.ManagedArray),
        new(1, 33, TensorElementType.Float32, TensorElementType.BFloat16, MasterCopy: false, MemoryKind.RawPointer),
    ];

    // ---- Options and the report. ----

    [Fact]
    public void The_defaults_check_nothing_and_the_first_report_says_no_step_ran()
    {
        using var rig = new MixedRig(Specs, Groups);
        Assert.Equal(new StepOptions(), rig.Optimizer.StepOptions);
        Assert.Equal(new StepOptions { SkipNonFinite = false, InverseGradientScale = 1, MaxGradientNorm = 0, ComputeGradientNorm = false }, rig.Optimizer.StepOptions);
        StepReport report = rig.Optimizer.GetLastStepReport();
        Assert.False(report.GradientsChecked);
        Assert.False(report.Skipped);
        Assert.Equal(0, report.NonFiniteCount);
        Assert.Equal(1.0, report.GradientScale);
        Assert.Equal(0, report.StepCalls);

        rig.Train(2);
        report = rig.Optimizer.GetLastStepReport();
        Assert.False(report.GradientsChecked);
        Assert.True(double.IsNaN(report.GradientNorm));
        Assert.Equal(1.0, report.GradientScale);
        Assert.Equal(2, report.StepCalls);
    }

    [Fact]
    public void Options_round_trip_and_invalid_ones_are_refused_without_changing_anything()
    {
        using var rig = new MixedRig(Specs, Groups);
        var options = new StepOptions { SkipNonFinite = true, InverseGradientScale = 1.0 / 3, MaxGradientNorm = 2.5, ComputeGradientNorm = true };
        rig.Optimizer.StepOptions = options;
        Assert.Equal(options, rig.Optimizer.StepOptions);

        StepOptions[] invalid =
        [
            options with { InverseGradientScale = 0 },
            options with { InverseGradientScale = -1 },
            options with { InverseGradientScale = double.NaN },
            options with { InverseGradientScale = double.PositiveInfinity },
            options with { InverseGradientScale = 1e-46 },  // 0 as a float32
            options with { InverseGradientScale = 1e39 },   // infinity as a float32
            options with { MaxGradientNorm = -1e-300 },
            options with { MaxGradientNorm = double.NaN },
            options with { MaxGradientNorm = double.PositiveInfinity },
        ];
        foreach (StepOptions bad in invalid)
        {
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => rig.Optimizer.StepOptions = bad);
            Assert.Contains("StepOptions.", e.Message, StringComparison.Ordinal);
            Assert.Equal(options, rig.Optimizer.StepOptions);
        }
        Assert.Throws<ArgumentNullException>(() => rig.Optimizer.StepOptions = null!);

        rig.Optimizer.Dispose();
        Assert.Throws<ObjectDisposedException>(() => rig.Optimizer.StepOptions);
        Assert.Throws<ObjectDisposedException>(() => rig.Optimizer.GetLastStepReport());
    }

    [Fact]
    public void The_native_library_validates_step_options_too()
    {
        // Bypassing the managed check: the native refusal surfaces as ArgumentException, and
        // nothing changes.
        using var rig = new MixedRig(Specs, Groups);
        NativeAdaBelief.Interop.nab_step_options native = new StepOptions().ToNative();
        native.inverse_gradient_scale = -2;
        var e = Assert.ThrowsAny<ArgumentException>(() => rig.Optimizer.SetStepOptionsNative(native, "StepOptions"));
        Assert.Contains("inverse_gradient_scale", e.Message, StringComparison.Ordinal);
        native = new StepOptions().ToNative();
        native.skip_nonfinite = 2;
        Assert.ThrowsAny<ArgumentException>(() => rig.Optimizer.SetStepOptionsNative(native, "StepOptions"));
        Assert.Equal(new StepOptions(), rig.Optimizer.StepOptions);
    }

    // ---- The inverse gradient scale. ----

    [Fact]
    public void A_power_of_two_inverse_scale_equals_running_with_the_unscaled_gradients_bit_for_bit()
    {
        // g·1024 is exact in float32 and in float16/bfloat16 (the exponent moves), and so is the
        // step's multiplication by 1/1024: both optimizers see the same gradients, to the bit.
        MixedTensorSpec[] specs = [.. Specs.Select(s => s with { Memory = MemoryKind.RawPointer })];
        using var plain = new MixedRig(specs, Groups, seed: 4);
        using var scaled = new MixedRig(specs, Groups, seed: 4);
        scaled.Optimizer.StepOptions = new StepOptions { InverseGradientScale = 1.0 / 1024 };
        var random = new Random(12);
        for (int step = 0; step < 10; step++)
        {
            float[][] g = MixedRig.FillGradients(plain.Storages, random);
            for (int t = 0; t < g.Length; t++)
            {
                for (int i = 0; i < g[t].Length; i++)
                {
                    Assert.Equal(g[t][i] * 1024f, scaled.Storages[t].SetGradient(i, g[t][i] * 1024f));
                }
            }
            plain.Optimizer.Step();
            scaled.Optimizer.Step();
            StepReport report = scaled.Optimizer.GetLastStepReport();
            Assert.Equal(1.0 / 1024, report.GradientScale);
            Assert.False(report.GradientsChecked);
        }
        Assert.Equal(plain.ParameterBits(), scaled.ParameterBits());
        OptimizerSnapshot.Capture(plain.Optimizer).AssertIdentical(OptimizerSnapshot.Capture(scaled.Optimizer));
    }

    [Fact]
    public void Any_inverse_scale_follows_the_reference_with_prescaled_gradients()
    {
        // 1/3 is not exact: the step multiplies by it rounded to float32 (relative error ≤ 6e-8),
        // which the float32 tolerance (1e-5 relative) covers.
        const double inverse = 1.0 / 3;
        MixedTensorSpec[] specs = [.. Specs.Select(s => s with { ParameterType = TensorElementType.Float32, MasterCopy = false })];
        using var rig = new MixedRig(specs, Groups, seed: 5);
        rig.Optimizer.StepOptions = new StepOptions { InverseGradientScale = inverse };
        ReferenceAdaBelief reference = ReferenceOf(rig);
        var random = new Random(13);
        for (int step = 0; step < 15; step++)
        {
            float[][] g = MixedRig.FillGradients(rig.Storages, random, scale: 3.0);
            reference.Step([.. g.Select(t => t.Select(v => (float)(v * inverse)).ToArray())]);
            rig.Optimizer.Step();
        }
        CompareWithReference(rig, reference);
    }

    // ---- Clipping by the global norm. ----

    [Fact]
    public void Clipping_reports_the_global_norm_and_scales_the_gradients_as_clip_grad_norm()
    {
        const double inverse = 0.5, maxNorm = 40;
        using var rig = new MixedRig(Specs, Groups, seed: 6);
        rig.Optimizer.StepOptions = new StepOptions { InverseGradientScale = inverse, MaxGradientNorm = maxNorm };
        ReferenceAdaBelief reference = ReferenceOf(rig);
        var random = new Random(14);
        int clipped = 0, unclipped = 0;
        for (int step = 0; step < 16; step++)
        {
            // Gradient norms (after the inverse scale) of ~400 on odd steps and ~4 on even ones:
            // both sides of the threshold.
            float[][] g = MixedRig.FillGradients(rig.Storages, random, scale: step % 2 == 1 ? 1.0 : 0.01);
            double sum = 0;
            foreach (float[] t in g)
            {
                foreach (float v in t)
                {
                    sum += (double)v * v;
                }
            }
            double norm = inverse * Math.Sqrt(sum);
            double coefficient = Math.Min(1.0, maxNorm / (norm + 1e-6));
            rig.Optimizer.Step();
            StepReport report = rig.Optimizer.GetLastStepReport();

            // The native sum runs in double in another order: a few double roundings apart.
            Assert.True(report.GradientsChecked);
            Assert.False(report.Skipped);
            Assert.Equal(0, report.NonFiniteCount);
            AssertRelative(norm, report.GradientNorm, 1e-12, $"norm at step {step}");
            AssertRelative(inverse * coefficient, report.GradientScale, 1e-12, $"scale at step {step}");
            if (coefficient < 1)
            {
                clipped++;
            }
            else
            {
                unclipped++;
                Assert.Equal(inverse, report.GradientScale);
            }
            // The reference steps with the clipped gradients (rounded to float, as the step applies
            // them within float32 rounding); the float32 tolerances below cover the difference.
            reference.Step([.. g.Select(t => t.Select(v => (float)(v * inverse * coefficient)).ToArray())]);
        }
        Assert.True(clipped >= 6 && unclipped >= 6, $"{clipped} clipped, {unclipped} not");
        CompareWithReference(rig, reference);
    }

    [Fact]
    public void Computing_the_norm_alone_changes_no_bit_of_the_training()
    {
        using var plain = new MixedRig(Specs, Groups, seed: 7);
        using var measured = new MixedRig(Specs, Groups, seed: 7);
        measured.Optimizer.StepOptions = new StepOptions { ComputeGradientNorm = true };
        for (int step = 0; step < 6; step++)
        {
            plain.Train(1);
            measured.Train(1);
            StepReport report = measured.Optimizer.GetLastStepReport();
            Assert.True(report.GradientsChecked);
            Assert.True(report.GradientNorm > 0 && double.IsFinite(report.GradientNorm));
            Assert.Equal(1.0, report.GradientScale);
        }
        Assert.Equal(plain.ParameterBits(), measured.ParameterBits());
        OptimizerSnapshot.Capture(plain.Optimizer).AssertIdentical(OptimizerSnapshot.Capture(measured.Optimizer));
    }

    [Fact]
    public void A_norm_below_the_maximum_leaves_the_gradients_alone_bit_for_bit()
    {
        using var plain = new MixedRig(Specs, Groups, seed: 8);
        using var clipping = new MixedRig(Specs, Groups, seed: 8);
        clipping.Optimizer.StepOptions = new StepOptions { MaxGradientNorm = 1e30 };
        plain.Train(5);
        clipping.Train(5);
        Assert.Equal(1.0, clipping.Optimizer.GetLastStepReport().GradientScale);
        Assert.Equal(plain.ParameterBits(), clipping.ParameterBits());
        OptimizerSnapshot.Capture(plain.Optimizer).AssertIdentical(OptimizerSnapshot.Capture(clipping.Optimizer));
    }

    // ---- Skipping steps with non-finite gradients. ----

    public static TheoryData<string> Poisons => ["NaN", "+Inf", "-Inf", "mixed"];

    [Theory]
    [MemberData(nameof(Poisons))]
    public void A_non_finite_gradient_in_one_tensor_skips_the_whole_step_and_changes_nothing(string poison)
    {
        using var rig = new MixedRig(Specs, Groups, seed: 9);
        using var twin = new MixedRig(Specs, Groups, seed: 9);
        var options = new StepOptions { SkipNonFinite = true, MaxGradientNorm = 100 };
        rig.Optimizer.StepOptions = options;
        twin.Optimizer.StepOptions = options;
        var random = new Random(15);
        rig.Train(3);
        twin.Train(3);

        // Poison one tensor (or, "mixed", three tensors of three element types), then step.
        float[][] good = MixedRig.FillGradients(rig.Storages, random);
        long expectedCount = 0;
        (int Tensor, int Element, float Value)[] poisons = poison switch
        {
            "NaN" => [(1, 40_000, float.NaN)],
            "+Inf" => [(0, 3, float.PositiveInfinity)],
            "-Inf" => [(2, 999, float.NegativeInfinity)],
            _ => [(1, 0, float.NaN), (1, 70_000, float.PositiveInfinity), (3, 5, float.NaN), (2, 0, float.NegativeInfinity)],
        };
        foreach ((int t, int i, float value) in poisons)
        {
            rig.Storages[t].SetGradient(i, value);
            expectedCount++;
        }
        OptimizerSnapshot before = OptimizerSnapshot.Capture(rig.Optimizer);
        uint[][] parametersBefore = rig.ParameterBits();
        rig.Optimizer.Step();

        StepReport report = rig.Optimizer.GetLastStepReport();
        Assert.True(report.GradientsChecked);
        Assert.True(report.Skipped);
        Assert.Equal(expectedCount, report.NonFiniteCount);
        Assert.False(double.IsFinite(report.GradientNorm));
        Assert.Equal(4, report.StepCalls);
        before.AssertIdentical(OptimizerSnapshot.Capture(rig.Optimizer)); // m, s, s_max, master copies, step counts
        Assert.Equal(parametersBefore, rig.ParameterBits());

        // The next, finite step proceeds as if the skipped one had never happened: the twin,
        // which never saw it, takes the same gradients and ends bit-identical.
        for (int t = 0; t < good.Length; t++)
        {
            for (int i = 0; i < good[t].Length; i++)
            {
                rig.Storages[t].SetGradient(i, good[t][i]);
                twin.Storages[t].SetGradient(i, good[t][i]);
            }
        }
        rig.Optimizer.Step();
        twin.Optimizer.Step();
        report = rig.Optimizer.GetLastStepReport();
        Assert.False(report.Skipped);
        Assert.Equal(0, report.NonFiniteCount);
        Assert.Equal(5, report.StepCalls);
        Assert.Equal(4, twin.Optimizer.GetLastStepReport().StepCalls);
        Assert.Equal(twin.ParameterBits(), rig.ParameterBits());
        OptimizerSnapshot.Capture(twin.Optimizer).AssertIdentical(OptimizerSnapshot.Capture(rig.Optimizer));
        Assert.All(rig.Optimizer.Tensors, t => Assert.Equal(4, t.Step));
    }

    [Fact]
    public void Without_skipping_a_non_finite_gradient_is_counted_and_spreads_only_into_its_elements()
    {
        using var rig = new MixedRig(Specs, Groups, seed: 10);
        rig.Optimizer.StepOptions = new StepOptions { ComputeGradientNorm = true };
        MixedRig.FillGradients(rig.Storages, new Random(16));
        rig.Storages[2].SetGradient(7, float.NaN);
        rig.Optimizer.Step();
        StepReport report = rig.Optimizer.GetLastStepReport();
        Assert.False(report.Skipped);
        Assert.Equal(1, report.NonFiniteCount);
        Assert.True(double.IsNaN(report.GradientNorm));
        Assert.All(rig.Optimizer.Tensors, t => Assert.Equal(1, t.Step));
        float[] m = rig.Optimizer.Tensors[2].ReadState(StateKind.FirstMoment);
        Assert.Equal([7], Enumerable.Range(0, m.Length).Where(i => !float.IsFinite(m[i])));
    }

    [Fact]
    public void A_tensor_without_gradients_is_neither_checked_nor_stepped()
    {
        using var rig = new MixedRig(Specs, Groups, seed: 11);
        rig.Optimizer.StepOptions = new StepOptions { SkipNonFinite = true };
        MixedRig.FillGradients(rig.Storages, new Random(17));
        rig.Storages[1].SetGradient(5, float.NaN);
        rig.Optimizer.Tensors[1].ClearGradients();
        rig.Optimizer.Step();
        StepReport report = rig.Optimizer.GetLastStepReport();
        Assert.False(report.Skipped);
        Assert.Equal(0, report.NonFiniteCount);
        Assert.Equal([1L, 0, 1, 1], rig.Optimizer.Tensors.Select(t => t.Step));

        rig.Storages[1].AttachGradients(rig.Optimizer.Tensors[1]);
        rig.Optimizer.Step();
        Assert.True(rig.Optimizer.GetLastStepReport().Skipped);
        Assert.Equal([1L, 0, 1, 1], rig.Optimizer.Tensors.Select(t => t.Step));
    }

    [Fact]
    public void Reading_the_report_and_stepping_with_options_allocate_nothing()
    {
        using var rig = new MixedRig(Specs, Groups, seed: 12);
        rig.Optimizer.StepOptions = new StepOptions { SkipNonFinite = true, MaxGradientNorm = 1, InverseGradientScale = 0.25 };
        for (int i = 0; i < 10; i++)
        {
            rig.Optimizer.Step();
            _ = rig.Optimizer.GetLastStepReport();
        }
        long before = GC.GetAllocatedBytesForCurrentThread();
        long skipped = 0;
        for (int i = 0; i < 200; i++)
        {
            rig.Optimizer.Step();
            skipped += rig.Optimizer.GetLastStepReport().Skipped ? 1 : 0;
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(0, skipped);
    }

    [Fact]
    public void Mixed_precision_steps_with_options_are_bit_identical_for_every_thread_count_and_simd_level()
    {
        // The 16-bit conversions have scalar, AVX2 and AVX-512 paths, the gradient pass sums in
        // an order fixed by the tensor sizes: neither may change a bit of the result, nor the norm.
        IReadOnlyList<SimdLevel> levels = SimdLevels.ThisCpuRuns();
        (uint[][] Parameters, OptimizerSnapshot State, double Norm)? baseline = null;
        foreach (SimdLevel level in levels)
        {
            foreach (int threads in new[] { 1, 2, 3, 0 })
            {
                using var rig = new MixedRig(Specs, Groups, seed: 13, config: new OptimizerConfig { ThreadCount = threads, SimdLevel = level });
                rig.Optimizer.StepOptions = new StepOptions { MaxGradientNorm = 100, InverseGradientScale = 0.5, SkipNonFinite = true };
                rig.Train(8);
                (uint[][], OptimizerSnapshot, double) result =
                    (rig.ParameterBits(), OptimizerSnapshot.Capture(rig.Optimizer), rig.Optimizer.GetLastStepReport().GradientNorm);
                if (baseline is not { } b)
                {
                    baseline = result;
                    continue;
                }
                Assert.True(b.Parameters.Length == result.Item1.Length);
                for (int t = 0; t < b.Parameters.Length; t++)
                {
                    Assert.True(b.Parameters[t].SequenceEqual(result.Item1[t]), $"parameters of tensor {t} with {threads} threads at {level}");
                }
                b.State.AssertIdentical(result.Item2);
                Assert.Equal(BitConverter.DoubleToInt64Bits(b.Norm), BitConverter.DoubleToInt64Bits(result.Item3));
            }
        }
    }

    // ---- Helpers. ----

    private static ReferenceAdaBelief ReferenceOf(MixedRig rig)
    {
        var reference = new ReferenceAdaBelief();
        foreach (AdaBeliefOptions g in Groups)
        {
            reference.AddGroup(g);
        }
        for (int t = 0; t < rig.Storages.Count; t++)
        {
            reference.AddTensor(rig.Specs[t].Group, rig.Storages[t].Parameters());
        }
        return reference;
    }

    /// <summary>
    /// Float32 parameters (and master copies) against the reference with the float32 tolerance;
    /// 16-bit parameters without a master copy are compared through their master-less rounding
    /// only where the specs have none of them (the callers choose specs accordingly).
    /// </summary>
    private static void CompareWithReference(MixedRig rig, ReferenceAdaBelief reference)
    {
        for (int t = 0; t < rig.Storages.Count; t++)
        {
            OptimizerTensor tensor = rig.Optimizer.Tensors[t];
            ReferenceTensor expected = reference.Tensors[t];
            string where = $"tensor {t} ({rig.Specs[t]})";
            Assert.Equal(expected.Step, tensor.Step);
            if (tensor.HasMasterParameters)
            {
                Tolerance.AssertParameters($"{where}: master", tensor.ReadState(StateKind.MasterParameters), expected.Theta, expected.ThetaPathMax);
            }
            else if (rig.Specs[t].ParameterType == TensorElementType.Float32)
            {
                Tolerance.AssertParameters($"{where}: theta", rig.Storages[t].Parameters(), expected.Theta, expected.ThetaPathMax);
            }
            Tolerance.AssertMoment($"{where}: m", tensor.ReadState(StateKind.FirstMoment), expected.M, expected.MScale);
            Tolerance.AssertMoment($"{where}: s", tensor.ReadState(StateKind.SecondMoment), expected.S, expected.SScale);
            if (expected.SMax is not null)
            {
                Tolerance.AssertMoment($"{where}: s_max", tensor.ReadState(StateKind.MaxSecondMoment), expected.SMax, expected.SMaxScale!);
            }
        }
    }

    private static void AssertRelative(double expected, double actual, double tolerance, string what) =>
        Assert.True(Math.Abs(actual - expected) <= tolerance * Math.Abs(expected), $"{what}: expected {expected:R}, got {actual:R}");
}
