using System.Diagnostics;
using System.Globalization;

namespace NativeAdaBelief.Distributed.Mpi;

/// <summary>
/// <c>benchmark --parameters 16777216,67108864 [--iterations 10] [--out FILE]</c>: the
/// data-parallel step against the single-process step, in the same run. Per size: the median time
/// of the reduce-scatter of the gradients, the fused step of this rank's shard, the all-gather of
/// the parameters, and the whole <see cref="DistributedAdaBeliefOptimizer.Step"/>, each rank with
/// one worker thread; then, on rank 0 alone while the others wait, one process's
/// <see cref="AdaBeliefOptimizer.Step"/> over the whole model with as many threads as there are
/// ranks (the same cores). A model of eight float32 tensors. Rank 0 prints a markdown table (and
/// appends it to FILE). Judges nothing: speeds are reported as ratios of the same run.
/// </summary>
internal static unsafe class CommunicationBenchmark
{
    internal static void Run(Communicator communicator, Args args)
    {
        long[] sizes = [.. args.Text("parameters", "16777216,67108864").Split(',').Select(s => long.Parse(s, CultureInfo.InvariantCulture))];
        int iterations = args.Int("iterations", 10);
        var rows = new List<string>
        {
            $"| parameters | reduce-scatter | shard step | all-gather | distributed step | one process's step ({communicator.Size} threads) | distributed / one process | communication share |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        };
        foreach (long size in sizes)
        {
            rows.Add(Measure(communicator, size, iterations));
        }
        if (communicator.Rank == 0)
        {
            string table = string.Join(Environment.NewLine, rows);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{communicator.Size} ranks, {communicator.Description}, median of {iterations} steps, milliseconds:"));
            Console.WriteLine(table);
            if (args.Text("out", "") is { Length: > 0 } file)
            {
                File.AppendAllText(file, table + Environment.NewLine);
            }
        }
    }

    private static string Measure(Communicator communicator, long size, int iterations)
    {
        const int tensors = 8;
        using var space = new ParameterSpace(Enumerable.Range(0, tensors).Select(t => new TensorSpec(size / tensors) { Name = $"w{t}" }));
        foreach (SpaceTensor tensor in space.Tensors)
        {
            tensor.GetParameters<float>().Fill(0.01f * (tensor.Index + 1));
            Span<float> gradients = tensor.Gradients;
            for (int i = 0; i < gradients.Length; i++)
            {
                gradients[i] = ((i * 2654435761u) >> 20) * 1e-6f - 0.002f;
            }
        }
        using var optimizer = new DistributedAdaBeliefOptimizer(communicator, space, [new AdaBeliefOptions()],
            new OptimizerConfig { ThreadCount = 1 });
        ShardLayout layout = optimizer.Layout;

        double reduceScatter = Median(communicator, iterations, () =>
            optimizer.Reduction.Sum((float*)space.GradientAddress, (float*)optimizer.ShardGradients.Address));
        double shardStep = Median(communicator, iterations, optimizer.Local.Step);
        double allGather = Median(communicator, iterations, () =>
            communicator.AllGatherInPlace(CollectiveElement.Block, (void*)space.ParameterAddress, layout.ParameterBlockCounts,
                layout.ParameterBlockDisplacements));
        double whole = Median(communicator, iterations, optimizer.Step);

        double single = 0;
        if (communicator.Rank == 0)
        {
            using var one = new AdaBeliefOptimizer(new AdaBeliefOptions(), new OptimizerConfig { ThreadCount = communicator.Size });
            foreach (SpaceTensor tensor in space.Tensors)
            {
                one.ParamGroups[0].AddTensor(tensor.ParameterAddress, TensorElementType.Float32, tensor.GradientAddress,
                    TensorElementType.Float32, tensor.Length);
            }
            using var alone = new SingleProcessCommunicator();
            single = Median(alone, iterations, one.Step);
        }
        communicator.Barrier();
        double communication = reduceScatter + allGather;
        return string.Create(CultureInfo.InvariantCulture,
            $"| {size / (1 << 20)}M | {reduceScatter:F1} | {shardStep:F1} | {allGather:F1} | {whole:F1} | {single:F1} | {whole / single:F2}× | {communication / (communication + shardStep):P0} |");
    }

    /// <summary>The median over <paramref name="iterations"/> runs (after two unmeasured ones), every rank starting together; rank 0's figure.</summary>
    private static double Median(Communicator communicator, int iterations, Action action)
    {
        action();
        action();
        var times = new double[iterations];
        for (int i = 0; i < iterations; i++)
        {
            communicator.Barrier();
            long start = Stopwatch.GetTimestamp();
            action();
            times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        Array.Sort(times);
        return times[iterations / 2];
    }
}
