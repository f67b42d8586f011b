using NativeAdaBelief.Tests.Support;

namespace NativeAdaBelief.Tests;

/// <summary>
/// 8-bit state through the C# API: which tensors get it, ReadState decoding as the optimizer
/// does, raw codes and scales for tools, conversion when a group's encoding changes, and the
/// refusals naming their argument. (The arithmetic itself is checked against a float64 reference
/// by the native tests.)
/// </summary>
public sealed class EightBitStateTests
{
    private static readonly AdaBeliefOptions EightBit = new() { StateEncoding = StateEncoding.Blockwise8Bit, WeightDecay = 1e-2 };

    private static (AdaBeliefOptimizer Optimizer, float[][] Gradients) Build(AdaBeliefOptions options, params int[] sizes)
    {
        var optimizer = new AdaBeliefOptimizer(options);
        var random = new Random(7);
        var gradients = new float[sizes.Length][];
        for (int i = 0; i < sizes.Length; i++)
        {
            gradients[i] = new float[sizes[i]];
            optimizer.ParamGroups[0].AddTensor(TestData.Parameters(random, sizes[i]), gradients[i]);
        }
        return (optimizer, gradients);
    }

    private static void Train(AdaBeliefOptimizer optimizer, float[][] gradients, int steps, int seed = 3)
    {
        var random = new Random(seed);
        for (int s = 0; s < steps; s++)
        {
            foreach (float[] g in gradients)
            {
                TestData.Gradients(random, g);
            }
            optimizer.Step();
        }
    }

    [Fact]
    public void Tensors_of_at_least_MinElements_of_an_8_bit_group_get_it()
    {
        (AdaBeliefOptimizer optimizer, _) = Build(EightBit, 1, EightBitState.MinElements - 1, EightBitState.MinElements, 100_000);
        using (optimizer)
        {
            Assert.Equal(
                [StateEncoding.Float32, StateEncoding.Float32, StateEncoding.Blockwise8Bit, StateEncoding.Blockwise8Bit],
                optimizer.Tensors.Select(t => t.StateEncoding));
            Assert.Equal(StateEncoding.Blockwise8Bit, optimizer.ParamGroups[0].Options.StateEncoding);
        }
        Assert.Equal(256, EightBitState.BlockSize);
        Assert.Equal(4096, EightBitState.MinElements);
        Assert.Equal(0, EightBitState.BlockCount(0));
        Assert.Equal(1, EightBitState.BlockCount(1));
        Assert.Equal(17, EightBitState.BlockCount(4097));
        Assert.Throws<ArgumentOutOfRangeException>(() => EightBitState.BlockCount(-1));
    }

    [Fact]
    public void ReadState_decodes_the_raw_codes_as_Decode_does_and_raw_writes_round_trip()
    {
        (AdaBeliefOptimizer optimizer, float[][] gradients) = Build(EightBit with { AmsGrad = true }, 5000);
        using (optimizer)
        {
            Train(optimizer, gradients, 4);
            OptimizerTensor tensor = optimizer.Tensors[0];
            foreach (StateKind kind in (StateKind[])[StateKind.FirstMoment, StateKind.SecondMoment, StateKind.MaxSecondMoment])
            {
                (byte[] codes, float[] scales) = tensor.ReadStateCodes(kind);
                Assert.Equal(5000, codes.Length);
                Assert.Equal(EightBitState.BlockCount(5000), scales.Length);
                var decoded = new float[5000];
                EightBitState.Decode(kind, codes, scales, decoded);
                Assert.Equal(decoded, tensor.ReadState(kind));
                Assert.Contains(codes, c => c != 0);

                byte[] other = [.. codes.Select(c => (byte)(c ^ 0x15))];
                tensor.WriteStateCodes(kind, other, scales);
                (byte[] again, float[] againScales) = tensor.ReadStateCodes(kind);
                Assert.Equal(other, again);
                Assert.Equal(scales, againScales);
            }
            Assert.NotEqual(EightBitState.FormatName(StateKind.FirstMoment), EightBitState.FormatName(StateKind.SecondMoment));
            Assert.Equal(EightBitState.FormatName(StateKind.SecondMoment), EightBitState.FormatName(StateKind.MaxSecondMoment));
            Assert.Throws<ArgumentOutOfRangeException>(() => EightBitState.FormatName(StateKind.MasterParameters));
        }
    }

