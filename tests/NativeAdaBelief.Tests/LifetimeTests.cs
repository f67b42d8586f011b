using NativeAdaBelief.Interop;
using NativeAdaBelief.Tests.Support;

namespace NativeAdaBelief.Tests;

public sealed class LifetimeTests
{
    [Fact]
    public void Dispose_is_idempotent_and_everything_afterwards_throws_ObjectDisposedException()
    {
        var rig = new TrainingRig();
        rig.Train(2);
        AdaBeliefOptimizer optimizer = rig.Optimizer;
        ParameterGroup group = optimizer.ParamGroups[0];
        OptimizerTensor tensor = optimizer.Tensors[0];
        rig.Dispose();
        optimizer.Dispose(); // again
        rig.Dispose(); // and the buffers again
        Assert.True(optimizer.IsDisposed);

        Assert.Throws<ObjectDisposedException>(optimizer.Step);
        Assert.Throws<ObjectDisposedException>(optimizer.ZeroGrad);
        Assert.Throws<ObjectDisposedException>(() => optimizer.AddParamGroup(new AdaBeliefOptions()));
        Assert.Throws<ObjectDisposedException>(() => optimizer.ThreadCount);
        Assert.Throws<ObjectDisposedException>(() => optimizer.ThreadCount = 1);
        Assert.Throws<ObjectDisposedException>(() => optimizer.SimdLevel);
        Assert.Throws<ObjectDisposedException>(() => group.LearningRate);
        Assert.Throws<ObjectDisposedException>(() => group.LearningRate = 0.1);
        Assert.Throws<ObjectDisposedException>(() => group.Options);
        Assert.Throws<ObjectDisposedException>(() => group.Options = new AdaBeliefOptions());
        Assert.Throws<ObjectDisposedException>(() => group.AddTensor(new float[3]));
        Assert.Throws<ObjectDisposedException>(() => tensor.Step);
        Assert.Throws<ObjectDisposedException>(() => tensor.ReadState(StateKind.FirstMoment));
        Assert.Throws<ObjectDisposedException>(tensor.ClearGradients);
        Assert.Throws<ObjectDisposedException>(() => tensor.SetGradients(new float[tensor.Length]));
        Assert.Throws<ObjectDisposedException>(() => optimizer.SaveCheckpoint(new MemoryStream()));
        Assert.Throws<ObjectDisposedException>(() => optimizer.LoadCheckpoint(new MemoryStream()));
        var e = Assert.Throws<ObjectDisposedException>(optimizer.Step);
        Assert.Contains(nameof(AdaBeliefOptimizer), e.ObjectName, StringComparison.Ordinal);
    }

    [Fact]
    public void A_disposed_native_buffer_throws_and_double_dispose_is_fine()
    {
        var buffer = new NativeBuffer(10);
        buffer.Span.Fill(2);
        Assert.Equal(2, buffer.Span[9]);
        buffer.Dispose();
        buffer.Dispose();
        Assert.True(buffer.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => buffer.Span.Length);
        Assert.Throws<ObjectDisposedException>(() => buffer.Address);
        using var optimizer = new AdaBeliefOptimizer(new AdaBeliefOptions());
        Assert.Throws<ObjectDisposedException>(() => optimizer.ParamGroups[0].AddTensor(buffer));
        Assert.Empty(optimizer.Tensors);
    }

    [Fact]
    public void Native_buffers_are_zeroed_aligned_and_sized()
    {
        using var buffer = new NativeBuffer(1000);
        Assert.Equal(1000, buffer.Length);
        Assert.Equal(0, buffer.Address % 64);
        Assert.All(buffer.Span.ToArray(), v => Assert.Equal(0f, v));
        Assert.Equal(5, buffer.AsSpan(995, 5).Length);
        Assert.Throws<ArgumentOutOfRangeException>(() => buffer.AsSpan(996, 5).Length);
        Assert.Throws<ArgumentOutOfRangeException>(() => new NativeBuffer(0));
    }

    [Fact]
    public void A_registered_buffer_disposed_early_stays_valid_until_the_optimizer_lets_go()
    {
        long before = NativeAdaBeliefLibrary.AllocatedBytes;
        var optimizer = new AdaBeliefOptimizer(new AdaBeliefOptions());
        var parameters = NativeBuffer.FromSpan([1f, 2f, 3f]);
        var gradients = NativeBuffer.FromSpan([1f, 1f, 1f]);
        OptimizerTensor tensor = optimizer.ParamGroups[0].AddTensor(parameters, gradients);
        parameters.Dispose();
        gradients.Dispose();
        optimizer.Step(); // would touch freed memory if the optimizer had not kept the buffers
        Assert.Equal(1, tensor.Step);
        optimizer.Dispose();
        Assert.Equal(before, NativeAdaBeliefLibrary.AllocatedBytes);
    }

