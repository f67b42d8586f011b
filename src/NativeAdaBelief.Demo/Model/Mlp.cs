using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace NativeAdaBelief.Demo.Model;

/// <summary>One fully connected layer: y = x·W + b, W stored [in × out] row-major.</summary>
internal sealed class DenseLayer : IDisposable
{
    public DenseLayer(string name, int inputs, int outputs)
    {
        Name = name;
        Inputs = inputs;
        Outputs = outputs;
        Weight = new NativeBuffer((long)inputs * outputs);
        WeightGrad = new NativeBuffer((long)inputs * outputs);
        Bias = new NativeBuffer(outputs);
        BiasGrad = new NativeBuffer(outputs);
    }

    public string Name { get; }
    public int Inputs { get; }
    public int Outputs { get; }

    /// <summary>The weights, [in × out], in native memory the optimizer steps.</summary>
    public NativeBuffer Weight { get; }

    /// <summary>∂loss/∂W, written by <see cref="Mlp.ComputeGradients"/>.</summary>
    public NativeBuffer WeightGrad { get; }

    public NativeBuffer Bias { get; }
    public NativeBuffer BiasGrad { get; }

    public void Dispose()
    {
        Weight.Dispose();
        WeightGrad.Dispose();
        Bias.Dispose();
        BiasGrad.Dispose();
    }
}

/// <summary>One parameter tensor of the model with its gradient buffer.</summary>
internal readonly record struct ModelTensor(string Name, NativeBuffer Parameters, NativeBuffer Gradients);

/// <summary>
/// A multi-layer perceptron (ReLU between layers, softmax cross-entropy on top), forward and
/// backward written in C# with SIMD matrix products. Every parameter and gradient lives in a
/// <see cref="NativeBuffer"/>, so the native optimizer steps them in place (in a float16 or
/// bfloat16 run they are the float32 scratch that a <see cref="SixteenBitParameterStore{T}"/>
/// widens the 16-bit weights into and narrows the gradients from).
/// </summary>
internal sealed unsafe class Mlp : IDisposable
{
    /// <summary>The demo's model: 784-256-128-10.</summary>
    public static readonly int[] FashionSizes = [784, 256, 128, 10];

    private readonly int[] _sizes;
    private readonly DenseLayer[] _layers;
    private readonly float[][] _activations; // [0] is the input batch; [L] the logits, then probabilities
    private readonly float[] _delta;         // ∂loss/∂z of the layer being processed
    private readonly float[] _deltaNext;     // ∂loss/∂a of the layer below
    private readonly float[] _transposed;
    private readonly float[] _packed;

    /// <param name="sizes">Layer widths, input first (e.g. 784, 256, 128, 10).</param>
    /// <param name="maxBatch">The largest batch that will be passed.</param>
    /// <param name="threads">Threads for the matrix products (1 = on the caller's thread only).</param>
    public Mlp(IReadOnlyList<int> sizes, int maxBatch, int threads)
    {
        if (sizes.Count < 2 || sizes.Any(size => size < 1))
        {
            throw new ArgumentException("An MLP needs at least an input and an output width, all positive.", nameof(sizes));
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatch, 1);
        _sizes = [.. sizes];
        MaxBatch = maxBatch;
        Threads = Math.Max(1, threads);
        _layers = new DenseLayer[_sizes.Length - 1];
        for (int l = 0; l < _layers.Length; l++)
        {
            _layers[l] = new DenseLayer($"fc{l + 1}", _sizes[l], _sizes[l + 1]);
        }
        _activations = new float[_sizes.Length][];
        for (int l = 0; l < _sizes.Length; l++)
        {
            _activations[l] = GC.AllocateUninitializedArray<float>(maxBatch * _sizes[l], pinned: true);
        }
        int widest = _sizes.Max();
        _delta = GC.AllocateUninitializedArray<float>(maxBatch * widest, pinned: true);
        _deltaNext = GC.AllocateUninitializedArray<float>(maxBatch * widest, pinned: true);
        _transposed = GC.AllocateUninitializedArray<float>(maxBatch * widest, pinned: true);
        int packed = 0;
        foreach (DenseLayer layer in _layers)
        {
            packed = Math.Max(packed, Gemm.PackedLength(layer.Inputs, layer.Outputs));   // W
            packed = Math.Max(packed, Gemm.PackedLength(maxBatch, layer.Outputs));       // ∂z
            packed = Math.Max(packed, Gemm.PackedLength(layer.Outputs, layer.Inputs));   // Wᵀ
        }
        _packed = GC.AllocateUninitializedArray<float>(packed, pinned: true);
    }

    public IReadOnlyList<int> Sizes => _sizes;
    public IReadOnlyList<DenseLayer> Layers => _layers;
    public int MaxBatch { get; }
    public int InputSize => _sizes[0];
    public int OutputSize => _sizes[^1];

