using NativeAdaBelief.Tests.Support;

namespace NativeAdaBelief.Tests.Cuda;

/// <summary>
/// Mixed precision on the CUDA backend through the wrapper: typed device buffers, 16-bit
/// parameters and gradients with and without master copies under loss scaling, clipping and
/// the non-finite skip, against the CPU optimizer on the same problem; the dynamic loss scaler
/// and a checkpoint moved between the devices.
/// </summary>
public sealed class MixedPrecisionCudaTests
{
    private static T[] Values<T>(int seed, int length, float scale) where T : unmanaged
    {
        var random = new Random(seed);
        var values = new T[length];
        for (int i = 0; i < length; i++)
        {
            values[i] = SixteenBit.FromFloat<T>((float)((random.NextDouble() * 2 - 1) * scale));
        }
        return values;
    }

    [NoGpuFact]
    public void Without_a_device_typed_device_buffers_fail_clearly()
    {
        Exception error = Assert.ThrowsAny<Exception>(() => new CudaBuffer<Half>(16));
        Assert.True(error is NotSupportedException or NativeAdaBeliefException or ArgumentException, error.GetType().Name);
        Assert.Throws<NotSupportedException>(() => new CudaBuffer<double>(16)); // the element type is checked first
    }

    [GpuFact]
    [Trait("Category", "Gpu")]
    public void Typed_device_buffers_round_trip()
    {
        Half[] halves = Values<Half>(1, 1001, 3f);
        using var h = CudaBuffer<Half>.FromSpan(halves);
        Assert.Equal(TensorElementType.Float16, h.ElementType);
        Assert.Equal(halves.Select(BitConverter.HalfToUInt16Bits), h.ToArray().Select(BitConverter.HalfToUInt16Bits));
        BFloat16[] brains = Values<BFloat16>(2, 333, 100f);
        using var b = new CudaBuffer<BFloat16>(334);
        Assert.All(b.ToArray(), v => Assert.Equal(0, v.Bits)); // zeroed
        b.Upload(brains, offset: 1);
        var back = new BFloat16[333];
        b.Download(back, offset: 1);
        Assert.Equal(brains.Select(v => v.Bits), back.Select(v => v.Bits));
        Assert.Throws<ArgumentOutOfRangeException>(() => b.Upload(brains, offset: 2));
    }

    public static TheoryData<TensorElementType, TensorElementType, bool> Combinations => new()
    {
        { TensorElementType.Float16, TensorElementType.Float16, true },
        { TensorElementType.Float16, TensorElementType.Float16, false },
        { TensorElementType.BFloat16, TensorElementType.Float32, true },
        { TensorElementType.BFloat16, TensorElementType.BFloat16, false },
        { TensorElementType.Float32, TensorElementType.Float16, false },
    };

    [GpuTheory]
    [Trait("Category", "Gpu")]
    [MemberData(nameof(Combinations))]
    public void Cuda_steps_match_cpu_steps_with_16_bit_tensors_loss_scaling_clipping_and_skipping(
        TensorElementType parameterType, TensorElementType gradientType, bool master)
    {
        switch ((parameterType, gradientType))
        {
            case (TensorElementType.Float16, TensorElementType.Float16):
                Compare<Half, Half>(master);
                break;
            case (TensorElementType.BFloat16, TensorElementType.Float32):
                Compare<BFloat16, float>(master);
                break;
            case (TensorElementType.BFloat16, TensorElementType.BFloat16):
                Compare<BFloat16, BFloat16>(master);
                break;
            default:
                Compare<float, Half>(master);
                break;
        }
    }

