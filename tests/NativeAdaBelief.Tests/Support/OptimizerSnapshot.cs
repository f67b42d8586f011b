namespace NativeAdaBelief.Tests.Support;

/// <summary>Everything observable about an optimizer's state, for "unchanged" and "identical" checks.</summary>
internal sealed record OptimizerSnapshot(AdaBeliefOptions[] Options, long[] Steps, float[][] M, float[][] S, float[]?[] SMax, float[]?[] Master)
{
    public static OptimizerSnapshot Capture(AdaBeliefOptimizer optimizer)
    {
        IReadOnlyList<OptimizerTensor> tensors = optimizer.Tensors;
        return new OptimizerSnapshot(
            [.. optimizer.ParamGroups.Select(g => g.Options)],
            [.. tensors.Select(t => t.Step)],
            [.. tensors.Select(t => t.ReadState(StateKind.FirstMoment))],
            [.. tensors.Select(t => t.ReadState(StateKind.SecondMoment))],
            [.. tensors.Select(t => t.HasMaxSecondMoment ? t.ReadState(StateKind.MaxSecondMoment) : null)],
            [.. tensors.Select(t => t.HasMasterParameters ? t.ReadState(StateKind.MasterParameters) : null)]);
    }

    /// <summary>Asserts bit-for-bit equality with <paramref name="other"/>.</summary>
    public void AssertIdentical(OptimizerSnapshot other)
    {
        Assert.Equal(Options, other.Options);
        Assert.Equal(Steps, other.Steps);
        for (int i = 0; i < M.Length; i++)
        {
            AssertBits(M[i], other.M[i], $"m of tensor {i}");
            AssertBits(S[i], other.S[i], $"s of tensor {i}");
            Assert.True((SMax[i] is null) == (other.SMax[i] is null), $"s_max presence of tensor {i}");
            if (SMax[i] is { } a)
            {
                AssertBits(a, other.SMax[i]!, $"s_max of tensor {i}");
            }
            Assert.True((Master[i] is null) == (other.Master[i] is null), $"master copy presence of tensor {i}");
            if (Master[i] is { } master)
            {
                AssertBits(master, other.Master[i]!, $"master copy of tensor {i}");
            }
        }
    }

    public static void AssertBits(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
            {
                Assert.Fail($"{what}: element {i} differs: expected {expected[i]:R}, got {actual[i]:R}");
            }
        }
    }
}