    [Fact]
    public void Native_memory_returns_to_its_earlier_value_after_disposal()
    {
        long before = NativeAdaBeliefLibrary.AllocatedBytes;
        using (var rig = new TrainingRig(sizes: [1000, 33, 4096]))
        {
            rig.Train(3);
            rig.Optimizer.ParamGroups[0].Options = rig.Optimizer.ParamGroups[0].Options with { AmsGrad = true };
            rig.Train(1);
            Assert.True(NativeAdaBeliefLibrary.AllocatedBytes > before);
        }
        Assert.Equal(before, NativeAdaBeliefLibrary.AllocatedBytes);
    }

    [Fact]
    public void An_optimizer_left_to_the_finalizer_frees_its_native_memory_and_unpins()
    {
        long before = NativeAdaBeliefLibrary.AllocatedBytes;
        WeakReference array = CreateAndAbandon();
        for (int i = 0; i < 5 && (array.IsAlive || NativeAdaBeliefLibrary.AllocatedBytes != before); i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
        Assert.Equal(before, NativeAdaBeliefLibrary.AllocatedBytes);
        Assert.False(array.IsAlive, "the pinned parameter array was never released");
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static WeakReference CreateAndAbandon()
    {
        var optimizer = new AdaBeliefOptimizer(new AdaBeliefOptions());
        float[] parameters = new float[256];
        float[] gradients = new float[256];
        gradients.AsSpan().Fill(0.5f);
        optimizer.ParamGroups[0].AddTensor(parameters, gradients);
        optimizer.Step();
        return new WeakReference(parameters);
    }

    [Fact]
    public void A_native_library_failure_maps_to_the_documented_exception_types()
    {
        Assert.IsType<ArgumentException>(NativeStatus.Create(nab_status.NAB_STATUS_INVALID_ARGUMENT, "bad x = 3", "x"));
        Assert.IsType<KeyNotFoundException>(NativeStatus.Create(nab_status.NAB_STATUS_NOT_FOUND, "no group 9"));
        Assert.IsType<OutOfMemoryException>(NativeStatus.Create(nab_status.NAB_STATUS_OUT_OF_MEMORY, "m"));
        Assert.IsType<NotSupportedException>(NativeStatus.Create(nab_status.NAB_STATUS_UNSUPPORTED, "m"));
        Assert.IsType<InvalidOperationException>(NativeStatus.Create(nab_status.NAB_STATUS_BUSY, "m"));
        var device = Assert.IsType<NativeAdaBeliefException>(NativeStatus.Create(nab_status.NAB_STATUS_DEVICE_ERROR, "cudaErrorIllegalAddress"));
        Assert.Contains("cudaErrorIllegalAddress", device.Message, StringComparison.Ordinal);
        Assert.Equal(6, device.NativeStatus);
        Assert.IsType<NativeAdaBeliefException>(NativeStatus.Create(nab_status.NAB_STATUS_INTERNAL_ERROR, "m"));
        Assert.Contains("bad x = 3", NativeStatus.Create(nab_status.NAB_STATUS_INVALID_ARGUMENT, "bad x = 3").Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_native_refusal_carries_the_native_message_in_a_typed_exception()
    {
        using var optimizer = new AdaBeliefOptimizer(new AdaBeliefOptions());
        Exception Refusal(Func<nint, nab_status> call)
        {
            using NativeCall native = optimizer.Enter();
            nab_status status = call(native.Pointer);
            return Assert.ThrowsAny<Exception>(() => NativeStatus.Check(status, "argument"));
        }

        // Past the managed checks, straight at the C ABI: the native validation still refuses.
        var invalid = Assert.IsType<ArgumentException>(Refusal(p => NativeMethods.nab_optimizer_set_learning_rate(p, 0, -2.5)));
        Assert.Contains("-2.5", invalid.Message, StringComparison.Ordinal);
        Assert.Equal("argument", invalid.ParamName);
        var missing = Assert.IsType<KeyNotFoundException>(Refusal(p => NativeMethods.nab_optimizer_set_learning_rate(p, 99, 0.1)));
        Assert.Contains("99", missing.Message, StringComparison.Ordinal);
        Assert.Equal(1e-3, optimizer.ParamGroups[0].LearningRate); // nothing changed
    }
}
