using System.Globalization;

namespace NativeAdaBelief.Distributed.Mpi;

/// <summary>
/// After K steps, the N-rank run's parameters equal a single process stepping the averaged
/// gradients, with clipping by the global norm and a step that a NaN on one rank makes every rank
/// skip. Three checks:
/// <list type="bullet">
/// <item><c>--check exact</c>: bit-identical after every step, reports too. With 2 ranks any
/// gradients (the reference steps (g₀ + g₁) · 0.5; the sum of two floats does not depend on
/// their order); with more, dyadic gradients (every order of adding them is exact) and a
/// reference that steps their sum with the inverse scale 1/N, as the ranks do.</item>
/// <item><c>--check pairings</c> (3 ranks, random gradients, no clipping): MPI adds three values
/// in one of three pairings, so every element ends bit-identical to the reference of one of
/// them.</item>
/// <item><c>--check bounds</c> (random gradients, clipping): within float32 summation-order
/// bounds of the rank-order reference (the norm, and so the clipping factor, depends on the
/// order): every element within 10⁻³ learning rates per step of it.</item>
/// </list>
/// Every rank starts from different parameters, so the optimizer's start from rank 0's is checked too.
/// </summary>
internal static class EquivalenceScenario
{
    private const ulong Seed = 20261204;

