using System.Globalization;

namespace NativeAdaBelief.Distributed.Mpi;

/// <summary>
/// After every one of K steps, the N-rank run's parameters and step reports are bit-identical to
/// a single process stepping the averaged gradients, with clipping by the global norm and a step
/// that a NaN on one rank makes every rank skip. With 2 ranks the reference steps (g₀ + g₁) · 0.5
/// (the issue's "averaged gradients" literally); with any number, it steps the ranks' gradients
/// summed in rank order with the inverse scale 1/N, which is what the ranks compute. Every rank
/// starts from different parameters, so the optimizer's start from rank 0's is checked too.
/// </summary>
internal static class EquivalenceScenario
{
    private const ulong Seed = 20261204;

    internal static void Run(Communicator communicator, Args args)
    {
        Precision precision = args.Enum("precision", Precision.Float32);
        int steps = args.Int("steps", 8);
        int nanStep = args.Int("nan-step", 5);
        double clip = args.Double("clip", 0);
        int ranks = communicator.Size, rank = communicator.Rank;
        bool averaged = ranks == 2;

        using var space = new ParameterSpace(TestModel.Specs(precision));
        TestModel.Initialize(space, Seed + (ulong)rank); // only rank 0's values must survive construction
        using var optimizer = new DistributedAdaBeliefOptimizer(communicator, space, TestModel.GroupOptions(),
            new OptimizerConfig { ThreadCount = 1 });
        var options = new StepOptions { SkipNonFinite = true, MaxGradientNorm = clip, ComputeGradientNorm = true };
        optimizer.StepOptions = options;

        using var reference = new ReferenceRun(precision, Seed);
        for (int step = 1; step <= steps; step++)
        {
            TestModel.WriteGradients(space, Seed, rank, ranks, step, nanStep);
            optimizer.Step();
            int current = step;
            if (averaged)
            {
                reference.Step((t, i) => (TestModel.Sent(Seed, 0, 2, current, nanStep, t, i) + TestModel.Sent(Seed, 1, 2, current, nanStep, t, i))
                    * 0.5f, options);
            }
            else
            {
                reference.Step((t, i) => TestModel.Sum(Seed, ranks, current, nanStep, t, i), options with { InverseGradientScale = 1.0 / ranks });
            }
            StepReport report = optimizer.GetLastStepReport();
            StepReport expected = reference.Optimizer.GetLastStepReport();
            ScenarioFailure.Require(report.Skipped == (step == nanStep) && expected.Skipped == report.Skipped,
                $"step {step}: skipped {report.Skipped}, the reference {expected.Skipped}");
            string difference = reference.Difference(space);
            ScenarioFailure.Require(difference.Length == 0, $"step {step}: the parameters differ from the reference: {difference}");
            ScenarioFailure.Require(report.NonFiniteCount == expected.NonFiniteCount, $"step {step}: non-finite counts differ");
            ScenarioFailure.Require(Bits(report.GradientNorm) == Bits(expected.GradientNorm),
                $"step {step}: norm {report.GradientNorm:R}, the reference {expected.GradientNorm:R}");
            double expectedScale = averaged ? expected.GradientScale * 0.5 : expected.GradientScale;
            ScenarioFailure.Require(Bits(report.GradientScale) == Bits(expectedScale),
                $"step {step}: scale {report.GradientScale:R}, the reference {expectedScale:R}");
        }
        // A step allocates nothing on the managed heap (the gradients are still the last step's).
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        optimizer.Step();
        optimizer.Step();
        allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;
        ScenarioFailure.Require(allocated == 0, $"two steps allocated {allocated} bytes on the managed heap");
        ScenarioFailure.Require(ScenarioFailure.SameOnEveryRank(communicator, TestModel.Hash(space)), "the ranks hold different parameters");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"rank {rank}: equivalence OK: {ranks} ranks, {precision}, clip {clip}, {steps} steps (NaN on step {nanStep} skipped), bit-identical to one process stepping the {(averaged ? "averaged gradients (g0 + g1) * 0.5" : $"rank-order sum of the gradients times 1/{ranks}")} after every step, reports too; this rank owns {optimizer.OwnedPieces.Count} piece(s)"));
    }

    private static long Bits(double value) => BitConverter.DoubleToInt64Bits(value);
}
