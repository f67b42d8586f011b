using NativeAdaBelief.Demo.Paths;
using NativeAdaBelief.Demo.Training;
using ScottPlot;

namespace NativeAdaBelief.Demo.Output;

/// <summary>The demo's PNG plots (ScottPlot, rendered headless through SkiaSharp).</summary>
internal static class Plots
{
    private const int Width = 800;
    private const int Height = 500;

    /// <summary>One color per optimizer, the same in every plot.</summary>
    public static Color ColorOf(OptimizerKind kind) => kind switch
    {
        OptimizerKind.AdaBelief => Color.FromHex("#d62728"),
        OptimizerKind.Adam => Color.FromHex("#1f77b4"),
        _ => Color.FromHex("#2ca02c"),
    };

    private static Plot NewPlot(string title, string xLabel, string yLabel)
    {
        var plot = new Plot();
        plot.Font.Set(PreferredFont());
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        return plot;
    }

    private static string PreferredFont()
    {
        var installed = new HashSet<string>(SkiaSharp.SKFontManager.Default.GetFontFamilies(), StringComparer.OrdinalIgnoreCase);
        foreach (string name in new[] { "DejaVu Sans", "Liberation Sans", "Noto Sans", "Arial" })
        {
            if (installed.Contains(name))
            {
                return name;
            }
        }
        return Fonts.Default;
    }

    /// <summary>Training loss (a moving average over batches) against epochs, per optimizer.</summary>
    public static string TrainingLoss(IReadOnlyList<RunRecord> runs, int batchesPerEpoch, string folder)
    {
        Plot plot = NewPlot("Fashion-MNIST MLP 784-256-128-10: training loss", "epoch", "cross-entropy (moving average over batches)");
        int window = Math.Max(1, batchesPerEpoch / 10);
        double top = 0;
        foreach (RunRecord run in runs)
        {
            if (run.BatchLosses.Count == 0)
            {
                continue;
            }
            (double[] xs, double[] ys) = MovingAverage(run.BatchLosses, window, batchesPerEpoch);
            var line = plot.Add.ScatterLine(xs, ys, ColorOf(run.Kind));
            line.LineWidth = 2;
            line.LegendText = $"{run.Kind.DisplayName()} (lr {OptimizerKinds.FormatRate(run.LearningRate)})";
            top = Math.Max(top, ys.Length > 0 ? ys[Math.Min(ys.Length - 1, Math.Max(0, window))] : 0);
        }
        plot.ShowLegend(Alignment.UpperRight);
        plot.Axes.AutoScale();
        if (top > 0)
        {
            plot.Axes.SetLimitsY(0, top * 1.1);
        }
        return Save(plot, folder, "training-loss.png");
    }

    /// <summary>Test accuracy after every epoch, per optimizer.</summary>
    public static string TestAccuracy(IReadOnlyList<RunRecord> runs, string folder)
    {
        Plot plot = NewPlot("Fashion-MNIST MLP 784-256-128-10: test accuracy", "epoch", "test accuracy (%)");
        foreach (RunRecord run in runs)
        {
            if (run.Epochs.Count == 0)
            {
                continue;
            }
            double[] xs = run.Epochs.Select(e => (double)e.Epoch).ToArray();
            double[] ys = run.Epochs.Select(e => e.TestAccuracy * 100).ToArray();
            var line = plot.Add.Scatter(xs, ys, ColorOf(run.Kind));
            line.LineWidth = 2;
            line.MarkerSize = 7;
            line.LegendText = $"{run.Kind.DisplayName()}: {ys[^1]:0.00}%";
        }
        plot.ShowLegend(Alignment.LowerRight);
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
        plot.Axes.AutoScale();
        return Save(plot, folder, "test-accuracy.png");
    }

    /// <summary>
    /// Test accuracy after every epoch, mean over the seeds, per optimizer and state encoding
    /// (<see cref="EncodingComparison"/>): float32 state solid, 8-bit state dashed.
    /// </summary>
    public static string StateEncodings(IReadOnlyList<EncodingRuns> all, string folder)
    {
        Plot plot = NewPlot("Fashion-MNIST MLP: test accuracy, float32 vs 8-bit optimizer state (mean over seeds)", "epoch",
            "test accuracy (%)");
        foreach (EncodingRuns r in all)
        {
            int epochs = r.Runs.Min(run => run.Epochs.Count);
            double[] xs = [.. Enumerable.Range(1, epochs).Select(e => (double)e)];
            double[] ys = [.. Enumerable.Range(0, epochs).Select(e => r.Runs.Average(run => run.Epochs[e].TestAccuracy * 100))];
            var line = plot.Add.Scatter(xs, ys, ColorOf(r.Kind));
            line.LineWidth = 2;
            line.MarkerSize = 6;
            line.LinePattern = r.Encoding == StateEncoding.Float32 ? LinePattern.Solid : LinePattern.Dashed;
            line.LegendText = $"{r.Label}: {ys[^1]:0.00}%";
        }
        plot.ShowLegend(Alignment.LowerRight);
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
        plot.Axes.AutoScale();
        return Save(plot, folder, "state-encodings.png");
    }