    internal static void Run(Communicator communicator, Args args)
    {
        Precision precision = args.Enum("precision", Precision.Float32);
        GradientKind kind = args.Enum("gradients", GradientKind.Random);
        string check = args.Text("check", "exact");
        int steps = args.Int("steps", 8);
        int nanStep = args.Int("nan-step", 5);
        double clip = args.Double("clip", 0);
        int ranks = communicator.Size, rank = communicator.Rank;
        bool averaged = check == "exact" && ranks == 2 && kind == GradientKind.Random;
        ScenarioFailure.Require(check != "exact" || averaged || ranks == 1 || kind == GradientKind.Dyadic,
            "an exact check with more than 2 ranks needs --gradients dyadic");
        ScenarioFailure.Require(check != "pairings" || (ranks == 3 && clip == 0), "--check pairings is for 3 ranks without clipping");

        using var space = new ParameterSpace(TestModel.Specs(precision));
        TestModel.Initialize(space, Seed + (ulong)rank); // only rank 0's values must survive construction
        using var optimizer = new DistributedAdaBeliefOptimizer(communicator, space, TestModel.GroupOptions(),
            new OptimizerConfig { ThreadCount = 1 });
        var options = new StepOptions { SkipNonFinite = true, MaxGradientNorm = clip, ComputeGradientNorm = true };
        optimizer.StepOptions = options;

        // The orders in which the reference adds the ranks' gradients: rank order, or (3 ranks) each pairing.
        int[][] orders = check == "pairings" ? [[0, 1, 2], [0, 2, 1], [1, 2, 0]] : [[.. Enumerable.Range(0, ranks)]];
        ReferenceRun[] references = [.. orders.Select(_ => new ReferenceRun(precision, Seed))];
        try
        {
            for (int step = 1; step <= steps; step++)
            {
                TestModel.WriteGradients(space, Seed, kind, rank, ranks, step, nanStep);
                optimizer.Step();
                for (int o = 0; o < orders.Length; o++)
                {
                    int[] order = orders[o];
                    Func<int, long, float> gradient = (t, i) =>
                    {
                        float sum = Gradient(kind, order[0], ranks, step, nanStep, t, i);
                        for (int k = 1; k < order.Length; k++)
                        {
                            sum += Gradient(kind, order[k], ranks, step, nanStep, t, i);
                        }
                        return averaged ? sum * 0.5f : sum;
                    };
                    references[o].Step(gradient, averaged ? options : options with { InverseGradientScale = 1.0 / ranks });
                }
                StepReport report = optimizer.GetLastStepReport();
                StepReport expected = references[0].Optimizer.GetLastStepReport();
                ScenarioFailure.Require(report.Skipped == (step == nanStep) && expected.Skipped == report.Skipped,
                    $"step {step}: skipped {report.Skipped}, the reference {expected.Skipped}");
                if (check == "exact")
                {
                    string difference = references[0].Difference(space);
                    ScenarioFailure.Require(difference.Length == 0, $"step {step}: the parameters differ from the reference: {difference}");
                    ScenarioFailure.Require(report.NonFiniteCount == expected.NonFiniteCount, $"step {step}: non-finite counts differ");
                    ScenarioFailure.Require(Bits(report.GradientNorm) == Bits(expected.GradientNorm),
                        $"step {step}: norm {report.GradientNorm:R}, the reference {expected.GradientNorm:R}");
                    double expectedScale = averaged ? expected.GradientScale * 0.5 : expected.GradientScale;
                    ScenarioFailure.Require(Bits(report.GradientScale) == Bits(expectedScale),
                        $"step {step}: scale {report.GradientScale:R}, the reference {expectedScale:R}");
                }
            }
            string result = check switch
            {
                "exact" => "bit-identical to the single-process reference after every step",
                "pairings" => Pairings(space, references),
                _ => Bounds(space, references[0], steps),
            };
            ScenarioFailure.Require(ScenarioFailure.SameOnEveryRank(communicator, TestModel.Hash(space)),
                "the ranks hold different parameters");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"rank {rank}: equivalence OK: {ranks} ranks, {precision}, {kind} gradients, clip {clip}, {steps} steps (NaN on step {nanStep} skipped), {result}; this rank owns {optimizer.OwnedPieces.Count} piece(s)"));
        }
        finally
        {
            foreach (ReferenceRun reference in references)
            {
                reference.Dispose();
            }
        }
    }

    /// <summary>Rank <paramref name="rank"/>'s gradient, with the NaN the last rank sends on the skipped step.</summary>
    private static float Gradient(GradientKind kind, int rank, int ranks, int step, int nanStep, int tensor, long i) =>
        step == nanStep && rank == ranks - 1 && tensor == 2 && i == TestModel.NaNElement
            ? float.NaN
            : TestModel.Gradient(Seed, kind, rank, step, tensor, i);

    /// <summary>Every element equals one pairing's reference bit for bit.</summary>
    private static string Pairings(ParameterSpace space, ReferenceRun[] references)
    {
        var used = new int[references.Length];
        foreach (SpaceTensor tensor in space.Tensors)
        {
            for (long i = 0; i < tensor.Length; i++)
            {
                float value = TestModel.Parameter(tensor, i);
                int match = Array.FindIndex(references, r => Bits(r.Parameter(tensor.Index, i)) == Bits(value));
                ScenarioFailure.Require(match >= 0, $"tensor {tensor.Index} element {i} = {value:R} matches no pairing's reference "
                    + $"({string.Join(", ", references.Select(r => r.Parameter(tensor.Index, i).ToString("R", CultureInfo.InvariantCulture)))})");
                used[match]++;
            }
        }
        return $"every element bit-identical to one pairing's reference (elements first matching each: {string.Join("/", used)})";
    }

    /// <summary>
    /// Every element within 10⁻³ learning rates per step of the rank-order reference (plus one
    /// unit in the last place of a bfloat16 parameter, which the master copy's tiny difference may
    /// round across).
    /// </summary>
    private static string Bounds(ParameterSpace space, ReferenceRun reference, int steps)
    {
        double worst = 0;
        AdaBeliefOptions[] groups = TestModel.GroupOptions();
        foreach (SpaceTensor tensor in space.Tensors)
        {
            double rate = groups[tensor.Spec.Group].LearningRate;
            bool sixteenBit = tensor.ParameterType != TensorElementType.Float32;
            for (long i = 0; i < tensor.Length; i++)
            {
                double expected = reference.Parameter(tensor.Index, i);
                double deviation = Math.Abs(TestModel.Parameter(tensor, i) - expected);
                double rounding = sixteenBit ? Math.ScaleB(Math.Abs(expected), -7) : 0;
                ScenarioFailure.Require(deviation <= 1e-3 * steps * rate + rounding,
                    $"tensor {tensor.Index} element {i} is {deviation:G3} from the reference (bound {1e-3 * steps * rate:G3} + {rounding:G3})");
                worst = Math.Max(worst, Math.Max(0, deviation - rounding) / rate);
            }
        }
        return string.Create(CultureInfo.InvariantCulture,
            $"within {worst:G3} learning rates of the rank-order reference (bound {1e-3 * steps:G3})");
    }

    private static long Bits(double value) => BitConverter.DoubleToInt64Bits(value);

    private static int Bits(float value) => BitConverter.SingleToInt32Bits(value);
}
