using System.Globalization;
using System.Text;
using System.Text.Json;
using NativeAdaBelief.Demo.Paths;
using NativeAdaBelief.Demo.Training;
using Spectre.Console;

namespace NativeAdaBelief.Demo.Output;

/// <summary>One row of the results table.</summary>
internal sealed record ResultRow(
    string Optimizer, string LearningRate, int Epochs, double TestAccuracy, double TrainLoss, double TestLoss,
    double SecondsPerEpoch, double StepShare)
{
    public static ResultRow From(RunRecord run)
    {
        EpochRecord last = run.Epochs[^1];
        double seconds = run.Epochs.Sum(e => e.Seconds);
        double step = run.Epochs.Sum(e => e.StepSeconds);
        return new ResultRow(run.Kind.DisplayName(), OptimizerKinds.FormatRate(run.LearningRate), run.Epochs.Count,
            last.TestAccuracy, last.TrainLoss, last.TestLoss, seconds / run.Epochs.Count, seconds > 0 ? step / seconds : 0);
    }
}

/// <summary>The end-of-run table (console and Markdown) and the results files.</summary>
internal static class Report
{
    private static readonly string[] Headers =
        ["optimizer", "lr", "epochs", "test acc", "train loss", "test loss", "s/epoch", "step share"];

    public static IReadOnlyList<ResultRow> Rows(RunState state) =>
        state.Runs.Where(run => run.Epochs.Count > 0).Select(ResultRow.From).ToList();

    private static string[] Cells(ResultRow row) =>
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

    /// <summary>The results as a Spectre table.</summary>
    public static Table ConsoleTable(IReadOnlyList<ResultRow> rows)
    {
        var table = new Table()
            .Title("Fashion-MNIST, MLP 784-256-128-10")
            .Caption("after the last epoch; step share = time in the optimizer's step / training time");
        foreach (string header in Headers)
        {
            table.AddColumn(new TableColumn(header).RightAligned());
        }
        table.Columns[0].LeftAligned();
        foreach (ResultRow row in rows)
        {
            table.AddRow(Cells(row).Select(Markup.Escape).ToArray());
        }
        return table;
    }

    /// <summary>The results as a Markdown table.</summary>
    public static string MarkdownTable(IReadOnlyList<ResultRow> rows)
    {
        var text = new StringBuilder();
        text.AppendLine("| " + string.Join(" | ", Headers) + " |");
        text.AppendLine("| --- |" + string.Concat(Enumerable.Repeat(" ---: |", Headers.Length - 1)));
        foreach (ResultRow row in rows)
        {
            text.AppendLine("| " + string.Join(" | ", Cells(row)) + " |");
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