    [Fact]
    public void Refusals_name_the_argument_and_change_nothing()
    {
        (AdaBeliefOptimizer optimizer, float[][] gradients) = Build(EightBit, 5000, 100);
        using (optimizer)
        {
            Train(optimizer, gradients, 2);
            OptimizerTensor big = optimizer.Tensors[0], small = optimizer.Tensors[1];
            (byte[] codes, float[] scales) = big.ReadStateCodes(StateKind.SecondMoment);
            float[] bad = [.. scales];
            bad[3] = -2f;
            var e = Assert.Throws<ArgumentException>(() => big.WriteStateCodes(StateKind.SecondMoment, codes, bad));
            Assert.Equal("scales", e.ParamName);
            Assert.Contains("scales[3]", e.Message, StringComparison.Ordinal);
            Assert.Equal(scales, big.ReadStateCodes(StateKind.SecondMoment).Scales);
            Assert.Equal("scales", Assert.Throws<ArgumentException>(() => big.ReadStateCodes(StateKind.FirstMoment, codes, new float[3])).ParamName);
            Assert.Equal("codes", Assert.Throws<ArgumentException>(() => big.ReadStateCodes(StateKind.FirstMoment, new byte[4], scales)).ParamName);
            Assert.Equal("kind", Assert.Throws<ArgumentException>(() => big.ReadStateCodes(StateKind.MaxSecondMoment)).ParamName);
            Assert.Equal("kind", Assert.Throws<ArgumentException>(() => big.ReadStateCodes(StateKind.MasterParameters)).ParamName);
            var floatState = Assert.Throws<ArgumentException>(() => small.ReadStateCodes(StateKind.FirstMoment));
            Assert.Contains("float32", floatState.Message, StringComparison.Ordinal);
            Assert.Throws<ArgumentException>(() => EightBitState.Decode(StateKind.FirstMoment, new byte[300], new float[1], new float[300]));
            Assert.Throws<ArgumentException>(() => EightBitState.Decode(StateKind.FirstMoment, new byte[300], new float[2], new float[299]));
        }
    }

    [Fact]
    public void Changing_the_groups_encoding_converts_the_state_both_ways()
    {
        (AdaBeliefOptimizer optimizer, float[][] gradients) = Build(new AdaBeliefOptions(), 6000, 50);
        using (optimizer)
        {
            Train(optimizer, gradients, 3);
            OptimizerTensor tensor = optimizer.Tensors[0];
            float[] m32 = tensor.ReadState(StateKind.FirstMoment);
            ParameterGroup group = optimizer.ParamGroups[0];
            group.Options = group.Options with { StateEncoding = StateEncoding.Blockwise8Bit };
            Assert.Equal(StateEncoding.Blockwise8Bit, tensor.StateEncoding);
            Assert.Equal(StateEncoding.Float32, optimizer.Tensors[1].StateEncoding);
            float[] m8 = tensor.ReadState(StateKind.FirstMoment);
            for (int i = 0; i < m32.Length; i++)
            {
                // The nearest 8-bit value: within 1/15 of itself, or of the block's largest m times 2^-15.
                Assert.True(Math.Abs(m8[i] - m32[i]) <= Math.Abs(m32[i]) / 15 + 1e-3, $"element {i}: {m8[i]} for {m32[i]}");
            }
            Train(optimizer, gradients, 2);
            float[] decoded = tensor.ReadState(StateKind.SecondMoment);
            group.Options = group.Options with { StateEncoding = StateEncoding.Float32 };
            Assert.Equal(StateEncoding.Float32, tensor.StateEncoding);
            Assert.Equal(decoded, tensor.ReadState(StateKind.SecondMoment));
        }
    }
}
