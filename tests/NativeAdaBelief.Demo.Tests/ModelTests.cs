using NativeAdaBelief.Demo.Model;

namespace NativeAdaBelief.Demo.Tests;

public sealed unsafe class GemmTests
{
    private static float[] RandomMatrix(int rows, int columns, ulong seed)
    {
        var random = new DeterministicRandom(seed);
        var values = new float[rows * columns];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = (float)(random.NextDouble() * 2 - 1);
        }
        return values;
    }

    /// <summary>C = A·B (+ bias) through the packed SIMD kernel, B given row-major or as the transpose of a stored matrix.</summary>
    private static float[] Multiply(float[] a, float[] b, float[]? bias, int m, int k, int n, bool bStoredTransposed, int threads)
    {
        var packed = new float[Gemm.PackedLength(k, n)];
        var c = new float[m * n];
        fixed (float* pa = a)
        fixed (float* pb = b)
        fixed (float* pp = packed)
        fixed (float* pc = c)
        fixed (float* pbias = bias)
        {
            if (bStoredTransposed)
            {
                Gemm.Pack(pb, k, n, strideK: 1, strideN: k, pp); // b holds Bᵀ, [n × k]
            }
            else
            {
                Gemm.Pack(pb, k, n, strideK: n, strideN: 1, pp);
            }
            Gemm.Multiply(pa, m, k, pp, n, pc, n, bias is null ? null : pbias, threads);
        }
        return c;
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(4, 16, 16)]
    [InlineData(7, 13, 10)]
    [InlineData(33, 70, 37)]
    [InlineData(128, 784, 256)]
    public void Multiply_matches_a_float64_reference(int m, int k, int n)
    {
        float[] a = RandomMatrix(m, k, 1);
        float[] b = RandomMatrix(k, n, 2);
        float[] bias = RandomMatrix(1, n, 3);
        float[] c = Multiply(a, b, bias, m, k, n, bStoredTransposed: false, threads: 2);

        var bt = new float[n * k];
        for (int kk = 0; kk < k; kk++)
        {
            for (int j = 0; j < n; j++)
            {
                bt[j * k + kk] = b[kk * n + j];
            }
        }
        float[] fromTransposed = Multiply(a, bt, bias, m, k, n, bStoredTransposed: true, threads: 2);
        Assert.Equal(c, fromTransposed); // same packed panel, same arithmetic

        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double expected = bias[j];
                for (int kk = 0; kk < k; kk++)
                {
                    expected += (double)a[i * k + kk] * b[kk * n + j];
                }
                Assert.True(Math.Abs(c[i * n + j] - expected) <= 1e-4 * Math.Sqrt(k) + 1e-5,
                    $"C[{i},{j}] = {c[i * n + j]}, expected {expected}");
            }
        }
    }

    [Fact]
    public void Multiply_is_bit_identical_for_every_thread_count()
    {
        float[] a = RandomMatrix(130, 300, 4);
        float[] b = RandomMatrix(300, 70, 5);
        float[] one = Multiply(a, b, null, 130, 300, 70, false, threads: 1);
        Assert.Equal(one, Multiply(a, b, null, 130, 300, 70, false, threads: 2));
        Assert.Equal(one, Multiply(a, b, null, 130, 300, 70, false, threads: 5));
    }

    [Fact]
    public void Transpose_transposes()
    {
        float[] src = RandomMatrix(37, 45, 6);
        var dst = new float[45 * 37];
        fixed (float* s = src)
        fixed (float* d = dst)
        {
            Gemm.Transpose(s, 37, 45, d);
        }
        for (int r = 0; r < 37; r++)
        {
            for (int c = 0; c < 45; c++)
            {
                Assert.Equal(src[r * 45 + c], dst[c * 37 + r]);
            }
        }
    }
}

public sealed class MlpTests
{
    private static readonly int[] Sizes = [6, 5, 4, 3];

    private static (float[] Inputs, byte[] Labels) Batch(int batch, ulong seed)
    {
        var random = new DeterministicRandom(seed);
        var inputs = new float[batch * Sizes[0]];
        for (int i = 0; i < inputs.Length; i++)
        {
            inputs[i] = (float)random.NextGaussian();
        }
        var labels = new byte[batch];
        for (int i = 0; i < batch; i++)
        {
            labels[i] = (byte)random.NextInt(Sizes[^1]);
        }
        return (inputs, labels);
    }

