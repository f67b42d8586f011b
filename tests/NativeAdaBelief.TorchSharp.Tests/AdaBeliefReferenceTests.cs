using NativeAdaBelief.Tests.Reference;
using NativeAdaBelief.Tests.Support;
using NativeAdaBelief.TorchSharp.Tests.Support;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NativeAdaBelief.TorchSharp.Tests;

/// <summary>AdaBelief on real TorchSharp models against the core tests' independent float64 reference.</summary>
public sealed class AdaBeliefReferenceTests
{
    [TorchTheory]
    [InlineData("mlp", CompatibilityMode.Labml)]
    [InlineData("cnn", CompatibilityMode.AdaBeliefPytorch)]
    public void Fifty_steps_match_the_float64_reference(string model, CompatibilityMode mode)
    {
        AdaBeliefOptions options = (mode == CompatibilityMode.Labml ? new AdaBeliefOptions() : AdaBeliefOptions.ForAdaBeliefPytorch())
            with { LearningRate = 1e-2, WeightDecay = 1e-2 };
        Train(model, options, ScalarType.Float32);
    }

    [TorchTheory]
    [InlineData(ScalarType.BFloat16)]
    [InlineData(ScalarType.Float16)]
    public void Sixteen_bit_parameters_step_float32_master_copies_that_match_the_reference(ScalarType type) =>
        Train("mlp", new AdaBeliefOptions { LearningRate = 1e-2 }, type);

    private static void Train(string kind, AdaBeliefOptions options, ScalarType type)
    {
        using var scope = torch.NewDisposeScope();
        Sequential model = Models.Create(kind);
        model.to(type);
        List<Parameter> parameters = [.. model.parameters()];
        using var ours = new NativeAdaBeliefOptimizer(parameters, options);
        var reference = new ReferenceAdaBelief();
        int group = reference.AddGroup(options);
        foreach (Parameter p in parameters)
        {
            reference.AddTensor(group, Models.Values(p));
        }
        for (int step = 0; step < 50; step++)
        {
            using var stepScope = torch.NewDisposeScope();
            model.zero_grad();
            Models.LossAndBackward(model, kind, step, type);
            reference.Step([.. parameters.Select(p => Models.Values(p.grad!))]);
            ours.step();
        }
        for (int i = 0; i < parameters.Count; i++)
        {
            ReferenceTensor expected = reference.Tensors[i];
            float[] actual = type == ScalarType.Float32
                ? Models.Values(parameters[i])
                : ours.Core.Tensors[i].ReadState(StateKind.MasterParameters);
            Tolerance.AssertParameters($"{kind} {type} parameter {i}", actual, expected.Theta, expected.ThetaPathMax);
            Assert.Equal(50, ours.Core.Tensors[i].Step);
            if (type != ScalarType.Float32)
            {
                // The 16-bit parameters are the master copy rounded to nearest even.
                using Tensor rounded = torch.tensor(actual).to(type);
                Assert.Equal(Models.Values(rounded), Models.Values(parameters[i]));
            }
        }
    }
}
