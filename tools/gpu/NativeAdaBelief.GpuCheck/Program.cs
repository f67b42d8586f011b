// Checks the C# path to the CUDA backend on a machine with a GPU: for several option sets, a
// CUDA optimizer (device buffers, one aligned and one misaligned tensor) against a CPU
// optimizer on the same data; and a checkpoint saved from a CUDA optimizer and loaded into a
// fresh one continues exactly like the uninterrupted run. Prints one line per check and a
// closing "N passed, M failed" line; exits 1 on any failure or when no device is visible.
using NativeAdaBelief;

int passed = 0, failed = 0;
void Report(string name, string? error)
{
    if (error is null)
    {
        passed++;
        Console.WriteLine($"PASS {name}");
    }
    else
    {
        failed++;
        Console.WriteLine($"FAIL {name}: {error}");
    }
}

Console.WriteLine($"NativeAdaBelief {NativeAdaBeliefLibrary.Version} from {NativeAdaBeliefLibrary.LoadedFrom}");
int devices = CudaDevice.Count;
Console.WriteLine($"CUDA devices: {devices}");
if (devices == 0)
{
    Console.WriteLine("no CUDA device visible: nothing checked");
    return 1;
}

AdaBeliefOptions[] variants =
[
    new AdaBeliefOptions { LearningRate = 3e-3, WeightDecay = 0.01, Beta2 = 0.9 },
    new AdaBeliefOptions { LearningRate = 3e-3, AmsGrad = true, Rectify = false, OptimizedUpdate = false, WeightDecayMode = WeightDecayMode.L2, WeightDecay = 0.1 },
    AdaBeliefOptions.ForAdam(learningRate: 2e-3),
    AdaBeliefOptions.ForRAdam(learningRate: 2e-3),
    AdaBeliefOptions.ForAdaBeliefPytorch() with { AmsGrad = true, Beta2 = 0.9, WeightDecayMode = WeightDecayMode.Absolute, WeightDecay = 1e-3 },
];
int[] lengths = [1, 1003, 1_000_003];
foreach (AdaBeliefOptions options in variants)
{
    Report($"cuda == cpu: {options}", CompareWithCpu(options, lengths, steps: 12));
}
Report("checkpoint from a CUDA optimizer resumes exactly", CheckpointResumes());
Console.WriteLine($"{passed} passed, {failed} failed");
return failed == 0 ? 0 : 1;

static float[] Values(int seed, int length, float scale)
{
    var random = new Random(seed);
    var values = new float[length];
    for (int i = 0; i < length; i++)
    {
        values[i] = (float)((random.NextDouble() * 2 - 1) * scale);
    }
    return values;
}

// Runs `steps` steps on the CPU and on CUDA; returns null when every parameter agrees to 1e-6.
static unsafe string? CompareWithCpu(AdaBeliefOptions options, int[] lengths, int steps)
{
    using var cpu = new AdaBeliefOptimizer(options);
    using var cuda = new AdaBeliefOptimizer(options, new OptimizerConfig { Device = DeviceType.Cuda });
    var cpuParameters = new List<float[]>();
    var cpuGradients = new List<float[]>();
    var deviceBlocks = new List<CudaBuffer>();
    var deviceParameters = new List<nint>();
    var deviceGradients = new List<nint>();
    try
    {
        for (int t = 0; t < lengths.Length; t++)
        {
            float[] initial = Values(t, lengths[t], 1f);
            cpuParameters.Add((float[])initial.Clone());
            cpuGradients.Add(new float[initial.Length]);
            cpu.ParamGroups[0].AddTensor(cpuParameters[t], cpuGradients[t]);
            // Odd tensors start one float into their allocation: the unaligned (scalar) path.
            int offset = t % 2;
            var block = new CudaBuffer(2 * (initial.Length + 1));
            deviceBlocks.Add(block);
            block.Upload(initial, offset);
            nint p = block.Address + offset * sizeof(float);
            nint g = block.Address + (initial.Length + 1 + offset) * sizeof(float);
            deviceParameters.Add(p);
            deviceGradients.Add(g);
            cuda.ParamGroups[0].AddTensor(p, TensorElementType.Float32, g, TensorElementType.Float32, initial.Length);
        }
        for (int step = 0; step < steps; step++)
        {
            for (int t = 0; t < lengths.Length; t++)
            {
                float[] gradients = Values(1000 * step + t, lengths[t], 0.5f);
                gradients.CopyTo(cpuGradients[t], 0);
                deviceBlocks[t].Upload(gradients, lengths[t] + 1 + t % 2);
            }
            cpu.Step();
            cuda.Step();
        }
        cuda.Synchronize();
        for (int t = 0; t < lengths.Length; t++)
        {
            var onDevice = new float[lengths[t]];
            deviceBlocks[t].Download(onDevice, t % 2);
            for (int i = 0; i < onDevice.Length; i++)
            {
                double expected = cpuParameters[t][i];
                double error = Math.Abs(onDevice[i] - expected) / Math.Max(Math.Abs(expected), 1e-3);
                if (!(error <= 1e-6))
                {
                    return $"tensor {t} element {i}: cpu {expected:R}, cuda {onDevice[i]:R}";
                }
            }
            if (cuda.Tensors[t].Step != steps)
            {
                return $"tensor {t}: step {cuda.Tensors[t].Step}, expected {steps}";
            }
        }
        return null;
    }
    finally
    {
        foreach (CudaBuffer block in deviceBlocks)
        {
            block.Dispose();
        }
    }
}

// 6 steps straight vs 3 steps, checkpoint, a fresh optimizer loading it, 3 more steps.
static string? CheckpointResumes()
{
    const int length = 50_001;
    float[] initial = Values(7, length, 1f);
    float[] Run(bool interrupt)
    {
        using var parameters = CudaBuffer.FromSpan(initial);
        using var gradients = new CudaBuffer(length);
        var options = new AdaBeliefOptions { AmsGrad = true, Beta2 = 0.9 };
        var optimizer = new AdaBeliefOptimizer(options, new OptimizerConfig { Device = DeviceType.Cuda });
        optimizer.ParamGroups[0].AddTensor(parameters, gradients);
        var checkpoint = new MemoryStream();
        for (int step = 0; step < 6; step++)
        {
            if (interrupt && step == 3)
            {
                optimizer.SaveCheckpoint(checkpoint);
                optimizer.Dispose();
                optimizer = new AdaBeliefOptimizer(options, new OptimizerConfig { Device = DeviceType.Cuda });
                optimizer.ParamGroups[0].AddTensor(parameters, gradients);
                checkpoint.Position = 0;
                optimizer.LoadCheckpoint(checkpoint);
            }
            gradients.Upload(Values(500 + step, length, 0.5f));
            optimizer.Step();
        }
        optimizer.Synchronize();
        optimizer.Dispose();
        return parameters.ToArray();
    }
    float[] straight = Run(interrupt: false), resumed = Run(interrupt: true);
    for (int i = 0; i < length; i++)
    {
        if (BitConverter.SingleToInt32Bits(straight[i]) != BitConverter.SingleToInt32Bits(resumed[i]))
        {
            return $"element {i}: straight {straight[i]:R}, resumed {resumed[i]:R}";
        }
    }
    return null;
}
