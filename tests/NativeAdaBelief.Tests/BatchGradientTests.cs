namespace NativeAdaBelief.Tests;

/// <summary><see cref="AdaBeliefOptimizer.SetGradients"/>: every tensor's gradient address in one call.</summary>
public sealed class BatchGradientTests
{
    [Fact]
    public unsafe void One_call_per_step_steps_as_one_call_per_tensor_does_and_zero_skips()
    {
        using var batched = new AdaBeliefOptimizer(new AdaBeliefOptions(), new OptimizerConfig { ThreadCount = 1 });
        using var single = new AdaBeliefOptimizer(new AdaBeliefOptions(), new OptimizerConfig { ThreadCount = 1 });
        int[] sizes = [5, 300, 17];
        var parameters = new[] { sizes.Select(n => new NativeBuffer(n)).ToArray(), sizes.Select(n => new NativeBuffer(n)).ToArray() };
        for (int t = 0; t < sizes.Length; t++)
        {
            for (int i = 0; i < sizes[t]; i++)
            {
                parameters[0][t].Span[i] = parameters[1][t].Span[i] = MathF.Sin(i + t);
            }
            batched.ParamGroups[0].AddTensor(parameters[0][t]);
            single.ParamGroups[0].AddTensor(parameters[1][t]);
        }
        var random = new Random(7);
        for (int step = 0; step < 4; step++)
        {
            // New gradient memory every step; tensor (step % 3) has none.
            using var gradients = new DisposableList(sizes.Select(n => new NativeBuffer(n)));
            var addresses = new nint[sizes.Length];
            for (int t = 0; t < sizes.Length; t++)
            {
                foreach (ref float g in gradients[t].Span)
                {
                    g = (float)(random.NextDouble() - 0.5);
                }
                addresses[t] = t == step % 3 ? 0 : gradients[t].Address;
                single.Tensors[t].SetGradients(addresses[t], TensorElementType.Float32);
            }
            batched.SetGradients(addresses);
            for (int t = 0; t < sizes.Length; t++)
            {
                Assert.Equal(addresses[t] != 0, batched.Tensors[t].HasGradients);
            }
            batched.Step();
            single.Step();
            batched.SetGradients(new nint[sizes.Length]); // let go of the memory about to be freed
            single.SetGradients(new nint[sizes.Length]);
        }
        for (int t = 0; t < sizes.Length; t++)
        {
            Assert.Equal(parameters[1][t].Span.ToArray(), parameters[0][t].Span.ToArray());
            Assert.Equal(single.Tensors[t].Step, batched.Tensors[t].Step);
        }
        foreach (NativeBuffer buffer in parameters.SelectMany(p => p))
        {
            buffer.Dispose();
        }
    }

    [Fact]
    public void A_wrong_count_or_an_overlapping_address_is_refused_and_changes_nothing()
    {
        using var optimizer = new AdaBeliefOptimizer(new AdaBeliefOptions());
        using var parameters = new NativeBuffer(8);
        using var gradients = new NativeBuffer(8);
        using var other = new NativeBuffer(8);
        optimizer.ParamGroups[0].AddTensor(parameters, gradients);
        optimizer.ParamGroups[0].AddTensor(other);

        var count = Assert.Throws<ArgumentException>(() => optimizer.SetGradients([gradients.Address]));
        Assert.Equal("gradients", count.ParamName);
        Assert.Contains("count = 1", count.Message, StringComparison.Ordinal);

        // Tensor 0 would lose its gradients, but tensor 1's address is its own parameters.
        var overlap = Assert.Throws<ArgumentException>(() => optimizer.SetGradients([0, other.Address]));
        Assert.Contains("gradients[1]", overlap.Message, StringComparison.Ordinal);
        Assert.True(optimizer.Tensors[0].HasGradients);
        Assert.False(optimizer.Tensors[1].HasGradients);
    }

    /// <summary>Buffers disposed together.</summary>
    private sealed class DisposableList(IEnumerable<NativeBuffer> buffers) : IDisposable
    {
        private readonly List<NativeBuffer> _buffers = buffers.ToList();

        public NativeBuffer this[int index] => _buffers[index];

        public void Dispose() => _buffers.ForEach(b => b.Dispose());
    }
}
