using System.Runtime.InteropServices;
using NativeAdaBelief.Tests.Support;

namespace NativeAdaBelief.Tests.MixedPrecision;

/// <summary>
/// Typed buffers (<see cref="NativeBuffer{T}"/>) and the registration of 16-bit tensors: every
/// overload records the element types and the master copy it was given, the master copy starts
/// as the widened parameters, and what does not fit (a master copy of float32 parameters, memory
/// of another element type, overlapping ranges, element types other than float/Half/BFloat16)
/// is refused with a message that says so, leaving nothing registered.
/// </summary>
public sealed unsafe class TypedRegistrationTests
{
    private static long SettledAllocatedBytes()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return NativeAdaBeliefLibrary.AllocatedBytes;
    }

    [Fact]
    public void Typed_native_buffers_are_zeroed_aligned_and_typed()
    {
        using var halves = new NativeBuffer<Half>(1001);
        using var brains = NativeBuffer<BFloat16>.FromSpan([(BFloat16)1.5f, (BFloat16)(-2f)]);
        using var floats = new NativeBuffer<float>(3);
        Assert.Equal(TensorElementType.Float16, halves.ElementType);
        Assert.Equal(TensorElementType.BFloat16, brains.ElementType);
        Assert.Equal(TensorElementType.Float32, floats.ElementType);
        Assert.Equal(1001, halves.Length);
        Assert.All(halves.Span.ToArray(), h => Assert.Equal(0, BitConverter.HalfToUInt16Bits(h)));
        Assert.Equal(0, halves.Address % 64);
        Assert.Equal(0, brains.Address % 64);
        Assert.Equal([1.5f, -2f], brains.Span.ToArray().Select(b => (float)b));
        halves.AsSpan(1000, 1)[0] = (Half)3;
        Assert.Equal((Half)3, ((Half*)halves.Address)[1000]);
        Assert.Throws<ArgumentOutOfRangeException>(() => halves.AsSpan(1000, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => new NativeBuffer<Half>(0));
        Assert.Throws<NotSupportedException>(() => new NativeBuffer<double>(4));
        Assert.Throws<NotSupportedException>(() => new NativeBuffer<ushort>(4));
        Assert.Throws<NotSupportedException>(() => new CudaBuffer<int>(4));
        halves.Dispose();
        Assert.True(halves.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => halves.Span.Length);
    }

    [Fact]
    public void Typed_buffers_and_master_copies_return_their_native_memory()
    {
        long before = SettledAllocatedBytes();
        for (int i = 0; i < 200; i++)
        {
            using var parameters = new NativeBuffer<BFloat16>(1000 + i);
            using var gradients = new NativeBuffer<Half>(1000 + i);
            using var optimizer = new AdaBeliefOptimizer(new AdaBeliefOptions());
            optimizer.ParamGroups[0].AddTensor(parameters, gradients, keepMasterCopy: true);
            optimizer.Step();
            Assert.True(NativeAdaBeliefLibrary.AllocatedBytes >= before + 2 * 2 * (1000 + i) + 3 * 4 * (1000 + i));
        }
        Assert.Equal(before, SettledAllocatedBytes());
    }

    public static TheoryData<TensorElementType, TensorElementType, bool, MemoryKind> Registrations()
    {
        var data = new TheoryData<TensorElementType, TensorElementType, bool, MemoryKind>();
        (TensorElementType, TensorElementType, bool)[] types =
        [
            (TensorElementType.Float16, TensorElementType.Float16, true), (TensorElementType.Float16, TensorElementType.Float16, false),
            (TensorElementType.Float16, TensorElementType.Float32, true), (TensorElementType.BFloat16, TensorElementType.BFloat16, true),
            (TensorElementType.BFloat16, TensorElementType.Float32, false), (TensorElementType.Float32, TensorElementType.Float16, false),
            (TensorElementType.Float32, TensorElementType.BFloat16, false), (TensorElementType.Float32, TensorElementType.Float32, false),
        ];
        foreach ((TensorElementType p, TensorElementType g, bool master) in types)
        {
            foreach (MemoryKind kind in Enum.GetValues<MemoryKind>())
            {
                data.Add(p, g, master, kind);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Registrations))]
    public void Every_overload_records_the_element_types_and_initialises_the_master_copy(
        TensorElementType parameterType, TensorElementType gradientType, bool master, MemoryKind kind)
    {
        // A learning rate large enough for one step to move bfloat16 parameters (a unit is 2^-8 relative).
        using var optimizer = new AdaBeliefOptimizer(new AdaBeliefOptions { LearningRate = 0.1 });
        float[] initial = TestData.Parameters(new Random(30), 333);
        using IMixedTensorStorage storage = MixedTensorStorage.Create(kind, parameterType, gradientType, initial);
        OptimizerTensor tensor = storage.Register(optimizer.ParamGroups[0], master);
        Assert.Equal(parameterType, tensor.ParameterType);
        Assert.Equal(gradientType, tensor.GradientType);
        Assert.Equal(master, tensor.HasMasterParameters);
        Assert.True(tensor.HasGradients);
        Assert.Equal(333, tensor.Length);
        if (master)
        {
            // The master copy starts as the 16-bit parameters, widened (exactly).
            OptimizerSnapshot.AssertBits(storage.Parameters(), tensor.ReadState(StateKind.MasterParameters), "master copy");
        }
        else
        {
            Assert.Throws<ArgumentException>(() => tensor.ReadState(StateKind.MasterParameters));
            Assert.Throws<ArgumentException>(() => tensor.WriteState(StateKind.MasterParameters, new float[333]));
        }

        // Without gradients, then with them again (each memory kind's own SetGradients).
        tensor.ClearGradients();
        Assert.False(tensor.HasGradients);
        Assert.Equal(gradientType, tensor.GradientType);
        storage.AttachGradients(tensor);
        Assert.True(tensor.HasGradients);
        for (int i = 0; i < 333; i++)
        {
            storage.SetGradient(i, 0.5f);
        }
        optimizer.Step();
        Assert.Equal(1, tensor.Step);
        Assert.All(Enumerable.Range(0, 333), i => Assert.True(storage.Parameter(i) < SixteenBit.Round(initial[i], parameterType)));
    }

    [Fact]
    public void A_tensor_registered_without_gradients_takes_gradients_of_the_declared_type()
    {
        using var optimizer = new AdaBeliefOptimizer(new AdaBeliefOptions());
        using var parameters = NativeBuffer<Half>.FromSpan([(Half)1, (Half)2]);
        OptimizerTensor sameType = optimizer.ParamGroups[0].AddTensor(parameters, keepMasterCopy: true);
        Assert.False(sameType.HasGradients);
        Assert.Equal(TensorElementType.Float16, sameType.GradientType);
        optimizer.Step();
        Assert.Equal(0, sameType.Step);

        BFloat16[] brain = [(BFloat16)1f, (BFloat16)2f];
        OptimizerTensor managed = optimizer.ParamGroups[0].AddTensor(brain.AsMemory());
        Assert.Equal(TensorElementType.BFloat16, managed.GradientType);
        managed.SetGradients(new BFloat16[] { (BFloat16)1f, (BFloat16)1f }.AsMemory());

        float[] raw = [1f, 2f];
        fixed (float* p = raw)
        {
            OptimizerTensor declared = optimizer.ParamGroups[0].AddTensor((nint)p, TensorElementType.Float32, 0, TensorElementType.BFloat16, 2);
            Assert.Equal(TensorElementType.BFloat16, declared.GradientType);
            var e = Assert.Throws<ArgumentException>(() => declared.SetGradients(new float[2]));
            Assert.Contains("Float32", e.Message, StringComparison.Ordinal);
            Assert.Contains("BFloat16", e.Message, StringComparison.Ordinal);
            declared.SetGradients(new BFloat16[] { (BFloat16)0.5f, (BFloat16)0.5f }.AsMemory());
            optimizer.Step();
            Assert.Equal(1, declared.Step);
            Assert.Equal(1, managed.Step);
        }
    }

    [Fact]
    public void A_master_copy_of_float32_parameters_is_refused_and_nothing_is_registered()
    {
        using var optimizer = new AdaBeliefOptimizer(new AdaBeliefOptions());
        long baseline = NativeAdaBeliefLibrary.AllocatedBytes;
        using var parameters = new NativeBuffer<float>(8);
        using var gradients = new NativeBuffer<Half>(8);
        var e = Assert.Throws<ArgumentException>(() => optimizer.ParamGroups[0].AddTensor(parameters, gradients, keepMasterCopy: true));
        Assert.Equal("keepMasterCopy", e.ParamName);
        Assert.Contains("Float32", e.Message, StringComparison.Ordinal);
        float[] raw = new float[8];
        fixed (float* p = raw)
        {
            nint address = (nint)p;
            Assert.Throws<ArgumentException>(() => optimizer.ParamGroups[0].AddTensor(address, TensorElementType.Float32, 0, TensorElementType.Float32, 8, keepMasterCopy: true));
        }
        Assert.Empty(optimizer.Tensors);
        // The buffers were not kept (no reference left behind): disposing them frees them now.
        Assert.True(NativeAdaBeliefLibrary.AllocatedBytes >= baseline + 8 * 4 + 8 * 2);
        parameters.Dispose();
        gradients.Dispose();
        Assert.Equal(baseline, NativeAdaBeliefLibrary.AllocatedBytes);
    }

    [Fact]
    public void The_native_library_refuses_what_the_wrapper_refuses_first()
    {
        // The wrapper checks these before calling; the native library must refuse them on its
        // own too (for other callers of the C ABI), naming the field.
        using var optimizer = new AdaBeliefOptimizer(new AdaBeliefOptions());
        float[] parameters = new float[4];
        fixed (float* p = parameters)
        {
            var desc = new NativeAdaBelief.Interop.nab_tensor_desc
            {
                struct_size = (uint)sizeof(NativeAdaBelief.Interop.nab_tensor_desc),
                element_count = 4,
                parameters = p,
                master_parameters = 1,
            };
            (NativeAdaBelief.Interop.nab_status Status, string Message) Add(NativeAdaBelief.Interop.nab_tensor_desc d)
            {
                using var call = optimizer.Enter();
                uint id;
                NativeAdaBelief.Interop.nab_status status = NativeAdaBelief.Interop.NativeMethods.nab_optimizer_add_tensor(call.Pointer, &d, &id);
                return (status, NativeAdaBelief.Interop.NativeStatus.LastError());
            }
            (NativeAdaBelief.Interop.nab_status status, string message) = Add(desc);
            Assert.Equal(NativeAdaBelief.Interop.nab_status.NAB_STATUS_INVALID_ARGUMENT, status);
            Assert.Contains("master_parameters", message, StringComparison.Ordinal);
            (status, message) = Add(desc with { master_parameters = 0, parameter_dtype = 3 });
            Assert.Equal(NativeAdaBelief.Interop.nab_status.NAB_STATUS_INVALID_ARGUMENT, status);
            Assert.Contains("parameter_dtype", message, StringComparison.Ordinal);
            (status, message) = Add(desc with { master_parameters = 0, reserved = 1 });
            Assert.Equal(NativeAdaBelief.Interop.nab_status.NAB_STATUS_INVALID_ARGUMENT, status);
            Assert.Contains("reserved", message, StringComparison.Ordinal);
        }
        Assert.Empty(optimizer.Tensors);
        Assert.Equal(0, optimizer.GetLastStepReport().StepCalls);
    }

    [Fact]
    public void Undefined_element_types_and_memory_of_another_type_are_refused()
    {
        using var optimizer = new AdaBeliefOptimizer(new AdaBeliefOptions());
        ushort[] raw = new ushort[16];
        fixed (ushort* p = raw)
        {
            nint address = (nint)p;
            Assert.Throws<ArgumentOutOfRangeException>(() => optimizer.ParamGroups[0].AddTensor(address, (TensorElementType)3, 0, TensorElementType.Float16, 16));
            Assert.Throws<ArgumentOutOfRangeException>(() => optimizer.ParamGroups[0].AddTensor(address, TensorElementType.Float16, 0, (TensorElementType)(-1), 16));
        }
        Assert.Empty(optimizer.Tensors);

        Half[] parameters = new Half[4];
        OptimizerTensor tensor = optimizer.ParamGroups[0].AddTensor(parameters.AsMemory(), new Half[4].AsMemory());
        var e = Assert.Throws<ArgumentException>(() => tensor.SetGradients(new BFloat16[4].AsMemory()));
        Assert.Contains("BFloat16", e.Message, StringComparison.Ordinal);
        Assert.Contains("Float16", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => tensor.SetGradients(new float[4]));
        Assert.Throws<ArgumentException>(() => tensor.SetParameters(new float[4]));
        Assert.Throws<ArgumentException>(() => tensor.SetParameters(new BFloat16[4].AsMemory()));
        using var wrong = new NativeBuffer<BFloat16>(4);
        Assert.Throws<ArgumentException>(() => tensor.SetParameters(wrong));
        Assert.Throws<ArgumentException>(() => tensor.SetGradients(wrong));
        fixed (Half* p = new Half[4])
        {
            nint address = (nint)p;
            Assert.Throws<ArgumentException>(() => tensor.SetGradients(address, TensorElementType.Float32));
            tensor.SetGradients((nint)p, TensorElementType.Float16);
        }
        tensor.ClearGradients();
        // The right type is accepted (and the wrong attempts changed nothing).
        Half[] other = [(Half)1, (Half)2, (Half)3, (Half)4];
        tensor.SetParameters(other.AsMemory());
        tensor.SetGradients(new Half[] { (Half)1, (Half)1, (Half)1, (Half)1 }.AsMemory());
        optimizer.Step();
        Assert.True((float)other[0] < 1f);
        Assert.Equal(0f, (float)parameters[0]);
    }

    [Fact]
    public void Overlap_is_measured_in_each_buffers_own_element_size()
    {
        // Float16 parameters [0, 2n) bytes and float32 gradients of n elements (4n bytes).
        const int n = 64;
        using var optimizer = new AdaBeliefOptimizer(new AdaBeliefOptions());
        void* block = NativeMemory.AlignedAlloc(8 * n, 64);
        try
        {
            new Span<byte>(block, 8 * n).Clear();
            byte* b = (byte*)block;
            // Gradients starting at the parameters' last element: overlapping by 2 bytes.
            var e = Assert.Throws<ArgumentException>(() =>
                optimizer.ParamGroups[0].AddTensor((nint)b, TensorElementType.Float16, (nint)(b + 2 * n - 2), TensorElementType.Float32, n));
            Assert.Contains("overlaps", e.Message, StringComparison.Ordinal);
            // Parameters starting inside the float32 gradients' range (which is 4n bytes, not 2n).
            Assert.Throws<ArgumentException>(() =>
                optimizer.ParamGroups[0].AddTensor((nint)(b + 4 * n - 2), TensorElementType.Float16, (nint)b, TensorElementType.Float32, n));
            Assert.Empty(optimizer.Tensors);
            // Adjacent ranges are fine.
            OptimizerTensor tensor = optimizer.ParamGroups[0].AddTensor((nint)b, TensorElementType.Float16, (nint)(b + 2 * n), TensorElementType.Float32, n);
            optimizer.Step();
            Assert.Equal(1, tensor.Step);
        }
        finally
        {
            optimizer.Dispose();
            NativeMemory.AlignedFree(block);
        }
    }

    [Fact]
    public void After_dispose_the_new_members_throw_ObjectDisposedException()
    {
        var optimizer = new AdaBeliefOptimizer(new AdaBeliefOptions());
        Half[] parameters = new Half[4];
        OptimizerTensor tensor = optimizer.ParamGroups[0].AddTensor(parameters.AsMemory(), new Half[4].AsMemory(), keepMasterCopy: true);
        optimizer.Dispose();
        Assert.Throws<ObjectDisposedException>(() => tensor.ParameterType);
        Assert.Throws<ObjectDisposedException>(() => tensor.GradientType);
        Assert.Throws<ObjectDisposedException>(() => tensor.HasMasterParameters);
        Assert.Throws<ObjectDisposedException>(() => tensor.ReadState(StateKind.MasterParameters));
        Assert.Throws<ObjectDisposedException>(() => tensor.SetGradients(new Half[4].AsMemory()));
        Assert.Throws<ObjectDisposedException>(() => tensor.SetParameters(new Half[4].AsMemory()));
        Assert.Throws<ObjectDisposedException>(tensor.ClearGradients);
        Assert.Throws<ObjectDisposedException>(() => optimizer.ParamGroups[0].AddTensor(new BFloat16[2].AsMemory()));
        using var buffer = new NativeBuffer<Half>(2);
        Assert.Throws<ObjectDisposedException>(() => optimizer.ParamGroups[0].AddTensor(buffer, keepMasterCopy: true));
        Assert.Throws<ObjectDisposedException>(() => optimizer.StepOptions = new StepOptions());
        Assert.Throws<ObjectDisposedException>(() => new DynamicLossScaler(optimizer));
    }

    [Fact]
    public void Writing_the_master_copy_moves_the_parameters_at_the_next_step()
    {
        using var optimizer = new AdaBeliefOptimizer(new AdaBeliefOptions { LearningRate = 0 });
        BFloat16[] parameters = [(BFloat16)1f, (BFloat16)2f, (BFloat16)3f];
        OptimizerTensor tensor = optimizer.ParamGroups[0].AddTensor(parameters.AsMemory(), new float[3].AsMemory(), keepMasterCopy: true);
        float[] values = [0.1f, -7.25f, 1e-30f];
        tensor.WriteState(StateKind.MasterParameters, values);
        Assert.Equal(1f, (float)parameters[0]); // only the master copy changed...
        Assert.Equal(values, tensor.ReadState(StateKind.MasterParameters));
        optimizer.Step();
        Assert.Equal(values.Select(v => ((BFloat16)v).Bits), parameters.Select(p => p.Bits)); // ...until the step
        Assert.Throws<ArgumentException>(() => tensor.WriteState(StateKind.MasterParameters, new float[2]));
    }
}
