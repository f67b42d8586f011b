namespace NativeAdaBelief.Distributed.Mpi;

/// <summary>float32 everywhere, or bfloat16 parameters with float32 master copies (three of the five tensors).</summary>
internal enum Precision
{
    Float32,
    BFloat16,
}

/// <summary>
/// The model the scenarios train: five tensors in two groups, sized so that shards cut inside
/// tensors and span tensor boundaries for 2 and 3 ranks; group 1 is Adam with AMSGrad (s_max),
/// group 0 AdaBelief with rectification (its first steps degenerate to SGD) and weight decay.
/// Parameters and every rank's gradients are functions of (seed, rank, step, tensor, element), so
/// every process can compute every rank's gradients, and so the single-process reference.
/// </summary>
internal static class TestModel
{
    internal static readonly long[] Lengths = [100_000, 300, 70_000, 40_000, 17];
    private static readonly int[] Groups = [0, 1, 0, 1, 0];

    /// <summary>Where a NaN is put (rank N−1's gradients, tensor 2) on the step that must be skipped.</summary>
    internal const long NaNElement = 12_345;

    internal static AdaBeliefOptions[] GroupOptions() =>
        [new AdaBeliefOptions { LearningRate = 1e-3, WeightDecay = 0.01 }, AdaBeliefOptions.ForAdam(2e-3) with { AmsGrad = true }];

    /// <summary>The tensors; with bfloat16, tensors 0, 2 and 3 are bfloat16 with master copies.</summary>
    internal static TensorSpec[] Specs(Precision precision) =>
    [
        .. Lengths.Select((length, t) => new TensorSpec(length)
        {
            Name = $"t{t}",
            Group = Groups[t],
            ParameterType = precision == Precision.BFloat16 && t is 0 or 2 or 3 ? TensorElementType.BFloat16 : TensorElementType.Float32,
            KeepMasterCopy = precision == Precision.BFloat16 && t is 0 or 2 or 3,
        }),
    ];

    /// <summary>The initial value of element <paramref name="i"/> of tensor <paramref name="tensor"/>.</summary>
    internal static float InitialValue(ulong seed, int tensor, long i) => (float)(Uniform(Mix(seed, 7, (ulong)tensor, (ulong)i)) * 0.5);

    /// <summary>Writes the initial parameters into <paramref name="space"/> (16-bit ones rounded).</summary>
    internal static void Initialize(ParameterSpace space, ulong seed)
    {
        foreach (SpaceTensor tensor in space.Tensors)
        {
            if (tensor.ParameterType == TensorElementType.BFloat16)
            {
                Span<BFloat16> values = tensor.GetParameters<BFloat16>();
                for (int i = 0; i < values.Length; i++)
                {
                    values[i] = (BFloat16)InitialValue(seed, tensor.Index, i);
                }
            }
            else
            {
                Span<float> values = tensor.GetParameters<float>();
                for (int i = 0; i < values.Length; i++)
                {
                    values[i] = InitialValue(seed, tensor.Index, i);
                }
            }
        }
    }

    /// <summary>Rank <paramref name="rank"/>'s gradient of element <paramref name="i"/> of tensor <paramref name="tensor"/> at step <paramref name="step"/>.</summary>
    internal static float Gradient(ulong seed, int rank, int step, int tensor, long i) =>
        (float)(Uniform(Mix(seed, 11 + (ulong)rank, ((ulong)(uint)step << 8) | (uint)tensor, (ulong)i)) * Math.Pow(10, -(tensor % 3)));

    /// <summary>
    /// What rank <paramref name="rank"/> of <paramref name="ranks"/> sends at step <paramref name="step"/>:
    /// its gradient, except a NaN from the last rank on <paramref name="nanStep"/> (tensor 2, one element).
    /// </summary>
    internal static float Sent(ulong seed, int rank, int ranks, int step, int nanStep, int tensor, long i) =>
        step == nanStep && rank == ranks - 1 && tensor == 2 && i == NaNElement ? float.NaN : Gradient(seed, rank, step, tensor, i);

    /// <summary>The ranks' gradients summed in rank order, as the ranks' reduce-scatter adds them.</summary>
    internal static float Sum(ulong seed, int ranks, int step, int nanStep, int tensor, long i)
    {
        float sum = Sent(seed, 0, ranks, step, nanStep, tensor, i);
        for (int r = 1; r < ranks; r++)
        {
            sum += Sent(seed, r, ranks, step, nanStep, tensor, i);
        }
        return sum;
    }

    /// <summary>Writes rank <paramref name="rank"/>'s gradients of step <paramref name="step"/> into the space (a NaN on <paramref name="nanStep"/> for the last rank).</summary>
    internal static void WriteGradients(ParameterSpace space, ulong seed, int rank, int ranks, int step, int nanStep)
    {
        foreach (SpaceTensor tensor in space.Tensors)
        {
            Span<float> gradients = tensor.Gradients;
            for (int i = 0; i < gradients.Length; i++)
            {
                gradients[i] = Sent(seed, rank, ranks, step, nanStep, tensor.Index, i);
            }
        }
    }

    /// <summary>A SHA-256 of every parameter byte of the space.</summary>
    internal static string Hash(ParameterSpace space)
    {
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        foreach (SpaceTensor tensor in space.Tensors)
        {
            hash.AppendData(tensor.ParameterBytes);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>Element <paramref name="i"/> of a tensor's parameters, widened.</summary>
    internal static float Parameter(SpaceTensor tensor, long i) =>
        tensor.ParameterType == TensorElementType.BFloat16 ? (float)tensor.GetParameters<BFloat16>()[(int)i] : tensor.GetParameters<float>()[(int)i];

    private static double Uniform(ulong bits) => (bits >> 11) * (2.0 / (1UL << 53)) - 1.0;

    private static ulong Mix(ulong a, ulong b, ulong c, ulong d)
    {
        ulong x = a * 0x9E3779B97F4A7C15UL ^ b * 0xC2B2AE3D27D4EB4FUL ^ c * 0x165667B19E3779F9UL ^ d * 0xD6E8FEB86659FD93UL;
        x ^= x >> 30;
        x *= 0xBF58476D1CE4E5B9UL;
        x ^= x >> 27;
        x *= 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }
}
