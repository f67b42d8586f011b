namespace NativeAdaBelief.Distributed.Tests;

/// <summary>The small models the in-process tests use.</summary>
internal static class TestSpaces
{
    /// <summary>Five tensors in two groups, two of them bfloat16 with master copies; cuts fall inside tensors.</summary>
    internal static TensorSpec[] Mixed() =>
    [
        new TensorSpec(100_000) { Name = "a" },
        new TensorSpec(300) { Name = "b", Group = 1 },
        new TensorSpec(70_000) { Name = "c", ParameterType = TensorElementType.BFloat16, KeepMasterCopy = true },
        new TensorSpec(40_000) { Name = "d", Group = 1, ParameterType = TensorElementType.BFloat16, KeepMasterCopy = true },
        new TensorSpec(17) { Name = "e" },
    ];

    /// <summary>Two groups: AdaBelief with weight decay, Adam with AMSGrad.</summary>
    internal static AdaBeliefOptions[] Groups() =>
        [new AdaBeliefOptions { WeightDecay = 0.01 }, AdaBeliefOptions.ForAdam(2e-3) with { AmsGrad = true }];

    /// <summary>Per tensor of <see cref="Mixed"/>, its state bytes per element under <see cref="Groups"/>.</summary>
    internal static int[] StateBytes(ParameterSpace space) =>
        [.. space.Tensors.Select(t => 8 + (t.Spec.KeepMasterCopy ? 4 : 0) + (t.Spec.Group == 1 ? 4 : 0))];

    /// <summary>Fills parameters and gradients with values of the step number.</summary>
    internal static void Fill(ParameterSpace space, int step)
    {
        foreach (SpaceTensor tensor in space.Tensors)
        {
            Span<float> gradients = tensor.Gradients;
            for (int i = 0; i < gradients.Length; i++)
            {
                gradients[i] = MathF.Sin(i * 0.37f + step + tensor.Index) * 0.01f;
            }
        }
    }
}