    /// <summary>Threads for the matrix products; results are bit-identical for every value.</summary>
    public int Threads { get; set; }

    /// <summary>Every parameter tensor in a fixed order (fc1.weight, fc1.bias, fc2.weight, ...).</summary>
    public IReadOnlyList<ModelTensor> Tensors => _layers
        .SelectMany(layer => new[]
        {
            new ModelTensor(layer.Name + ".weight", layer.Weight, layer.WeightGrad),
            new ModelTensor(layer.Name + ".bias", layer.Bias, layer.BiasGrad),
        })
        .ToArray();

    public long ParameterCount => _layers.Sum(layer => (long)layer.Inputs * layer.Outputs + layer.Outputs);

    /// <summary>The input batch buffer, <paramref name="batch"/> rows of <see cref="InputSize"/>: fill it before a pass.</summary>
    public Span<float> Input(int batch) => _activations[0].AsSpan(0, batch * InputSize);

    /// <summary>He-normal weights (std √(2/in); √(1/in) for the output layer), zero biases, from <paramref name="seed"/>.</summary>
    public void Initialize(ulong seed)
    {
        for (int l = 0; l < _layers.Length; l++)
        {
            DenseLayer layer = _layers[l];
            var random = new DeterministicRandom(seed, 1000 + (ulong)l);
            double gain = l == _layers.Length - 1 ? 1.0 : 2.0;
            double std = Math.Sqrt(gain / layer.Inputs);
            Span<float> weights = layer.Weight.Span;
            for (int i = 0; i < weights.Length; i++)
            {
                weights[i] = (float)(random.NextGaussian() * std);
            }
            layer.Bias.Span.Clear();
        }
    }

    /// <summary>
    /// Forward and backward over the batch in <see cref="Input"/>: writes every gradient buffer
    /// (overwrites; no zeroing needed) and returns the mean cross-entropy loss.
    /// </summary>
    /// <param name="batch">The number of samples in <see cref="Input"/>.</param>
    /// <param name="labels">Their classes.</param>
    /// <param name="lossScale">
    /// The gradients come out multiplied by it (the gradient of <paramref name="lossScale"/> × the
    /// mean loss): float16 loss scaling. 1 computes exactly what the demo always computed. The
    /// returned loss is not scaled.
    /// </param>
    public double ComputeGradients(int batch, ReadOnlySpan<byte> labels, float lossScale = 1f)
    {
        CheckBatch(batch, labels);
        Forward(batch);
        double loss = SoftmaxCrossEntropy(batch, labels, _delta, lossScale);
        Backward(batch);
        return loss;
    }

    /// <summary>Forward only: the summed loss and the number of correct predictions over the batch.</summary>
    public (double LossSum, int Correct) Evaluate(int batch, ReadOnlySpan<byte> labels)
    {
        CheckBatch(batch, labels);
        Forward(batch);
        float[] logits = _activations[^1];
        int classes = OutputSize;
        double lossSum = 0;
        int correct = 0;
        for (int row = 0; row < batch; row++)
        {
            ReadOnlySpan<float> z = logits.AsSpan(row * classes, classes);
            int best = TensorPrimitives.IndexOfMax(z);
            if (best == labels[row])
            {
                correct++;
            }
            float max = z[best];
            double sum = 0;
            for (int j = 0; j < classes; j++)
            {
                sum += Math.Exp(z[j] - max);
            }
            lossSum += Math.Log(sum) - (z[labels[row]] - max);
        }
        return (lossSum, correct);
    }

    private void CheckBatch(int batch, ReadOnlySpan<byte> labels)
    {
        if (batch < 1 || batch > MaxBatch)
        {
            throw new ArgumentOutOfRangeException(nameof(batch), batch, $"The batch must be 1..{MaxBatch}.");
        }
        if (labels.Length < batch)
        {
            throw new ArgumentException($"{labels.Length} labels for a batch of {batch}.", nameof(labels));
        }
    }

    private void Forward(int batch)
    {
        fixed (float* packed = _packed)
        {
            for (int l = 0; l < _layers.Length; l++)
            {
                DenseLayer layer = _layers[l];
                fixed (float* input = _activations[l])
                fixed (float* output = _activations[l + 1])
                {
                    float* weights = (float*)layer.Weight.Address;
                    Gemm.Pack(weights, layer.Inputs, layer.Outputs, strideK: layer.Outputs, strideN: 1, packed);
                    Gemm.Multiply(input, batch, layer.Inputs, packed, layer.Outputs, output, layer.Outputs,
                        (float*)layer.Bias.Address, Threads);
                    if (l < _layers.Length - 1)
                    {
                        Span<float> a = _activations[l + 1].AsSpan(0, batch * layer.Outputs);
                        TensorPrimitives.Max(a, 0f, a); // ReLU
                    }
                }
            }
        }
    }

