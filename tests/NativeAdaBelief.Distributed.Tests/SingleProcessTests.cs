namespace NativeAdaBelief.Distributed.Tests;

/// <summary>The distributed optimizer in one process (<see cref="SingleProcessCommunicator"/>): its arguments and its checkpoints' checks.</summary>
public sealed class SingleProcessTests
{
    [Fact]
    public void One_process_is_bit_identical_to_an_ordinary_optimizer_with_clipping_and_a_skip()
    {
        foreach (string precision in new[] { "float32", "bfloat16" })
        {
            MpiLauncher.RunAlone("equivalence", "--precision", precision, "--clip", "0.05").AssertEveryRankPassed("equivalence", 1);
        }
    }

    [Fact]
    public void Arguments_are_checked_before_anything_is_created()
    {
        using var communicator = new SingleProcessCommunicator();
        using var space = new ParameterSpace(TestSpaces.Mixed());
        long before = NativeAdaBeliefLibrary.AllocatedBytes;
        string Refusal(IReadOnlyList<AdaBeliefOptions> groups, OptimizerConfig? config = null) =>
            Assert.Throws<ArgumentException>(() => new DistributedAdaBeliefOptimizer(communicator, space, groups, config)).Message;

        Assert.Contains("Beta1 = 2", Refusal([new AdaBeliefOptions { Beta1 = 2 }, new AdaBeliefOptions()]), StringComparison.Ordinal);
        Assert.Contains("tensor 1 (b) is in group 1, but there are 1 group(s)", Refusal([new AdaBeliefOptions()]), StringComparison.Ordinal);
        Assert.Contains("At least one parameter group", Refusal([]), StringComparison.Ordinal);
        Assert.Contains("NCCL", Refusal(TestSpaces.Groups(), new OptimizerConfig { Device = DeviceType.Cuda }), StringComparison.Ordinal);
        Assert.Contains("ThreadCount", Refusal(TestSpaces.Groups(), new OptimizerConfig { ThreadCount = -1 }), StringComparison.Ordinal);
        Assert.Equal(before, NativeAdaBeliefLibrary.AllocatedBytes);
        Assert.Throws<ArgumentNullException>(() => new DistributedAdaBeliefOptimizer(communicator, null!, TestSpaces.Groups()));
    }

    [Fact]
    public void A_master_copy_of_float32_parameters_is_refused_by_the_native_rule_on_every_rank()
    {
        using var communicator = new SingleProcessCommunicator();
        using var space = new ParameterSpace([new TensorSpec(8) { KeepMasterCopy = true }]);
        var e = Assert.Throws<InvalidOperationException>(() => new DistributedAdaBeliefOptimizer(communicator, space, [new AdaBeliefOptions()]));
        Assert.Contains("rank 0 of 1", e.Message, StringComparison.Ordinal);
        Assert.Contains("keepMasterCopy", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Settings_refuse_bad_values_and_change_nothing()
    {
        using var communicator = new SingleProcessCommunicator();
        using var space = new ParameterSpace(TestSpaces.Mixed());
        using var optimizer = new DistributedAdaBeliefOptimizer(communicator, space, TestSpaces.Groups());
        Assert.Throws<ArgumentOutOfRangeException>(() => optimizer.StepOptions = new StepOptions { MaxGradientNorm = -1 });
        Assert.Equal(new StepOptions(), optimizer.StepOptions);
        Assert.Throws<ArgumentOutOfRangeException>(() => optimizer.ParamGroups[0].LearningRate = double.NaN);
        Assert.Equal(1e-3, optimizer.ParamGroups[0].LearningRate);
        Assert.Throws<ArgumentOutOfRangeException>(() => optimizer.SaveCheckpoint("x", (DistributedCheckpointKind)9));
        Assert.Throws<ArgumentOutOfRangeException>(() => communicator.Timeout = TimeSpan.Zero);
        Assert.Throws<ArgumentOutOfRangeException>(() => communicator.Broadcast(new byte[1], root: 1));
        var schedule = new WarmupCosineDecaySchedule(10, 100);
        var scheduler = new LearningRateScheduler(optimizer, schedule);
        for (int i = 0; i < 4; i++)
        {
            scheduler.Step();
        }
        Assert.All(optimizer.ParamGroups, group =>
            Assert.Equal(schedule.LearningRateAt(4, group.Id, scheduler.BaseLearningRates[group.Id]), group.LearningRate));
        optimizer.Dispose();
        Assert.Throws<ObjectDisposedException>(() => optimizer.Step());
        Assert.Throws<ObjectDisposedException>(() => optimizer.ParamGroups[0].LearningRate);
    }

    [Fact]
    public void Its_whole_state_is_the_one_shard_and_a_gathered_checkpoint_is_an_ordinary_one()
    {
        using var communicator = new SingleProcessCommunicator();
        using var space = new ParameterSpace(TestSpaces.Mixed());
        using var optimizer = new DistributedAdaBeliefOptimizer(communicator, space, TestSpaces.Groups());
        Assert.Equal(space.Tensors.Count, optimizer.OwnedPieces.Count);
        Assert.Equal(space.Tensors.Sum(t => t.Length * TestSpaces.StateBytes(space)[t.Index]), optimizer.OwnedStateBytes);
        TestSpaces.Fill(space, 1);
        optimizer.Step();

        string file = Path.Combine(Directory.CreateTempSubdirectory("nab-gathered-").FullName, "whole.safetensors");
        try
        {
            optimizer.SaveCheckpoint(file, DistributedCheckpointKind.Gathered);
            using var plain = new AdaBeliefOptimizer();
            foreach (AdaBeliefOptions options in TestSpaces.Groups())
            {
                plain.AddParamGroup(options);
            }
            foreach (SpaceTensor tensor in space.Tensors)
            {
                plain.ParamGroups[tensor.Spec.Group].AddTensor(tensor.ParameterAddress, tensor.ParameterType, 0, TensorElementType.Float32,
                    tensor.Length, tensor.Spec.KeepMasterCopy);
            }
            plain.LoadCheckpoint(file);
            Assert.All(plain.Tensors, tensor => Assert.Equal(1, tensor.Step));
            Assert.Equal(optimizer.Local.Tensors[3].ReadState(StateKind.MasterParameters), plain.Tensors[3].ReadState(StateKind.MasterParameters));
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(file)!, recursive: true);
        }
    }
}
