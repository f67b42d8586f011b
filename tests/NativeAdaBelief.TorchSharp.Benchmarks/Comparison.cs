using System.Diagnostics;
using NativeAdaBelief.TorchSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace NativeAdaBelief.TorchSharp.Benchmarks;

/// <summary>
/// Training iterations of one model with six optimizers in turn, round by round (so that a change
/// in the machine's load reaches all six alike): zero_grad, forward and backward, then step(),
/// each timed; medians over the rounds after two warm-up rounds.
/// </summary>
internal static class Comparison
{
    /// <summary>How the rows of our optimizers begin.</summary>
    public const string Ours = "NativeAdaBelief.TorchSharp ";

    /// <summary>How the rows of our optimizers with 8-bit state end.</summary>
    public const string EightBit = ", 8-bit state";

    /// <summary>One optimizer's medians on one model.</summary>
    internal sealed record Result(string Workload, long Parameters, int Tensors, string Optimizer, double StepMs, double IterationMs);

    public static List<Result> Run(Workload workload)
    {
        var parameters = workload.Parameters;
        var optimizers = new (string Name, optim.Optimizer Optimizer)[]
        {
            (Ours + "Adam", NativeOptim.Adam(parameters)),
            (Ours + "AdamW", NativeOptim.AdamW(parameters)),
            (Ours + "Adam" + EightBit, NativeOptim.Adam(parameters, state_encoding: StateEncoding.Blockwise8Bit)),
            (Ours + "AdamW" + EightBit, NativeOptim.AdamW(parameters, state_encoding: StateEncoding.Blockwise8Bit)),
            ("torch.optim.Adam", optim.Adam(parameters)),
            ("torch.optim.AdamW", optim.AdamW(parameters)),
        };
        var steps = optimizers.Select(_ => new List<double>()).ToArray();
        var iterations = optimizers.Select(_ => new List<double>()).ToArray();
        for (int round = -2; round < workload.Rounds; round++)
        {
            for (int k = 0; k < optimizers.Length; k++)
            {
                using var scope = torch.NewDisposeScope();
                optim.Optimizer optimizer = optimizers[k].Optimizer;
                var clock = Stopwatch.StartNew();
                optimizer.zero_grad();
                workload.Loss().backward();
                double forwardBackward = clock.Elapsed.TotalMilliseconds;
                clock.Restart();
                optimizer.step();
                double step = clock.Elapsed.TotalMilliseconds;
                if (round >= 0)
                {
                    steps[k].Add(step);
                    iterations[k].Add(forwardBackward + step);
                }
                Console.WriteLine($"  round {round,2} {optimizers[k].Name,-48} step {step,9:F2} ms   zero_grad+forward+backward {forwardBackward,9:F2} ms");
            }
        }
        long total = parameters.Sum(p => p.numel());
        var results = optimizers.Select((o, k) =>
            new Result(workload.Name, total, parameters.Count, o.Name, Median(steps[k]), Median(iterations[k]))).ToList();
        foreach ((_, optim.Optimizer optimizer) in optimizers)
        {
            optimizer.Dispose();
        }
        return results;
    }

    private static double Median(List<double> values)
    {
        values.Sort();
        return values.Count % 2 == 1 ? values[values.Count / 2] : (values[values.Count / 2 - 1] + values[values.Count / 2]) / 2;
    }
}