    private static void Compare<TParameter, TGradient>(bool master)
        where TParameter : unmanaged
        where TGradient : unmanaged
    {
        const int length = 70_001;
        const float lossScale = 256f;
        var options = new AdaBeliefOptions { LearningRate = 1e-2, WeightDecay = 1e-2 };
        var stepOptions = new StepOptions { SkipNonFinite = true, InverseGradientScale = 1.0 / lossScale, MaxGradientNorm = 50 };
        TParameter[] initial = Values<TParameter>(3, length, 1f);

        using var cpu = new AdaBeliefOptimizer(options);
        using var cpuParameters = NativeBuffer<TParameter>.FromSpan(initial);
        using var cpuGradients = new NativeBuffer<TGradient>(length);
        cpu.ParamGroups[0].AddTensor(cpuParameters, cpuGradients, master);
        cpu.StepOptions = stepOptions;

        using var cuda = new AdaBeliefOptimizer(options, new OptimizerConfig { Device = DeviceType.Cuda });
        using var cudaParameters = CudaBuffer<TParameter>.FromSpan(initial);
        using var cudaGradients = new CudaBuffer<TGradient>(length);
        cuda.ParamGroups[0].AddTensor(cudaParameters, cudaGradients, master);
        cuda.StepOptions = stepOptions;
        Assert.Equal(master, cuda.Tensors[0].HasMasterParameters);

        for (int step = 0; step < 10; step++)
        {
            TGradient[] gradients = Values<TGradient>(100 + step, length, 0.5f * lossScale * (step % 2 == 0 ? 1 : 0.01f));
            if (step == 4)
            {
                gradients[12_345] = SixteenBit.FromFloat<TGradient>(float.NaN);
            }
            gradients.CopyTo(cpuGradients.Span);
            cudaGradients.Upload(gradients);
            cpu.Step();
            cuda.Step();

            StepReport expected = cpu.GetLastStepReport(), actual = cuda.GetLastStepReport();
            Assert.Equal(step == 4, actual.Skipped);
            Assert.Equal(expected.Skipped, actual.Skipped);
            Assert.Equal(expected.NonFiniteCount, actual.NonFiniteCount);
            Assert.Equal(expected.StepCalls, actual.StepCalls);
            if (!expected.Skipped)
            {
                // The sums of squares run in double in different orders: a few roundings apart.
                Assert.True(Math.Abs(actual.GradientNorm - expected.GradientNorm) <= 1e-12 * expected.GradientNorm,
                    $"step {step}: norm cpu {expected.GradientNorm:R}, cuda {actual.GradientNorm:R}");
                Assert.True(Math.Abs(actual.GradientScale - expected.GradientScale) <= 1e-12 * expected.GradientScale);
            }
        }
        Assert.Equal(9, cuda.Tensors[0].Step);
        Assert.Equal(9, cpu.Tensors[0].Step);

        // Float32 state as the float32 CUDA test compares it (1e-6 relative: contraction into
        // fused multiply-adds differs between the compilers); 16-bit parameters within one unit,
        // and with a master copy exactly its rounding.
        TParameter[] onDevice = cudaParameters.ToArray();
        TParameter[] onHost = cpuParameters.Span.ToArray();
        float[] deviceMaster = master ? cuda.Tensors[0].ReadState(StateKind.MasterParameters) : [];
        float[] hostMaster = master ? cpu.Tensors[0].ReadState(StateKind.MasterParameters) : [];
        TensorElementType type = SixteenBit.TypeOf<TParameter>();
        int offByOne = 0;
        for (int i = 0; i < length; i++)
        {
            float d = SixteenBit.ToFloat(onDevice[i]), h = SixteenBit.ToFloat(onHost[i]);
            if (type == TensorElementType.Float32)
            {
                Assert.True(Math.Abs(d - h) <= 1e-6 * Math.Max(Math.Abs(h), 1e-3), $"element {i}: cpu {h}, cuda {d}");
                continue;
            }
            int distance = SixteenBit.UlpDistance16(SixteenBit.Bits(onDevice[i]), SixteenBit.Bits(onHost[i]));
            Assert.True(distance <= 1, $"element {i}: cpu {h}, cuda {d}: {distance} units apart");
            offByOne += distance;
            if (master)
            {
                Assert.Equal(SixteenBit.RoundedBits(deviceMaster[i], type), SixteenBit.Bits(onDevice[i]));
                Assert.True(Math.Abs(deviceMaster[i] - hostMaster[i]) <= 1e-6 * Math.Max(Math.Abs(hostMaster[i]), 1e-3), $"element {i}: master cpu {hostMaster[i]}, cuda {deviceMaster[i]}");
            }
        }
        Assert.True(offByOne <= length / 100, $"{offByOne} of {length} 16-bit parameters differ by one unit");
        float[] m = cuda.Tensors[0].ReadState(StateKind.FirstMoment), mHost = cpu.Tensors[0].ReadState(StateKind.FirstMoment);
        for (int i = 0; i < length; i++)
        {
            Assert.True(Math.Abs(m[i] - mHost[i]) <= 1e-6 * Math.Max(Math.Abs(mHost[i]), 1e-6), $"m element {i}: cpu {mHost[i]}, cuda {m[i]}");
        }
    }

