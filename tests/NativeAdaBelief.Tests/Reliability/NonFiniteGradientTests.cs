using NativeAdaBelief.Tests.Support;

namespace NativeAdaBelief.Tests.Reliability;

/// <summary>
/// The NaN/Inf policy from C#: <see cref="AdaBeliefOptimizer.CountNonFiniteGradients"/> counts
/// exactly the NaN and ±Infinity gradient elements of every tensor that has gradients, changes
/// nothing, allocates nothing, and is what lets a training loop skip a step that would poison
/// the state (which <see cref="AdaBeliefOptimizer.Step"/> itself never checks).
/// </summary>
public sealed class NonFiniteGradientTests
{
    private static readonly float[] NonFinite =
    [
        float.NaN, -float.NaN, float.PositiveInfinity, float.NegativeInfinity,
        BitConverter.Int32BitsToSingle(0x7f800001), BitConverter.Int32BitsToSingle(unchecked((int)0xffc00001)),
    ];

    private static readonly float[] TrickyFinite =
        [0f, -0f, float.MaxValue, float.MinValue, float.Epsilon, -float.Epsilon, 1e-38f, 3.4e38f];

    [Fact]
    public void Counts_exactly_the_non_finite_elements_of_every_registered_gradient()
    {
        var random = new Random(8);
        using var rig = new TrainingRig(sizes: [17, 70001, 5, 1000], config: new OptimizerConfig { ThreadCount = 2 });
        long expected = 0;
        foreach (TensorStorage storage in rig.Storages)
        {
            Span<float> g = storage.Gradients;
            TestData.Gradients(random, g);
            for (int i = 0; i < g.Length; i++)
            {
                int draw = random.Next(100);
                if (draw == 0 || i == 0 || i == g.Length - 1)
                {
                    g[i] = NonFinite[random.Next(NonFinite.Length)];
                    expected++;
                }
                else if (draw == 1)
                {
                    g[i] = TrickyFinite[random.Next(TrickyFinite.Length)];
                }
            }
        }
        OptimizerSnapshot before = OptimizerSnapshot.Capture(rig.Optimizer);
        float[][] gradients = [.. rig.Storages.Select(s => s.Gradients.ToArray())];

        foreach (int threads in new[] { 1, 2, 3, 0 })
        {
            rig.Optimizer.ThreadCount = threads;
            Assert.Equal(expected, rig.Optimizer.CountNonFiniteGradients());
        }

        before.AssertIdentical(OptimizerSnapshot.Capture(rig.Optimizer));
        for (int i = 0; i < gradients.Length; i++)
        {
            OptimizerSnapshot.AssertBits(gradients[i], rig.Storages[i].Gradients, $"gradients of tensor {i}");
        }

        // A tensor without gradients is not counted.
        long inTensor1 = rig.Storages[1].Gradients.ToArray().LongCount(v => !float.IsFinite(v));
        rig.Optimizer.Tensors[1].ClearGradients();
        Assert.Equal(expected - inTensor1, rig.Optimizer.CountNonFiniteGradients());
        rig.Optimizer.ZeroGrad();
        Assert.Equal(0, rig.Optimizer.CountNonFiniteGradients());
    }

    [Fact]
    public void Checking_before_each_step_keeps_the_state_finite_and_skips_only_the_bad_steps()
    {
        using var checkedRig = new TrainingRig(seed: 4);
        using var uncheckedRig = new TrainingRig(seed: 4);
        var random = new Random(3);
        int skipped = 0;
        for (int step = 0; step < 20; step++)
        {
            bool poison = step % 7 == 3;
            for (int t = 0; t < checkedRig.Storages.Count; t++)
            {
                float[] g = TestData.Gradients(random, checkedRig.Storages[t].Length);
                if (poison && t == 1)
                {
                    g[random.Next(g.Length)] = step % 2 == 0 ? float.NaN : float.PositiveInfinity;
                }
                g.CopyTo(checkedRig.Storages[t].Gradients);
                g.CopyTo(uncheckedRig.Storages[t].Gradients);
            }

            if (checkedRig.Optimizer.CountNonFiniteGradients() == 0)
            {
                checkedRig.Optimizer.Step();
            }
            else
            {
                skipped++;
            }
            checkedRig.Optimizer.ZeroGrad();
            uncheckedRig.Optimizer.Step();
        }

        Assert.Equal(3, skipped);
        Assert.Equal(17, checkedRig.Optimizer.Tensors[0].Step);
        OptimizerSnapshot state = OptimizerSnapshot.Capture(checkedRig.Optimizer);
        Assert.All(state.M.Concat(state.S).SelectMany(a => a), v => Assert.True(float.IsFinite(v)));
        Assert.All(checkedRig.Parameters().SelectMany(a => a), v => Assert.True(float.IsFinite(v)));

        // Without the check the poisoned elements stay non-finite for good (and only those).
        float[] m = uncheckedRig.Optimizer.Tensors[1].ReadState(StateKind.FirstMoment);
        int poisoned = m.Count(v => !float.IsFinite(v));
        Assert.InRange(poisoned, 1, 3);
    }

    [Fact]
    public void Counting_allocates_nothing_and_refuses_after_dispose()
    {
        var rig = new TrainingRig(sizes: [1000, 17]);
        AdaBeliefOptimizer optimizer = rig.Optimizer;
        for (int i = 0; i < 5; i++)
        {
            optimizer.CountNonFiniteGradients(); // warm up
        }
        long before = GC.GetAllocatedBytesForCurrentThread();
        long total = 0;
        for (int i = 0; i < 1000; i++)
        {
            total += optimizer.CountNonFiniteGradients();
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(0, total);
        rig.Dispose();
        Assert.Throws<ObjectDisposedException>(() => optimizer.CountNonFiniteGradients());
    }
}
