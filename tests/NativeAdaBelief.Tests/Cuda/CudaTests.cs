namespace NativeAdaBelief.Tests.Cuda;

/// <summary>
/// The C# path to the CUDA backend: device buffers, CUDA optimizers against CPU optimizers on
/// the same problem, and clear failures where there is no device.
/// </summary>
public sealed class CudaTests
{
    private static float[] Random(int seed, int length, float scale)
    {
        var random = new Random(seed);
        var values = new float[length];
        for (int i = 0; i < length; i++)
        {
            values[i] = (float)((random.NextDouble() * 2 - 1) * scale);
        }
        return values;
    }

    [NoGpuFact]
    public void WithoutADeviceCudaRequestsFailClearlyAndTheCpuKeepsWorking()
    {
        Exception error = Assert.ThrowsAny<Exception>(() => new AdaBeliefOptimizer(new OptimizerConfig { Device = DeviceType.Cuda }));
        Assert.True(error is NotSupportedException or NativeAdaBeliefException, error.GetType().Name);
        Assert.Contains("CUDA", error.Message, StringComparison.Ordinal);
        Assert.ThrowsAny<Exception>(() => new CudaBuffer(16));

        using var cpu = new AdaBeliefOptimizer(new AdaBeliefOptions());
        float[] parameters = [1f, 2f, 3f], gradients = [0.1f, 0.2f, 0.3f];
        cpu.ParamGroups[0].AddTensor(parameters, gradients);
        cpu.Step();
        Assert.Equal(1, cpu.Tensors[0].Step);
    }

    [GpuFact]
    [Trait("Category", "Gpu")]
    public void DeviceBuffersRoundTrip()
    {
        float[] values = Random(1, 1001, 3f);
        using var buffer = CudaBuffer.FromSpan(values);
        Assert.Equal(values, buffer.ToArray());
        buffer.Upload(new float[] { 7f, 8f }, offset: 999);
        var tail = new float[2];
        buffer.Download(tail, offset: 999);
        Assert.Equal(new float[] { 7f, 8f }, tail);
        Assert.Throws<ArgumentOutOfRangeException>(() => buffer.Upload(new float[3], offset: 999));
    }

    [GpuFact]
    [Trait("Category", "Gpu")]
    public void CudaStepsMatchCpuStepsForEveryModeThroughTheWrapper()
    {
        AdaBeliefOptions[] variants =
        [
            new AdaBeliefOptions { LearningRate = 3e-3, WeightDecay = 0.01, Beta2 = 0.9 },
            new AdaBeliefOptions { LearningRate = 3e-3, AmsGrad = true, Rectify = false, OptimizedUpdate = false },
            AdaBeliefOptions.ForAdam(learningRate: 2e-3),
            AdaBeliefOptions.ForAdaBeliefPytorch() with { AmsGrad = true, Beta2 = 0.9 },
        ];
        foreach (AdaBeliefOptions options in variants)
        {
            float[] initial = Random(2, 70_001, 1f);
            using var cpu = new AdaBeliefOptimizer(options);
            float[] cpuParameters = (float[])initial.Clone(), cpuGradients = new float[initial.Length];
            cpu.ParamGroups[0].AddTensor(cpuParameters, cpuGradients);

            using var cuda = new AdaBeliefOptimizer(options, new OptimizerConfig { Device = DeviceType.Cuda });
            using var cudaParameters = CudaBuffer.FromSpan(initial);
            using var cudaGradients = new CudaBuffer(initial.Length);
            cuda.ParamGroups[0].AddTensor(cudaParameters, cudaGradients);

            for (int step = 0; step < 8; step++)
            {
                float[] gradients = Random(100 + step, initial.Length, 0.5f);
                gradients.CopyTo(cpuGradients, 0);
                cudaGradients.Upload(gradients);
                cpu.Step();
                cuda.Step();
            }
            cuda.Synchronize();
            float[] onDevice = cudaParameters.ToArray();
            for (int i = 0; i < initial.Length; i++)
            {
                double error = Math.Abs(onDevice[i] - cpuParameters[i]) / Math.Max(Math.Abs(cpuParameters[i]), 1e-3);
                Assert.True(error <= 1e-6, $"{options}: element {i}: cpu {cpuParameters[i]}, cuda {onDevice[i]}");
            }
            Assert.Equal(8, cuda.Tensors[0].Step);
        }
    }

    [GpuFact]
    [Trait("Category", "Gpu")]
    public void HostMemoryIsRefusedByACudaOptimizer()
    {
        using var cuda = new AdaBeliefOptimizer(new AdaBeliefOptions(), new OptimizerConfig { Device = DeviceType.Cuda });
        float[] parameters = new float[8];
        ArgumentException error = Assert.Throws<ArgumentException>(() => cuda.ParamGroups[0].AddTensor(parameters));
        Assert.Contains("device memory", error.Message, StringComparison.Ordinal);
        Assert.Empty(cuda.Tensors);
    }
}