    /// <summary>Softmax over the logits; writes ∂(lossScale × mean loss)/∂z into <paramref name="delta"/>; returns the mean loss.</summary>
    private double SoftmaxCrossEntropy(int batch, ReadOnlySpan<byte> labels, float[] delta, float lossScale)
    {
        float[] logits = _activations[^1];
        int classes = OutputSize;
        // lossScale 1 gives 1f / batch, the demo's original factor, bit for bit; a power-of-two
        // scale (as loss scales are) multiplies it exactly.
        float scale = lossScale / batch;
        double lossSum = 0;
        for (int row = 0; row < batch; row++)
        {
            ReadOnlySpan<float> z = logits.AsSpan(row * classes, classes);
            Span<float> d = delta.AsSpan(row * classes, classes);
            float max = TensorPrimitives.Max(z);
            float sum = 0;
            for (int j = 0; j < classes; j++)
            {
                float e = MathF.Exp(z[j] - max);
                d[j] = e;
                sum += e;
            }
            int label = labels[row];
            lossSum += Math.Log(sum) - (z[label] - max);
            float inverse = 1f / sum;
            for (int j = 0; j < classes; j++)
            {
                d[j] = d[j] * inverse * scale;
            }
            d[label] -= scale;
        }
        return lossSum / batch;
    }

    private void Backward(int batch)
    {
        float[] delta = _delta, deltaNext = _deltaNext;
        fixed (float* packed = _packed)
        fixed (float* transposed = _transposed)
        {
            for (int l = _layers.Length - 1; l >= 0; l--)
            {
                DenseLayer layer = _layers[l];
                int fanIn = layer.Inputs, fanOut = layer.Outputs;
                fixed (float* dz = delta)
                fixed (float* da = deltaNext)
                fixed (float* input = _activations[l])
                {
                    // ∂W = Aᵀ · ∂Z   ([in × B] · [B × out])
                    Gemm.Transpose(input, batch, fanIn, transposed);
                    Gemm.Pack(dz, batch, fanOut, strideK: fanOut, strideN: 1, packed);
                    Gemm.Multiply(transposed, fanIn, batch, packed, fanOut, (float*)layer.WeightGrad.Address, fanOut, null, Threads);

                    // ∂b = Σ over the batch of ∂Z (rows in order: deterministic).
                    Span<float> biasGrad = layer.BiasGrad.Span;
                    delta.AsSpan(0, fanOut).CopyTo(biasGrad);
                    for (int row = 1; row < batch; row++)
                    {
                        TensorPrimitives.Add(biasGrad, delta.AsSpan(row * fanOut, fanOut), biasGrad);
                    }

                    if (l == 0)
                    {
                        break; // no gradient for the input
                    }

                    // ∂A = ∂Z · Wᵀ   ([B × out] · [out × in]); then through the ReLU.
                    Gemm.Pack((float*)layer.Weight.Address, fanOut, fanIn, strideK: 1, strideN: fanOut, packed);
                    Gemm.Multiply(dz, batch, fanOut, packed, fanIn, da, fanIn, null, Threads);
                    ReluBackward(deltaNext.AsSpan(0, batch * fanIn), _activations[l].AsSpan(0, batch * fanIn));
                }
                (delta, deltaNext) = (deltaNext, delta);
            }
        }
    }

    /// <summary>g = g where a &gt; 0, else 0 (a is the ReLU's output).</summary>
    private static void ReluBackward(Span<float> gradient, ReadOnlySpan<float> activation)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            int w = Vector<float>.Count;
            for (; i + w <= gradient.Length; i += w)
            {
                var a = new Vector<float>(activation.Slice(i, w));
                var g = new Vector<float>(gradient.Slice(i, w));
                Vector.ConditionalSelect(Vector.GreaterThan(a, Vector<float>.Zero), g, Vector<float>.Zero).CopyTo(gradient.Slice(i, w));
            }
        }
        for (; i < gradient.Length; i++)
        {
            if (!(activation[i] > 0))
            {
                gradient[i] = 0;
            }
        }
    }

    /// <summary>All parameters, concatenated in <see cref="Tensors"/> order.</summary>
    public float[] CopyParameters()
    {
        var all = new float[ParameterCount];
        int offset = 0;
        foreach (ModelTensor tensor in Tensors)
        {
            tensor.Parameters.Span.CopyTo(all.AsSpan(offset));
            offset += (int)tensor.Parameters.Length;
        }
        return all;
    }

    /// <summary>SHA-256 of the parameters' bytes: equal hashes mean bit-identical weights.</summary>
    public string ParameterHash() => Convert.ToHexStringLower(SHA256.HashData(MemoryMarshal.AsBytes(CopyParameters().AsSpan())));

    public void Dispose()
    {
        foreach (DenseLayer layer in _layers)
        {
            layer.Dispose();
        }
    }
}
