using System.Runtime.InteropServices;
using NativeAdaBelief.Tests.Support;

namespace NativeAdaBelief.Tests;

public sealed unsafe class RegistrationTests
{
    [Fact]
    public void Mismatched_lengths_are_refused_with_both_lengths_in_the_message()
    {
        using var optimizer = new AdaBeliefOptimizer(new AdaBeliefOptions());
        ParameterGroup group = optimizer.ParamGroups[0];
        var e = Assert.Throws<ArgumentException>(() => group.AddTensor(new float[5], new float[4]));
        Assert.Equal("gradients", e.ParamName);
        Assert.Contains("4", e.Message, StringComparison.Ordinal);
        Assert.Contains("5", e.Message, StringComparison.Ordinal);

        using var p = new NativeBuffer(8);
        using var g = new NativeBuffer(9);
        Assert.Throws<ArgumentException>(() => group.AddTensor(p, g));
        Assert.Throws<ArgumentException>(() => group.AddTensor(Memory<float>.Empty));
        Assert.Empty(optimizer.Tensors);

        OptimizerTensor tensor = group.AddTensor(new float[5], new float[5]);
        Assert.Throws<ArgumentException>(() => tensor.SetGradients(new float[6]));
        Assert.Throws<ArgumentException>(() => tensor.SetGradients(g));
        Assert.Throws<ArgumentException>(() => tensor.SetParameters(new float[4]));
        Assert.Throws<ArgumentException>(() => tensor.ReadState(StateKind.FirstMoment, new float[4]));
        Assert.Throws<ArgumentException>(() => tensor.WriteState(StateKind.SecondMoment, new float[7]));
        Assert.True(tensor.HasGradients);
    }

