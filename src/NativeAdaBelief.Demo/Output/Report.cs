using System.Globalization;
using System.Text;
using System.Text.Json;
using NativeAdaBelief.Demo.Model;
using NativeAdaBelief.Demo.Paths;
using NativeAdaBelief.Demo.Training;
using Spectre.Console;

namespace NativeAdaBelief.Demo.Output;

/// <summary>One row of the results table.</summary>
/// <param name="SkippedSteps">float16 runs: the steps skipped because a gradient overflowed (null otherwise).</param>
/// <param name="LossScale">float16 runs: the loss scale after the last epoch (null otherwise).</param>
internal sealed record ResultRow(
    string Optimizer, string LearningRate, int Epochs, double TestAccuracy, double TrainLoss, double TestLoss,
    double SecondsPerEpoch, double StepShare, long? SkippedSteps = null, double? LossScale = null)
{
    /// <summary>The row of <paramref name="run"/> (which has at least one epoch).</summary>
    public static ResultRow From(RunRecord run)
    {
        EpochRecord last = run.Epochs[^1];
        double seconds = run.Epochs.Sum(e => e.Seconds);
        double step = run.Epochs.Sum(e => e.StepSeconds);
        return new ResultRow(run.Kind.DisplayName(), OptimizerKinds.FormatRate(run.LearningRate), run.Epochs.Count,
            last.TestAccuracy, last.TrainLoss, last.TestLoss, seconds / run.Epochs.Count, seconds > 0 ? step / seconds : 0,
            last.SkippedSteps, last.LossScale);
    }
}

/// <summary>The end-of-run table (console and Markdown) and the results files.</summary>
internal static class Report
{
    private static readonly string[] Headers =
        ["optimizer", "lr", "epochs", "test acc", "train loss", "test loss", "s/epoch", "step share"];

    /// <summary>The two columns float16 runs add.</summary>
    private static readonly string[] LossScalingHeaders = ["skipped", "loss scale"];

    public static IReadOnlyList<ResultRow> Rows(RunState state) =>
        state.Runs.Where(run => run.Epochs.Count > 0).Select(ResultRow.From).ToList();

    /// <summary>True when a row has loss-scaling results (a float16 run): the table then has two more columns.</summary>
    private static bool HasLossScaling(IReadOnlyList<ResultRow> rows) => rows.Any(row => row.LossScale is not null);

    private static string[] HeadersFor(IReadOnlyList<ResultRow> rows) => HasLossScaling(rows) ? [.. Headers, .. LossScalingHeaders] : Headers;

    private static string[] Cells(ResultRow row, bool lossScaling)
    {
        string[] cells =
        [
            row.Optimizer,
            row.LearningRate,
            row.Epochs.ToString(CultureInfo.InvariantCulture),
            (row.TestAccuracy * 100).ToString("0.00", CultureInfo.InvariantCulture) + "%",
            row.TrainLoss.ToString("0.0000", CultureInfo.InvariantCulture),
            row.TestLoss.ToString("0.0000", CultureInfo.InvariantCulture),
            row.SecondsPerEpoch.ToString("0.00", CultureInfo.InvariantCulture),
            (row.StepShare * 100).ToString("0.0", CultureInfo.InvariantCulture) + "%",
        ];
        return lossScaling
            ? [.. cells, row.SkippedSteps?.ToString(CultureInfo.InvariantCulture) ?? "-", row.LossScale?.ToString("R", CultureInfo.InvariantCulture) ?? "-"]
            : cells;
    }

    /// <summary>The results as a Spectre table, titled with the model and <paramref name="precision"/>.</summary>
    public static Table ConsoleTable(IReadOnlyList<ResultRow> rows, TrainingPrecision precision)
    {
        bool lossScaling = HasLossScaling(rows);
        var table = new Table()
            .Title($"Fashion-MNIST, MLP 784-256-128-10, {precision.CliName()}")
            .Caption("after the last epoch; step share = time in the optimizer's step / training time"
                + (lossScaling ? "; skipped = steps skipped because a float16 gradient overflowed" : ""));
        foreach (string header in HeadersFor(rows))
        {
            table.AddColumn(new TableColumn(header).RightAligned());
        }
        table.Columns[0].LeftAligned();
        foreach (ResultRow row in rows)
        {
            table.AddRow(Cells(row, lossScaling).Select(Markup.Escape).ToArray());
        }
        return table;
    }

    /// <summary>The results as a Markdown table.</summary>
    public static string MarkdownTable(IReadOnlyList<ResultRow> rows)
    {
        bool lossScaling = HasLossScaling(rows);
        string[] headers = HeadersFor(rows);
        var text = new StringBuilder();
        text.AppendLine("| " + string.Join(" | ", headers) + " |");
        text.AppendLine("| --- |" + string.Concat(Enumerable.Repeat(" ---: |", headers.Length - 1)));
        foreach (ResultRow row in rows)
        {
            text.AppendLine("| " + string.Join(" | ", Cells(row, lossScaling)) + " |");
        }
        return text.ToString();
    }

    /// <summary>A Markdown line per test function: each optimizer's final value.</summary>
    public static string PathSummary(TestFunction function, IReadOnlyList<OptimizerPath> paths) =>
        $"{function.Name} (minimum 0 at ({function.Minimum.X}, {function.Minimum.Y}), {function.Steps} steps from "
        + $"({function.Start.X}, {function.Start.Y})): "
        + string.Join(", ", paths.Select(p => string.Create(CultureInfo.InvariantCulture,
            $"{p.Kind.DisplayName()} f = {p.FinalValue:0.#####} at ({p.Xs[^1]:0.###}, {p.Ys[^1]:0.###})")));

    /// <summary>Writes results.md and results.json into <paramref name="folder"/>; returns their paths.</summary>
    public static IReadOnlyList<string> WriteFiles(string folder, RunState state, string header, IReadOnlyList<string> pathLines,
        IReadOnlyList<string> plots)
    {
        Directory.CreateDirectory(folder);
        string markdown = Path.GetFullPath(Path.Combine(folder, "results.md"));
        var text = new StringBuilder();
        text.AppendLine("# NativeAdaBelief demo results");
        text.AppendLine();
        text.AppendLine(header);
        text.AppendLine();
        text.Append(MarkdownTable(Rows(state)));
        text.AppendLine();
        foreach (RunRecord run in state.Runs)
        {
            string accuracies = string.Join(", ", run.Epochs.Select(e => (e.TestAccuracy * 100).ToString("0.00", CultureInfo.InvariantCulture)));
            string hash = run.ParameterHash is null ? "" : $"; final weights SHA-256 {run.ParameterHash}";
            text.AppendLine($"- {run.Kind.DisplayName()} test accuracy (%) by epoch: {accuracies}{hash}");
        }
        if (pathLines.Count > 0)
        {
            text.AppendLine();
            foreach (string line in pathLines)
            {
                text.AppendLine("- " + line);
            }
        }
        text.AppendLine();
        foreach (string plot in plots)
        {
            text.AppendLine($"![{Path.GetFileNameWithoutExtension(plot)}]({Path.GetFileName(plot)})");
        }
        File.WriteAllText(markdown, text.ToString());

        string json = Path.GetFullPath(Path.Combine(folder, "results.json"));
        File.WriteAllText(json, JsonSerializer.Serialize(state, new JsonSerializerOptions
        {
            WriteIndented = true,
            PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
            NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
        }));
        return [markdown, json];
    }
}
