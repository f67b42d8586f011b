using NativeAdaBelief.Tests.Support;

namespace NativeAdaBelief.Tests;

/// <summary>
/// Memory is registered once, as one buffer of one tensor: the native library refuses the rest on
/// every path (C# keeps no copy of the rule), the exception names both tensors, and nothing
/// changes. And a 16-bit tensor's master copy follows parameters the caller wrote.
/// </summary>
public sealed unsafe class RegistrationOverlapTests
{
    private static void AssertNames(ArgumentException e, string paramName, string mine, string theirs)
    {
        Assert.Equal(paramName, e.ParamName);
        Assert.Contains(mine, e.Message, StringComparison.Ordinal);
        Assert.Contains(theirs, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_same_array_in_two_tensors_is_refused_naming_both()
    {
        using var optimizer = new AdaBeliefOptimizer(new AdaBeliefOptions());
        ParameterGroup group = optimizer.ParamGroups[0];
        float[] weights = new float[64], grads = new float[64], other = new float[64];
        group.AddTensor(weights, grads);
        AssertNames(Assert.Throws<ArgumentException>(() => group.AddTensor(weights, other)), "parameters", "tensor 1's parameters", "tensor 0's parameters");
        AssertNames(Assert.Throws<ArgumentException>(() => group.AddTensor(other.AsMemory(0, 8), weights.AsMemory(56, 8))),
            "gradients", "tensor 1's gradients", "tensor 0's parameters");
        AssertNames(Assert.Throws<ArgumentException>(() => group.AddTensor(other.AsMemory(0, 8), grads.AsMemory(10, 8))), "gradients", "tensor 1's gradients", "tensor 0's gradients");
        using var buffer = new NativeBuffer(32);
        group.AddTensor(buffer);
        AssertNames(Assert.Throws<ArgumentException>(() => group.AddTensor(buffer)), "parameters", "tensor 2's parameters", "tensor 1's parameters");
        Assert.Equal(2, optimizer.Tensors.Count);
    }

    [Fact]
    public void Replacements_are_refused_naming_both_and_change_nothing()
    {
        var random = new Random();
        using var optimizer = new AdaBeliefOptimizer(new AdaBeliefOptions());
        ParameterGroup group = optimizer.ParamGroups[0];
        float[] p0 = TestData.Parameters(random, 16), p1 = TestData.Parameters(random, 16);
        float[] g0 = TestData.Gradients(random, 16), g1 = TestData.Gradients(random, 16);
        OptimizerTensor t0 = group.AddTensor(p0, g0);
        OptimizerTensor t1 = group.AddTensor(p1, g1);
        AssertNames(Assert.Throws<ArgumentException>(() => t1.SetParameters(p0)), "parameters", "tensor 1's parameters", "tensor 0's parameters");
        AssertNames(Assert.Throws<ArgumentException>(() => t0.SetGradients(p1)), "gradients", "tensor 0's gradients", "tensor 1's parameters");
        // Every gradient at once: checked as a whole.
        fixed (float* pa = g0, pb = g1)
        {
            nint a = (nint)pa, b = (nint)pb;
            var e = Assert.Throws<ArgumentException>(() => optimizer.SetGradients([a, a + 4 * sizeof(float)]));
            Assert.Contains("gradients[1]", e.Message, StringComparison.Ordinal);
            Assert.Contains("tensor 0's gradients", e.Message, StringComparison.Ordinal);
            optimizer.SetGradients([b, a]);  // a swap is fine: the old ones are replaced together
            optimizer.SetGradients([a, b]);
        }
        // Nothing changed: the optimizer still steps exactly as one that saw no refused call.
        float[] q0 = [.. p0], q1 = [.. p1];
        optimizer.Step();
        using var clean = new AdaBeliefOptimizer(new AdaBeliefOptions());
        clean.ParamGroups[0].AddTensor(q0, (float[])[.. g0]);
        clean.ParamGroups[0].AddTensor(q1, (float[])[.. g1]);
        clean.Step();
        Assert.Equal(q0, p0);
        Assert.Equal(q1, p1);
    }

    private static BFloat16[] RandomBFloat16(Random random, int n) =>
        [.. TestData.Parameters(random, n).Select(v => (BFloat16)v)];

    [Fact]
    public void The_master_copy_takes_parameters_the_caller_wrote()
    {
        var random = new Random();
        const int n = 100;
        BFloat16[] loaded = RandomBFloat16(random, n);
        float[] gradients = TestData.Gradients(random, n);
        var options = new AdaBeliefOptions { LearningRate = 1e-2 };

        // The run the caller means: the optimizer starts from the loaded weights.
        using var fresh = new AdaBeliefOptimizer(options);
        BFloat16[] expected = [.. loaded];
        fresh.ParamGroups[0].AddTensor<BFloat16, float>(expected.AsMemory(), ((float[])[.. gradients]).AsMemory(), keepMasterCopy: true);
        fresh.Step();

        // Registered first, then the weights loaded into the registered buffer.
        using var optimizer = new AdaBeliefOptimizer(options);
        BFloat16[] weights = RandomBFloat16(random, n);
        OptimizerTensor tensor = optimizer.ParamGroups[0].AddTensor<BFloat16, float>(weights.AsMemory(), ((float[])[.. gradients]).AsMemory(), keepMasterCopy: true);
        loaded.CopyTo(weights, 0);
        tensor.ReinitializeMasterFromParameters();
        Assert.Equal(loaded.Select(v => (float)v), tensor.ReadState(StateKind.MasterParameters));
        optimizer.Step();
        Assert.Equal(expected, weights);

        // SetParameters does it too.
        BFloat16[] replacement = RandomBFloat16(random, n);
        tensor.SetParameters(replacement.AsMemory());
        Assert.Equal(replacement.Select(v => (float)v), tensor.ReadState(StateKind.MasterParameters));

        // Without a master copy there is nothing to re-initialise: the native rule, as an InvalidOperationException.
        OptimizerTensor plain = optimizer.ParamGroups[0].AddTensor(new float[4], new float[4]);
        var e = Assert.Throws<InvalidOperationException>(plain.ReinitializeMasterFromParameters);
        Assert.Contains("master", e.Message, StringComparison.Ordinal);
    }
}
