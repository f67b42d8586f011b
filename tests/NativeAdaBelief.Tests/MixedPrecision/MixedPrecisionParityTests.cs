using System.Globalization;
using NativeAdaBelief.Tests.Reference;
using NativeAdaBelief.Tests.Support;

namespace NativeAdaBelief.Tests.MixedPrecision;

/// <summary>
/// 16-bit parameters and gradients against the float64 reference (<see cref="ReferenceAdaBelief"/>):
/// with a float32 master copy, without one, 16-bit gradients, and the narrowing the step does.
/// Every run draws fresh parameters and gradients (±10^u, u in [-4, 1]) from its seed, in two
/// groups (labml with decoupled decay; adabelief-pytorch with AMSGrad) and in the three memory
/// kinds, with one tensor large enough to be split across threads and conversion blocks.
/// </summary>
public sealed class MixedPrecisionParityTests
{
    private const int Steps = 20;

    private static readonly AdaBeliefOptions[] Groups =
        [new AdaBeliefOptions { LearningRate = 1e-2, WeightDecay = 1e-2 }, AdaBeliefOptions.ForAdaBeliefPytorch(2e-2) with { AmsGrad = true }];

    private static MixedTensorSpec[] Specs(TensorElementType parameters, TensorElementType gradients, bool master) =>
    [
        new(0, 17, parameters, gradients, master, MemoryKind.NativeBuffer),
        new(1, 1000, parameters, gradients, master, MemoryKind.ManagedArray),
        new(0, 70_001, parameters, gradients, master, MemoryKind.RawPointer),
    ];

    private static ReferenceAdaBelief ReferenceOf(MixedRig rig)
    {
        var reference = new ReferenceAdaBelief();
        foreach (AdaBeliefOptions g in Groups)
        {
            reference.AddGroup(g);
        }
        for (int t = 0; t < rig.Storages.Count; t++)
        {
            // The reference starts from what the 16-bit parameters hold (and the master copy is initialised from).
            reference.AddTensor(rig.Specs[t].Group, rig.Storages[t].Parameters());
        }
        return reference;
    }

    private static void AssertMoments(string where, OptimizerTensor actual, ReferenceTensor expected)
    {
        Assert.Equal(expected.Step, actual.Step);
        Tolerance.AssertMoment($"{where}: m", actual.ReadState(StateKind.FirstMoment), expected.M, expected.MScale);
        Tolerance.AssertMoment($"{where}: s", actual.ReadState(StateKind.SecondMoment), expected.S, expected.SScale);
        Assert.Equal(expected.SMax is not null, actual.HasMaxSecondMoment);
        if (expected.SMax is not null)
        {
            Tolerance.AssertMoment($"{where}: s_max", actual.ReadState(StateKind.MaxSecondMoment), expected.SMax, expected.SMaxScale!);
        }
    }

    [Theory]
    [InlineData(TensorElementType.Float16, TensorElementType.Float16)]
    [InlineData(TensorElementType.Float16, TensorElementType.Float32)]
    [InlineData(TensorElementType.BFloat16, TensorElementType.BFloat16)]
    [InlineData(TensorElementType.BFloat16, TensorElementType.Float32)]
    public void With_a_master_copy_the_master_follows_the_reference_and_the_parameters_are_its_rounding(
        TensorElementType parameterType, TensorElementType gradientType)
    {
        using var rig = new MixedRig(Specs(parameterType, gradientType, master: true), Groups, seed: 100 + (int)parameterType * 10 + (int)gradientType);
        ReferenceAdaBelief reference = ReferenceOf(rig);
        var random = new Random(7);
        for (int step = 1; step <= Steps; step++)
        {
            // The reference is fed exactly what the buffers hold (16-bit gradients widened).
            reference.Step(MixedRig.FillGradients(rig.Storages, random));
            rig.Optimizer.Step();

            for (int t = 0; t < rig.Storages.Count; t++)
            {
                // The master copy is a float32 parameter array stepped by the float32 kernel: the
                // float32 tests' tolerance applies unchanged (1e-5 relative to max(|θ|, 1e-3,
                // the element's path maximum); see Tolerance.AssertParameters).
                OptimizerTensor tensor = rig.Optimizer.Tensors[t];
                float[] master = tensor.ReadState(StateKind.MasterParameters);
                string where = $"{parameterType}/{gradientType} tensor {t} after step {step}";
                Tolerance.AssertParameters($"{where}: master", master, reference.Tensors[t].Theta, reference.Tensors[t].ThetaPathMax);
                // The 16-bit parameters are exactly the master's rounding to nearest even.
                IMixedTensorStorage storage = rig.Storages[t];
                for (int i = 0; i < master.Length; i++)
                {
                    uint expected = SixteenBit.RoundedBits(master[i], parameterType);
                    if (storage.ParameterBits(i) != expected)
                    {
                        Assert.Fail($"{where}: element {i}: master {master[i]:R} rounds to 0x{expected:x4}, the parameter holds 0x{storage.ParameterBits(i):x4}");
                    }
                }
            }
        }
        for (int t = 0; t < rig.Storages.Count; t++)
        {
            AssertMoments($"tensor {t}", rig.Optimizer.Tensors[t], reference.Tensors[t]);
        }
    }

