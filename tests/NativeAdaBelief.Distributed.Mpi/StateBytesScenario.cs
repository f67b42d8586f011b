using System.Globalization;

namespace NativeAdaBelief.Distributed.Mpi;

/// <summary>
/// Each rank's optimizer state is 1/N of one process's, within one chunk's worth
/// (<see cref="AdaBeliefOptimizer.GradientChunkElements"/> elements at the model's largest
/// state bytes per element), measured as the native library's allocated bytes: one process's
/// state is what an ordinary optimizer over the whole model allocates, a rank's what its
/// distributed optimizer allocates beyond its shard's gradient sum. The ranks' states add up to
/// one process's.
/// </summary>
internal static class StateBytesScenario
{
    internal static void Run(Communicator communicator, Args args)
    {
        Precision precision = args.Enum("precision", Precision.BFloat16);
        using var space = new ParameterSpace(TestModel.Specs(precision));
        TestModel.Initialize(space, 1);

        // One process: an ordinary optimizer over every tensor, registered in place.
        long before = NativeAdaBeliefLibrary.AllocatedBytes;
        long single;
        using (var whole = new AdaBeliefOptimizer(new OptimizerConfig { ThreadCount = 1 }))
        {
            foreach (AdaBeliefOptions options in TestModel.GroupOptions())
            {
                whole.AddParamGroup(options);
            }
            foreach (SpaceTensor tensor in space.Tensors)
            {
                whole.ParamGroups[tensor.Spec.Group].AddTensor(tensor.ParameterAddress, tensor.ParameterType, tensor.GradientAddress,
                    TensorElementType.Float32, tensor.Length, tensor.Spec.KeepMasterCopy);
            }
            single = NativeAdaBeliefLibrary.AllocatedBytes - before;
        }

        before = NativeAdaBeliefLibrary.AllocatedBytes;
        using var optimizer = new DistributedAdaBeliefOptimizer(communicator, space, TestModel.GroupOptions(),
            new OptimizerConfig { ThreadCount = 1 });
        // Beyond the state, the optimizer allocated its shard's gradient sum (one buffer of its
        // part of the gradient buffer), the reduce-scatter's round buffer and its pieces' step
        // counts: counted apart.
        long gradientBuffer = AlignUp(4L * Math.Max(1, optimizer.Layout.GradientCounts[communicator.Rank]));
        long roundBuffer = AlignUp(4L * optimizer.Reduction.BufferFloats);
        long stepCounts = AlignUp(8L * Math.Max(16, optimizer.OwnedPieces.Count));
        long state = NativeAdaBeliefLibrary.AllocatedBytes - before - gradientBuffer - roundBuffer - stepCounts;

        int ranks = communicator.Size;
        long block = AdaBeliefOptimizer.GradientChunkElements * 16L; // m, s, s_max, master: 16 bytes an element at most
        double share = (double)single / ranks;
        // Each array is allocated in 64-byte blocks behind a 64-byte header: up to 127 bytes more
        // than its elements, for up to 4 arrays per piece here and per tensor in one process.
        long padding = 128L * 4 * (optimizer.OwnedPieces.Count + space.Tensors.Count);
        ScenarioFailure.Require(Math.Abs(state - share) <= block + padding,
            $"this rank allocated {state} bytes of state; 1/{ranks} of one process's {single} is {share:F0}, ±{block} (+{padding} of padding) allowed");
        ScenarioFailure.Require(Math.Abs(optimizer.OwnedStateBytes - share) <= block,
            $"OwnedStateBytes {optimizer.OwnedStateBytes} is not within {block} of {share:F0}");

        Span<double> total = [optimizer.OwnedStateBytes];
        communicator.AllReduceSum(total);
        long expectedTotal = 0;
        foreach (SpaceTensor tensor in space.Tensors)
        {
            expectedTotal += tensor.Length * (8 + (tensor.Spec.KeepMasterCopy ? 4 : 0) + (TestModel.GroupOptions()[tensor.Spec.Group].AmsGrad ? 4 : 0));
        }
        ScenarioFailure.Require((long)total[0] == expectedTotal, $"the ranks own {total[0]} state bytes in all, the model has {expectedTotal}");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"rank {communicator.Rank}: state-bytes OK: {precision}, one process allocates {single} bytes of state, this rank {state} (owned {optimizer.OwnedStateBytes}) = {optimizer.OwnedStateBytes / (double)expectedTotal:P1} of the model's {expectedTotal}, 1/{ranks} ± one chunk ({block} bytes)"));
    }

    /// <summary>What the native allocator counts for a block: 64-byte multiples plus its 64-byte header.</summary>
    private static long AlignUp(long bytes) => (bytes + 63) / 64 * 64 + 64;
}
