using NativeAdaBelief.TorchSharp.Tests.Support;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NativeAdaBelief.TorchSharp.Tests;

/// <summary>step(closure), as TorchSharp's training loops call it.</summary>
public sealed class ClosureTests
{
    [TorchFact]
    public void Step_runs_the_closure_with_gradients_on_and_returns_its_loss()
    {
        using var scope = torch.NewDisposeScope();
        Sequential model = Models.Create("cnn");
        using NativeAdaBeliefOptimizer optimizer = NativeOptim.AdaBelief(model.parameters(), lr: 1e-2);
        int calls = 0;
        var losses = new List<float>();
        for (int step = 0; step < 30; step++)
        {
            using var stepScope = torch.NewDisposeScope();
            Tensor loss;
            using (torch.no_grad())
            {
                loss = optimizer.step(() =>
                {
                    calls++;
                    optimizer.zero_grad();
                    return Models.LossAndBackward(model, "cnn", 0); // the same batch: the loss must fall
                });
            }
            losses.Add(loss.item<float>());
        }
        Assert.Equal(30, calls);
        Assert.True(losses[^1] < 0.9 * losses[0], $"the loss did not fall: {losses[0]} -> {losses[^1]}");
        Assert.Null(optimizer.step());
    }
}
