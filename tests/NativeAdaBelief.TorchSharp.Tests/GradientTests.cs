using NativeAdaBelief.TorchSharp.Tests.Support;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NativeAdaBelief.TorchSharp.Tests;

/// <summary>Gradients that are None, appear, disappear, are reallocated or are of the wrong kind.</summary>
public sealed class GradientTests
{
    [TorchFact]
    public void A_parameter_whose_gradient_is_None_is_skipped_exactly_as_the_core_skips()
    {
        using var scope = torch.NewDisposeScope();
        Sequential model = Models.Create("mlp");
        List<Parameter> p = [.. model.parameters()]; // fc1.weight, fc1.bias, fc2.weight, fc2.bias
        p[1].requires_grad = false; // frozen: never a gradient
        float[] frozen = Models.Values(p[1]);
        using var optimizer = new NativeAdaBeliefOptimizer(p, new AdaBeliefOptions { LearningRate = 1e-2, WeightDecay = 0.1 });
        for (int step = 0; step < 6; step++)
        {
            using var stepScope = torch.NewDisposeScope();
            model.zero_grad(); // gradients become None and are reallocated by backward
            Models.LossAndBackward(model, "mlp", step);
            if (step % 2 == 1)
            {
                p[2].grad = null; // disappears on odd steps, comes back on even ones
            }
            float[] before = Models.Values(p[2]);
            optimizer.step();
            Assert.Equal(step % 2 == 1, before.SequenceEqual(Models.Values(p[2])));
        }
        Assert.Equal(frozen, Models.Values(p[1])); // not even weight decay touched it
        Assert.Equal([6L, 0L, 3L, 6L], optimizer.Core.Tensors.Select(t => t.Step));
    }

    [TorchFact]
    public void Zero_grad_zeroes_the_current_gradients_in_place()
    {
        using var scope = torch.NewDisposeScope();
        Sequential model = Models.Create("mlp");
        using NativeAdaBeliefOptimizer optimizer = NativeOptim.AdaBelief(model.parameters());
        Models.LossAndBackward(model, "mlp", 0);
        model.zero_grad(); // None
        Models.LossAndBackward(model, "mlp", 1); // new gradient memory the optimizer has not seen yet
        List<Tensor> before = [.. model.parameters().Select(q => q.grad!)];
        optimizer.zero_grad();
        foreach (Parameter q in model.parameters())
        {
            Assert.All(Models.Values(q.grad!), v => Assert.Equal(0f, v));
        }
        Assert.Equal(before.Select(g => g.Address()), model.parameters().Select(q => q.grad!.Address()));
    }

    [TorchFact]
    public void A_gradient_of_another_type_or_layout_is_refused_by_step_and_nothing_changes()
    {
        using var scope = torch.NewDisposeScope();
        Sequential model = Models.Create("mlp");
        List<Parameter> p = [.. model.parameters()];
        using NativeAdaBeliefOptimizer optimizer = NativeOptim.Adam(p);
        Models.LossAndBackward(model, "mlp", 0);
        optimizer.step();
        float[][] parameters = [.. p.Select(Models.Values)];
        Tensor registered = p[0].grad!;

        // The registered gradient's own memory seen another way: the same address, so only the layout tells.
        p[0].grad = registered.view(p[0].shape[1], p[0].shape[0]).t();
        Assert.Equal(registered.Address(), p[0].grad!.Address());
        var sameMemory = Assert.Throws<ArgumentException>(() => optimizer.step());
        Assert.Contains("not contiguous", sameMemory.Message, StringComparison.Ordinal);

        p[0].grad = torch.zeros(p[0].shape, ScalarType.Float64);
        var type = Assert.Throws<ArgumentException>(() => optimizer.step());
        Assert.Contains("the gradient of parameter 0 of group 0", type.Message, StringComparison.Ordinal);
        Assert.Contains("Float64", type.Message, StringComparison.Ordinal);

        p[0].grad = torch.zeros(p[0].shape[1], p[0].shape[0]).t(); // right shape, transposed memory
        var layout = Assert.Throws<ArgumentException>(() => optimizer.step());
        Assert.Contains("not contiguous", layout.Message, StringComparison.Ordinal);

        Assert.Equal(parameters, p.Select(Models.Values));
        Assert.All(optimizer.Core.Tensors, t => Assert.Equal(1, t.Step));
    }
}