    [Theory]
    [InlineData(TensorElementType.Float16, TensorElementType.Float16)]
    [InlineData(TensorElementType.Float16, TensorElementType.Float32)]
    [InlineData(TensorElementType.BFloat16, TensorElementType.BFloat16)]
    [InlineData(TensorElementType.BFloat16, TensorElementType.Float32)]
    public void Without_a_master_copy_each_step_is_the_reference_step_from_the_rounded_parameters_rounded(
        TensorElementType parameterType, TensorElementType gradientType)
    {
        using var rig = new MixedRig(Specs(parameterType, gradientType, master: false), Groups, seed: 200 + (int)parameterType * 10 + (int)gradientType);
        ReferenceAdaBelief reference = ReferenceOf(rig);
        var random = new Random(8);
        long compared = 0, offByOne = 0, changed = 0;
        for (int step = 1; step <= Steps; step++)
        {
            // Each step starts from the 16-bit parameters as they are: the reference is reset to
            // them (widened, exact), steps in float64, and its result rounded to 16 bits is what
            // the native step must produce. The native step computes in float32 (error ~1e-7
            // relative, as in the float32 tests) before rounding, and a 16-bit unit is 2^-11
            // (float16) or 2^-8 (bfloat16) relative: the two roundings can differ only for a
            // result within ~1e-7 of a halfway point, so by at most one unit, and rarely.
            for (int t = 0; t < rig.Storages.Count; t++)
            {
                double[] theta = reference.Tensors[t].Theta;
                for (int i = 0; i < theta.Length; i++)
                {
                    theta[i] = rig.Storages[t].Parameter(i);
                }
            }
            uint[][] before = rig.ParameterBits();
            reference.Step(MixedRig.FillGradients(rig.Storages, random));
            rig.Optimizer.Step();

            for (int t = 0; t < rig.Storages.Count; t++)
            {
                double[] theta = reference.Tensors[t].Theta;
                for (int i = 0; i < theta.Length; i++)
                {
                    uint actual = rig.Storages[t].ParameterBits(i);
                    uint expected = SixteenBit.RoundedBits((float)theta[i], parameterType);
                    int distance = SixteenBit.UlpDistance16(actual, expected);
                    if (distance > 1)
                    {
                        Assert.Fail(string.Create(CultureInfo.InvariantCulture,
                            $"{parameterType}/{gradientType} tensor {t} step {step} element {i}: from 0x{before[t][i]:x4} the reference "
                            + $"gives {theta[i]:R} (0x{expected:x4}), native 0x{actual:x4}: {distance} units apart"));
                    }
                    compared++;
                    offByOne += distance;
                    changed += actual != before[t][i] ? 1 : 0;
                }
            }
        }
        // A systematic error (truncating instead of rounding, a wrong update) would be off by one
        // unit in a large share of the elements; rounding noise stays far below 1 %.
        Assert.True(offByOne <= compared / 100, $"{offByOne} of {compared} parameter updates are one unit off the reference");
        // And the test means something: many updates do move the 16-bit parameters (about 20 %
        // of them in bfloat16, whose unit is 8 times float16's, most of them in float16).
        Assert.True(changed > compared / 10, $"only {changed} of {compared} updates changed a parameter");
        for (int t = 0; t < rig.Storages.Count; t++)
        {
            Assert.False(rig.Optimizer.Tensors[t].HasMasterParameters);
            AssertMoments($"tensor {t}", rig.Optimizer.Tensors[t], reference.Tensors[t]);
        }
    }

