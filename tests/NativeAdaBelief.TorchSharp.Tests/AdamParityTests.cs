using NativeAdaBelief.Tests.Support;
using NativeAdaBelief.TorchSharp.Tests.Support;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NativeAdaBelief.TorchSharp.Tests;

/// <summary>
/// The Adam recipe of docs/compatibility.md against TorchSharp's own <c>torch.optim.Adam</c> and
/// <c>AdamW</c>, on the same models and gradients, for 50 steps: the parameters agree to 1e-5
/// relative by the project's accuracy rule (tests/NativeAdaBelief.Tests/Support/Tolerance.cs:
/// relative to the largest of |θ|, 1e-3 and the element's largest |θ| or |Δθ| so far, since the
/// two round each update in a different order).
/// </summary>
public sealed class AdamParityTests
{
    [TorchTheory]
    [InlineData("mlp", "Adam", false)]
    [InlineData("mlp", "AdamW", false)]
    [InlineData("mlp", "Adam", true)]
    [InlineData("cnn", "Adam", false)]
    [InlineData("cnn", "AdamW", true)]
    public void Fifty_steps_match_torch_optim_to_1e_5(string model, string algorithm, bool amsgrad)
    {
        using var scope = torch.NewDisposeScope();
        Sequential torchModel = Models.Create(model), ourModel = Models.Create(model);
        List<Parameter> a = [.. torchModel.parameters()], b = [.. ourModel.parameters()];
        Assert.Equal(0, Models.MaxRelativeDifference(a, b)); // the same seed, the same model
        using optim.Optimizer reference = algorithm == "AdamW"
            ? optim.AdamW(a, lr: 1e-2, weight_decay: 0.05, amsgrad: amsgrad)
            : optim.Adam(a, lr: 1e-2, weight_decay: 0.01, amsgrad: amsgrad);
        using NativeAdaBeliefOptimizer ours = algorithm == "AdamW"
            ? NativeOptim.AdamW(b, lr: 1e-2, weight_decay: 0.05, amsgrad: amsgrad)
            : NativeOptim.Adam(b, lr: 1e-2, weight_decay: 0.01, amsgrad: amsgrad);

        double[][] pathMax = [.. a.Select(p => Models.Values(p).Select(v => (double)Math.Abs(v)).ToArray())];
        for (int step = 0; step < 50; step++)
        {
            using var stepScope = torch.NewDisposeScope();
            torchModel.zero_grad(); // None: TorchSharp allocates new gradients in backward
            Models.LossAndBackward(torchModel, model, step);
            for (int i = 0; i < a.Count; i++)
            {
                b[i].grad = a[i].grad!.clone(); // the same gradients, in new memory every step
            }
            float[][] before = [.. a.Select(Models.Values)];
            reference.step();
            ours.step();
            for (int i = 0; i < a.Count; i++)
            {
                float[] after = Models.Values(a[i]);
                for (int j = 0; j < after.Length; j++)
                {
                    pathMax[i][j] = Math.Max(pathMax[i][j], Math.Max(Math.Abs(after[j]), Math.Abs(after[j] - before[i][j])));
                }
            }
        }
        for (int i = 0; i < a.Count; i++)
        {
            double[] expected = [.. Models.Values(a[i]).Select(v => (double)v)];
            Tolerance.AssertParameters($"{model} {algorithm} parameter {i}", Models.Values(b[i]), expected, pathMax[i]);
        }
        Assert.True(Models.MaxRelativeDifference(b, [.. Models.Create(model).parameters()]) > 1e-3, "the parameters did not move");
    }
}
