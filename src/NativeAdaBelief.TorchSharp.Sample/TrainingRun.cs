using System.Text;

namespace NativeAdaBelief.TorchSharp.Sample;

/// <summary>What one optimizer's training did: the loss of every batch, accuracies and times.</summary>
internal sealed record TrainingRun(string Optimizer, List<double> BatchLosses, List<double> TestAccuracy, double StepMilliseconds,
    double IterationMilliseconds)
{
    /// <summary>The results as a Markdown table.</summary>
    public static string Table(IReadOnlyList<TrainingRun> runs)
    {
        var md = new StringBuilder();
        md.AppendLine("| optimizer | test accuracy (last epoch) | optimizer step (median) | training iteration (median) | step share |");
        md.AppendLine("| --- | ---: | ---: | ---: | ---: |");
        foreach (TrainingRun run in runs)
        {
            md.AppendLine($"| {run.Optimizer} | {run.TestAccuracy[^1]:P2} | {run.StepMilliseconds:F2} ms | {run.IterationMilliseconds:F1} ms | "
                + $"{run.StepMilliseconds / run.IterationMilliseconds:P0} |");
        }
        return md.ToString();
    }
}