    [Theory]
    [InlineData(TensorElementType.Float32, TensorElementType.Float16, false)]
    [InlineData(TensorElementType.Float32, TensorElementType.BFloat16, false)]
    [InlineData(TensorElementType.Float16, TensorElementType.Float16, true)]
    [InlineData(TensorElementType.BFloat16, TensorElementType.BFloat16, true)]
    [InlineData(TensorElementType.BFloat16, TensorElementType.BFloat16, false)]
    public void Sixteen_bit_gradients_are_widened_exactly(TensorElementType parameterType, TensorElementType gradientType, bool master)
    {
        // Two optimizers with the same parameters: one reads 16-bit gradients, the other float32
        // gradients holding exactly their widened values. Widening is exact, so the runs must be
        // bit-identical: parameters, m, s, s_max, master copies, step counts.
        MixedTensorSpec[] sixteen = [.. Specs(parameterType, gradientType, master).Select(s => s with { Memory = MemoryKind.RawPointer })];
        MixedTensorSpec[] wide = [.. sixteen.Select(s => s with { GradientType = TensorElementType.Float32 })];
        using var a = new MixedRig(sixteen, Groups, seed: 3);
        using var b = new MixedRig(wide, Groups, seed: 3);
        var random = new Random(9);
        for (int step = 0; step < 8; step++)
        {
            float[][] stored = MixedRig.FillGradients(a.Storages, random);
            for (int t = 0; t < stored.Length; t++)
            {
                for (int i = 0; i < stored[t].Length; i++)
                {
                    Assert.Equal(stored[t][i], b.Storages[t].SetGradient(i, stored[t][i]));
                }
            }
            a.Optimizer.Step();
            b.Optimizer.Step();
        }
        Assert.Equal(b.ParameterBits(), a.ParameterBits());
        OptimizerSnapshot.Capture(b.Optimizer).AssertIdentical(OptimizerSnapshot.Capture(a.Optimizer));
    }

    [Theory]
    [InlineData(TensorElementType.Float16)]
    [InlineData(TensorElementType.BFloat16)]
    public void Updates_smaller_than_half_a_unit_accumulate_in_the_master_copy_and_round_away_without_one(TensorElementType type)
    {
        // Parameters 1.0 and a tiny learning rate: gradients 0.5 ± 0.5 give updates of ~5e-6
        // (early SGD steps: lr·g ≤ 1e-5), far below half a unit just below 1.0 (2^-12 ≈ 2.4e-4
        // for float16, 2^-9 ≈ 2e-3 for bfloat16). Without a master copy every step rounds back
        // to exactly 1.0; with one, 1000 updates add up to ~5e-3, which the parameters then show.
        const int length = 64, steps = 1000;
        var options = new AdaBeliefOptions { LearningRate = 1e-5 };
        using var optimizer = new AdaBeliefOptimizer(options);
        float[] ones = [.. Enumerable.Repeat(1f, length)];
        using IMixedTensorStorage master = MixedTensorStorage.Create(MemoryKind.ManagedArray, type, TensorElementType.Float32, ones);
        using IMixedTensorStorage plain = MixedTensorStorage.Create(MemoryKind.NativeBuffer, type, TensorElementType.Float32, ones);
        master.Register(optimizer.ParamGroups[0], keepMasterCopy: true);
        plain.Register(optimizer.ParamGroups[0], keepMasterCopy: false);
        var reference = new ReferenceAdaBelief();
        reference.AddGroup(options);
        ReferenceTensor expected = reference.AddTensor(0, ones);

        var random = new Random(10);
        var gradient = new float[length];
        for (int step = 0; step < steps; step++)
        {
            for (int i = 0; i < length; i++)
            {
                gradient[i] = (float)random.NextDouble();
                master.SetGradient(i, gradient[i]);
                plain.SetGradient(i, gradient[i]);
            }
            optimizer.Step();
            ReferenceAdaBelief.StepTensor(options, expected, gradient);
        }

        uint oneBits = SixteenBit.RoundedBits(1f, type);
        Assert.All(plain.ParameterBitsArray(), bits => Assert.Equal(oneBits, bits));
        float[] masterValues = optimizer.Tensors[0].ReadState(StateKind.MasterParameters);
        Tolerance.AssertParameters("master", masterValues, expected.Theta, expected.ThetaPathMax);
        for (int i = 0; i < length; i++)
        {
            Assert.InRange(expected.Theta[i], 0.98, 0.998); // the updates did add up, past half a bfloat16 unit
            Assert.Equal(SixteenBit.RoundedBits(masterValues[i], type), master.ParameterBits(i));
            Assert.True(master.Parameter(i) < 1f, $"element {i}: {master.Parameter(i)}");
        }
    }