    [Fact]
    public void Gradients_that_are_or_overlap_the_parameters_are_refused()
    {
        using var optimizer = new AdaBeliefOptimizer(new AdaBeliefOptions());
        ParameterGroup group = optimizer.ParamGroups[0];
        float[] both = new float[20];
        Assert.Throws<ArgumentException>(() => group.AddTensor(both.AsMemory(0, 10), both.AsMemory(5, 10)));
        Assert.Throws<ArgumentException>(() => group.AddTensor(both.AsMemory(0, 10), both.AsMemory(0, 10)));
        using var buffer = new NativeBuffer(4);
        Assert.Throws<ArgumentException>(() => group.AddTensor(buffer, buffer));
        Assert.Throws<ArgumentNullException>(() => group.AddTensor(0, TensorElementType.Float32, 0, TensorElementType.Float32, 4));
        float* raw = (float*)NativeMemory.Alloc(16 * sizeof(float));
        try
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => group.AddTensor((nint)raw, TensorElementType.Float32, 0, TensorElementType.Float32, 0));
            Assert.Throws<ArgumentException>(() => group.AddTensor((nint)raw, TensorElementType.Float32, (nint)(raw + 3), TensorElementType.Float32, 8));
            OptimizerTensor ok = group.AddTensor((nint)raw, TensorElementType.Float32, (nint)(raw + 8), TensorElementType.Float32, 8); // adjacent, not overlapping
            Assert.Equal(8, ok.Length);
        }
        finally
        {
            optimizer.Dispose();
            NativeMemory.Free(raw);
        }
    }

    [Fact]
    public void A_tensor_without_gradients_is_skipped_entirely()
    {
        using var optimizer = new AdaBeliefOptimizer(new AdaBeliefOptions { WeightDecay = 0.5 });
        float[] p1 = [1, 2, 3], p2 = [4, 5, 6], g2 = [0.1f, 0.2f, 0.3f];
        OptimizerTensor absent = optimizer.ParamGroups[0].AddTensor(p1);
        OptimizerTensor present = optimizer.ParamGroups[0].AddTensor(p2, g2);
        Assert.False(absent.HasGradients);
        optimizer.Step();
        Assert.Equal([1f, 2f, 3f], p1); // not even decayed
        Assert.Equal(0, absent.Step);
        Assert.All(absent.ReadState(StateKind.FirstMoment), v => Assert.Equal(0f, v));
        Assert.Equal(1, present.Step);
        Assert.NotEqual([4f, 5f, 6f], p2);

        float[] g1 = [1, 1, 1];
        absent.SetGradients(g1);
        present.ClearGradients();
        float[] p2After = [.. p2];
        optimizer.Step();
        Assert.Equal(1, absent.Step);
        Assert.Equal(1, present.Step);
        Assert.Equal(p2After, p2);
        Assert.NotEqual([1f, 2f, 3f], p1);
    }

    [Fact]
    public void ZeroGrad_zeroes_every_registered_gradient_and_nothing_else()
    {
        using var rig = new TrainingRig();
        rig.Train(1);
        foreach (TensorStorage s in rig.Storages)
        {
            s.Gradients.Fill(3);
        }
        float[][] parameters = rig.Parameters();
        rig.Optimizer.ZeroGrad();
        foreach (TensorStorage s in rig.Storages)
        {
            Assert.All(s.Gradients.ToArray(), v => Assert.Equal(0f, v));
        }
        Assert.Equal(parameters, rig.Parameters());
    }

    [Fact]
    public void Tensors_and_groups_get_dense_ids_and_groups_can_be_added_after_steps()
    {
        using var rig = new TrainingRig();
        rig.Train(2);
        AdaBeliefOptimizer optimizer = rig.Optimizer;
        Assert.Equal([0, 1], optimizer.ParamGroups.Select(g => g.Id));
        Assert.Equal([0, 1, 2], optimizer.Tensors.Select(t => t.Id));
        ParameterGroup late = optimizer.AddParamGroup(AdaBeliefOptions.ForAdam(0.1));
        Assert.Equal(2, late.Id);
        float[] p = [1, 1], g = [1, -1];
        OptimizerTensor t = late.AddTensor(p, g);
        Assert.Same(late, t.Group);
        Assert.Same(optimizer, t.Optimizer);
        Assert.Equal([t], late.Tensors);
        optimizer.Step();
        Assert.Equal(1, t.Step);
        Assert.Equal(3, optimizer.Tensors[0].Step);
        Assert.True(p[0] < 1 && p[1] > 1, "the late tensor moved against its gradient");
    }

    [Fact]
    public void State_can_be_written_read_and_the_step_count_set()
    {
        using var optimizer = new AdaBeliefOptimizer(new AdaBeliefOptions());
        OptimizerTensor t = optimizer.ParamGroups[0].AddTensor(new float[4], new float[4]);
        Assert.False(t.HasMaxSecondMoment);
        Assert.Throws<ArgumentException>(() => t.ReadState(StateKind.MaxSecondMoment));
        t.WriteState(StateKind.FirstMoment, [1, 2, 3, 4]);
        t.WriteState(StateKind.MaxSecondMoment, [5, 6, 7, 8]); // creates s_max
        Assert.True(t.HasMaxSecondMoment);
        Assert.Equal([1f, 2f, 3f, 4f], t.ReadState(StateKind.FirstMoment));
        Assert.Equal([5f, 6f, 7f, 8f], t.ReadState(StateKind.MaxSecondMoment));
        t.Step = 41;
        Assert.Equal(41, t.Step);
        Assert.Throws<ArgumentOutOfRangeException>(() => t.Step = -1);
        Assert.Equal(41, t.Step);
    }

    [Fact]
    public void Turning_amsgrad_on_gives_tensors_a_zeroed_s_max()
    {
        using var rig = new TrainingRig();
        rig.Train(3);
        OptimizerTensor t = rig.Optimizer.Tensors[0]; // group 0: AMSGrad off
        Assert.False(t.HasMaxSecondMoment);
        rig.Optimizer.ParamGroups[0].Options = rig.Optimizer.ParamGroups[0].Options with { AmsGrad = true };
        Assert.True(t.HasMaxSecondMoment);
        Assert.All(t.ReadState(StateKind.MaxSecondMoment), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void Parameters_can_be_repointed_and_the_old_memory_is_released()
    {
        using var optimizer = new AdaBeliefOptimizer(new AdaBeliefOptions { LearningRate = 0.1 });
        float[] first = [1, 1, 1], grads = [1, 1, 1];
        OptimizerTensor t = optimizer.ParamGroups[0].AddTensor(first, grads);
        optimizer.Step();
        float[] afterOne = [.. first];
        float[] second = [5, 5, 5];
        t.SetParameters(second);
        optimizer.Step();
        Assert.Equal(afterOne, first); // no longer written
        Assert.NotEqual([5f, 5f, 5f], second);
        using var native = NativeBuffer.FromSpan([7f, 7f, 7f]);
        t.SetParameters(native);
        optimizer.Step();
        Assert.NotEqual(7f, native.Span[0]);
        Assert.Equal(3, t.Step);
    }

    [Fact]
    public void Thread_count_and_simd_level_are_settable_and_reported_resolved()
    {
        using var optimizer = new AdaBeliefOptimizer(new OptimizerConfig { ThreadCount = 1, SimdLevel = SimdLevel.Scalar });
        Assert.Equal(1, optimizer.ThreadCount);
        Assert.Equal(SimdLevel.Scalar, optimizer.SimdLevel);
        optimizer.ThreadCount = 0;
        Assert.Equal(Environment.ProcessorCount, optimizer.ThreadCount);
        optimizer.ThreadCount = 3;
        Assert.Equal(3, optimizer.ThreadCount);
        optimizer.SimdLevel = SimdLevel.Auto;
        Assert.Equal(NativeAdaBeliefLibrary.BestSimdLevel, optimizer.SimdLevel);
        Assert.NotEqual(SimdLevel.Auto, optimizer.SimdLevel);
        Assert.Throws<ArgumentOutOfRangeException>(() => optimizer.ThreadCount = -1);
        Assert.Equal(DeviceType.Cpu, optimizer.Device);
    }

    [Fact]
    public void Every_level_this_cpu_runs_is_accepted_and_the_others_are_not_supported()
    {
        using var optimizer = new AdaBeliefOptimizer(new OptimizerConfig { ThreadCount = 1 });
        IReadOnlyList<SimdLevel> runs = SimdLevels.ThisCpuRuns();
        Assert.Equal(NativeAdaBeliefLibrary.BestSimdLevel, runs[^1]);
        foreach (SimdLevel level in Enum.GetValues<SimdLevel>().Where(level => level != SimdLevel.Auto))
        {
            if (runs.Contains(level))
            {
                optimizer.SimdLevel = level;
                Assert.Equal(level, optimizer.SimdLevel);
            }
            else
            {
                SimdLevel before = optimizer.SimdLevel;
                Assert.Throws<NotSupportedException>(() => optimizer.SimdLevel = level);
                Assert.Equal(before, optimizer.SimdLevel);
            }
        }
    }

    [Fact]
    public void Library_facts_are_reported()
    {
        Assert.Equal(NativeAdaBeliefLibrary.ExpectedAbiVersion, NativeAdaBeliefLibrary.AbiVersion);
        Assert.Matches(@"^\d+\.\d+\.\d+", NativeAdaBeliefLibrary.Version);
        Assert.NotNull(NativeAdaBeliefLibrary.LoadedFrom);
    }
}