    private static double Loss(Mlp model, float[] inputs, byte[] labels)
    {
        int batch = labels.Length;
        inputs.CopyTo(model.Input(batch));
        return model.Evaluate(batch, labels).LossSum / batch;
    }

    [Fact]
    public void Gradients_match_finite_differences()
    {
        using var model = new Mlp(Sizes, maxBatch: 5, threads: 1);
        model.Initialize(seed: 3);
        // Non-zero biases so that no ReLU input sits at exactly 0.
        foreach (DenseLayer layer in model.Layers)
        {
            Span<float> bias = layer.Bias.Span;
            for (int i = 0; i < bias.Length; i++)
            {
                bias[i] = 0.05f * (i + 1);
            }
        }
        (float[] inputs, byte[] labels) = Batch(5, 9);
        inputs.CopyTo(model.Input(5));
        double loss = model.ComputeGradients(5, labels);
        Assert.Equal(Loss(model, inputs, labels), loss, 5);

        const float H = 1e-2f;
        foreach (ModelTensor tensor in model.Tensors)
        {
            float[] analytic = tensor.Gradients.Span.ToArray();
            for (int i = 0; i < tensor.Parameters.Length; i++)
            {
                Span<float> p = tensor.Parameters.Span;
                float original = p[i];
                p[i] = original + H;
                double plus = Loss(model, inputs, labels);
                p = tensor.Parameters.Span;
                p[i] = original - H;
                double minus = Loss(model, inputs, labels);
                tensor.Parameters.Span[i] = original;
                double numeric = (plus - minus) / (2 * H);
                Assert.True(Math.Abs(numeric - analytic[i]) <= 2e-3 + 2e-2 * Math.Abs(numeric),
                    $"{tensor.Name}[{i}]: backward {analytic[i]}, finite difference {numeric}");
            }
        }
    }

    [Fact]
    public void Gradients_are_bit_identical_for_every_thread_count()
    {
        int[] sizes = [784, 64, 32, 10];
        var random = new DeterministicRandom(1);
        var inputs = new float[50 * 784];
        for (int i = 0; i < inputs.Length; i++)
        {
            inputs[i] = (float)random.NextGaussian();
        }
        var labels = Enumerable.Range(0, 50).Select(i => (byte)(i % 10)).ToArray();
        float[][] Gradients(int threads)
        {
            using var model = new Mlp(sizes, 50, threads);
            model.Initialize(7);
            inputs.CopyTo(model.Input(50));
            model.ComputeGradients(50, labels);
            return model.Tensors.Select(t => t.Gradients.Span.ToArray()).ToArray();
        }
        float[][] one = Gradients(1);
        float[][] two = Gradients(2);
        float[][] four = Gradients(4);
        for (int i = 0; i < one.Length; i++)
        {
            Assert.Equal(one[i], two[i]);
            Assert.Equal(one[i], four[i]);
        }
    }

    [Fact]
    public void Initialization_is_a_function_of_the_seed()
    {
        using var a = new Mlp(Sizes, 1, 1);
        using var b = new Mlp(Sizes, 1, 1);
        a.Initialize(5);
        b.Initialize(5);
        Assert.Equal(a.ParameterHash(), b.ParameterHash());
        b.Initialize(6);
        Assert.NotEqual(a.ParameterHash(), b.ParameterHash());
    }

    [Fact]
    public void Parameters_live_in_native_buffers()
    {
        using var model = new Mlp(Mlp.FashionSizes, 4, 1);
        Assert.Equal(235_146, model.ParameterCount);
        Assert.Equal(["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"], model.Tensors.Select(t => t.Name));
        Assert.Equal(model.ParameterCount, model.Tensors.Sum(t => t.Parameters.Length));
    }

    [Fact]
    public void Permutation_is_a_permutation_and_depends_on_the_stream()
    {
        var order = new int[1000];
        new DeterministicRandom(42, 1).Permutation(order);
        Assert.Equal(Enumerable.Range(0, 1000), order.Order());
        var other = new int[1000];
        new DeterministicRandom(42, 2).Permutation(other);
        Assert.NotEqual(order, other);
        var again = new int[1000];
        new DeterministicRandom(42, 1).Permutation(again);
        Assert.Equal(order, again);
    }
}