    [Theory]
    [InlineData(TensorElementType.Float16)]
    [InlineData(TensorElementType.BFloat16)]
    public void A_step_that_changes_nothing_leaves_every_16_bit_pattern_as_it_was(TensorElementType type)
    {
        // Learning rate 0, no decay, zero gradients: the update is exactly 0, so the native
        // widening and narrowing alone decide the result, and must be the identity on every
        // finite 16-bit pattern: subnormals, ±0, the largest values, ±infinity (all 65536
        // patterns but the NaNs, through every SIMD lane and the scalar tail).
        ushort[] patterns = [.. Enumerable.Range(0, 0x10000).Select(b => (ushort)b)
            .Where(b => type == TensorElementType.Float16 ? !Half.IsNaN(BitConverter.UInt16BitsToHalf(b)) : !BFloat16.IsNaN(BFloat16.FromBits(b)))];
        float[] values = [.. patterns.Select(b => type == TensorElementType.Float16 ? (float)BitConverter.UInt16BitsToHalf(b) : (float)BFloat16.FromBits(b))];
        using var optimizer = new AdaBeliefOptimizer(new AdaBeliefOptions { LearningRate = 0 });
        using IMixedTensorStorage storage = MixedTensorStorage.Create(MemoryKind.RawPointer, type, type, values);
        storage.Register(optimizer.ParamGroups[0], keepMasterCopy: false);
        for (int step = 0; step < 3; step++)
        {
            optimizer.Step();
        }
        for (int i = 0; i < patterns.Length; i++)
        {
            Assert.True(patterns[i] == storage.ParameterBits(i), $"0x{patterns[i]:x4} became 0x{storage.ParameterBits(i):x4}");
        }
    }

    [Theory]
    [InlineData(TensorElementType.Float16)]
    [InlineData(TensorElementType.BFloat16)]
    public void The_step_narrows_a_master_copy_exactly_like_the_managed_conversions(TensorElementType type)
    {
        // A master copy written with arbitrary float32 values (random bit patterns over the whole
        // range: ties, values between the 16-bit subnormals, overflow to infinity, -0, NaNs) and a
        // step whose update is exactly 0: the parameters must be each value rounded to nearest
        // even, as Half / BFloat16 round (both checked against independent models in BFloat16Tests).
        var random = new Random(11);
        const int length = 50_000;
        var values = new float[length];
        for (int i = 0; i < length; i++)
        {
            uint bits = (uint)random.NextInt64(0, 1L << 32);
            if (i % 4 == 1)
            {
                bits = (bits & 0x8000ffffu) | 0x3f800000u | (uint)(random.Next(0x20) << 16); // near 1: many ties at 16 bits
                bits &= type == TensorElementType.Float16 ? 0xffffe000u | (uint)random.Next(2) << 12 : 0xffff8000u | (uint)random.Next(2) << 15;
            }
            else if (i % 4 == 2)
            {
                bits = (bits & 0x80ffffffu) | (uint)random.Next(0x30, 0x48) << 24; // the float16 range and its subnormals
            }
            values[i] = BitConverter.UInt32BitsToSingle(bits);
        }
        values[0] = -0f;
        values[2] = float.MaxValue;
        values[6] = BitConverter.UInt32BitsToSingle(0x007fffff);
        using var optimizer = new AdaBeliefOptimizer(new AdaBeliefOptions { LearningRate = 0 });
        using IMixedTensorStorage storage = MixedTensorStorage.Create(MemoryKind.NativeBuffer, type, type, new float[length]);
        OptimizerTensor tensor = storage.Register(optimizer.ParamGroups[0], keepMasterCopy: true);
        tensor.WriteState(StateKind.MasterParameters, values);
        optimizer.Step();

        float[] master = tensor.ReadState(StateKind.MasterParameters);
        for (int i = 0; i < length; i++)
        {
            if (float.IsNaN(values[i]))
            {
                Assert.True(float.IsNaN(storage.Parameter(i)), $"element {i}: NaN master, parameter {storage.Parameter(i)}");
                continue;
            }
            Assert.True(BitConverter.SingleToUInt32Bits(values[i]) == BitConverter.SingleToUInt32Bits(master[i]), $"element {i}: the master copy changed");
            uint expected = SixteenBit.RoundedBits(values[i], type);
            if (storage.ParameterBits(i) != expected)
            {
                Assert.Fail($"element {i}: master 0x{BitConverter.SingleToUInt32Bits(values[i]):x8} ({values[i]:R}) should narrow to 0x{expected:x4}, the step wrote 0x{storage.ParameterBits(i):x4}");
            }
        }
    }
}