    [GpuFact]
    [Trait("Category", "Gpu")]
    public void The_dynamic_loss_scaler_drives_a_cuda_optimizer_like_a_cpu_one()
    {
        const int length = 4099;
        using var cpu = new AdaBeliefOptimizer(new AdaBeliefOptions());
        using var cuda = new AdaBeliefOptimizer(new AdaBeliefOptions(), new OptimizerConfig { Device = DeviceType.Cuda });
        Half[] initial = Values<Half>(5, length, 1f);
        using var hostParameters = NativeBuffer<Half>.FromSpan(initial);
        using var hostGradients = new NativeBuffer<Half>(length);
        using var deviceParameters = CudaBuffer<Half>.FromSpan(initial);
        using var deviceGradients = new CudaBuffer<Half>(length);
        cpu.ParamGroups[0].AddTensor(hostParameters, hostGradients, keepMasterCopy: true);
        cuda.ParamGroups[0].AddTensor(deviceParameters, deviceGradients, keepMasterCopy: true);
        var cpuScaler = new DynamicLossScaler(cpu, initialScale: 1024, growthInterval: 3);
        var cudaScaler = new DynamicLossScaler(cuda, initialScale: 1024, growthInterval: 3);
        var random = new Random(6);
        foreach (char kind in "GGGBGGGGBBGG")
        {
            Half[] g = Values<Half>(random.Next(), length, 1f);
            for (int i = 0; i < length; i++)
            {
                g[i] = (Half)((float)g[i] * (float)cpuScaler.Scale);
            }
            if (kind == 'B')
            {
                g[random.Next(length)] = Half.PositiveInfinity;
            }
            g.CopyTo(hostGradients.Span);
            deviceGradients.Upload(g);
            StepReport expected = cpuScaler.Step(), actual = cudaScaler.Step();
            Assert.Equal(kind == 'B', actual.Skipped);
            Assert.Equal(expected.Skipped, actual.Skipped);
            Assert.Equal(cpuScaler.Scale, cudaScaler.Scale);
            Assert.Equal(cpuScaler.GoodSteps, cudaScaler.GoodSteps);
        }
        Assert.Equal(cpu.Tensors[0].Step, cuda.Tensors[0].Step);
        Assert.Equal(9, cuda.Tensors[0].Step);
    }

    [GpuFact]
    [Trait("Category", "Gpu")]
    public void A_cuda_checkpoint_with_master_copies_restores_into_a_cpu_optimizer()
    {
        const int length = 1000;
        using var cuda = new AdaBeliefOptimizer(new AdaBeliefOptions { AmsGrad = true }, new OptimizerConfig { Device = DeviceType.Cuda });
        BFloat16[] initial = Values<BFloat16>(7, length, 1f);
        using var deviceParameters = CudaBuffer<BFloat16>.FromSpan(initial);
        using var deviceGradients = new CudaBuffer<float>(length);
        cuda.ParamGroups[0].AddTensor(deviceParameters, deviceGradients, keepMasterCopy: true);
        for (int step = 0; step < 5; step++)
        {
            deviceGradients.Upload(Values<float>(50 + step, length, 1f));
            cuda.Step();
        }
        var file = new MemoryStream();
        cuda.SaveCheckpoint(file);

        using var cpu = new AdaBeliefOptimizer(new AdaBeliefOptions());
        BFloat16[] hostParameters = deviceParameters.ToArray();
        cpu.ParamGroups[0].AddTensor(hostParameters.AsMemory(), new float[length].AsMemory(), keepMasterCopy: true);
        file.Position = 0;
        cpu.LoadCheckpoint(file);
        OptimizerSnapshot.Capture(cuda).AssertIdentical(OptimizerSnapshot.Capture(cpu));
    }
}
