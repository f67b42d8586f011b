using System.Runtime.InteropServices;

namespace NativeAdaBelief.Tests;

/// <summary>
/// The gradient pass in chunks from C#: a model split into two optimizers (each holding a part of
/// a tensor, registered by raw address, cut at a chunk boundary) that step with both parts' chunk
/// totals ends bit-identical to one optimizer holding the whole model, with clipping and a skip;
/// and the argument checks.
/// </summary>
public sealed unsafe class GradientChunkTests
{
    private const int Length = 100_000;
    private const int Cut = 2 * AdaBeliefOptimizer.GradientChunkElements;

    [Fact]
    public void Parts_stepping_with_everyones_chunk_totals_match_the_whole_model()
    {
        var random = new Random(20261204);
        using var wholeParameters = new NativeBuffer(Length);
        using var wholeGradients = new NativeBuffer(Length);
        using var splitParameters = new NativeBuffer(Length);
        using var splitGradients = new NativeBuffer(Length);
        for (int i = 0; i < Length; i++)
        {
            wholeParameters.Span[i] = splitParameters.Span[i] = (float)random.NextDouble() - 0.5f;
        }

        using var whole = new AdaBeliefOptimizer(new AdaBeliefOptions { WeightDecay = 0.01 }, new OptimizerConfig { ThreadCount = 2 });
        whole.ParamGroups[0].AddTensor(wholeParameters, wholeGradients);
        using var first = new AdaBeliefOptimizer(new AdaBeliefOptions { WeightDecay = 0.01 }, new OptimizerConfig { ThreadCount = 1 });
        using var second = new AdaBeliefOptimizer(new AdaBeliefOptions { WeightDecay = 0.01 }, new OptimizerConfig { ThreadCount = 2 });
        first.ParamGroups[0].AddTensor(splitParameters.Address, TensorElementType.Float32, splitGradients.Address,
            TensorElementType.Float32, Cut);
        second.ParamGroups[0].AddTensor(splitParameters.Address + Cut * sizeof(float), TensorElementType.Float32,
            splitGradients.Address + Cut * sizeof(float), TensorElementType.Float32, Length - Cut);
        Assert.Equal(4, whole.GradientChunkCount);
        Assert.Equal(2, first.GradientChunkCount);
        Assert.Equal(2, second.GradientChunkCount);

        var sums = new double[4];
        var counts = new long[4];
        for (int step = 1; step <= 4; step++)
        {
            var options = new StepOptions { SkipNonFinite = true, MaxGradientNorm = step % 2 == 0 ? 1e-2 : 1e6 };
            whole.StepOptions = first.StepOptions = second.StepOptions = options;
            for (int i = 0; i < Length; i++)
            {
                wholeGradients.Span[i] = splitGradients.Span[i] = (float)(random.NextDouble() - 0.5) * 0.1f;
            }
            if (step == 3)
            {
                wholeGradients.Span[Length - 1] = splitGradients.Span[Length - 1] = float.NaN;
            }
            first.ComputeGradientChunkStatistics(sums.AsSpan(0, 2), counts.AsSpan(0, 2));
            second.ComputeGradientChunkStatistics(sums.AsSpan(2, 2), counts.AsSpan(2, 2));

            whole.Step();
            first.StepWithGradientStatistics(sums, counts);
            second.StepWithGradientStatistics(sums, counts);

            StepReport expected = whole.GetLastStepReport();
            Assert.Equal(step == 3, expected.Skipped);
            foreach (AdaBeliefOptimizer part in new[] { first, second })
            {
                StepReport report = part.GetLastStepReport();
                Assert.Equal(expected.Skipped, report.Skipped);
                Assert.Equal(expected.NonFiniteCount, report.NonFiniteCount);
                Assert.Equal(BitConverter.DoubleToInt64Bits(expected.GradientNorm), BitConverter.DoubleToInt64Bits(report.GradientNorm));
                Assert.Equal(BitConverter.DoubleToInt64Bits(expected.GradientScale), BitConverter.DoubleToInt64Bits(report.GradientScale));
            }
            Assert.True(MemoryMarshal.AsBytes(wholeParameters.Span).SequenceEqual(MemoryMarshal.AsBytes(splitParameters.Span)),
                $"the parameters differ after step {step}");
        }
        Assert.Equal(3, first.Tensors[0].Step);
        Assert.Equal(3, second.Tensors[0].Step);
    }

    [Fact]
    public void Spans_of_the_wrong_length_are_refused_and_nothing_changes()
    {
        using var parameters = new NativeBuffer(Length);
        using var gradients = new NativeBuffer(Length);
        using var optimizer = new AdaBeliefOptimizer(new AdaBeliefOptions());
        optimizer.ParamGroups[0].AddTensor(parameters, gradients);
        var sums = new double[5];
        var counts = new long[5];
        Array.Fill(sums, -1.0);

        var wrongCount = Assert.Throws<ArgumentException>(() => optimizer.ComputeGradientChunkStatistics(sums, counts));
        Assert.Equal("sumsOfSquares", wrongCount.ParamName);
        Assert.Contains("= 5 does not match this optimizer's 4 gradient chunks", wrongCount.Message, StringComparison.Ordinal);
        Assert.All(sums, value => Assert.Equal(-1.0, value));

        var mismatched = Assert.Throws<ArgumentException>(() => optimizer.ComputeGradientChunkStatistics(sums.AsSpan(0, 4), counts));
        Assert.Equal("nonFiniteCounts", mismatched.ParamName);
        Assert.Throws<ArgumentException>(() => optimizer.StepWithGradientStatistics(sums, counts.AsSpan(0, 3)));
        Assert.Equal(0, optimizer.Tensors[0].Step);

        optimizer.Dispose();
        Assert.Throws<ObjectDisposedException>(() => optimizer.GradientChunkCount);
    }
}
