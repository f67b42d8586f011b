using System.Globalization;
using System.Text;
using NativeAdaBelief.Demo.Training;
using Spectre.Console;

namespace NativeAdaBelief.Demo.Output;

/// <summary>The report of <see cref="EncodingComparison"/>: a table, a plot and state-encodings.md.</summary>
internal static class EncodingReport
{
    /// <summary>"88.55% ± 0.36" (mean ± half the range: the spread of the seeds) and "88.19–88.91".</summary>
    private static (string MeanSpread, string Range) Accuracy(EncodingRuns runs)
    {
        double[] a = runs.FinalAccuracies;
        double mean = a.Average(), spread = (a.Max() - a.Min()) / 2;
        return (string.Create(CultureInfo.InvariantCulture, $"{mean:0.00}% ± {spread:0.00}"),
            string.Join(", ", a.Select(x => x.ToString("0.00", CultureInfo.InvariantCulture))));
    }

    private static string Bytes(long bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:N0} KiB");

    /// <summary>The difference of a configuration's mean accuracy from the same optimizer's float32 one, in points.</summary>
    private static string Difference(EncodingRuns runs, IReadOnlyList<EncodingRuns> all)
    {
        EncodingRuns? baseline = all.FirstOrDefault(r => r.Kind == runs.Kind && r.Encoding == StateEncoding.Float32);
        if (baseline is null || ReferenceEquals(baseline, runs))
        {
            return "";
        }
        double delta = runs.FinalAccuracies.Average() - baseline.FinalAccuracies.Average();
        return delta.ToString("+0.00;-0.00;0.00", CultureInfo.InvariantCulture);
    }

    public static Table ConsoleTable(IReadOnlyList<EncodingRuns> all, int batchesPerEpoch)
    {
        var table = new Table().AddColumns("optimizer, state", "test acc (mean ± spread)", "vs float32 (points)", "seeds",
            "state memory", "ms/step");
        foreach (EncodingRuns r in all)
        {
            (string meanSpread, string range) = Accuracy(r);
            table.AddRow(Markup.Escape(r.Label), meanSpread, Difference(r, all), range, Bytes(r.StateBytes),
                r.StepMilliseconds(batchesPerEpoch).ToString("0.000", CultureInfo.InvariantCulture));
        }
        return table;
    }

    /// <summary>Writes state-encodings.md into <paramref name="folder"/>; returns its path.</summary>
    public static string Write(string folder, string header, IReadOnlyList<EncodingRuns> all, int batchesPerEpoch, string plot)
    {
        var text = new StringBuilder();
        text.AppendLine("# Optimizer state: float32 vs 8-bit");
        text.AppendLine();
        text.AppendLine(header);
        text.AppendLine();
        text.AppendLine("| optimizer, state | test accuracy, mean ± spread | vs float32 (points) | per seed | state memory | ms/step |");
        text.AppendLine("| --- | ---: | ---: | --- | ---: | ---: |");
        foreach (EncodingRuns r in all)
        {
            (string meanSpread, string range) = Accuracy(r);
            text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Label} | {meanSpread} | {Difference(r, all)} | {range} | {Bytes(r.StateBytes)} | {r.StepMilliseconds(batchesPerEpoch):0.000} |"));
        }
        text.AppendLine();
        text.AppendLine("Spread: half the range of the seeds' final accuracies. State memory: the native bytes the optimizer allocated for "
            + "the model's state (m and s, 64-byte allocation headers and the step counts included), measured. ms/step: the "
            + "optimizer's step time over all epochs and seeds (the model's forward and backward passes excluded).");
        text.AppendLine();
        text.AppendLine($"![{Path.GetFileNameWithoutExtension(plot)}]({Path.GetFileName(plot)})");
        Directory.CreateDirectory(folder);
        string path = Path.GetFullPath(Path.Combine(folder, "state-encodings.md"));
        File.WriteAllText(path, text.ToString());
        return path;
    }
}
