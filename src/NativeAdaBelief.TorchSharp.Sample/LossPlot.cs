using ScottPlot;

namespace NativeAdaBelief.TorchSharp.Sample;

/// <summary>The training-loss plot (ScottPlot, rendered headless).</summary>
internal static class LossPlot
{
    /// <summary>Writes training-loss.png (a 50-batch moving average per optimizer) into <paramref name="folder"/>; returns its path.</summary>
    public static string Write(IReadOnlyList<TrainingRun> runs, string folder)
    {
        var plot = new Plot();
        plot.Title("TorchSharp CNN on Fashion-MNIST: training loss");
        plot.XLabel("batch");
        plot.YLabel("cross-entropy (50-batch moving average)");
        Color[] colors = [Color.FromHex("#d62728"), Color.FromHex("#2ca02c"), Color.FromHex("#1f77b4")];
        for (int r = 0; r < runs.Count; r++)
        {
            List<double> losses = runs[r].BatchLosses;
            double[] xs = [.. Enumerable.Range(0, losses.Count).Select(i => (double)i)];
            double[] ys = [.. xs.Select(x => losses.Skip(Math.Max(0, (int)x - 49)).Take(Math.Min(50, (int)x + 1)).Average())];
            var line = plot.Add.ScatterLine(xs, ys, colors[r % colors.Length]);
            line.LineWidth = 2;
            line.LegendText = $"{runs[r].Optimizer} (step {runs[r].StepMilliseconds:F2} ms)";
        }
        plot.ShowLegend(Alignment.UpperRight);
        string path = Path.Combine(folder, "training-loss.png");
        plot.SavePng(path, 900, 500);
        return path;
    }
}
