using NativeAdaBelief.Interop;

namespace NativeAdaBelief.Tests;

/// <summary>
/// What the layering promises a caller: facts fixed at registration cost no native call, a
/// checkpoint of N tensors costs O(N) native calls (not the O(N²) that asking the native side for
/// every fact every time cost), buffers behave as disposed once disposed even while an optimizer
/// holds their memory, and buffers are registered only with an optimizer on their device.
/// </summary>
public sealed class ArchitectureTests
{
    private static AdaBeliefOptimizer OptimizerWithTensors(int count, List<NativeBuffer> buffers)
    {
        var optimizer = new AdaBeliefOptimizer(new AdaBeliefOptions { AmsGrad = true }, new OptimizerConfig { ThreadCount = 1 });
        for (int t = 0; t < count; t++)
        {
            var parameters = new NativeBuffer(3 + t % 5);
            var gradients = new NativeBuffer(parameters.Length);
            gradients.Span.Fill(0.25f);
            buffers.Add(parameters);
            buffers.Add(gradients);
            optimizer.ParamGroups[0].AddTensor(parameters, gradients);
        }
        optimizer.Step();
        return optimizer;
    }

    private static long NativeCallsToSave(int tensors)
    {
        var buffers = new List<NativeBuffer>();
        using AdaBeliefOptimizer optimizer = OptimizerWithTensors(tensors, buffers);
        long before = optimizer.NativeCalls;
        optimizer.SaveCheckpoint(new MemoryStream());
        long calls = optimizer.NativeCalls - before;
        buffers.ForEach(b => b.Dispose());
        return calls;
    }

    [Fact]
    public void Saving_N_tensors_makes_a_number_of_native_calls_linear_in_N()
    {
        long small = NativeCallsToSave(10), large = NativeCallsToSave(200);
        // Per tensor: whether it has s_max, and m, s, s_max read twice (hash, then write); the
        // step counts of all of them in one call; the groups' options once.
        long perTensor = (large - small) / 190;
        Assert.True(perTensor <= 8, $"{perTensor} native calls per tensor ({small} for 10 tensors, {large} for 200)");
        Assert.True(large - 200 * perTensor <= small, $"not linear: {small} calls for 10 tensors, {large} for 200");
    }

    [Fact]
    public void Facts_fixed_at_registration_are_read_without_a_native_call()
    {
        var buffers = new List<NativeBuffer>();
        using AdaBeliefOptimizer optimizer = OptimizerWithTensors(3, buffers);
        long before = optimizer.NativeCalls;
        foreach (OptimizerTensor tensor in optimizer.Tensors)
        {
            _ = tensor.Length;
            _ = tensor.ParameterType;
            _ = tensor.GradientType;
            _ = tensor.HasMasterParameters;
            _ = tensor.HasGradients;
        }
        Assert.Equal(before, optimizer.NativeCalls);
        // The facts that can change are asked of the native library, and are right.
        Assert.Equal(1, optimizer.Tensors[0].Step);
        Assert.True(optimizer.Tensors[0].HasMaxSecondMoment);
        Assert.True(optimizer.NativeCalls > before);
        optimizer.Tensors[1].ClearGradients();
        Assert.False(optimizer.Tensors[1].HasGradients);
        optimizer.Step();
        Assert.Equal(1, optimizer.Tensors[1].Step);
        Assert.Equal(2, optimizer.Tensors[2].Step);
        buffers.ForEach(b => b.Dispose());
    }

    [Fact]
    public void A_registered_buffer_behaves_as_disposed_once_disposed_while_the_optimizer_keeps_its_memory()
    {
        using var optimizer = new AdaBeliefOptimizer(new AdaBeliefOptions());
        var parameters = NativeBuffer.FromSpan([1f, 2f, 3f]);
        var gradients = NativeBuffer.FromSpan([0.5f, 0.5f, 0.5f]);
        OptimizerTensor tensor = optimizer.ParamGroups[0].AddTensor(parameters, gradients);
        parameters.Dispose();
        gradients.Dispose();
        Assert.True(parameters.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => parameters.Span.Length);
        Assert.Throws<ObjectDisposedException>(() => parameters.Address);
        Assert.Throws<ObjectDisposedException>(() => optimizer.ParamGroups[0].AddTensor(parameters));
        using var other = new AdaBeliefOptimizer(new AdaBeliefOptions());
        Assert.Throws<ObjectDisposedException>(() => other.ParamGroups[0].AddTensor(gradients));
        // The optimizer still steps the memory it holds.
        optimizer.Step();
        Assert.Equal(1, tensor.Step);
        Assert.True(tensor.ReadState(StateKind.FirstMoment)[0] != 0f);
    }

    [Cuda.GpuFact]
    public void Buffers_of_another_device_are_refused_before_anything_native_changes()
    {
        using var optimizer = new AdaBeliefOptimizer(new AdaBeliefOptions());
        using var device = new CudaBuffer(4);
        var e = Assert.Throws<ArgumentException>(() => optimizer.ParamGroups[0].AddTensor(device));
        Assert.Equal("parameters", e.ParamName);
        Assert.Empty(optimizer.Tensors);
        using var cuda = new AdaBeliefOptimizer(new AdaBeliefOptions(), new OptimizerConfig { Device = DeviceType.Cuda });
        using var host = new NativeBuffer(4);
        e = Assert.Throws<ArgumentException>(() => cuda.ParamGroups[0].AddTensor(host));
        Assert.Equal("parameters", e.ParamName);
        Assert.Empty(cuda.Tensors);
    }

    [Fact]
    public void The_thread_limit_is_the_native_one()
    {
        Assert.Equal((int)NativeMethods.NAB_MAX_THREAD_COUNT, OptimizerConfig.MaxThreadCount);
        new OptimizerConfig { ThreadCount = OptimizerConfig.MaxThreadCount }.Validate();
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new OptimizerConfig { ThreadCount = OptimizerConfig.MaxThreadCount + 1 }.Validate());
        Assert.Equal("ThreadCount", e.ParamName);
        using var optimizer = new AdaBeliefOptimizer(new AdaBeliefOptions());
        e = Assert.Throws<ArgumentOutOfRangeException>(() => optimizer.ThreadCount = OptimizerConfig.MaxThreadCount + 1);
        Assert.Equal("ThreadCount", e.ParamName);
        Assert.Contains((OptimizerConfig.MaxThreadCount + 1).ToString(System.Globalization.CultureInfo.InvariantCulture), e.Message, StringComparison.Ordinal);
    }
}
