using System.Globalization;
using NativeAdaBelief.Demo.Data;
using NativeAdaBelief.Demo.Model;

namespace NativeAdaBelief.Demo.Training;

/// <summary>One configuration of <see cref="EncodingComparison"/>: an optimizer with its state in one encoding.</summary>
/// <param name="Kind">AdaBelief or Adam.</param>
/// <param name="Encoding">How its m and s are stored.</param>
/// <param name="LearningRate">The learning rate it ran with.</param>
/// <param name="StateBytes">The native memory the optimizer's state took for the model (measured).</param>
/// <param name="Runs">One run per seed, in seed order.</param>
internal sealed record EncodingRuns(OptimizerKind Kind, StateEncoding Encoding, double LearningRate, long StateBytes, List<RunRecord> Runs)
{
    /// <summary>"AdaBelief, 8-bit state".</summary>
    public string Label => $"{Kind.DisplayName()}, {Encoding.DisplayName()}";

    /// <summary>The final test accuracy (%) of each seed's run.</summary>
    public double[] FinalAccuracies => [.. Runs.Select(r => r.Epochs[^1].TestAccuracy * 100)];

    /// <summary>Milliseconds per optimizer step over every epoch of every seed.</summary>
    public double StepMilliseconds(int batchesPerEpoch) =>
        Runs.Sum(r => r.Epochs.Sum(e => e.StepSeconds)) * 1000 / (Runs.Sum(r => r.Epochs.Count) * (double)batchesPerEpoch);
}

/// <summary>
/// The demo's comparison of state encodings (<c>--compare-state-encodings</c>): each native
/// optimizer of the plan with float32 and with 8-bit state, from the same seeds (so the same
/// initial weights and data order per seed), and what each costs in memory and step time.
/// </summary>
internal static class EncodingComparison
{
    /// <summary>
    /// Runs every (optimizer, encoding) of <paramref name="basePlan"/>'s native optimizers for
    /// <paramref name="seeds"/> seeds starting at its seed. Returns null when cancelled.
    /// </summary>
    public static List<EncodingRuns>? Run(TrainingPlan basePlan, int seeds, FashionMnist data, TrainerOptions options,
        ITrainingProgress progress, CancellationToken cancellation)
    {
        var results = new List<EncodingRuns>();
        foreach (string name in basePlan.Optimizers)
        {
            OptimizerKinds.TryParse(name, out OptimizerKind kind);
            if (kind == OptimizerKind.Sgd)
            {
                continue;
            }
            foreach (StateEncoding encoding in StateEncodings.All)
            {
                results.Add(new EncodingRuns(kind, encoding, basePlan.LearningRates[name], StateBytes(kind, encoding, basePlan.Sizes), []));
            }
        }
        for (int s = 0; s < seeds; s++)
        {
            foreach (EncodingRuns configuration in results)
            {
                string name = configuration.Kind.CliName();
                TrainingPlan plan = basePlan with
                {
                    Optimizers = [name],
                    LearningRates = new Dictionary<string, double> { [name] = configuration.LearningRate },
                    Seed = basePlan.Seed + (ulong)s,
                    StateEncoding = configuration.Encoding.CliName(),
                };
                progress.Note(string.Create(CultureInfo.InvariantCulture, $"seed {plan.Seed}: {configuration.Label}"));
                TrainingResult result = Trainer.Run(plan, data, options, progress, cancellation);
                if (result.Interrupted)
                {
                    return null;
                }
                configuration.Runs.Add(result.State.Runs.Single());
            }
        }
        return results;
    }

    /// <summary>
    /// The native memory an optimizer of <paramref name="kind"/> takes for the state of a model of
    /// these layer sizes in <paramref name="encoding"/>: measured as the library's allocation count
    /// around registering managed (not native) arrays of the model's tensor sizes.
    /// </summary>
    public static long StateBytes(OptimizerKind kind, StateEncoding encoding, IReadOnlyList<int> sizes)
    {
        var tensors = new List<(float[], float[])>();
        for (int layer = 0; layer + 1 < sizes.Count; layer++)
        {
            int weights = sizes[layer] * sizes[layer + 1], biases = sizes[layer + 1];
            tensors.Add((new float[weights], new float[weights]));
            tensors.Add((new float[biases], new float[biases]));
        }
        using var optimizer = new AdaBeliefOptimizer(OptimizerKinds.NativeOptions(kind, 1e-3, encoding), new OptimizerConfig { ThreadCount = 1 });
        long before = NativeAdaBeliefLibrary.AllocatedBytes;
        foreach ((float[] parameters, float[] gradients) in tensors)
        {
            optimizer.ParamGroups[0].AddTensor(parameters, gradients);
        }
        return NativeAdaBeliefLibrary.AllocatedBytes - before;
    }
}