    /// <summary>The optimizers' paths over the contour lines of a 2-D test function.</summary>
    public static string OptimizerPaths(TestFunction function, IReadOnlyList<OptimizerPath> paths, string folder)
    {
        Plot plot = NewPlot($"{function.Name} function: {function.Steps} steps from ({function.Start.X}, {function.Start.Y})", "x", "y");
        (double xMin, double xMax, double yMin, double yMax) = function.View;
        // Widen the view to every finite point of every path (a path that swings wide stays visible).
        foreach (OptimizerPath path in paths)
        {
            for (int i = 0; i < path.Xs.Length; i++)
            {
                if (double.IsFinite(path.Xs[i]) && double.IsFinite(path.Ys[i]) && Math.Abs(path.Xs[i]) < 100 && Math.Abs(path.Ys[i]) < 100)
                {
                    xMin = Math.Min(xMin, path.Xs[i]);
                    xMax = Math.Max(xMax, path.Xs[i]);
                    yMin = Math.Min(yMin, path.Ys[i]);
                    yMax = Math.Max(yMax, path.Ys[i]);
                }
            }
        }
        const int Grid = 120;
        var points = new Coordinates3d[Grid, Grid];
        for (int row = 0; row < Grid; row++)
        {
            double y = yMin + (yMax - yMin) * row / (Grid - 1);
            for (int column = 0; column < Grid; column++)
            {
                double x = xMin + (xMax - xMin) * column / (Grid - 1);
                points[row, column] = new Coordinates3d(x, y, Math.Log10(1e-3 + function.Value(x, y)));
            }
        }
        var contours = plot.Add.ContourLines(points, 24);
        contours.LineColor = Colors.Gray.WithAlpha(0.55);
        contours.LabelStyle.IsVisible = false;

        // Each path narrower than the one drawn before it, so that paths along the same valley stay visible.
        float width = 2 + paths.Count - 1;
        foreach (OptimizerPath path in paths)
        {
            // A diverged path is drawn up to its last finite point.
            int finite = 0;
            while (finite < path.Xs.Length && double.IsFinite(path.Xs[finite]) && double.IsFinite(path.Ys[finite]))
            {
                finite++;
            }
            double[] xs = path.Xs[..finite], ys = path.Ys[..finite];
            var line = plot.Add.ScatterLine(xs, ys, ColorOf(path.Kind));
            line.LineWidth = width--;
            line.LegendText = $"{path.Kind.DisplayName()} (lr {OptimizerKinds.FormatRate(path.LearningRate)}): f = {path.FinalValue:0.####}";
            plot.Add.Marker(xs[^1], ys[^1], MarkerShape.FilledCircle, 7, ColorOf(path.Kind));
        }
        plot.Add.Marker(function.Start.X, function.Start.Y, MarkerShape.OpenCircle, 10, Colors.Black);
        var minimum = plot.Add.Marker(function.Minimum.X, function.Minimum.Y, MarkerShape.Cross, 14, Colors.Black);
        minimum.LegendText = $"minimum ({function.Minimum.X}, {function.Minimum.Y})";
        plot.ShowLegend(function.LegendCorner);
        plot.Axes.SetLimits(xMin, xMax, yMin, yMax);
        return Save(plot, folder, $"paths-{function.Name.ToLowerInvariant()}.png");
    }

    private static (double[] Xs, double[] Ys) MovingAverage(IReadOnlyList<double> values, int window, int batchesPerEpoch)
    {
        var xs = new double[values.Count];
        var ys = new double[values.Count];
        double sum = 0;
        for (int i = 0; i < values.Count; i++)
        {
            sum += values[i];
            if (i >= window)
            {
                sum -= values[i - window];
            }
            xs[i] = (i + 1.0) / batchesPerEpoch;
            ys[i] = sum / Math.Min(i + 1, window);
        }
        return (xs, ys);
    }

    private static string Save(Plot plot, string folder, string name)
    {
        Directory.CreateDirectory(folder);
        string path = Path.GetFullPath(Path.Combine(folder, name));
        plot.SavePng(path, Width, Height);
        return path;
    }
}
