namespace NativeAdaBelief.Distributed.Tests;

/// <summary>The flat parameter and gradient buffers and the tensors' views of them.</summary>
public sealed class ParameterSpaceTests
{
    [Fact]
    public void Tensors_are_64_byte_aligned_back_to_back_in_both_buffers()
    {
        using var space = new ParameterSpace(TestSpaces.Mixed());
        long parameterEnd = 0, gradientEnd = 0;
        foreach (SpaceTensor tensor in space.Tensors)
        {
            Assert.Equal(0, tensor.ParameterAddress % ParameterSpace.Alignment);
            Assert.Equal(0, tensor.GradientAddress % ParameterSpace.Alignment);
            Assert.InRange(tensor.ParameterOffset - parameterEnd, 0, ParameterSpace.Alignment - 1);
            Assert.InRange(tensor.GradientOffset - gradientEnd, 0, ParameterSpace.Alignment / sizeof(float) - 1);
            parameterEnd = tensor.ParameterOffset + tensor.Length * TensorElementTypes.SizeOf(tensor.ParameterType);
            gradientEnd = tensor.GradientOffset + tensor.Length;
        }
        Assert.InRange(space.ParameterBytes - parameterEnd, 0, ParameterSpace.Alignment - 1);
        Assert.Equal(0, space.ParameterBytes % ParameterSpace.Alignment);
        Assert.Equal(space.Tensors[2].Length, space.Tensors[2].GetParameters<BFloat16>().Length);
        Assert.Equal(space.Tensors[2].Length * 2, space.Tensors[2].ParameterBytes.Length);
    }

    [Fact]
    public void A_view_of_the_wrong_element_type_is_refused()
    {
        using var space = new ParameterSpace(TestSpaces.Mixed());
        var e = Assert.Throws<ArgumentException>(() => space.Tensors[2].GetParameters<float>());
        Assert.Contains("tensor 2 (c) holds BFloat16 parameters, not Float32", e.Message, StringComparison.Ordinal);
        Assert.Throws<NotSupportedException>(() => space.Tensors[0].GetParameters<double>());
    }

    [Fact]
    public void Bad_tensors_are_refused_naming_them()
    {
        Assert.Contains("at least one tensor", Assert.Throws<ArgumentException>(() => new ParameterSpace([])).Message, StringComparison.Ordinal);
        Assert.Contains("tensor 1 (w) has Length = 0",
            Assert.Throws<ArgumentException>(() => new ParameterSpace([new TensorSpec(4), new TensorSpec(0) { Name = "w" }])).Message,
            StringComparison.Ordinal);
        Assert.Contains("tensor 0 has Group = -1",
            Assert.Throws<ArgumentException>(() => new ParameterSpace([new TensorSpec(4) { Group = -1 }])).Message, StringComparison.Ordinal);
        Assert.Contains("ParameterType = 7",
            Assert.Throws<ArgumentException>(() => new ParameterSpace([new TensorSpec(4) { ParameterType = (TensorElementType)7 }])).Message,
            StringComparison.Ordinal);
    }

    [Fact]
    public void Disposed_while_an_optimizer_uses_it_it_behaves_as_disposed_and_is_freed_with_the_optimizer()
    {
        long before = NativeAdaBeliefLibrary.AllocatedBytes;
        using var communicator = new SingleProcessCommunicator();
        var space = new ParameterSpace(TestSpaces.Mixed());
        var optimizer = new DistributedAdaBeliefOptimizer(communicator, space, TestSpaces.Groups());
        space.Dispose();
        Assert.True(space.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => space.Tensors[0].Gradients.Length);
        Assert.Throws<ObjectDisposedException>(() => new DistributedAdaBeliefOptimizer(communicator, space, TestSpaces.Groups()));
        optimizer.Step(); // the memory is still there for the optimizer
        optimizer.Dispose();
        Assert.Equal(before, NativeAdaBeliefLibrary.AllocatedBytes);
    }
}
